//! authvmailmgr — vmailmgr's authentication module for the old
//! Courier-IMAP authmod chain (installed as
//! `/usr/lib/courier-imap/libexec/authlib/authvmailmgr`).
//!
//! Invocation: `authvmailmgr NEXT [ARGS...]` with `service\nlogin\nuser\npassword\n`
//! on descriptor 3, as the Courier login front end runs its modules.
//! Accepts only the `login` type. A virtual user: switch to the domain
//! owner, set `MAILDIR`, `AUTHADDR`, `AUTHENTICATED`, exec NEXT. A real
//! Unix user: exec NEXT with the same data on descriptor 3. A refusal:
//! re-run `$AUTHUSER` (`$AUTHARGC`, `$AUTHARGV<n>`), else print
//! `AUTHFAILURE` and exit 1.
//!
//! Security: started as root; drops to the owner (supplementary groups =
//! its gid) before reading passwd.cdb. Passwords are never printed.
//!
//! Configuration: `/etc/vmailmgr` (separators, qmail-root), then the
//! owner's chain; hooks `authvmailmgr-presetuid`, `-postsetuid`,
//! `-loginfail`, `-error` (with `AUTHVMAILMGR_ERROR`).
//!
//! Exit codes: only when nothing can be executed: 1.
//!
//! See: `shared/spec/vmailmgr/checkvpw.md` §10, `qmail::vmailmgr::authvmailmgr`.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;

use qmail::vmailmgr::authvmailmgr::{run, Next};

/// Descriptor 3 as a file, if it is open.
fn fd3() -> Option<std::fs::File> {
    nix::fcntl::fcntl(3, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: descriptor 3 is open (checked above) and nothing else in this
    // process owns it; the File takes ownership and closes it after reading.
    Some(unsafe { std::fs::File::from_raw_fd(3) })
}

/// Put `data` on descriptor 3 through a pipe (it fits in the pipe buffer).
fn give_fd3(data: &[u8]) -> bool {
    let Ok((r, w)) = nix::unistd::pipe() else {
        return false;
    };
    let mut w = std::fs::File::from(w);
    if w.write_all(data).is_err() {
        return false;
    }
    drop(w);
    if r.as_raw_fd() == 3 {
        std::mem::forget(r);
        return true;
    }
    nix::unistd::dup2(r.as_raw_fd(), 3).is_ok()
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut next = run(&args, fd3());
    loop {
        match next {
            Next::Exit { code, stderr } => {
                let _ = std::io::stderr().write_all(stderr.as_bytes());
                std::process::exit(code);
            }
            Next::Exec { argv, fd3 } => {
                if let Some(d) = fd3 {
                    if !give_fd3(&d) {
                        next = qmail::vmailmgr::authvmailmgr::fail_completely();
                        continue;
                    }
                }
                let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
                let _ = writeln!(std::io::stderr(), "{}: {e}", argv[0].to_string_lossy());
                std::process::exit(1);
            }
        }
    }
}
