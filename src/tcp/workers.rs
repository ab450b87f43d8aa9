//! Reused connection processes for a [`super::builtin`] program: instead
//! of one fork per connection, up to `-c` worker processes each accept
//! and serve connections one after another (at most [`MAX_USES`] each,
//! as Postfix's `max_use`), so a connection costs no fork, no exit and
//! none of the page faults a fresh process takes.
//!
//! What stays as with a fork per connection: at most `limit` connections
//! are served at once (one per worker) and the rest wait in the backlog;
//! every connection starts with the environment tcpserver started with
//! plus its `TCP*` variables and rule assignments, in tcpserver's
//! directory, on fds 0 and 1, with default SIGTERM and SIGCHLD; the log
//! lines are 0.88's (`pid`, `ok`/`deny`, `end PID status S`, `status:
//! N/LIMIT` with N the connections being served). A program file that
//! changed is exec'd by the worker, which then ends with that
//! connection. Differences (known-differences `program:tcpserver`): the
//! pid of those lines and of the program is the worker's, so it repeats
//! for the connections one worker serves; idle workers show in `ps`.
//!
//! Protocol between workers and the parent: 5-byte records on a pipe,
//! `B` or `I` (busy: accepted a connection; idle: done with it) and the
//! worker's pid, little-endian; a worker that sent `B` waits for one
//! byte on its own pipe, sent after the parent's `status` line, so the
//! lines come in 0.88's order (`status`, then `pid`). The parent reaps workers; one that dies
//! busy (killed, or it exec'd the program) gets its `end` line from the
//! parent, from the wait status, as 0.88 prints it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag};

use super::builtin::{self, Builtin, Found};
use super::conn::{self, Child};
use super::errstr::errstr;
use super::options::Options;
use super::server::{null_stdio, raw_status, Fork, Forked, Log};

/// Connections one worker serves before it exits (Postfix's `max_use`).
pub const MAX_USES: u32 = 100;
/// An idle worker beyond the first exits after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// How the binary runs a builtin in the current process (it needs
/// `unsafe` for the signal dispositions).
pub struct Program<'a> {
    /// Put the signals tcpserver catches back to their defaults.
    pub default_signals: &'a dyn Fn(),
    /// Run the program with these arguments; its exit code.
    pub run: &'a dyn Fn(Builtin, Vec<OsString>) -> i32,
}

/// Should connections to `found` be served by reused workers? Yes, unless
/// `QMAILRS_TCPSERVER_REUSE=0` asks for a fork per connection.
pub fn enabled(lookup: impl Fn(&str) -> Option<OsString>) -> bool {
    lookup("QMAILRS_TCPSERVER_REUSE").is_none_or(|v| v != "0")
}

fn record(kind: u8, pid: u32) -> [u8; 5] {
    let p = pid.to_le_bytes();
    [kind, p[0], p[1], p[2], p[3]]
}

/// The parent's view of one worker.
struct Worker {
    busy: bool,
    /// One byte here lets a worker that reported busy go on, after the
    /// parent's `status` line (0.88 prints it before the child's `pid`).
    ack: std::fs::File,
}

/// The parent's view of its workers.
struct Pool {
    workers: BTreeMap<i32, Worker>,
    busy: u64,
}

impl Pool {
    fn idle(&self) -> usize {
        self.workers.values().filter(|w| !w.busy).count()
    }
}

/// What a worker needs from the parent.
pub struct Setup<'a> {
    pub o: &'a Options,
    pub listener: &'a TcpListener,
    pub found: &'a Found,
    pub local_port: &'a str,
    pub log: Log,
    pub program: &'a Program<'a>,
}

