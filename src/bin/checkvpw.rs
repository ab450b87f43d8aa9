//! checkvpw — checkpassword (D. J. Bernstein's interface) for vmailmgr
//! virtual users and real Unix users: for qmail-popup/qmail-pop3d, the
//! SMTP AUTH of qmail-smtpd and Dovecot's checkpassword passdb.
//!
//! Invocation: `checkvpw SUBPROGRAM [ARG ...]`, `login NUL password NUL
//! [timestamp NUL]` on descriptor 3 (at most 512 bytes). The argument
//! containing `maildir-arg-str` (default `maildir`, case-insensitive), or
//! the last one, is replaced by the account's maildir.
//!
//! Security: started as root; switches to the domain owner (supplementary
//! groups = its gid, gid, uid) before reading the owner's passwd.cdb.
//! Passwords are never printed or logged.
//!
//! Configuration: `/etc/vmailmgr` (separators, qmail-root, presetuid
//! hook), then the owner's chain (password-file, maildir-arg-str,
//! error-maildir, postsetuid/postexec hooks); control/locals and
//! control/virtualdomains. Sets USER, HOME, VUSER, MAILDIR, VUSER_*; on
//! failure CHECKVPW_ERROR for the loginfail/error hooks.
//!
//! Exit codes: 0 the sub-program ran and exited 0; 1 login refused;
//! 2 bad data or no sub-program; 111 temporary failure (including a
//! failing sub-program).
//!
//! See: `shared/spec/vmailmgr/checkvpw.md`, `qmail::vmailmgr::checkvpw`.

use std::os::fd::FromRawFd;

/// Descriptor 3 as a file, if it is open.
fn fd3() -> Option<std::fs::File> {
    nix::fcntl::fcntl(3, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: descriptor 3 is open (checked above) and nothing else in this
    // process owns it; the File takes ownership and closes it after reading.
    Some(unsafe { std::fs::File::from_raw_fd(3) })
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(qmail::vmailmgr::checkvpw::checkvpw(args, fd3));
}
