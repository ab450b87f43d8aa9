//! tcpclient (ucspi-tcp 0.88, IPv6 variant): connect to `host port` and
//! run a program with the connection on fd 6 (read) and fd 7 (write).
//!
//! `tcpclient [ -46hHrRdDqQv ] [ -i localip ] [ -p localport ]
//! [ -T timeoutconn ] [ -l localname ] [ -t timeoutinfo ] [ -I interface ]
//! host port program [ arg ... ]`.
//!
//! * host `0` or empty is `::1` (`127.0.0.1` with `-4`); names are looked
//!   up by the system resolver, as our tcpserver's `-h` lookups are
//!   (known-differences `program:tcpclient`). port is a number or a
//!   service name from /etc/services.
//! * `-T x+y`: each address gets `x` seconds (2) and those that timed
//!   out get `y` more (58) in a second round; a single address gets
//!   `x+y` at once. Every failed address is reported as
//!   `tcpclient: unable to connect to IP port PORT: ERR`; none left is
//!   exit 111.
//! * Environment for the program: `PROTO`, `TCPLOCALIP`,
//!   `TCPLOCALPORT`, `TCPLOCALHOST` (`-l`, else the local address's
//!   name), `TCPREMOTEIP`, `TCPREMOTEPORT`, `TCPREMOTEHOST` (unless
//!   `-H`), `TCPREMOTEINFO` (identd within `-t` seconds, 26, unless
//!   `-R`); what is unknown is removed. `-v` logs
//!   `tcpclient: connected to IP port PORT`; `-q` silences every message.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};

use super::errstr::errno_str;
use super::ident::{sockaddr_bind, sockaddr_connect};
use super::options::scan_ulong;
use crate::inject::getopt::{getopt, Opt};

/// The usage line (exit 100).
pub const USAGE: &str = "tcpclient: usage: tcpclient [ -46hHrRdDqQv ] [ -i localip ] [ -p localport ] [ -T timeoutconn ] [ -l localname ] [ -t timeoutinfo ] [ -I interface ] host port program";

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub v4_only: bool,
    pub force_v6: bool,
    /// Nagle on (`-d`, the default) or off (`-D`).
    pub delay: bool,
    /// 0 `-q`, 1 default, 2 `-v`.
    pub verbosity: u8,
    pub local_name: Option<Vec<u8>>,
    pub remote_host: bool,
    pub remote_info: bool,
    pub info_timeout: u64,
    pub conn_timeout: (u64, u64),
    pub local_ip: Option<IpAddr>,
    pub local_port: u16,
    pub host: String,
    pub port: String,
    pub program: Vec<Vec<u8>>,
}

impl Options {
    /// Parse argv[1..]; `Err` holds the lines to print before exit 100.
    pub fn parse(args: &[Vec<u8>]) -> Result<Options, Vec<String>> {
        let (opts, rest) = getopt("tcpclient", b"46dDvqQhHrRi:p:t:T:l:I:", args);
        let mut o = Options {
            v4_only: false,
            force_v6: false,
            delay: true,
            verbosity: 1,
            local_name: None,
            remote_host: true,
            remote_info: true,
            info_timeout: 26,
            conn_timeout: (2, 58),
            local_ip: None,
            local_port: 0,
            host: String::new(),
            port: String::new(),
            program: Vec::new(),
        };
        let usage = || vec![USAGE.to_string()];
        for opt in opts {
            match opt {
                Opt::Flag(b'4', _) => o.v4_only = true,
                Opt::Flag(b'6', _) => o.force_v6 = true,
                Opt::Flag(b'd', _) => o.delay = true,
                Opt::Flag(b'D', _) => o.delay = false,
                Opt::Flag(b'v', _) => o.verbosity = 2,
                Opt::Flag(b'q', _) => o.verbosity = 0,
                Opt::Flag(b'Q', _) => o.verbosity = 1,
                Opt::Flag(b'l', v) => o.local_name = v,
                Opt::Flag(b'H', _) => o.remote_host = false,
                Opt::Flag(b'h', _) => o.remote_host = true,
                Opt::Flag(b'R', _) => o.remote_info = false,
                Opt::Flag(b'r', _) => o.remote_info = true,
                Opt::Flag(b't', Some(v)) => o.info_timeout = scan_ulong(&v).0,
                Opt::Flag(b'T', Some(v)) => {
                    let (a, n) = scan_ulong(&v);
                    let rest = v[n..].strip_prefix(b"+").unwrap_or(&v[n..]);
                    o.conn_timeout = (a, scan_ulong(rest).0);
                }
                Opt::Flag(b'i', Some(v)) => {
                    o.local_ip = Some(String::from_utf8_lossy(&v).parse().map_err(|_| usage())?);
                }
                Opt::Flag(b'p', Some(v)) => o.local_port = scan_ulong(&v).0 as u16,
                // The interface of a scoped local address: ignored here.
                Opt::Flag(b'I', _) => {}
                Opt::Error(e) => return Err(vec![e, USAGE.to_string()]),
                Opt::Flag(..) => return Err(usage()),
            }
        }
        let mut rest = rest.into_iter();
        o.host = String::from_utf8_lossy(&rest.next().ok_or_else(usage)?).into_owned();
        o.port = String::from_utf8_lossy(&rest.next().ok_or_else(usage)?).into_owned();
        o.program = rest.collect();
        if o.program.is_empty() {
            return Err(usage());
        }
        if o.host.is_empty() || o.host == "0" {
            o.host = if o.v4_only { "127.0.0.1" } else { "::1" }.into();
        }
        Ok(o)
    }
}

