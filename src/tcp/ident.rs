//! RFC 1413 lookup of TCPREMOTEINFO, as 0.88's `remoteinfo.c`: connect from
//! the local address to the client's port 113, send `RPORT , LPORT\r\n`,
//! and take what follows the third colon of the reply line, blanks
//! removed, at most 256 bytes; all within `timeout` seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};

pub(super) fn sockaddr_bind(fd: &std::os::fd::OwnedFd, a: SocketAddr) -> nix::Result<()> {
    match a {
        SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    }
}

pub(super) fn sockaddr_connect(fd: &std::os::fd::OwnedFd, a: SocketAddr) -> nix::Result<()> {
    match a {
        SocketAddr::V4(a) => socket::connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    }
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// The user name the client's identd reports, or `None`.
pub fn remote_info(remote: SocketAddr, local: SocketAddr, timeout: u64) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let family = if remote.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let fd = socket::socket(family, SockType::Stream, flags, None).ok()?;
    sockaddr_bind(&fd, SocketAddr::new(local.ip(), 0)).ok()?;
    match sockaddr_connect(&fd, SocketAddr::new(remote.ip(), 113)) {
        Ok(()) | Err(nix::Error::EINPROGRESS) => {}
        Err(_) => return None,
    }
    let ms = remaining(deadline)?.as_millis().min(i32::MAX as u128) as i32;
    let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
    if poll(&mut p, PollTimeout::try_from(ms).ok()?).ok()? == 0 {
        return None;
    }
    if socket::getsockopt(&fd, sockopt::SocketError).ok()? != 0 {
        return None;
    }
    let mut s = TcpStream::from(fd);
    s.set_nonblocking(false).ok()?;
    s.set_write_timeout(Some(remaining(deadline)?)).ok()?;
    s.write_all(format!("{} , {}\r\n", remote.port(), local.port()).as_bytes())
        .ok()?;
    let mut out = Vec::new();
    let mut colons = 0;
    let mut byte = [0u8; 1];
    loop {
        s.set_read_timeout(Some(remaining(deadline)?)).ok()?;
        if s.read(&mut byte).ok()? != 1 {
            return None;
        }
        match byte[0] {
            b' ' | b'\t' | b'\r' => {}
            b'\n' => return Some(out),
            b':' if colons < 3 => colons += 1,
            _ if colons < 3 => {}
            b => {
                out.push(b);
                if out.len() > 256 {
                    return Some(out);
                }
            }
        }
    }
}
