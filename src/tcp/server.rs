//! tcpserver's parent: bind, drop privileges, accept with a connection
//! limit, and reap children, with 0.88's log lines on stderr:
//!
//! ```text
//! tcpserver: status: N/LIMIT          (-v; at start, after accept, after reap)
//! tcpserver: end PID status WSTAT     (-v; WSTAT is the raw wait status)
//! tcpserver: fatal: unable to bind: ERR
//! tcpserver: warning: dropping connection, unable to fork: ERR
//! ```
//!
//! Each connection is handed to a forked child with the socket as fd 0
//! and fd 1, as 0.88 does: the child ([`super::conn`]) logs, looks names
//! up, reads the rules and then execs the program, so the pid in `pid`,
//! `ok`/`deny` and `end` lines is the program's. Forking without exec is
//! sound because this process has one thread (signal-hook's handlers
//! need none); the fork itself is the caller's ([`Fork`]), since the
//! library has no `unsafe`.

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, Backlog, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::builtin;
use super::conn;
use super::errstr::errstr;
use super::options::{resolve_port, Options};
use super::workers;

/// Which side of a `fork()` the caller returned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The original process; the new one has this pid.
    Parent(i32),
    /// The new process.
    Child,
}

/// `fork(2)`, supplied by the binary (it needs `unsafe`). It is only
/// called while the process has a single thread.
pub type Fork<'a> = &'a dyn Fn() -> std::io::Result<Forked>;

/// Why tcpserver cannot start (`tcpserver: fatal: ...`, exit 111).
#[derive(Debug)]
pub enum Fatal {
    /// `unable to figure out port number for PORT`
    Port(OsString),
    /// `temporarily unable to figure out IP address for HOST: ERR`
    Resolve(OsString, std::io::Error),
    /// `no IP address for HOST`
    NoAddress(OsString),
    /// `unable to create socket: ERR`
    Socket(std::io::Error),
    /// `unable to bind: ERR`
    Bind(std::io::Error),
    /// `unable to get local address: ERR`
    Local(std::io::Error),
    /// `unable to listen: ERR`
    Listen(std::io::Error),
    /// `unable to set gid: ERR`
    Gid(std::io::Error),
    /// `unable to set uid: ERR`
    Uid(std::io::Error),
}

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |s: &OsString| String::from_utf8_lossy(s.as_bytes()).into_owned();
        match self {
            Fatal::Port(p) => write!(f, "unable to figure out port number for {}", show(p)),
            Fatal::Resolve(h, e) => write!(
                f,
                "temporarily unable to figure out IP address for {}: {}",
                show(h),
                errstr(e)
            ),
            Fatal::NoAddress(h) => write!(f, "no IP address for {}", show(h)),
            Fatal::Socket(e) => write!(f, "unable to create socket: {}", errstr(e)),
            Fatal::Bind(e) => write!(f, "unable to bind: {}", errstr(e)),
            Fatal::Local(e) => write!(f, "unable to get local address: {}", errstr(e)),
            Fatal::Listen(e) => write!(f, "unable to listen: {}", errstr(e)),
            Fatal::Gid(e) => write!(f, "unable to set gid: {}", errstr(e)),
            Fatal::Uid(e) => write!(f, "unable to set uid: {}", errstr(e)),
        }
    }
}

fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Messages on stderr, silenced by `-q`.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    /// 0, 1 or 2 as in [`Options::verbosity`].
    pub verbosity: u8,
}

impl Log {
    /// Write one line (the newline is added) when `level` is enabled.
    pub fn line(&self, level: u8, msg: &[u8]) {
        if self.verbosity >= level && self.verbosity > 0 {
            let mut line = msg.to_vec();
            line.push(b'\n');
            let _ = std::io::stderr().lock().write_all(&line);
        }
    }
}

/// The address to bind: `0` is any address (dual-stack `::` unless `-4`
/// or IPv6 is missing), an IP literal is itself, a name is resolved.
fn local_address(o: &Options, port: u16) -> Result<SocketAddr, Fatal> {
    let host = o.host.as_bytes();
    if host == b"0" {
        let any = if o.no_v6 {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        return Ok(SocketAddr::new(any, port));
    }
    let text = String::from_utf8_lossy(host).into_owned();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = (text.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Fatal::Resolve(o.host.clone(), e))?
        .collect();
    addrs
        .iter()
        .find(|a| !o.no_v6 || a.is_ipv4())
        .copied()
        .ok_or_else(|| Fatal::NoAddress(o.host.clone()))
}

fn listen_on(addr: SocketAddr, o: &Options) -> Result<TcpListener, Fatal> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd: OwnedFd = match socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None) {
        Ok(fd) => fd,
        Err(nix::Error::EAFNOSUPPORT) if o.host.as_bytes() == b"0" => {
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port());
            return listen_on(v4, o);
        }
        Err(e) => return Err(Fatal::Socket(io(e))),
    };
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| Fatal::Socket(io(e)))?;
    let bound = match addr {
        SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &socket::SockaddrIn::from(a)),
        SocketAddr::V6(mut a) => {
            let _ = socket::setsockopt(&fd, sockopt::Ipv6V6Only, &false);
            if let Some(name) = &o.interface {
                a.set_scope_id(nix::net::if_::if_nametoindex(name.as_os_str()).unwrap_or(0));
            }
            socket::bind(fd.as_raw_fd(), &socket::SockaddrIn6::from(a))
        }
    };
    bound.map_err(|e| Fatal::Bind(io(e)))?;
    let backlog = Backlog::new(o.backlog.min(i32::MAX as u64) as i32).unwrap_or(Backlog::MAXCONN);
    socket::listen(&fd, backlog).map_err(|e| Fatal::Listen(io(e)))?;
    Ok(TcpListener::from(fd))
}

