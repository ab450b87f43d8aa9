//! qmail-queued: qmail-queue as a resident server, so that queueing a
//! message costs no program start (issue 5). A qmail-rs addition.
//!
//! # Protocol
//! The server listens on a Linux *abstract* unix stream socket named
//! [`socket_name`] of the qmail home: abstract, because clients such as
//! qmaild cannot traverse `queue/` (0750 qmailq:qmail), so no path there
//! would do, and no install step is needed. A client ([`super::client`])
//! makes the same two pipes it makes for qmail-queue (message, envelope),
//! connects, checks that the server runs as the owner of `queue/`, and
//! sends one byte carrying the two read ends (`SCM_RIGHTS`) and its
//! credentials (`SCM_CREDENTIALS`: pid, real uid, real gid, checked by the
//! kernel). The server answers an [`Ack`] when it has taken the request;
//! only then does the client write message and envelope, exactly as for
//! qmail-queue, and read the [`Reply`]: the exit code qmail-queue would
//! have had, and the pid written into the message. Before the Ack the
//! client has written nothing and may still run qmail-queue.
//!
//! # What the message records
//! [`super::enqueue::enqueue`] runs on the two pipes with the client's
//! pid and real uid: the uid is qmail-queue's `getuid()`, the pid is the
//! number in the Received line, intd's `p` record and the `qp` of replies
//! (netqmail writes qmail-queue's own pid there). qmail-queue's 24-hour
//! alarm (exit 52) is a per-request deadline on reading the pipes; a
//! crash of the server is EOF without a reply, which the client reports
//! as qmail-queue's crash. Nothing half-written becomes visible: what a
//! crash leaves in `pid/`, `mess/` and `intd/` is removed by
//! [`super::cleanup`] as after a crashed qmail-queue.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags, UnixCredentials};

use crate::queue::enqueue::{self, Injector, SyncMode};
use crate::queue::layout::Layout;

/// What a server sends when it has taken a request, before the client
/// writes anything: until then the client may still run qmail-queue
/// instead (the server died, is shutting down, or has no thread or
/// descriptor to spare), after it the message is the server's. It names
/// the queue directory the server writes (device and inode of its cwd),
/// which the client compares with its own `queue/`: a server in another
/// mount namespace, or one left in a queue directory that was since
/// moved aside, is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub dev: u64,
    pub ino: u64,
}

const ACK: u8 = b'K';

impl Ack {
    pub const LEN: usize = 17;

    /// `K`, then device and inode, little-endian.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0] = ACK;
        b[1..9].copy_from_slice(&self.dev.to_le_bytes());
        b[9..].copy_from_slice(&self.ino.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; Self::LEN]) -> Option<Self> {
        let word = |r: std::ops::Range<usize>| {
            b.get(r)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_le_bytes)
        };
        (b[0] == ACK).then_some(Ack {
            dev: word(1..9)?,
            ino: word(9..17)?,
        })
    }

    /// The queue directory at `path`, as an acknowledgement names it.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Ack {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// How long a client waits for the [`Ack`] before it runs qmail-queue.
pub const ACK_WAIT: Duration = Duration::from_secs(10);

/// qmail-queue's alarm: a request still unread after this fails with 52.
pub const DEADLINE: Duration = Duration::from_secs(86400);

const PREFIX: &str = "qmail-rs-queue:";
/// The longest abstract name: `sun_path` less its leading NUL.
const NAME_MAX: usize = 107;

/// The abstract socket name (without the leading NUL) of the server for
/// `qmail_home`: `qmail-rs-queue:` and the absolute path, or, when that is
/// longer than an abstract name may be, `qmail-rs-queue:#` and the first
/// 128 bits of the path's SHA-256 in hex.
pub fn socket_name(qmail_home: &Path) -> io::Result<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    let abs = std::path::absolute(qmail_home)?.into_os_string().into_vec();
    let mut name = PREFIX.as_bytes().to_vec();
    if name.len() + abs.len() <= NAME_MAX {
        name.extend_from_slice(&abs);
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&abs);
        name.push(b'#');
        for b in &digest[..16] {
            name.extend_from_slice(format!("{b:02x}").as_bytes());
        }
    }
    Ok(name)
}

/// The socket address of [`socket_name`].
pub fn address(qmail_home: &Path) -> io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(socket_name(qmail_home)?)
}

/// The server's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// qmail-queue's exit code (`queue.md` §4.5); 0 is queued.
    pub code: u8,
    /// The pid written into the message (the client's).
    pub pid: u32,
}

impl Reply {
    pub const LEN: usize = 5;

