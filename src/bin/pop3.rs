//! pop3: Dovecot 2.3's post-login POP3 process (`/usr/lib/dovecot/pop3`;
//! `shared/spec/dovecot/pop3.md` §2-§4).
//!
//! Invocation: `pop3` with the client on fds 0/1, already authenticated,
//! as the mailbox owner. Started by `pop3-login` after a successful
//! login, or by hand / from inetd-style wrappers (preauthenticated).
//!
//! Environment (Dovecot's names):
//! * `USER` (required), `HOME`;
//! * `MAIL` (`maildir:<path>`, `~` = HOME) or `MAILDIR`; default
//!   `maildir:~/Maildir`;
//! * `LOGGED_IN`: send `+OK Logged in.` first (set by the login process;
//!   without it the process is "standalone" and greets with nothing);
//! * `CLIENT_INPUT`: base64 of commands the client sent ahead;
//! * `POP3_UIDL_FORMAT` (default `%08Xu%08Xv`), `POP3_CLIENT_WORKAROUNDS`
//!   (`outlook-no-nuls`, `oe-ns-eoh`), `POP3_NO_FLAG_UPDATES`.
//!
//! Security: runs with the uid it was given; touches only the Maildir.
//! Exit codes: 0 after a session, 89 on a fatal setup error (Dovecot's
//! `FATAL_DEFAULT`), with the reason on stderr.

use std::fs::File;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Duration;

use qmail::dovecot::io::LineIo;
use qmail::dovecot::location;
use qmail::dovecot::pop3::fetch::Workarounds;
use qmail::dovecot::pop3::mailbox::Inbox;
use qmail::dovecot::pop3::session::{Session, Settings, INTERNAL_ERROR};
use qmail::dovecot::pop3::uidl::Format;

/// Dovecot's idle timeout of the pop3 process.
const IDLE: Duration = Duration::from_secs(10 * 60);
/// `MAX_INBUF_SIZE` of `pop3-client.c`.
const MAX_LINE: usize = 2048;
/// Dovecot's exit code for `i_fatal()`.
const FATAL: u8 = 89;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn settings() -> Result<(Settings, Format), String> {
    let mut w = Workarounds::default();
    for name in env("POP3_CLIENT_WORKAROUNDS")
        .unwrap_or_default()
        .split_whitespace()
    {
        match name.to_ascii_lowercase().as_str() {
            "outlook-no-nuls" => w.outlook_no_nuls = true,
            "oe-ns-eoh" => w.oe_ns_eoh = true,
            _ => return Err(format!("Unknown client workaround: {name}")),
        }
    }
    let format = match env("POP3_UIDL_FORMAT") {
        Some(f) => Format::parse(&f)
            .map_err(|_| "pop3_uidl_format setting doesn't contain any % variables.".to_string())?,
        None => Format::default_format(),
    };
    let no_flag_updates = env("POP3_NO_FLAG_UPDATES").is_some_and(|v| !v.is_empty() && v != "no");
    Ok((
        Settings {
            workarounds: w,
            no_flag_updates,
        },
        format,
    ))
}

fn pending_input() -> Vec<u8> {
    use base64::Engine;
    env("CLIENT_INPUT")
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default()
}

fn io() -> std::io::Result<LineIo> {
    let rd = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let wr = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    Ok(LineIo::new(rd, wr, pending_input(), IDLE, MAX_LINE))
}

fn main() -> ExitCode {
    let Some(user) = env("USER") else {
        eprintln!("pop3: Fatal: USER environment missing");
        return ExitCode::from(FATAL);
    };
    let (set, format) = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pop3({user}): Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let home = env("HOME");
    let mail = env("MAIL")
        .or_else(|| env("MAILDIR").map(|d| format!("maildir:{d}")))
        .unwrap_or_default();
    let path = match location::maildir(&mail, home.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pop3({user}): Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let mut io = match io() {
        Ok(io) => io,
        Err(e) => {
            eprintln!("pop3({user}): Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    if env("LOGGED_IN").is_some() {
        io.line("+OK Logged in.");
    }
    let inbox = match Inbox::open(&path, &format) {
        Ok(i) => i,
        Err(e) => {
            eprintln!(
                "pop3({user}): Error: Couldn't init INBOX {}: {e}",
                path.display()
            );
            io.line(INTERNAL_ERROR);
            io.flush();
            return ExitCode::SUCCESS;
        }
    };
    let end = Session::new(inbox, set).run(&mut io);
    eprintln!("pop3({user}): Info: Disconnected: {end:?}");
    ExitCode::SUCCESS
}
