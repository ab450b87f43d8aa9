//! qmail-pw2u — build address assignments from a passwd file.
//!
//! # Invocation
//! `qmail-pw2u [ -/ohHuUC ] [ -cchar ] < passwd > assign` —
//! `shared/spec/qmail/local.md` §1.4. `-o` (default) skips users whose home
//! is missing or not theirs, `-h` stops on a missing home, `-H` checks no
//! homes; `-U` (default) skips names with uppercase letters, `-u` keeps
//! them; `-cX` sets the break character, `-C` drops extension lines; `-/`
//! writes `-/` in the dash field. Reads `users/include`, `users/exclude`,
//! `users/mailnames`, `users/subusers` and `users/append` under
//! `/var/qmail`; relative homes are taken from there, as after the
//! original's chdir.
//!
//! # Security
//! Run by root (mode 0711); reads only.
//!
//! # Exit codes
//! 0 done; 100 on a bad option (after `qmail-pw2u: illegal option -- X`);
//! 111 with `qmail-pw2u: fatal: ...` (nothing is written to stdout then).

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use qmail::inject::getopt::{getopt, Opt};
use qmail::users::pw2u::{convert, Files, Home, Options};

fn die(msg: &[u8]) -> ! {
    let mut e = io::stderr();
    let _ = e.write_all(b"qmail-pw2u: fatal: ");
    let _ = e.write_all(msg);
    let _ = e.write_all(b"\n");
    std::process::exit(111);
}

/// `control_readfile`-style read: `None` if missing, fatal otherwise.
fn read_control(name: &str) -> Option<Vec<u8>> {
    match std::fs::read(name) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(_) => die(b"unable to read controls"),
    }
}

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let mut opts = Options::default();
    let (parsed, _) = getopt("qmail-pw2u", b"/ohHuUc:C", &args);
    for o in parsed {
        match o {
            Opt::Flag(b'/', _) => opts.slash = true,
            Opt::Flag(b'o', _) => opts.home_strategy = 2,
            Opt::Flag(b'h', _) => opts.home_strategy = 1,
            Opt::Flag(b'H', _) => opts.home_strategy = 0,
            Opt::Flag(b'u', _) => opts.no_upper = false,
            Opt::Flag(b'U', _) => opts.no_upper = true,
            Opt::Flag(b'c', a) => opts.brk = a.and_then(|a| a.first().copied()),
            Opt::Flag(b'C', _) => opts.brk = None,
            Opt::Flag(..) => std::process::exit(100),
            Opt::Error(e) => {
                let _ = writeln!(io::stderr(), "{e}");
                std::process::exit(100);
            }
        }
    }
    if std::env::set_current_dir(qmail::root::qmail_home()).is_err() {
        die(b"unable to chdir");
    }
    let mut files = Files {
        include: read_control("users/include"),
        exclude: read_control("users/exclude"),
        mailnames: read_control("users/mailnames"),
        ..Files::default()
    };
    let mut passwd = Vec::new();
    if io::stdin().read_to_end(&mut passwd).is_err() {
        die(b"unable to read input");
    }
    files.subusers = read_control("users/subusers");
    files.append = read_control("users/append");
    let mut stat = |home: &[u8]| match std::fs::metadata(std::ffi::OsStr::from_bytes(home)) {
        Ok(m) => Home::Owner(m.uid()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Home::Missing,
        Err(_) => Home::Error,
    };
    let out = match convert(&opts, &passwd, &files, &mut stat) {
        Ok(out) => out,
        Err(e) => die(&e.text()),
    };
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        die(b"unable to write output");
    }
}
