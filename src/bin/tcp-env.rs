//! tcp-env — set up TCP-related environment variables (for inetd).
//!
//! # Invocation
//! `tcp-env [ -rR ] [ -ttimeout ] program [ arg ... ]`. Unless `PROTO`
//! is already `TCP`, looks at the socket on fd 0 and sets `PROTO=TCP`,
//! `TCPLOCALPORT`, `TCPLOCALIP`, `TCPLOCALHOST`, `TCPREMOTEPORT`,
//! `TCPREMOTEIP`, `TCPREMOTEHOST` (the PTR name, lowercased;
//! `softdnserror` on a temporary failure; unset when there is none) and,
//! with `-r` (the default; `-R` turns it off), `TCPREMOTEINFO` from the
//! client's RFC 1413 server within `-t` seconds (default 30; unset when
//! no answer). Other option letters are ignored, as the original's
//! `subgetopt` loop ignores them. Then runs program.
//!
//! Names come from the system resolver (getnameinfo); IPv6 sockets work
//! (v4-mapped addresses shown as IPv4) where the original assumes IPv4.
//!
//! # Security
//! Runs as its caller.
//!
//! # Exit codes
//! 111 if there is no program, fd 0 is not a socket, or exec fails;
//! otherwise program's.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::socket::{getpeername, getsockname, SockaddrStorage};

fn die() -> ! {
    std::process::exit(111)
}

fn socket_addr(s: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
    }
    let v6 = s.as_sockaddr_in6()?;
    let ip = v6
        .ip()
        .to_ipv4_mapped()
        .map_or(IpAddr::V6(v6.ip()), IpAddr::V4);
    Some(SocketAddr::new(ip, v6.port()))
}

/// `dns_ptr` as tcp-env uses it: the name, `softdnserror`, or none.
fn ptr(ip: IpAddr) -> Option<String> {
    let flags = libc::NI_NUMERICSERV | libc::NI_NAMEREQD;
    match dns_lookup::getnameinfo(&SocketAddr::new(ip, 0), flags) {
        Ok((name, _)) => Some(name.to_ascii_lowercase()),
        Err(e) if matches!(e.kind(), dns_lookup::LookupErrorKind::Again) => {
            Some("softdnserror".into())
        }
        Err(_) => None,
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut remote_info = true;
    let mut timeout: u64 = 30;
    let mut i = 0;
    'words: while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            match a[j] {
                b'r' => remote_info = true,
                b'R' => remote_info = false,
                b't' => {
                    let v: &[u8] = if j + 1 < a.len() {
                        &a[j + 1..]
                    } else if i + 1 < args.len() {
                        i += 1;
                        args[i].as_bytes()
                    } else {
                        i += 1;
                        break 'words;
                    };
                    timeout = v
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .fold(0u64, |n, &b| {
                            n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
                        });
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        i += 1;
    }
    let Some((prog, rest)) = args.get(i..).and_then(|a| a.split_first()) else {
        die()
    };
    let mut cmd = Command::new(prog);
    cmd.args(rest);
    if std::env::var_os("PROTO").is_none_or(|p| p != "TCP") {
        let local = getsockname::<SockaddrStorage>(0)
            .ok()
            .and_then(socket_addr)
            .unwrap_or_else(|| die());
        let remote = getpeername::<SockaddrStorage>(0)
            .ok()
            .and_then(socket_addr)
            .unwrap_or_else(|| die());
        cmd.env("PROTO", "TCP");
        cmd.env("TCPLOCALPORT", local.port().to_string());
        cmd.env("TCPLOCALIP", local.ip().to_string());
        match ptr(local.ip()) {
            Some(n) => cmd.env("TCPLOCALHOST", n),
            None => cmd.env_remove("TCPLOCALHOST"),
        };
        cmd.env("TCPREMOTEPORT", remote.port().to_string());
        cmd.env("TCPREMOTEIP", remote.ip().to_string());
        match ptr(remote.ip()) {
            Some(n) => cmd.env("TCPREMOTEHOST", n),
            None => cmd.env_remove("TCPREMOTEHOST"),
        };
        cmd.env_remove("TCPREMOTEINFO");
        if remote_info {
            if let Some(info) = qmail::tcp::ident::remote_info(remote, local, timeout) {
                cmd.env("TCPREMOTEINFO", std::ffi::OsStr::from_bytes(&info));
            }
        }
    }
    let _ = cmd.exec();
    die()
}
