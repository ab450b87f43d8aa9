//! preline — prepend lines to messages.
//!
//! # Invocation
//! `preline [ -dfrDFR ] cmd [ arg ... ]`: feeds cmd `$UFLINE` (unless
//! `-f`), `$RPLINE` (unless `-r`), `$DTLINE` (unless `-d`) and then stdin.
//! `-F`, `-R`, `-D` turn the lines back on.
//!
//! # Exit codes
//! cmd's exit code; 111 if it crashed or could not run temporarily, 100
//! on usage errors or a permanent exec failure.

use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};

fn die(code: i32, msg: &str) -> ! {
    let _ = writeln!(io::stderr(), "preline: {msg}");
    std::process::exit(code);
}

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let (mut f, mut r, mut d) = (true, true, true);
    while let Some(a) = args.first().map(|a| a.clone().into_vec()) {
        if a == b"--" {
            args.remove(0);
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        for &c in &a[1..] {
            match c {
                b'f' => f = false,
                b'r' => r = false,
                b'd' => d = false,
                b'F' => f = true,
                b'R' => r = true,
                b'D' => d = true,
                c => {
                    let _ = writeln!(io::stderr(), "preline: illegal option -- {}", c as char);
                    die(100, "usage: preline cmd [ arg ... ]");
                }
            }
        }
        args.remove(0);
    }
    let (Some(uf), Some(rp), Some(dt)) = (
        std::env::var_os("UFLINE"),
        std::env::var_os("RPLINE"),
        std::env::var_os("DTLINE"),
    ) else {
        die(100, "usage: preline cmd [ arg ... ]");
    };
    let Some((prog, rest)) = args.split_first() else {
        die(100, "usage: preline cmd [ arg ... ]");
    };
    let mut child = match Command::new(prog).args(rest).stdin(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if qmail::errstr::io_is_temp(&e) {
                111
            } else {
                100
            };
            die(
                code,
                &format!(
                    "fatal: unable to run {}: {}",
                    prog.to_string_lossy(),
                    qmail::errstr::io_text(&e)
                ),
            );
        }
    };
    if let Some(mut pipe) = child.stdin.take() {
        let mut head = Vec::new();
        for (on, v) in [(f, uf), (r, rp), (d, dt)] {
            if on {
                head.extend_from_slice(&v.into_vec());
            }
        }
        let _ = pipe
            .write_all(&head)
            .and_then(|()| io::copy(&mut io::stdin(), &mut pipe).map(|_| ()));
    }
    match child.wait() {
        Ok(s) => match s.code() {
            Some(c) => std::process::exit(c),
            None => die(111, "fatal: child crashed"),
        },
        Err(_) => die(111, "fatal: child crashed"),
    }
}
