//! qmail-rspawn — schedule remote deliveries.
//!
//! # Invocation
//! `qmail-rspawn`, started by qmail-start. fd 0: commands from qmail-send;
//! fd 1: reports (`shared/spec/qmail/send.md` §5). Each delivery runs
//! `bin/qmail-remote HOST SENDER RECIPIENT` with the message on stdin and
//! its records translated as `remote.md` §7 says.
//!
//! # Security
//! Runs as qmailr. Zeroes `queue/lock/tcpto` once at start-up.
//!
//! # Exit codes
//! 0 at EOF once every delivery is reported; 111 when `queue/mess` cannot
//! be entered.

use std::sync::Arc;

use qmail::ids::{self, Role};
use qmail::send::rspawn::Remote;
use qmail::send::spawn;

fn main() {
    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(home.join("queue/mess")).is_err() {
        std::process::exit(111);
    }
    let _ = std::fs::write("../lock/tcpto", [0u8; 1024]);
    let Ok(qmailq) = ids::uid(Role::Qmailq) else {
        std::process::exit(111);
    };
    let r = spawn::serve(
        Arc::new(Remote { qmail_home: home }),
        std::io::stdin(),
        Box::new(std::io::stdout()),
        qmailq.as_raw(),
    );
    std::process::exit(if r.is_ok() { 0 } else { 111 });
}
