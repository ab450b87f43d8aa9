//! qmail-newu — prepare address assignments for qmail-lspawn.
//!
//! # Invocation
//! `qmail-newu`: compiles `/var/qmail/users/assign` into `users/cdb`
//! (through `users/cdb.tmp`, fsynced, renamed) — `shared/spec/qmail/local.md`
//! §1.3.
//!
//! # Security
//! Run by root; umask 033 so the cdb is world-readable.
//!
//! # Exit codes
//! 0 done; 111 with `qmail-newu: fatal: ...` on any error (assign and cdb
//! are then left alone).

use std::fs::{File, OpenOptions};
use std::io::Write;

use qmail::users::{compile, AssignError};

fn die(msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "qmail-newu: fatal: {msg}");
    std::process::exit(111);
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o033));
    if std::env::set_current_dir(qmail::root::qmail_home()).is_err() {
        die("unable to chdir");
    }
    let assign = match std::fs::read("users/assign") {
        Ok(a) => a,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => die("unable to open users/assign"),
        Err(_) => die("unable to read users/assign"),
    };
    let bytes = match compile(&assign) {
        Ok(b) => b,
        Err(AssignError::Format) => die("bad format in users/assign"),
        Err(AssignError::Cdb) => die("unable to write users/cdb.tmp"),
    };
    let mut f: File = match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open("users/cdb.tmp")
    {
        Ok(f) => f,
        Err(_) => die("unable to open users/cdb.tmp"),
    };
    if f.write_all(&bytes).and_then(|()| f.sync_all()).is_err() {
        die("unable to write users/cdb.tmp");
    }
    drop(f);
    if std::fs::rename("users/cdb.tmp", "users/cdb").is_err() {
        die("unable to move users/cdb.tmp to users/cdb");
    }
}
