//! datemail — sendmail with a local-time Date field.
//!
//! # Invocation
//! `datemail [ sendmail options and arguments ]`: runs
//! `/var/qmail/bin/predate /var/qmail/bin/sendmail ARGS...`
//! (`shared/spec/qmail/inject.md` §4; the original is a shell script).
//!
//! # Uid and security
//! Runs as the invoking user.
//!
//! # Exit codes
//! Those of predate and sendmail; 111 with `datemail: fatal: unable to
//! run predate` if it cannot be started.
//!
//! # See also
//! predate, sendmail.

use std::os::unix::process::CommandExt;

fn main() {
    let bin = qmail::root::qmail_home().join("bin");
    let e = std::process::Command::new(bin.join("predate"))
        .arg(bin.join("sendmail"))
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("datemail: fatal: unable to run predate: {e}");
    std::process::exit(111);
}
