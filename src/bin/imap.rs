//! imap — the post-login IMAP process, as Dovecot's
//! `/usr/lib/dovecot/imap` run preauthenticated.
//!
//! # Invocation
//! `imap` with `USER` and `HOME` in the environment (the mail is
//! `$HOME/Maildir`, or `MAIL=maildir:PATH`), the client on stdin/stdout.
//! Greets `* PREAUTH [CAPABILITY ...] Logged in as USER`. Protocol:
//! `qmail::imap`.
//!
//! # Exit codes
//! 0 after LOGOUT or end of input; 75 (EX_TEMPFAIL) without USER/HOME or
//! when the Maildir is missing; 1 on an I/O error.

use std::io;
use std::path::PathBuf;

use qmail::imap::input::PollReader;
use qmail::imap::{Config, Session, CAPABILITY};

#[path = "shared/localtime.rs"]
mod localtime;

fn maildir() -> Option<PathBuf> {
    if let Some(m) = std::env::var_os("MAIL") {
        let m = m.to_string_lossy().into_owned();
        let m = m.strip_prefix("maildir:").unwrap_or(&m);
        let m = m.split(':').next().unwrap_or(m);
        if let Some(rest) = m.strip_prefix("~/") {
            return Some(PathBuf::from(std::env::var_os("HOME")?).join(rest));
        }
        return Some(PathBuf::from(m));
    }
    Some(PathBuf::from(std::env::var_os("HOME")?).join("Maildir"))
}

fn main() {
    let (Some(user), Some(root)) = (std::env::var("USER").ok(), maildir()) else {
        eprintln!("imap: Fatal: USER and HOME environment missing");
        std::process::exit(75);
    };
    if !root.is_dir() {
        eprintln!("imap: Fatal: {}: no Maildir", root.display());
        std::process::exit(75);
    }
    let cfg = Config {
        user,
        root,
        tz: localtime::local_offset,
        capability: CAPABILITY.to_string(),
    };
    let input = PollReader::new(io::stdin());
    let output = io::BufWriter::new(io::stdout().lock());
    let mut s = Session::new(input, output, cfg);
    match s.run() {
        Ok(()) => std::process::exit(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("imap: {e}");
            std::process::exit(1)
        }
    }
}
