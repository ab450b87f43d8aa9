//! maildirmake — create a maildir.
//!
//! # Invocation
//! `maildirmake dir`: makes `dir`, `dir/tmp`, `dir/new`, `dir/cur`, mode
//! 0700 (umask 077).
//!
//! # Exit codes
//! 0 done; 100 usage; 111 on any error (`maildirmake: fatal: ...`).

use std::io::Write;
use std::path::PathBuf;

use qmail::errstr;

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "maildirmake: {msg}");
    std::process::exit(code);
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let Some(dir) = std::env::args_os().nth(1) else {
        die(100, "usage: maildirmake name");
    };
    let name = dir.to_string_lossy().into_owned();
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir(&dir) {
        die(
            111,
            &format!("fatal: unable to mkdir {name}: {}", errstr::io_text(&e)),
        );
    }
    if let Err(e) = std::env::set_current_dir(&dir) {
        die(
            111,
            &format!("fatal: unable to chdir to {name}: {}", errstr::io_text(&e)),
        );
    }
    for sub in ["tmp", "new", "cur"] {
        if let Err(e) = std::fs::create_dir(sub) {
            die(
                111,
                &format!(
                    "fatal: unable to mkdir {name}/{sub}: {}",
                    errstr::io_text(&e)
                ),
            );
        }
    }
}
