//! except — reverse the exit code of a program.
//!
//! # Invocation
//! `except program [ arg ... ]`: program exit 0 → 100, 111 → 111, any
//! other exit → 0.
//!
//! # Exit codes
//! As above; 100 on usage errors.

use std::io::Write;

use qmail::local::tools::{self, Child};

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "except: {msg}");
    std::process::exit(code);
}

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        die(100, "usage: except program [ arg ... ]");
    }
    match tools::run(&args) {
        Child::Exit(0) => std::process::exit(100),
        Child::Exit(111) | Child::NoExec(true) => die(111, "fatal: temporary child error"),
        Child::Crashed => die(111, "fatal: child crashed"),
        Child::Exit(_) | Child::NoExec(false) => std::process::exit(0),
    }
}
