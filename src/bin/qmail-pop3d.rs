//! qmail-pop3d — POP3 on one Maildir, for the user checkpassword runs it
//! as.
//!
//! # Invocation
//! `qmail-pop3d maildirname` (relative to $HOME, where checkpassword
//! starts it). Protocol and replies: `qmail::pop3::pop3d`.
//!
//! # Security
//! Runs as the mailbox owner; touches only new/, cur/ and tmp/ of the
//! maildir it changed into.
//!
//! # Exit codes
//! Always 0, as the original: `-ERR this user has no $HOME/Maildir` when
//! the argument is missing or chdir fails, `-ERR unable to scan
//! $HOME/Maildir`, QUIT, end of input, timeout (1200 s).

use std::time::{SystemTime, UNIX_EPOCH};

use qmail::pop3::{pop3d, TIMEOUT};
use qmail::tls::stream::Conn;

fn main() {
    let Ok(mut conn) = Conn::stdio(TIMEOUT) else {
        std::process::exit(0)
    };
    let dir = std::env::args_os().nth(1);
    if dir.is_none_or(|d| std::env::set_current_dir(d).is_err()) {
        conn.out(b"-ERR this user has no $HOME/Maildir\r\n");
        let _ = conn.flush();
        std::process::exit(0)
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    std::process::exit(pop3d::serve(&mut conn, now))
}
