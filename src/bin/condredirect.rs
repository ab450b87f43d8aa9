//! condredirect — perhaps redirect mail to another address.
//!
//! # Invocation
//! `condredirect newaddress program [ arg ... ]` from a `.qmail` program
//! line. Runs program on the message; if it exits 0 the message (with
//! `$DTLINE`) is queued from `$SENDER` to newaddress and condredirect
//! exits 99 so that qmail-local ignores the following lines.
//!
//! # Exit codes
//! 99 redirected (`condredirect: qp N`); 0 program said no (or could not
//! be run permanently); 111 temporary trouble; 100 usage/environment or a
//! permanent queue error.

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStringExt;

use qmail::local::tools::{self, Child};

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "condredirect: {msg}");
    std::process::exit(code);
}

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() < 2 {
        die(100, "usage: condredirect newaddress program [ arg ... ]");
    }
    let Some(sender) = std::env::var_os("SENDER") else {
        die(100, "fatal: SENDER not set");
    };
    let Some(dtline) = std::env::var_os("DTLINE") else {
        die(100, "fatal: DTLINE not set");
    };
    match tools::run(&args[1..]) {
        Child::Exit(0) => {}
        Child::Exit(111) | Child::NoExec(true) => die(111, "fatal: temporary child error"),
        Child::Crashed => die(111, "fatal: child crashed"),
        Child::Exit(_) | Child::NoExec(false) => std::process::exit(0),
    }
    let mut input = match tools::stdin_file() {
        Ok(f) => f,
        Err(e) => die(
            111,
            &format!("fatal: unable to rewind: {}", qmail::errstr::io_text(&e)),
        ),
    };
    if let Err(e) = input.seek(SeekFrom::Start(0)) {
        die(
            111,
            &format!("fatal: unable to rewind: {}", qmail::errstr::io_text(&e)),
        );
    }
    let to = args[0].clone().into_vec();
    match tools::requeue(&dtline.into_vec(), &mut input, &sender.into_vec(), vec![to]) {
        Ok(qp) => die(99, &format!("qp {qp}")),
        Err(f) => die(f.code, &format!("fatal: {}", f.text)),
    }
}
