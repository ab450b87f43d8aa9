//! mkvalidrcptto — rebuild `control/validrcptto.cdb` from every deliverable
//! address: local users and their `.qmail-*` files, `~alias`, virtual
//! domains' `.qmail-*` files and vmailmgr users and aliases, smtproutes
//! domains (jms1's `mkvalidrcptto` rules, `qmail::validrcptto_gen`).
//!
//! Invocation: `mkvalidrcptto` (from cron, as root, so that every home and
//! passwd.cdb is readable). The new cdb replaces the old one atomically
//! (tmp file, fsync, rename): qmail-smtpd sees it at the next connection.
//!
//! Control files: rcpthosts, morercpthosts.cdb, locals (or me), virtualdomains,
//! smtproutes, users/assign; `/etc/passwd`; each owner's `~/.vmailmgr`.
//!
//! Exit codes: 0 written; 1 a domain in rcpthosts is handled by nothing
//! (nothing written); 111 the cdb could not be written.

use std::io::Write;

fn main() {
    let qmail = qmail::root::qmail_home();
    match qmail::validrcptto_gen::rebuild(&qmail) {
        Ok(_) => std::process::exit(0),
        Err(e @ qmail::validrcptto_gen::GenError::Unhandled(_)) => {
            let _ = writeln!(std::io::stdout(), "{e}");
            std::process::exit(1);
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "mkvalidrcptto: fatal: {e}");
            std::process::exit(111);
        }
    }
}