/// The parent's loop: keep one idle worker while fewer than `limit`
/// exist, log busy/idle changes and reap. Returns only in a worker (its
/// exit code).
pub fn supervise(
    s: &Setup<'_>,
    fork: Fork<'_>,
    wake_r: &std::os::unix::net::UnixStream,
) -> Result<Child, std::io::Error> {
    let (status_r, status_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut status_r = std::fs::File::from(status_r);
    nix::fcntl::fcntl(
        status_r.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    // Workers find the parent gone when it is no longer their parent.
    let parent = nix::unistd::getpid();
    let mut pool = Pool {
        workers: BTreeMap::new(),
        busy: 0,
    };
    let status = |n: u64| {
        s.log.line(
            2,
            format!("tcpserver: status: {n}/{}", s.o.limit).as_bytes(),
        )
    };
    status(0);
    let mut pending: Vec<u8> = Vec::new();
    loop {
        while pool.idle() == 0 && (pool.workers.len() as u64) < s.o.limit {
            let (ack_r, ack_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            match fork() {
                Ok(Forked::Child) => {
                    drop((status_r, ack_w, pool));
                    return Ok(Child::Exit(worker(s, status_w, ack_r, parent)));
                }
                Ok(Forked::Parent(pid)) => {
                    let ack = std::fs::File::from(ack_w);
                    pool.workers.insert(pid, Worker { busy: false, ack });
                }
                Err(e) => {
                    let why = format!("dropping connection, unable to fork: {}", errstr(&e));
                    s.log
                        .line(1, format!("tcpserver: warning: {why}").as_bytes());
                    std::thread::sleep(Duration::from_secs(1));
                    break;
                }
            }
        }
        let mut fds = [
            PollFd::new(wake_r.as_fd(), PollFlags::POLLIN),
            PollFd::new(status_r.as_fd(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, PollTimeout::NONE);
        let mut sink = [0u8; 64];
        while std::io::Read::read(&mut &*wake_r, &mut sink).is_ok_and(|n| n > 0) {}
        drain(&mut status_r, &mut pending, &mut pool, &status);
        while let Ok(ws) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            let Some((pid, raw)) = raw_status(ws) else {
                break;
            };
            // Whatever it said before dying is in the pipe by now.
            drain(&mut status_r, &mut pending, &mut pool, &status);
            if pool.workers.remove(&pid).is_some_and(|w| w.busy) {
                s.log
                    .line(2, format!("tcpserver: end {pid} status {raw}").as_bytes());
                pool.busy = pool.busy.saturating_sub(1);
                status(pool.busy);
            }
        }
    }
}

/// Apply the workers' busy/idle records waiting in the pipe.
fn drain(r: &mut std::fs::File, pending: &mut Vec<u8>, pool: &mut Pool, status: &dyn Fn(u64)) {
    let mut buf = [0u8; 512];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    let whole = pending.len() / 5 * 5;
    for rec in pending[..whole].chunks(5) {
        let pid = u32::from_le_bytes([rec[1], rec[2], rec[3], rec[4]]) as i32;
        let Some(w) = pool.workers.get_mut(&pid) else {
            continue;
        };
        match rec[0] {
            b'B' if !w.busy => {
                w.busy = true;
                pool.busy += 1;
                status(pool.busy);
                let _ = w.ack.write_all(b"+");
            }
            b'I' if w.busy => {
                w.busy = false;
                pool.busy = pool.busy.saturating_sub(1);
                status(pool.busy);
            }
            _ => {}
        }
    }
    pending.drain(..whole);
}

/// A worker: accept, serve, repeat; exits when its parent is gone, after
/// [`MAX_USES`] connections, or when idle long with a sibling idle too.
fn worker(s: &Setup<'_>, status_w: OwnedFd, ack_r: OwnedFd, parent: nix::unistd::Pid) -> u8 {
    let mut status_w = std::fs::File::from(status_w);
    let mut ack_r = std::fs::File::from(ack_r);
    // Signals first: the parent's SIGCHLD handler writes to a descriptor
    // closed next.
    (s.program.default_signals)();
    builtin::close_cloexec_fds_except(&[
        s.listener.as_raw_fd(),
        status_w.as_raw_fd(),
        ack_r.as_raw_fd(),
    ]);
    // What is open now (ours, and what tcpserver inherited, which every
    // program gets) stays; anything a program leaves open goes.
    let keep = builtin::open_fds();
    builtin::set_process_name(s.found.builtin);
    let base_env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let cwd = std::env::current_dir().ok();
    let me = std::process::id();
    // Blocking accept wakes one waiting worker per connection; the
    // timeout lets an idle worker notice its parent is gone.
    let _ = s.listener.set_nonblocking(false);
    let _ = nix::sys::socket::setsockopt(
        s.listener,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(1, 0),
    );
    let mut idle_since = Instant::now();
    for used in 0..MAX_USES {
        let (stream, peer) = loop {
            if nix::unistd::getppid() != parent {
                return 0;
            }
            match s.listener.accept() {
                Ok(x) => break x,
                Err(_) if used > 0 && idle_since.elapsed() > IDLE_EXIT => return 0,
                // The 1 s timeout, or a client that gave up: try again.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                            | std::io::ErrorKind::ConnectionAborted
                    ) => {}
                // Out of descriptors or memory: no busy loop.
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let _ = status_w.write_all(&record(b'B', me));
        // EOF (the parent is gone) goes on too: the client is accepted.
        let _ = ack_r.read(&mut [0u8; 1]);
        let code = serve_one(s, stream, peer, &base_env, cwd.as_deref(), &keep);
        s.log.line(
            2,
            format!("tcpserver: end {me} status {}", (code & 0xff) << 8).as_bytes(),
        );
        let _ = status_w.write_all(&record(b'I', me));
        idle_since = Instant::now();
    }
    0
}

/// One connection in a worker; returns the program's exit code.
fn serve_one(
    s: &Setup<'_>,
    stream: std::net::TcpStream,
    peer: std::net::SocketAddr,
    base_env: &[(OsString, OsString)],
    cwd: Option<&std::path::Path>,
    keep: &[RawFd],
) -> i32 {
    let _ = stream.set_nonblocking(false);
    restore(base_env, cwd);
    for target in [0, 1] {
        if let Err(e) = nix::unistd::dup2(stream.as_raw_fd(), target) {
            let why = format!("unable to set up descriptors: {}", errstr(&e.into()));
            s.log.line(
                1,
                format!("tcpserver: warning: dropping connection, {why}").as_bytes(),
            );
            return 111;
        }
    }
    drop(stream);
    let code = match conn::serve(s.o, peer, s.local_port, s.log, Some(s.found)) {
        Child::Builtin(b, args) => (s.program.run)(b, args),
        Child::Stop(stop) => {
            if let conn::Stop::Drop(why) = &stop {
                s.log.line(
                    1,
                    format!("tcpserver: warning: dropping connection, {why}").as_bytes(),
                );
            }
            i32::from(stop.exit_code())
        }
        Child::Exit(c) => i32::from(c),
    };
    // The client sees the end now, not when the next one comes.
    null_stdio();
    builtin::close_fds_except(keep);
    code
}

/// Back to the environment and directory the worker started with.
fn restore(base: &[(OsString, OsString)], cwd: Option<&std::path::Path>) {
    let now: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in now {
        if !base.iter().any(|(b, _)| *b == k) {
            std::env::remove_var(k);
        }
    }
    for (k, v) in base {
        if std::env::var_os(k).as_ref() != Some(v) {
            std::env::set_var(k, v);
        }
    }
    if let Some(d) = cwd {
        let _ = std::env::set_current_dir(d);
    }
}
