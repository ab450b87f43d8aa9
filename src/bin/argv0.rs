//! argv0 — run a program under another argv[0] (ucspi-tcp 0.88
//! compatible): `argv0 realname program [ arg ... ]` runs `realname`
//! (searched in $PATH) with argv `program arg ...`.
//!
//! Exit codes: the program's (it is exec'd); 100 usage; 111
//! `argv0: fatal: unable to run REALNAME: ERR`.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use qmail::tcp::errstr::errstr;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() < 2 {
        eprintln!("argv0: usage: argv0 realname program [ arg ... ]");
        return ExitCode::from(100);
    }
    let err = std::process::Command::new(&args[0])
        .arg0(&args[1])
        .args(&args[2..])
        .exec();
    eprintln!(
        "argv0: fatal: unable to run {}: {}",
        args[0].to_string_lossy(),
        errstr(&err)
    );
    ExitCode::from(111)
}
