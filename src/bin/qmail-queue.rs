//! qmail-queue — queue a mail message for delivery.
//!
//! # Invocation
//! `qmail-queue` (no arguments). The message is read from fd 0 until EOF,
//! then the envelope from fd 1: `F sender NUL (T recipient NUL)* NUL`
//! (`shared/spec/qmail/queue.md` §4). Prints nothing on success.
//!
//! # Uid and security
//! Installed set-uid qmailq (mode 04711), not set-gid. The queue is always
//! `/var/qmail/queue`: a set-uid process ignores `QMAILRS_ROOT` and every
//! other override below. The Received line names the caller's real uid
//! (`by alias`, `from network`, `for bounce`, `by uid U`).
//!
//! # Files
//! `queue/pid/PID.TIME.SEQ` → `queue/mess/S/ID` → `queue/intd/ID` →
//! `queue/todo/ID` (the commit), then one byte into `queue/lock/trigger`.
//! A crash at any point leaves either nothing visible to qmail-send or a
//! complete message; leftovers are removed by `queue::cleanup`.
//!
//! # Environment (ordinary, non-set-uid runs only: tests and the demo)
//! `QMAILRS_ROOT` (install root), `QMAILRS_QUEUE_SYNC=syncfs` (one
//! syncfs barrier instead of two concurrent fsyncs; see `SyncMode`), `QMAILRS_QUEUE_CRASH_AT=STEP`
//! (SIGKILL itself after STEP, e.g. `intd-written`, for crash tests).
//!
//! # Exit codes
//! 0 queued; 11 address too long; 51 out of memory; 52 timeout (24 h);
//! 53 write error or disk full; 54 read error or envelope cut short;
//! 61 cannot enter /var/qmail; 62 cannot enter queue; 63 pid/;
//! 64 mess/; 65 intd/; 66 todo/; 81 internal bug (crash signal);
//! 91 envelope format error. On failure one line explains it on stderr,
//! except under our own queue clients (`QMAILRS_QUEUE_QUIET` set), whose
//! stderr may be a delivery report that must read as netqmail's.
//!
//! # Unsafe
//! Only the signal set-up: installing handlers needs `libc::signal`, and
//! the handlers call the async-signal-safe `_exit`.
//!
//! # See also
//! qmail-inject, qmail-smtpd, qmail-send, `queue.md`.

use std::io::{self, Read};
use std::os::fd::RawFd;

use qmail::queue::client;
use qmail::queue::enqueue::{self, Injector, Step, SyncMode};
use qmail::queue::layout::Layout;

/// Reads a raw descriptor (fd 1 is the envelope *input*).
struct Fd(RawFd);

impl Read for Fd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        nix::unistd::read(self.0, buf).map_err(io::Error::from)
    }
}

extern "C" fn on_alarm(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe. "Thou shalt not clean up here."
    unsafe { libc::_exit(52) }
}

extern "C" fn on_bug(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(81) }
}

fn signals() {
    let ignored = [
        libc::SIGPIPE,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGQUIT,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGXCPU,
        libc::SIGXFSZ,
    ];
    let bugs = [
        libc::SIGILL,
        libc::SIGABRT,
        libc::SIGFPE,
        libc::SIGBUS,
        libc::SIGSEGV,
        libc::SIGSYS,
    ];
    // SAFETY: plain handler installation before any thread exists; the
    // handlers only call _exit.
    unsafe {
        for s in ignored {
            libc::signal(s, libc::SIG_IGN);
        }
        libc::signal(
            libc::SIGALRM,
            on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        for s in bugs {
            libc::signal(
                s,
                on_bug as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

fn uid_of(name: &str) -> Option<u32> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

fn die(code: i32, what: &str) -> ! {
    // Quiet under our own clients (see `QUIET_ENV`); harmless to honour
    // even set-uid: it only withholds a message.
    if std::env::var_os(client::QUIET_ENV).is_none() {
        eprintln!("qmail-queue: fatal: {what}");
    }
    std::process::exit(code)
}

fn main() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o033));
    let home = qmail::root::qmail_home();
    if let Err(e) = std::env::set_current_dir(&home) {
        die(61, &format!("unable to chdir to {}: {e}", home.display()));
    }
    if let Err(e) = std::env::set_current_dir("queue") {
        die(
            62,
            &format!("unable to chdir to {}/queue: {e}", home.display()),
        );
    }

    let uid = nix::unistd::getuid().as_raw();
    let inj = Injector {
        pid: std::process::id(),
        uid,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        who: enqueue::who(uid, uid_of("alias"), uid_of("qmaild"), uid_of("qmails")),
        pid_name: None,
    };

    signals();
    let _ = nix::unistd::alarm::set(86400);

    let ordinary = !qmail::root::is_privileged_exec();
    let var = |name: &str| ordinary.then(|| std::env::var(name).ok()).flatten();
    let mode = match var("QMAILRS_QUEUE_SYNC").as_deref() {
        Some("syncfs") => SyncMode::Syncfs,
        _ => SyncMode::Fsync,
    };
    let crash_at = var("QMAILRS_QUEUE_CRASH_AT");
    let mut step = |s: Step| {
        if crash_at.as_deref() == Some(s.name()) {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        Ok(())
    };

    let q = Layout::at(".");
    match enqueue::enqueue(&q, &inj, mode, &mut Fd(0), &mut Fd(1), &mut step) {
        Ok(_) => std::process::exit(0),
        Err(e) => die(e.exit_code() as i32, &e.to_string()),
    }
}