    /// `code` then `pid`, little-endian.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let p = self.pid.to_le_bytes();
        [self.code, p[0], p[1], p[2], p[3]]
    }

    pub fn decode(b: &[u8; Self::LEN]) -> Self {
        Reply {
            code: b[0],
            pid: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
        }
    }
}

/// Takes ownership of a descriptor the kernel has just installed in this
/// process through `SCM_RIGHTS`. The library cannot do this without
/// `unsafe`; the program supplies it (`OwnedFd::from_raw_fd`).
pub type Adopt = fn(RawFd) -> OwnedFd;

/// The uids the Received line names (`enqueue::who`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    pub alias: Option<u32>,
    pub qmaild: Option<u32>,
    pub qmails: Option<u32>,
}

/// One running server.
pub struct Server {
    /// The queue (the process's cwd in qmail-queued).
    pub queue: Layout,
    pub roles: Roles,
    pub mode: SyncMode,
    /// How long one request may take to arrive ([`DEADLINE`]).
    pub deadline: Duration,
    pub adopt: Adopt,
    /// Where warnings go (a line without its newline).
    pub warn: fn(&str),
    /// Requests served at once ([`MAX_REQUESTS`]); past it a connection
    /// is closed unanswered and its client runs qmail-queue, so a flood
    /// of idle connections costs threads only up to here.
    pub max_requests: usize,
    ack: Ack,
    serial: AtomicU64,
    in_flight: AtomicUsize,
}

/// The stock [`Server::max_requests`].
pub const MAX_REQUESTS: usize = 1000;

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

