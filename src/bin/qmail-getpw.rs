//! qmail-getpw — give addresses to users.
//!
//! # Invocation
//! `qmail-getpw local`, run by qmail-lspawn with stdout on a pipe. Prints
//! `USER NUL UID NUL GID NUL HOME NUL DASH NUL EXT NUL`: the longest
//! prefix of `local` (at its end or a `-`) naming an account with a
//! non-zero uid that owns its home directory, else the `alias` account
//! with the whole local part as extension (`shared/spec/qmail/local.md`
//! §1.2).
//!
//! # Security
//! Runs as qmailp:nofiles; reads the passwd database only.
//!
//! # Exit codes
//! 0 found; 100 no argument; 111 output error; 115 temporary stat error;
//! 116 no alias user; 118 getpwnam said ETXTBSY.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::unistd::User;
use qmail::errstr;
use qmail::local::getpw::{search, Account, HomeCheck};

fn getpwnam(name: &[u8]) -> Result<Option<Account>, ()> {
    let Ok(name) = std::str::from_utf8(name) else {
        return Ok(None);
    };
    match User::from_name(name) {
        Ok(Some(u)) => Ok(Some(Account {
            name: u.name.into_bytes(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            dir: u.dir.into_os_string().into_vec(),
        })),
        Ok(None) => Ok(None),
        Err(Errno::ETXTBSY) => Err(()),
        Err(_) => Ok(None),
    }
}

fn home(a: &Account) -> HomeCheck {
    match std::fs::metadata(OsStr::from_bytes(&a.dir)) {
        Ok(md) if md.uid() == a.uid => HomeCheck::Owned,
        Ok(_) => HomeCheck::No,
        Err(e) if errstr::io_is_temp(&e) => HomeCheck::Temporary,
        Err(_) => HomeCheck::No,
    }
}

fn main() {
    let Some(local) = std::env::args_os().nth(1) else {
        std::process::exit(100);
    };
    match search(local.as_bytes(), &getpwnam, &home) {
        Ok(found) => {
            let mut out = Vec::new();
            found.write(&mut out);
            let mut so = std::io::stdout();
            if so.write_all(&out).and_then(|()| so.flush()).is_err() {
                std::process::exit(111);
            }
            std::process::exit(0);
        }
        Err(e) => std::process::exit(e.exit_code()),
    }
}
