//! qmail-tcpto — print the connect-timeout table `queue/lock/tcpto`.
//!
//! Invocation: `qmail-tcpto` (no arguments; root or qmailr).
//!
//! Output (stdout): for each record with a count ≥ 1,
//! `IP timed out SECONDS seconds ago; # recent timeouts: COUNT`.
//! Errors (stdout too, as the original): `fatal: unable to chdir: ERR`,
//! `fatal: unable to open tcpto: ERR`, `fatal: unable to lock tcpto: ERR`,
//! `fatal: unable to read tcpto: ERR`.
//!
//! Exit codes: 0, or 111 on any error.
//!
//! See also: qmail-tcpok, qmail-remote (`remote.md` §6).

use std::fs::File;
use std::io::{Read, Write};

use qmail::tcpto::{self, Table};

fn fatal(what: &str, e: &std::io::Error) -> ! {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "fatal: {what}: {}", qmail::errstr::io_text(e));
    let _ = o.flush();
    std::process::exit(111);
}

fn main() {
    let dir = qmail::root::qmail_home().join("queue/lock");
    if let Err(e) = std::fs::read_dir(&dir) {
        fatal("unable to chdir", &e);
    }
    let path = dir.join("tcpto");
    let lock = tcpto::open_write(&path).unwrap_or_else(|e| fatal("unable to open tcpto", &e));
    let mut read = File::open(&path).unwrap_or_else(|e| fatal("unable to open tcpto", &e));
    let lock = tcpto::lock_ex(lock).unwrap_or_else(|e| fatal("unable to lock tcpto", &e));
    let mut buf = vec![0u8; tcpto::SIZE];
    let n = read
        .read(&mut buf)
        .unwrap_or_else(|e| fatal("unable to read tcpto", &e));
    drop(lock);
    let table = Table::parse(&buf[..n]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut o = std::io::stdout().lock();
    for r in table.active() {
        let _ = o.write_all(tcpto::format_line(&r, now).as_bytes());
    }
    let _ = o.flush();
}
