//! qsmhook — run a sendmail-style delivery program from a `.qmail`.
//!
//! # Invocation
//! `qsmhook [ -DFlMmnPs ] [ -x prefix ] command [ arg ... ]`. Needs
//! `DTLINE`, `RPLINE`, `UFLINE`, `LOCAL`, `HOST` and `SENDER` from
//! qmail-local. In the arguments `%g` becomes the sender, `%h` the host,
//! `%u` the local part (without `prefix` if it starts with it, any case),
//! `%%` a `%`; other escapes vanish. The command reads UFLINE (unless
//! `-n`), RPLINE (with `-P`), DTLINE (with `-l`) and the message; `-D`,
//! `-F`, `-M`, `-m`, `-s` are accepted and ignored.
//!
//! # Security
//! Runs as the mailbox owner.
//!
//! # Exit codes
//! The command's exit code. 100: `qsmhook: fatal: incorrect usage`,
//! `... command not found`, or a bad option; 111: `qsmhook: fatal:
//! temporary problem` (also when the command crashed), `... unable to
//! read message`.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Command, Stdio};

use qmail::errstr;
use qmail::inject::getopt::{getopt, Opt};

fn die(code: i32, msg: &str) -> ! {
    let _ = io::stderr().write_all(msg.as_bytes());
    std::process::exit(code)
}

fn die_usage() -> ! {
    die(100, "qsmhook: fatal: incorrect usage\n")
}

fn die_temp() -> ! {
    die(111, "qsmhook: fatal: temporary problem\n")
}

/// Expand `%g`, `%h`, `%u` and `%%` in one argument.
fn expand(arg: &[u8], sender: &[u8], host: &[u8], recip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut esc = false;
    for &c in arg {
        if esc {
            match c {
                b'%' => out.push(b'%'),
                b'g' => out.extend_from_slice(sender),
                b'h' => out.extend_from_slice(host),
                b'u' => out.extend_from_slice(recip),
                _ => {}
            }
            esc = false;
        } else if c == b'%' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn main() {
    let env = |n: &str| {
        std::env::var_os(n)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_else(|| die_usage())
    };
    let dtline = env("DTLINE");
    let rpline = env("RPLINE");
    let ufline = env("UFLINE");
    let mut recip = env("LOCAL");
    let host = env("HOST");
    let sender = env("SENDER");

    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let (opts, rest) = getopt("qsmhook", b"DFlMmnPsx:", &args);
    let (mut with_uf, mut with_rp, mut with_dt) = (true, false, false);
    for o in opts {
        match o {
            Opt::Flag(b'l', _) => with_dt = true,
            Opt::Flag(b'n', _) => with_uf = false,
            Opt::Flag(b'P', _) => with_rp = true,
            Opt::Flag(b'x', Some(p)) => {
                if recip.len() >= p.len() && recip[..p.len()].eq_ignore_ascii_case(&p) {
                    recip.drain(..p.len());
                }
            }
            Opt::Flag(..) => {}
            Opt::Error(e) => {
                let _ = writeln!(io::stderr(), "{e}");
                std::process::exit(100);
            }
        }
    }
    let Some((prog, prog_args)) = rest.split_first() else {
        die_usage()
    };
    let x = |a: &[u8]| OsString::from_vec(expand(a, &sender, &host, &recip));
    let mut child = match Command::new(x(prog))
        .args(prog_args.iter().map(|a| x(a)))
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if errstr::io_is_temp(&e) => die_temp(),
        Err(_) => die(100, "qsmhook: fatal: command not found\n"),
    };
    if let Some(mut pipe) = child.stdin.take() {
        let mut head = Vec::new();
        if with_uf {
            head.extend_from_slice(&ufline);
        }
        if with_rp {
            head.extend_from_slice(&rpline);
        }
        if with_dt {
            head.extend_from_slice(&dtline);
        }
        let mut ok = pipe.write_all(&head).is_ok();
        let mut buf = vec![0u8; 64 * 1024];
        let mut stdin = io::stdin().lock();
        while ok {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => ok = pipe.write_all(&buf[..n]).is_ok(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => die(111, "qsmhook: fatal: unable to read message\n"),
            }
        }
    }
    match child.wait() {
        Ok(s) => match s.code() {
            Some(c) => std::process::exit(c),
            None => die_temp(),
        },
        Err(_) => die_temp(),
    }
}
