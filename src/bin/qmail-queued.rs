//! qmail-queued — qmail-queue as a resident server (a qmail-rs addition,
//! not an original program).
//!
//! # What it does
//! Queues messages exactly as qmail-queue does (`queue::enqueue`), for
//! clients that would otherwise start qmail-queue once per message: every
//! queue client of qmail-rs (qmail-smtpd, qmail-inject and sendmail,
//! qmail-qmtpd, qmail-qmqpd, qmail-send's bounces, forward, ...) hands
//! its message and envelope pipes to it when `QMAILQUEUE` is unset, and
//! runs qmail-queue when no qmail-queued answers. Protocol and trust:
//! `src/queue/daemon.rs`. Not running it is the opt-out.
//!
//! # Invocation
//! `qmail-queued` (no arguments), under a supervisor as the queue's
//! owner: `setuidgid qmailq qmail-queued` (compat/service/qmail-queued,
//! compat/systemd/qmail-queued.service). Listens on the abstract unix
//! socket `@qmail-rs-queue:/var/qmail`. SIGTERM: stop accepting, finish
//! the requests in flight, exit 0.
//!
//! # Uid and security
//! Runs as qmailq, the uid set-uid qmail-queue runs as, with its umask
//! 033, in `/var/qmail/queue`. It refuses to start as root (unless in
//! single-user mode, where every role is the current uid) and when it is
//! not the owner of `queue/` (clients would not trust it). It is not
//! set-uid: like every ordinary program it honours `QMAILRS_ROOT`. A
//! message records its client's pid and real uid, which the kernel
//! vouches for (`SCM_CREDENTIALS`).
//!
//! # Environment
//! `QMAILRS_ROOT` (install root), `QMAILRS_SINGLE_USER=1`,
//! `QMAILRS_QUEUE_SYNC=syncfs` (as qmail-queue).
//!
//! # Exit codes
//! 0 after SIGTERM; 111 on a fatal error (one `qmail-queued: fatal:`
//! line on stderr). Failed requests get a warning line, except read
//! errors (a client that gave up).
//!
//! # Unsafe
//! Only `adopt`: taking ownership of the two descriptors the kernel has
//! just installed by `SCM_RIGHTS` (`OwnedFd::from_raw_fd`).
//!
//! # See also
//! qmail-queue, `src/queue/daemon.rs`, `src/queue/client.rs`.

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use qmail::queue::daemon::{self, Roles, Server};
use qmail::queue::enqueue::SyncMode;
use qmail::queue::layout::Layout;

fn adopt(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just installed in this process by SCM_RIGHTS
    // (recvmsg); nothing else knows or owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn warn(line: &str) {
    eprintln!("qmail-queued: {line}");
}

fn fatal(what: &str) -> ! {
    eprintln!("qmail-queued: fatal: {what}");
    std::process::exit(111)
}

fn uid_of(name: &str) -> Option<u32> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o033));
    let me = nix::unistd::geteuid();
    if me.is_root() && !qmail::ids::single_user() {
        fatal("refusing to run as root: run me as qmailq (setuidgid qmailq qmail-queued)");
    }
    let home = qmail::root::qmail_home();
    if let Err(e) = std::env::set_current_dir(&home) {
        fatal(&format!("unable to chdir to {}: {e}", home.display()));
    }
    match std::fs::metadata("queue") {
        Ok(m) if m.uid() == me.as_raw() => {}
        Ok(m) => fatal(&format!(
            "{}/queue belongs to uid {}, not to me (uid {me}): clients would not trust me",
            home.display(),
            m.uid()
        )),
        Err(e) => fatal(&format!("unable to stat {}/queue: {e}", home.display())),
    }
    if let Err(e) = std::env::set_current_dir("queue") {
        fatal(&format!("unable to chdir to {}/queue: {e}", home.display()));
    }
    let listener = daemon::bind(&home).unwrap_or_else(|e| {
        fatal(&format!(
            "unable to listen on @{}: {e}",
            String::from_utf8_lossy(&daemon::socket_name(&home).unwrap_or_default())
        ))
    });

    let (stop, stop_w) = std::os::unix::net::UnixStream::pair()
        .unwrap_or_else(|e| fatal(&format!("unable to make a socket pair: {e}")));
    if let Err(e) = signal_hook::low_level::pipe::register(libc::SIGTERM, stop_w) {
        fatal(&format!("unable to catch SIGTERM: {e}"));
    }

    // Each request holds about six descriptors while it runs.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }

    let roles = Roles {
        alias: uid_of("alias"),
        qmaild: uid_of("qmaild"),
        qmails: uid_of("qmails"),
    };
    let ordinary = !qmail::root::is_privileged_exec();
    let mode = match ordinary.then(|| std::env::var("QMAILRS_QUEUE_SYNC").ok()) {
        Some(Some(v)) if v == "syncfs" => SyncMode::Syncfs,
        _ => SyncMode::Fsync,
    };
    let server = Server::new(Layout::at("."), roles, mode, adopt, warn)
        .unwrap_or_else(|e| fatal(&format!("unable to stat {}/queue: {e}", home.display())));
    if let Err(e) = server.serve(listener, stop.as_fd()) {
        fatal(&e.to_string());
    }
}
