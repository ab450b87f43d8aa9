//! vdeliver — the vmailmgr delivery agent: one message from qmail-local
//! into a virtual user's maildir under the domain owner's home and/or to
//! its forwarding addresses (through qmail-queue).
//!
//! Invocation: from `~/.qmail-default` (`|/usr/bin/vdeliver`), as the
//! domain owner, message on stdin (a regular file), with qmail-local's
//! USER, HOME, EXT, HOST, SENDER, UFLINE, RPLINE, DTLINE. Options
//! `-D -F -R -d -f -r --no-predeliver --no-postdeliver --quiet`.
//! Messages on stdout (qmail-local puts them into the bounce or log).
//!
//! Configuration: `~/.vmailmgr`, `/etc/vmailmgr`: `password-file`,
//! `default-username`, `qmail-root` (control/me, bin/qmail-queue), hooks
//! `vdeliver-predeliver`, `vdeliver-postdeliver`. Exports VUSER, MAILDIR
//! and the VUSER_* variables to the hooks.
//!
//! Exit codes: 0 delivered (or discarded: no mailbox, no forwards);
//! 99 a hook said so; 100 permanent (missing variable, unknown or expired
//! user, disk quota); 111 temporary; 1 HOME or usage; a failing hook's code.
//!
//! See: `shared/spec/vmailmgr/vdeliver.md`, `qmail::vmailmgr::deliver`.

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(qmail::vmailmgr::deliver::run(&argv));
}
