//! qmail-send — deliver mail messages from the queue.
//!
//! # Invocation
//! No arguments; started by qmail-start with fd 0 = log, fd 1/2 =
//! commands/reports of qmail-lspawn, fd 3/4 = of qmail-rspawn, fd 5/6 =
//! commands/answers of qmail-clean (`shared/spec/qmail/send.md` §1).
//!
//! # Security
//! Runs as qmails in `/var/qmail/queue`; umask 077; creates info, local,
//! remote and bounce files; injects bounces through qmail-queue.
//!
//! # Control files
//! me, queuelifetime, concurrencylocal, concurrencyremote, envnoathost,
//! bouncefrom, bouncehost, doublebouncehost, doublebounceto, locals,
//! percenthack, virtualdomains (read at start; locals and virtualdomains
//! again on HUP).
//!
//! # Signals
//! TERM: finish outstanding deliveries, save the schedule, exit 0.
//! ALRM: retry everything now. HUP: reread locals and virtualdomains.
//!
//! # Exit codes
//! 0 after TERM; 111 when it cannot start (an `alert: cannot start: ...`
//! line says why).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal as Sig};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use qmail::control::{files, Control};
use qmail::queue::layout::Layout;
use qmail::send::engine::{Config, Pipes, Send, Signal, Trigger};
use qmail::send::rewrite::Rules;

/// Take ownership of an inherited descriptor (fds 0–6 from qmail-start).
///
/// This is the one `unsafe` of qmail-send: std offers no safe way to adopt
/// an inherited descriptor above 2. Each number is adopted exactly once.
fn fd(n: i32) -> File {
    if nix::fcntl::fcntl(n, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        let _ =
            std::io::stderr().write_all(b"alert: cannot start: hath the daemon spawn no fire?\n");
        std::process::exit(111);
    }
    // SAFETY: `n` is open (checked above), is part of qmail-send's
    // documented fd interface, and is adopted only once in this process.
    unsafe { File::from_raw_fd(n) }
}

fn main() {
    let mut log = fd(0);
    let die = |log: &mut File, why: &str| -> ! {
        let _ = log.write_all(format!("alert: cannot start: {why}\n").as_bytes());
        std::process::exit(111);
    };
    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(&home).is_err() {
        die(&mut log, "unable to switch to home directory");
    }
    let cfg = match read_config(&home) {
        Some(c) => c,
        None => die(&mut log, "unable to read controls"),
    };
    if std::env::set_current_dir(home.join("queue")).is_err() {
        die(&mut log, "unable to switch to queue directory");
    }
    let mut mask = SigSet::empty();
    for s in [Sig::SIGTERM, Sig::SIGALRM, Sig::SIGHUP] {
        mask.add(s);
    }
    if mask.thread_block().is_err() {
        die(&mut log, "unable to read controls");
    }
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let q = Layout::at(home.join("queue"));
    let mutex = match std::fs::OpenOptions::new()
        .write(true)
        .open(q.lock("sendmutex"))
    {
        Ok(f) => f,
        Err(_) => die(&mut log, "unable to open mutex"),
    };
    let _lock = match Flock::lock(mutex, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err(_) => die(&mut log, "qmail-send is already running"),
    };
    let mut report = [fd(2), fd(4)];
    let mut conc = cfg.concurrency;
    for (c, r) in report.iter_mut().enumerate() {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(1) => conc[c] = conc[c].min(b[0] as usize),
            _ => die(&mut log, "hath the daemon spawn no fire?"),
        }
    }
    let mut cfg = cfg;
    cfg.concurrency = conc;
    let mut trigger = Trigger::open(&q.lock("trigger"));
    trigger.signal_fd = sfd
        .as_ref()
        .and_then(|s| s.as_fd().try_clone_to_owned().ok());
    let pipes = Pipes {
        log,
        cmd: [fd(1), fd(3)],
        report,
        clean_cmd: fd(5),
        clean_ans: fd(6),
    };
    let mut send = Send::new(cfg, q, pipes);
    let mut signals = || {
        let mut v = Vec::new();
        if let Some(s) = sfd.as_ref() {
            while let Ok(Some(info)) = s.read_signal() {
                match Sig::try_from(info.ssi_signo as i32) {
                    Ok(Sig::SIGTERM) => v.push(Signal::Term),
                    Ok(Sig::SIGALRM) => v.push(Signal::Alrm),
                    Ok(Sig::SIGHUP) => v.push(Signal::Hup),
                    _ => {}
                }
            }
        }
        v
    };
    send.run(&mut trigger, &mut signals);
    std::process::exit(0);
}

/// The start-up controls (`send.md` §2).
fn read_config(home: &std::path::Path) -> Option<Config> {
    let c = Control::at(home.join("control")).ok()?;
    let lifetime = c.queuelifetime().ok()? as i64;
    let concurrency = [
        c.concurrencylocal().ok()? as usize,
        c.concurrencyremote().ok()? as usize,
    ];
    let mut dbto = c.doublebounceto().ok()?;
    dbto.push(b'@');
    dbto.extend_from_slice(&c.doublebouncehost().ok()?);
    let rules = Rules {
        envnoathost: c.envnoathost().ok()?,
        locals: c.map(&files::LOCALS).ok()?.unwrap_or_default(),
        percenthack: c.map(&files::PERCENTHACK).ok()?.unwrap_or_default(),
        virtualdomains: c.map(&files::VIRTUALDOMAINS).ok()?.unwrap_or_default(),
    };
    Some(Config {
        qmail_home: home.to_path_buf(),
        lifetime,
        concurrency,
        bouncefrom: c.bouncefrom().ok()?,
        bouncehost: c.bouncehost().ok()?,
        doublebounce_to: dbto,
        rules,
    })
}