fn drop_privileges(o: &Options) -> Result<(), Fatal> {
    use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
    if o.gid != 0 {
        let gid = Gid::from_raw(o.gid as u32);
        setgroups(&[gid]).map_err(|e| Fatal::Gid(io(e)))?;
        setgid(gid).map_err(|e| Fatal::Gid(io(e)))?;
    }
    if o.uid != 0 {
        setuid(Uid::from_raw(o.uid as u32)).map_err(|e| Fatal::Uid(io(e)))?;
    }
    Ok(())
}

/// Put /dev/null on fds 0 and 1.
pub(super) fn null_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

/// The raw `wait()` status 0.88 prints in `end` lines.
pub(super) fn raw_status(ws: WaitStatus) -> Option<(i32, i32)> {
    match ws {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), (code & 0xff) << 8)),
        WaitStatus::Signaled(pid, sig, core) => {
            Some((pid.as_raw(), sig as i32 | if core { 0x80 } else { 0 }))
        }
        _ => None,
    }
}

/// Bind, then serve forever. Returns `Err` on a fatal error in the
/// parent, and `Ok` only in a connection child whose program was not
/// exec'd: a [`builtin`] to run in-process, or a stop (its exit code and
/// message are the caller's).
///
/// `program` runs a builtin program in-process; with it, connections to
/// a builtin are served by reused workers ([`super::workers`]) unless
/// `QMAILRS_TCPSERVER_REUSE=0`.
pub fn run(
    o: &Options,
    fork: Fork<'_>,
    program: Option<&workers::Program<'_>>,
) -> Result<conn::Child, Fatal> {
    let log = Log {
        verbosity: o.verbosity,
    };
    let services = std::fs::read("/etc/services").unwrap_or_default();
    let port =
        resolve_port(o.port.as_bytes(), &services).ok_or_else(|| Fatal::Port(o.port.clone()))?;

    // SIGTERM exits 0 at once; SIGCHLD wakes the loop through a pipe.
    let always = Arc::new(AtomicBool::new(true));
    let _ =
        signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGTERM, 0, always);
    let (wake_r, wake_w) = std::os::unix::net::UnixStream::pair().map_err(Fatal::Socket)?;
    wake_r.set_nonblocking(true).map_err(Fatal::Socket)?;
    let _ = signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, wake_w);

    let listener = listen_on(local_address(o, port)?, o)?;
    let local = listener.local_addr().map_err(Fatal::Local)?;
    drop_privileges(o)?;
    // With the ids the program will run under, as exec would check.
    let builtin = o.program.first().and_then(|p| builtin::detect(p));
    let local_port = local.port().to_string();
    if o.print_port {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(format!("{local_port}\n").as_bytes());
        let _ = out.flush();
    }
    // 0.88 closes fds 0 and 1; /dev/null keeps them from being reused.
    null_stdio();
    listener.set_nonblocking(true).map_err(Fatal::Listen)?;
    if let (Some(found), Some(program)) = (builtin.as_ref(), program) {
        if workers::enabled(|k| std::env::var_os(k)) {
            let setup = workers::Setup {
                o,
                listener: &listener,
                found,
                local_port: &local_port,
                log,
                program,
            };
            return workers::supervise(&setup, fork, &wake_r).map_err(Fatal::Socket);
        }
    }

    let mut children: u64 = 0;
    let status = |n: u64| log.line(2, format!("tcpserver: status: {n}/{}", o.limit).as_bytes());
    status(children);
    loop {
        let accepting = children < o.limit;
        let mut fds = vec![PollFd::new(wake_r.as_fd(), PollFlags::POLLIN)];
        if accepting {
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        }
        let _ = poll(&mut fds, PollTimeout::NONE);
        let ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);
        // Drain wake-ups, then reap every finished child.
        let mut sink = [0u8; 64];
        while std::io::Read::read(&mut &wake_r, &mut sink).is_ok_and(|n| n > 0) {}
        while let Ok(ws) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            let Some((pid, raw)) = raw_status(ws) else {
                break;
            };
            log.line(2, format!("tcpserver: end {pid} status {raw}").as_bytes());
            children = children.saturating_sub(1);
            status(children);
        }
        if !(accepting && ready) {
            continue;
        }
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
        children += 1;
        status(children);
        match fork() {
            Ok(Forked::Child) => {
                drop(listener);
                drop(wake_r);
                return Ok(child(o, stream, peer, &local_port, builtin.as_ref()));
            }
            Ok(Forked::Parent(_)) => {}
            Err(e) => {
                log.line(
                    1,
                    format!(
                        "tcpserver: warning: dropping connection, unable to fork: {}",
                        errstr(&e)
                    )
                    .as_bytes(),
                );
                children -= 1;
                status(children);
            }
        }
        drop(stream);
    }
}

/// The connection child: the socket becomes fd 0 and fd 1, then
/// [`conn::serve`] (which execs the program when it can).
fn child(
    o: &Options,
    stream: TcpStream,
    peer: SocketAddr,
    local_port: &str,
    builtin: Option<&builtin::Found>,
) -> conn::Child {
    let fd = stream.as_raw_fd();
    for target in [0, 1] {
        if let Err(e) = nix::unistd::dup2(fd, target) {
            let why = format!("unable to set up descriptors: {}", errstr(&io(e)));
            return conn::Child::Stop(conn::Stop::Drop(why));
        }
    }
    drop(stream);
    let log = Log {
        verbosity: o.verbosity,
    };
    conn::serve(o, peer, local_port, log, builtin)
}
