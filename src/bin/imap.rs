//! imap — Dovecot 2.3's post-login IMAP process (`/usr/lib/dovecot/imap`;
//! `shared/spec/dovecot/imap.md`).
//!
//! # Invocation
//! `imap` with the client on fds 0/1, already authenticated, as the
//! mailbox owner: started by a login process, or by hand / from an
//! inetd-style wrapper (preauthenticated).
//!
//! Environment (Dovecot's names):
//! * `USER` (required), `HOME`;
//! * `MAIL` (`maildir:<path>`, `~` = HOME) or `MAILDIR`; default
//!   `maildir:~/Maildir`;
//! * `IMAPLOGINTAG`: the tag of the client's LOGIN/AUTHENTICATE; the
//!   session then starts with `<tag> OK [CAPABILITY ...] Logged in`
//!   instead of the `* PREAUTH [CAPABILITY ...] Logged in as USER`
//!   greeting;
//! * `CLIENT_INPUT`: base64 of commands the client sent ahead;
//! * `QMAILRS_IMAP_IDLE_TIMEOUT`: seconds in place of Dovecot's 30-minute
//!   inactivity timeout (`* BYE Disconnected for inactivity.`), for tests;
//!   ignored when running set-uid/set-gid.
//!
//! Protocol: `qmail::imap`.
//!
//! # Exit codes
//! 0 after LOGOUT or end of input; 89 (Dovecot's `FATAL_DEFAULT`) on a
//! setup error, with the reason on stderr; 1 on an I/O error.

use std::io;
use std::process::ExitCode;

use qmail::dovecot::location;
use qmail::imap::input::PollReader;
use qmail::imap::{Config, Session, CAPABILITY};

#[path = "shared/localtime.rs"]
mod localtime;

const FATAL: u8 = 89;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn main() -> ExitCode {
    let Some(user) = env("USER") else {
        eprintln!("imap: Fatal: USER environment missing");
        return ExitCode::from(FATAL);
    };
    let mail = env("MAIL")
        .or_else(|| env("MAILDIR").map(|d| format!("maildir:{d}")))
        .unwrap_or_default();
    let root = match location::maildir(&mail, env("HOME").as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("imap({user}): Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    if !root.is_dir() {
        eprintln!("imap({user}): Fatal: {}: no Maildir", root.display());
        return ExitCode::from(FATAL);
    }
    let pending = {
        use base64::Engine;
        env("CLIENT_INPUT")
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default()
    };
    let cfg = Config {
        user,
        root,
        tz: localtime::local_offset,
        capability: CAPABILITY.to_string(),
        login_tag: env("IMAPLOGINTAG"),
        idle_timeout: qmail::imap::idle_timeout(),
    };
    let input = PollReader::with_pending(io::stdin(), pending);
    let output = io::BufWriter::new(io::stdout().lock());
    let mut s = Session::new(input, output, cfg);
    match s.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imap: {e}");
            ExitCode::from(1)
        }
    }
}
