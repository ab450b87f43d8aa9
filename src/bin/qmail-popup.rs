//! qmail-popup — the POP3 authorization state; hands the login to a
//! checkpassword program.
//!
//! # Invocation
//! `qmail-popup hostname subprogram [args]`, normally
//! `tcpserver ... qmail-popup HOST checkpassword qmail-pop3d Maildir`.
//! Protocol and replies: `qmail::pop3::popup`.
//!
//! # Security
//! Runs as root (checkpassword needs it to switch to the user); it only
//! parses USER/PASS/APOP lines and never opens a file.
//!
//! # Exit codes
//! Always 1, as the original: usage error
//! (`-ERR usage: popup hostname subprogram`), QUIT, end of input or
//! timeout (1200 s), and after the checkpassword child ends.

use std::os::unix::ffi::OsStringExt;
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::pop3::popup::{self, Popup};
use qmail::pop3::TIMEOUT;
use qmail::tls::stream::Conn;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let host = args.next();
    let child: Vec<_> = args.collect();
    let Ok(mut conn) = Conn::stdio(TIMEOUT) else {
        std::process::exit(1)
    };
    let Some(host) = host.filter(|_| !child.is_empty()) else {
        conn.out(b"-ERR usage: popup hostname subprogram\r\n");
        let _ = conn.flush();
        std::process::exit(1)
    };
    // The child's stderr goes to the client, as the original's fd_copy(2,1).
    if nix::unistd::dup2(1, 2).is_err() {
        conn.out(b"-ERR unable to open pipe\r\n");
        let _ = conn.flush();
        std::process::exit(1)
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut p = Popup::new(std::process::id(), now, host.into_vec(), child);
    std::process::exit(popup::run(&mut conn, &mut p))
}