/// Requests waiting for a thread, and how many threads wait for them.
#[derive(Default)]
struct Pool {
    state: std::sync::Mutex<PoolState>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct PoolState {
    waiting: std::collections::VecDeque<UnixStream>,
    idle: usize,
    closed: bool,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a request; true when no thread is free for it (start one).
    fn push(&self, stream: UnixStream) -> bool {
        let mut st = self.lock();
        st.waiting.push_back(stream);
        self.ready.notify_one();
        st.waiting.len() > st.idle
    }

    /// No more requests: the threads end once the queue is empty.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// A pooled thread: serve requests until the pool is closed and empty.
    fn work(&self, serve: impl Fn(UnixStream)) {
        loop {
            let job = {
                let mut st = self.lock();
                loop {
                    if let Some(job) = st.waiting.pop_front() {
                        break job;
                    }
                    if st.closed {
                        return;
                    }
                    st.idle += 1;
                    st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                    st.idle -= 1;
                }
            };
            serve(job);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why [`Server::serve`] stopped other than by the stop descriptor.
#[derive(Debug)]
pub enum ServeError {
    Poll(nix::Error),
    Accept(io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Poll(e) => write!(f, "unable to poll: {e}"),
            ServeError::Accept(e) => write!(f, "unable to accept: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Bind the listening socket for `qmail_home`, with `SO_PASSCRED` so
/// every connection carries its client's credentials.
pub fn bind(qmail_home: &Path) -> io::Result<UnixListener> {
    let l = UnixListener::bind_addr(&address(qmail_home)?)?;
    socket::setsockopt(&l, sockopt::PassCred, &true)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A request as received: the pipes and who sent them.
struct Request {
    message: OwnedFd,
    envelope: OwnedFd,
    pid: u32,
    uid: u32,
}

impl Server {
    /// A server for `queue` (whose directory must exist).
    pub fn new(
        queue: Layout,
        roles: Roles,
        mode: SyncMode,
        adopt: Adopt,
        warn: fn(&str),
    ) -> io::Result<Self> {
        Ok(Server {
            ack: Ack::of(&std::fs::metadata(&queue.dir)?),
            queue,
            roles,
            mode,
            deadline: DEADLINE,
            adopt,
            warn,
            max_requests: MAX_REQUESTS,
            serial: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Accept requests, one thread each, until `stop` becomes readable;
    /// then take what is already waiting, close the socket (new clients
    /// run qmail-queue), finish the requests in flight and return.
    pub fn serve(&self, listener: UnixListener, stop: BorrowedFd) -> Result<(), ServeError> {
        let pool = Pool::default();
        std::thread::scope(|s| {
            let result = self.accept_until(&listener, stop, s, &pool);
            drop(listener);
            pool.close();
            result
        })
    }

    fn accept_until<'scope, 'env>(
        &'env self,
        listener: &UnixListener,
        stop: BorrowedFd,
        s: &'scope std::thread::Scope<'scope, 'env>,
        pool: &'env Pool,
    ) -> Result<(), ServeError> {
        loop {
            let mut fds = [
                PollFd::new(listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(stop, PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(ServeError::Poll(e)),
                Ok(_) => {}
            }
            let stopping = fds[1].any().unwrap_or(false);
            // Until the backlog is empty (the listener is non-blocking).
            loop {
                let stream = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        continue
                    }
                    // Out of descriptors or memory: say so, keep serving.
                    Err(e) if is_resource(&e) => {
                        (self.warn)(&format!("warning: unable to accept: {e}"));
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                    Err(e) => return Err(ServeError::Accept(e)),
                };
                if self.in_flight.fetch_add(1, Ordering::Relaxed) >= self.max_requests {
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
                // Threads that finished a request wait for the next one:
                // a thread start per request cost about as much as the
                // queue work. A new thread only when none is free.
                if pool.push(stream) {
                    let spawned = std::thread::Builder::new()
                        .name("qmail-queued request".into())
                        .stack_size(256 * 1024)
                        .spawn_scoped(s, move || {
                            pool.work(|stream| {
                                let _counted = InFlight(&self.in_flight);
                                self.handle(stream)
                            })
                        });
                    if let Err(e) = spawned {
                        // The request waits for a thread that is busy now.
                        (self.warn)(&format!("warning: unable to start a thread: {e}"));
                    }
                }
            }
            if stopping {
                return Ok(());
            }
        }
    }

    /// Queue one message: qmail-queue's run, on the client's pipes.
    fn handle(&self, stream: UnixStream) {
        let deadline = Instant::now() + self.deadline;
        let req = match self.receive(&stream, deadline) {
            Ok(Some(r)) => r,
            // Connected and left (a probe, or a client that gave up).
            Ok(None) => return,
            Err(e) => {
                (self.warn)(&format!("warning: bad request: {e}"));
                return;
            }
        };
        // Taken: from here on the client writes the message to us.
        if (&stream).write_all(&self.ack.encode()).is_err() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let r = self.roles;
        let inj = Injector {
            pid: req.pid,
            uid: req.uid,
            now,
            who: enqueue::who(req.uid, r.alias, r.qmaild, r.qmails),
            pid_name: Some(format!("{}.{now}.{serial}", std::process::id())),
        };
        let mut message = Timed::new(req.message, deadline);
        let mut envelope = Timed::new(req.envelope, deadline);
        let result = enqueue::enqueue(
            &self.queue,
            &inj,
            self.mode,
            &mut message,
            &mut envelope,
            &mut |_| Ok(()),
        );
        // As qmail-queue's exit closes them, before the verdict.
        drop((message, envelope));
        let code = match &result {
            Ok(_) => 0,
            Err(e) => e.exit_code() as u8,
        };
        // A read error is a client that gave up (a dropped SMTP session):
        // routine, not worth a line.
        if let Err(e) = &result {
            if code != enqueue::ExitCode::ReadError as u8 {
                (self.warn)(&format!("warning: pid {}: {e}", req.pid));
            }
        }
        let reply = Reply { code, pid: req.pid };
        let _ = (&stream).write_all(&reply.encode());
    }

    /// Read the request byte with its two descriptors and credentials.
    fn receive(&self, stream: &UnixStream, deadline: Instant) -> io::Result<Option<Request>> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))?;
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; 2], UnixCredentials);
        let msg = loop {
            match socket::recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r?,
            }
        };
        let mut fds = Vec::new();
        let mut creds = None;
        for c in msg.cmsgs()? {
            match c {
                ControlMessageOwned::ScmRights(raw) => {
                    fds.extend(raw.into_iter().map(self.adopt));
                }
                ControlMessageOwned::ScmCredentials(c) => creds = Some(c),
                _ => {}
            }
        }
        if msg.bytes == 0 && fds.is_empty() {
            return Ok(None);
        }
        let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
        if msg.bytes != 1 || truncated || fds.len() != 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "expected one byte with two descriptors",
            ));
        }
        let (pid, uid) = match creds {
            Some(c) => (c.pid() as u32, c.uid()),
            // Every client of ours sends them; without, the connecting
            // process's (effective) ids as the kernel recorded them.
            None => {
                let c = socket::getsockopt(stream, sockopt::PeerCredentials)?;
                (c.pid() as u32, c.uid())
            }
        };
        let envelope = fds.pop().ok_or(io::ErrorKind::InvalidData)?;
        let message = fds.pop().ok_or(io::ErrorKind::InvalidData)?;
        Ok(Some(Request {
            message,
            envelope,
            pid,
            uid,
        }))
    }
}

fn is_resource(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// A descriptor read with a deadline: past it, reads fail `TimedOut`
/// (qmail-queue's exit 52).
pub struct Timed {
    fd: OwnedFd,
    deadline: Instant,
}

impl Timed {
    pub fn new(fd: OwnedFd, deadline: Instant) -> Self {
        Timed { fd, deadline }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // Whole milliseconds, rounded up, so a wait never ends early.
            let ms = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
            let mut p = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut p,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            match nix::unistd::read(self.fd.as_raw_fd(), buf) {
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }
}

/// Connect to the server for `qmail_home` without waiting: a full
/// backlog (a server that stopped accepting) is an error like no server,
/// so the caller runs qmail-queue instead of hanging.
pub fn connect(qmail_home: &Path) -> io::Result<UnixStream> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr};
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    socket::connect(
        fd.as_raw_fd(),
        &UnixAddr::new_abstract(&socket_name(qmail_home)?)?,
    )?;
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Wait up to [`ACK_WAIT`] for the server to take the request; its
/// [`Ack`].
pub fn wait_ack(stream: &UnixStream) -> io::Result<Ack> {
    let deadline = Instant::now() + ACK_WAIT;
    let mut b = [0u8; Ack::LEN];
    let mut got = 0;
    while got < Ack::LEN {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let ms = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
        let mut p = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(
            &mut p,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match (&*stream).read(&mut b[got..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ack::decode(&b).ok_or_else(|| io::ErrorKind::InvalidData.into())
}

/// Send a request on `stream`: one byte, the two read ends, and this
/// process's credentials.
pub fn send_request(
    stream: &UnixStream,
    message: BorrowedFd,
    envelope: BorrowedFd,
) -> io::Result<()> {
    let fds = [message.as_raw_fd(), envelope.as_raw_fd()];
    let creds = UnixCredentials::new();
    let cmsgs = [
        socket::ControlMessage::ScmRights(&fds),
        socket::ControlMessage::ScmCredentials(&creds),
    ];
    let n = socket::sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(b"Q")],
        &cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    if n != 1 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            socket_name(Path::new("/var/qmail")).unwrap(),
            b"qmail-rs-queue:/var/qmail"
        );
        let long = format!("/{}", "x".repeat(200));
        let n = socket_name(Path::new(&long)).unwrap();
        assert_eq!(n.len(), PREFIX.len() + 1 + 32);
        assert!(n.starts_with(b"qmail-rs-queue:#"));
        assert_ne!(n, socket_name(Path::new(&format!("{long}y"))).unwrap());
        let edge = format!("/{}", "y".repeat(NAME_MAX - PREFIX.len() - 1));
        assert_eq!(socket_name(Path::new(&edge)).unwrap().len(), NAME_MAX);
        assert!(address(Path::new(&edge)).is_ok());
    }

    /// The accept loop: a request past `max_requests` is closed
    /// unanswered, and the stop descriptor ends the loop.
    #[test]
    fn over_the_limit_is_closed_unanswered() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("var/qmail");
        std::fs::create_dir_all(home.join("queue")).unwrap();
        let listener = bind(&home).unwrap();
        let mut server = Server::new(
            Layout::at(home.join("queue")),
            Roles::default(),
            SyncMode::Fsync,
            |_| unreachable!("no request gets this far"),
            |_| {},
        )
        .unwrap();
        server.max_requests = 0;
        let (stop, mut stop_w) = UnixStream::pair().unwrap();
        std::thread::scope(|s| {
            let serving = s.spawn(|| server.serve(listener, stop.as_fd()));
            // Nothing may panic before the stop byte, or the scope hangs.
            let acked = (|| {
                let c = connect(&home)?;
                let (r1, _w1) = nix::unistd::pipe()?;
                let (r2, _w2) = nix::unistd::pipe()?;
                send_request(&c, r1.as_fd(), r2.as_fd())?;
                wait_ack(&c)
            })();
            stop_w.write_all(b"x").unwrap();
            serving.join().unwrap().unwrap();
            // Closed unanswered: the request fails to go (EPIPE) or is
            // reset unread, never acknowledged.
            let e = acked.unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ),
                "{e}"
            );
        });
        // Gone with the server: new clients are refused at once.
        assert!(connect(&home).is_err());
    }

    #[test]
    fn ack_round_trip() {
        let a = Ack {
            dev: 0x0102_0304_0506_0708,
            ino: u64::MAX,
        };
        assert_eq!(Ack::decode(&a.encode()), Some(a));
        let mut b = a.encode();
        b[0] = b'X';
        assert_eq!(Ack::decode(&b), None);
    }

    #[test]
    fn reply_round_trip() {
        let r = Reply {
            code: 53,
            pid: 0x0102_0304,
        };
        assert_eq!(Reply::decode(&r.encode()), r);
    }

    #[test]
    fn deadline_read_times_out() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let mut t = Timed::new(r, Instant::now() + Duration::from_millis(20));
        let e = t.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let q = enqueue::QueueError::Read(Some(e));
        assert_eq!(q.exit_code() as i32, 52);
    }
}
