//! qmail-clean — clean up the queue directory.
//!
//! # Invocation
//! No arguments; started by qmail-start. Reads `foop/ID` / `todo/ID`
//! NUL-terminated commands on fd 0 and answers one byte each on fd 1
//! (`+` done, `!` unlink failed, `x` malformed) — `shared/spec/qmail/queue.md` §7.
//!
//! # Security
//! Runs as qmailq in `/var/qmail/queue`; removes intd, todo and mess files.
//! Every 30 commands it also removes `pid/` files older than 36 hours.
//!
//! # Exit codes
//! 0 at EOF; 111 when the queue cannot be entered; 100 when an answer
//! cannot be written.

use std::io::{BufRead, BufReader, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use qmail::queue::layout::Layout;
use qmail::send::clean;

fn main() {
    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(home.join("queue")).is_err() {
        std::process::exit(111);
    }
    let q = Layout::at(home.join("queue"));
    let mut input = BufReader::new(std::io::stdin());
    let mut out = std::io::stdout();
    let mut count = 0u32;
    loop {
        if count.is_multiple_of(30) {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            clean::clean_pids(&q, now);
        }
        count = count.wrapping_add(1);
        let mut cmd = Vec::new();
        match input.read_until(0, &mut cmd) {
            Ok(0) | Err(_) => std::process::exit(0),
            Ok(_) => {}
        }
        if cmd.last() != Some(&0) {
            std::process::exit(0);
        }
        let answer = clean::execute(&q, clean::parse(&cmd));
        if out.write_all(&[answer]).and_then(|()| out.flush()).is_err() {
            std::process::exit(100);
        }
    }
}
