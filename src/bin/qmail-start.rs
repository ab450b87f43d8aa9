//! qmail-start — turn on mail delivery.
//!
//! # Invocation
//! `qmail-start [ defaultdelivery [ logger arg ... ] ]`, as root from the
//! boot script. Starts qmail-lspawn (root), qmail-rspawn (qmailr),
//! qmail-clean (qmailq), an optional logger (qmaill:nofiles) and becomes
//! qmail-send (qmails) with fds 0–6 wired as `shared/spec/qmail/send.md`
//! §1 says. Programs are found through `$PATH`.
//!
//! # Security
//! Sets the group to qmail first; each child gets its own uid. In
//! single-user mode (not root, or `QMAILRS_SINGLE_USER=1`) no ids change.
//!
//! # Exit codes
//! Prints nothing; any set-up failure → 111.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::unistd::{dup2, pipe2};
use qmail::ids::{self, Role, RoleGroup};

fn die() -> ! {
    std::process::exit(111);
}

fn pipe() -> (OwnedFd, OwnedFd) {
    pipe2(OFlag::O_CLOEXEC).unwrap_or_else(|_| die())
}

/// Spawn `prog` with stdin/stdout as given and the role's ids.
fn child(
    prog: &str,
    args: &[std::ffi::OsString],
    stdin: OwnedFd,
    stdout: OwnedFd,
    ids: Option<(u32, u32)>,
) {
    let mut c = Command::new(prog);
    c.args(args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null());
    if let Some((u, g)) = ids {
        c.uid(u).gid(g);
    }
    if c.spawn().is_err() {
        die();
    }
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let single = ids::single_user();
    let role = |r: Role, g: RoleGroup| -> Option<(u32, u32)> {
        if single {
            return None;
        }
        match (ids::uid(r), ids::gid(g)) {
            (Ok(u), Ok(g)) => Some((u.as_raw(), g.as_raw())),
            _ => die(),
        }
    };
    if std::env::set_current_dir("/").is_err() {
        die();
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    if !single {
        let g = ids::gid(RoleGroup::Qmail).unwrap_or_else(|_| die());
        if nix::unistd::setgroups(&[g]).is_err() || nix::unistd::setgid(g).is_err() {
            die();
        }
    }
    // Reserve fds 2..6 so that new pipes land above them.
    for n in 2..=6 {
        if dup2(0, n).is_err() || fcntl(n, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).is_err() {
            die();
        }
    }
    let default = args.first().cloned().unwrap_or_else(|| "./Mailbox".into());
    // The log: qmail-start's stdout, or a pipe to the logger.
    let log: OwnedFd = if args.len() > 1 {
        let (r, w) = pipe();
        let mut c = Command::new(&args[1]);
        c.args(&args[2..])
            .stdin(Stdio::from(r))
            .stderr(Stdio::null());
        if let Some((u, g)) = role(Role::Qmaill, RoleGroup::Nofiles) {
            c.uid(u).gid(g);
        }
        if c.spawn().is_err() {
            die();
        }
        w
    } else {
        std::os::fd::AsFd::as_fd(&std::io::stdout())
            .try_clone_to_owned()
            .unwrap_or_else(|_| die())
    };
    let (l_cmd_r, l_cmd_w) = pipe();
    let (l_rep_r, l_rep_w) = pipe();
    let (r_cmd_r, r_cmd_w) = pipe();
    let (r_rep_r, r_rep_w) = pipe();
    let (c_cmd_r, c_cmd_w) = pipe();
    let (c_ans_r, c_ans_w) = pipe();
    child("qmail-lspawn", &[default], l_cmd_r, l_rep_w, None);
    child(
        "qmail-rspawn",
        &[],
        r_cmd_r,
        r_rep_w,
        role(Role::Qmailr, RoleGroup::Qmail),
    );
    child(
        "qmail-clean",
        &[],
        c_cmd_r,
        c_ans_w,
        role(Role::Qmailq, RoleGroup::Qmail),
    );
    let wiring: [OwnedFd; 7] = [log, l_cmd_w, l_rep_r, r_cmd_w, r_rep_r, c_cmd_w, c_ans_r];
    let raw: Vec<i32> = wiring.into_iter().map(IntoRawFd::into_raw_fd).collect();
    for (n, fd) in raw.iter().enumerate() {
        if dup2(*fd, n as i32).is_err() {
            die();
        }
    }
    let mut send = Command::new("qmail-send");
    if let Some((u, g)) = role(Role::Qmails, RoleGroup::Qmail) {
        send.uid(u).gid(g);
    }
    let _err = send.exec();
    die();
}
