//! qmail-lspawn — schedule local deliveries.
//!
//! # Invocation
//! `qmail-lspawn defaultdelivery`, started by qmail-start. fd 0: commands
//! from qmail-send; fd 1: reports (`shared/spec/qmail/send.md` §5).
//!
//! # Security
//! Runs as root (gid qmail) so that it can run qmail-local as each mailbox
//! owner; qmail-getpw runs as qmailp:nofiles. Never delivers as uid 0.
//! In single-user mode (not root, or `QMAILRS_SINGLE_USER=1`) no uid is
//! changed.
//!
//! # Files
//! `users/cdb` (qmail-users(5)), `bin/qmail-getpw`, `bin/qmail-local`,
//! messages in `queue/mess`.
//!
//! # Exit codes
//! 0 at EOF once every delivery is reported; 100 without an argument; 111
//! when `queue/mess` cannot be entered.
//!
//! # See also
//! qmail-send, qmail-local, qmail-getpw, qmail-users(5).

use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use qmail::ids::{self, Role, RoleGroup};
use qmail::local::lspawn::Local;
use qmail::send::spawn;

fn main() {
    let Some(aliasempty) = std::env::args_os().nth(1) else {
        std::process::exit(100);
    };
    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(home.join("queue/mess")).is_err() {
        std::process::exit(111);
    }
    let single_user = ids::single_user();
    let (Ok(qmailq), Ok(qmailp), Ok(nofiles)) = (
        ids::uid(Role::Qmailq),
        ids::uid(Role::Qmailp),
        ids::gid(RoleGroup::Nofiles),
    ) else {
        std::process::exit(111);
    };
    let local = Local {
        qmail_home: home,
        aliasempty: aliasempty.into_vec(),
        single_user,
        getpw_ids: (qmailp.as_raw(), nofiles.as_raw()),
    };
    let r = spawn::serve(
        Arc::new(local),
        std::io::stdin(),
        Box::new(std::io::stdout()),
        qmailq.as_raw(),
    );
    std::process::exit(if r.is_ok() { 0 } else { 111 });
}
