//! qmail-tcpok — forget all recorded connect timeouts.
//!
//! Invocation: `qmail-tcpok` (no arguments; root or qmailr). Locks
//! `queue/lock/tcpto` and overwrites it with 1024 NUL bytes.
//!
//! Errors (stderr, exit 111): `qmail-tcpok: fatal: unable to chdir to
//! /var/qmail: ERR`, `... unable to chdir to /var/qmail/queue/lock: ERR`,
//! `... unable to write /var/qmail/queue/lock/tcpto: ERR`, `... unable to
//! lock ...: ERR`, `... unable to clear ...: ERR`. Exit 0 on success.
//!
//! See also: qmail-tcpto, qmail-remote (`remote.md` §6).

use qmail::tcpto;

fn die(text: String, e: &std::io::Error) -> ! {
    eprintln!("qmail-tcpok: fatal: {text}: {}", qmail::errstr::io_text(e));
    std::process::exit(111);
}

fn main() {
    let home = qmail::root::qmail_home();
    let shown = home.display().to_string();
    if let Err(e) = std::fs::read_dir(&home) {
        die(format!("unable to chdir to {shown}"), &e);
    }
    let lock = home.join("queue/lock");
    if let Err(e) = std::fs::read_dir(&lock) {
        die(format!("unable to chdir to {shown}/queue/lock"), &e);
    }
    if let Err((step, e)) = tcpto::clear(&lock.join("tcpto")) {
        let verb = match step {
            "write" => "write",
            "lock" => "lock",
            _ => "clear",
        };
        die(format!("unable to {verb} {shown}/queue/lock/tcpto"), &e);
    }
}