/// A port number, or a tcp service from `services` (/etc/services text).
pub fn port_number(port: &str, services: &str) -> Option<u16> {
    let (v, n) = scan_ulong(port.as_bytes());
    if n == port.len() {
        return Some(v as u16);
    }
    services.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut w = l.split_whitespace();
        let name = w.next()?;
        let (num, proto) = w.next()?.split_once('/')?;
        let known = name == port || w.any(|alias| alias == port);
        (known && proto == "tcp")
            .then(|| num.parse().ok())
            .flatten()
    })
}

/// The addresses of `host`: an address literal as it is, else the system
/// resolver's; IPv4 only with `-4`. `Err` is a temporary failure.
pub fn addresses(host: &str, v4_only: bool) -> io::Result<Vec<IpAddr>> {
    let found = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => dns_lookup::lookup_host(host)?,
    };
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in found {
        if (!v4_only || ip.is_ipv4()) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// One non-blocking connect bounded by `timeout`.
pub fn connect(
    local: Option<SocketAddr>,
    remote: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let family = if remote.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd: OwnedFd = socket::socket(family, SockType::Stream, SockFlag::SOCK_NONBLOCK, None)?;
    if let Some(l) = local {
        sockaddr_bind(&fd, l)?;
    }
    match sockaddr_connect(&fd, remote) {
        Ok(()) => {}
        Err(nix::Error::EINPROGRESS) => {
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
            let t = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
            if poll(&mut p, t)? == 0 {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let err = socket::getsockopt(&fd, sockopt::SocketError)?;
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
        }
        Err(e) => return Err(e.into()),
    }
    let s = TcpStream::from(fd);
    s.set_nonblocking(false)?;
    Ok(s)
}

/// The local address to bind: `-i`/`-p`, in the remote's family (`None`:
/// let the kernel choose).
fn local_for(o: &Options, remote: IpAddr) -> Option<SocketAddr> {
    if o.local_ip.is_none() && o.local_port == 0 {
        return None;
    }
    let ip = match (o.local_ip, remote) {
        (Some(ip), _) => ip,
        (None, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (None, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Some(SocketAddr::new(ip, o.local_port))
}

/// Try `ips` in two rounds (`-T x+y`); the connection, after a warning
/// line (`report`) for every address given up.
pub fn connect_any(
    o: &Options,
    ips: &[IpAddr],
    port: u16,
    report: &mut dyn FnMut(String),
) -> Option<TcpStream> {
    let (mut first, mut second) = o.conn_timeout;
    if ips.len() == 1 {
        first += second;
        second = 0;
    }
    let mut round: Vec<IpAddr> = ips.to_vec();
    for timeout in [first, second] {
        let mut again = Vec::new();
        for &ip in &round {
            let remote = SocketAddr::new(ip, port);
            match connect(local_for(o, ip), remote, Duration::from_secs(timeout)) {
                Ok(s) => return Some(s),
                Err(e) if timeout == first && second > 0 && e.kind() == io::ErrorKind::TimedOut => {
                    again.push(ip);
                }
                Err(e) => report(format!(
                    "tcpclient: unable to connect to {} port {port}: {}",
                    super::conn::show_ip(ip, false).0,
                    connect_error(&e)
                )),
            }
        }
        round = again;
    }
    None
}

fn connect_error(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(code) => errno_str(code),
        None if e.kind() == io::ErrorKind::TimedOut => "timed out",
        None => "unknown error",
    }
}

/// One variable for the program: its value, or `None` to remove it.
pub type Var = (&'static str, Option<Vec<u8>>);

/// The program's environment.
pub fn environment(o: &Options, s: &TcpStream) -> io::Result<Vec<Var>> {
    let local = s.local_addr()?;
    let remote = s.peer_addr()?;
    let v4 = !o.force_v6 && (local.ip().is_ipv4() || local.ip().is_unspecified());
    let show = |ip: IpAddr| super::conn::show_ip(ip, !v4).0.into_bytes();
    let mut env = vec![
        (
            "PROTO",
            Some(if v4 {
                b"TCP".to_vec()
            } else {
                b"TCP6".to_vec()
            }),
        ),
        ("TCPLOCALPORT", Some(local.port().to_string().into_bytes())),
        ("TCPLOCALIP", Some(show(local.ip()))),
    ];
    let local_host = o
        .local_name
        .clone()
        .or_else(|| super::conn::reverse(local.ip()));
    env.push(("TCPLOCALHOST", local_host));
    env.push((
        "TCPREMOTEPORT",
        Some(remote.port().to_string().into_bytes()),
    ));
    env.push(("TCPREMOTEIP", Some(show(remote.ip()))));
    let host = o
        .remote_host
        .then(|| super::conn::reverse(remote.ip()))
        .flatten();
    env.push(("TCPREMOTEHOST", host));
    let info = o
        .remote_info
        .then(|| super::ident::remote_info(remote, local, o.info_timeout))
        .flatten();
    env.push(("TCPREMOTEINFO", info));
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn options() {
        let o = Options::parse(&args(&["-RHl0", "-T", "5+10", "0", "25", "prog", "x"])).unwrap();
        assert!(!o.remote_info && !o.remote_host);
        assert_eq!(o.local_name.as_deref(), Some(&b"0"[..]));
        assert_eq!(o.conn_timeout, (5, 10));
        assert_eq!((o.host.as_str(), o.port.as_str()), ("::1", "25"));
        assert_eq!(o.program, args(&["prog", "x"]));
        let o = Options::parse(&args(&["-4", "", "smtp", "p"])).unwrap();
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(
            Options::parse(&args(&["-T7", "h", "1", "p"]))
                .unwrap()
                .conn_timeout,
            (7, 0)
        );
        for bad in [&["h", "25"][..], &["-i", "nonsense", "h", "1", "p"], &[]] {
            assert_eq!(
                Options::parse(&args(bad)),
                Err(vec![USAGE.to_string()]),
                "{bad:?}"
            );
        }
        assert_eq!(
            Options::parse(&args(&["-z", "h", "1", "p"])),
            Err(vec![
                "tcpclient: illegal option -- z".to_string(),
                USAGE.to_string()
            ])
        );
    }

    #[test]
    fn ports() {
        let services = "# x\nsmtp\t\t25/tcp\t\tmail\nsmtp 25/udp\nsubmission 587/tcp # mail\n";
        assert_eq!(port_number("2525", services), Some(2525));
        assert_eq!(port_number("smtp", services), Some(25));
        assert_eq!(port_number("mail", services), Some(25));
        assert_eq!(port_number("submission", services), Some(587));
        assert_eq!(port_number("nosuch", services), None);
    }

    #[test]
    fn refused_and_connected() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let o = Options::parse(&args(&["-RH", "127.0.0.1", "1", "p"])).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut said = Vec::new();
        let s = connect_any(&o, &[ip], port, &mut |l| said.push(l)).unwrap();
        assert!(said.is_empty());
        let env = environment(&o, &s).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(get("PROTO").unwrap(), b"TCP");
        assert_eq!(get("TCPREMOTEIP").unwrap(), b"127.0.0.1");
        assert_eq!(get("TCPREMOTEPORT").unwrap(), port.to_string().as_bytes());
        assert_eq!(get("TCPREMOTEHOST"), None);
        assert_eq!(get("TCPREMOTEINFO"), None);
        drop(l);
        let mut said = Vec::new();
        assert!(connect_any(&o, &[ip], port, &mut |l| said.push(l)).is_none());
        assert_eq!(
            said,
            [format!(
                "tcpclient: unable to connect to 127.0.0.1 port {port}: connection refused"
            )]
        );
    }
}
