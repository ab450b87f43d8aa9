//! bouncesaying — perhaps bounce each incoming message.
//!
//! # Invocation
//! `bouncesaying error [ program [ arg ... ] ]` from a `.qmail` program
//! line. Without program: print error and exit 100 (the message bounces
//! with that text). With program: bounce only if it exits 0.
//!
//! # Exit codes
//! 100 bounce; 0 program said no; 111 temporary trouble.

use std::io::Write;

use qmail::local::tools::{self, Child};

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "{msg}");
    std::process::exit(code);
}

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let Some(error) = args.first() else {
        die(
            100,
            "bouncesaying: usage: bouncesaying error [ program [ arg ... ] ]",
        );
    };
    let error = error.to_string_lossy().into_owned();
    if args.len() > 1 {
        match tools::run(&args[1..]) {
            Child::Exit(0) => {}
            Child::Exit(111) | Child::NoExec(true) => {
                die(111, "bouncesaying: fatal: temporary child error")
            }
            Child::Crashed => die(111, "bouncesaying: fatal: child crashed"),
            Child::Exit(_) | Child::NoExec(false) => std::process::exit(0),
        }
    }
    die(100, &error);
}
