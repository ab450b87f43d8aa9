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
//! `mkvalidrcptto -w [MILLISECONDS]` (opt-in instant mode, beyond the
//! original): stays running, re-reads everything every MILLISECONDS
//! (default 250) and replaces the cdb as soon as the address set changes,
//! so users added with vadduser/vaddalias and new `.qmail` files are
//! accepted within a second instead of at the next cron run.
//!
//! Exit codes: 0 written; 1 a domain in rcpthosts is handled by nothing
//! (nothing written); 111 the cdb could not be written.

use std::io::Write;

fn main() {
    let qmail = qmail::root::qmail_home();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("-w") {
        let ms = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(250);
        let e = qmail::validrcptto_gen::watch(&qmail, std::time::Duration::from_millis(ms));
        let _ = writeln!(std::io::stderr(), "mkvalidrcptto: fatal: {e}");
        std::process::exit(111);
    }
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
