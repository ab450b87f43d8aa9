//! DNS for qmail-remote (`remote.md` §2.2–2.3): a small synchronous stub
//! resolver, one query at a time, as netqmail's `dns.c` uses `res_query`.
//!
//! Messages are built and parsed by `hickory-proto`; the transport is a
//! blocking UDP socket to the nameservers of `/etc/resolv.conf` (retried
//! over TCP when the answer is truncated). No search list is applied
//! (`res_query`, not `res_search`).
//!
//! Outcomes follow `dns.c`'s `resolve`: a timeout, SERVFAIL or a refused
//! connection is [`DnsError::Soft`]; NXDOMAIN, an empty answer or any other
//! failure is [`DnsError::Hard`].
//!
//! Test override: `QMAILRS_RESOLVER=IP:PORT` (or `IP`) replaces the
//! nameservers, for processes that are not set-uid (`root::prefix` rule).

pub mod mx;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};

/// The one documented override variable.
pub const RESOLVER_ENV: &str = "QMAILRS_RESOLVER";

/// A failed lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Try again later (`DNS_SOFT`).
    Soft,
    /// The name or data does not exist, or cannot be asked (`DNS_HARD`).
    Hard,
}

/// Something that answers queries: the real resolver, or a table in tests.
pub trait Lookup {
    /// The answer section for `name`/`rtype`; NXDOMAIN and empty answers
    /// are `Hard`.
    fn query(&mut self, name: &str, rtype: RecordType) -> Result<Vec<Record>, DnsError>;
}

/// `resolv.conf`'s nameservers and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: u32,
}

impl Config {
    /// Parse resolv.conf text: `nameserver`, `options timeout:N attempts:N`.
    /// No nameserver means the local one, as the C library assumes.
    pub fn parse(text: &str) -> Self {
        let mut c = Config {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                        c.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("options") => {
                    for w in words {
                        if let Some(v) = w.strip_prefix("timeout:").and_then(|v| v.parse().ok()) {
                            c.timeout = Duration::from_secs(u64::from(u32::max(v, 1)));
                        }
                        if let Some(v) = w.strip_prefix("attempts:").and_then(|v| v.parse().ok()) {
                            c.attempts = u32::max(v, 1);
                        }
                    }
                }
                _ => {}
            }
        }
        if c.servers.is_empty() {
            c.servers.push(SocketAddr::from(([127, 0, 0, 1], 53)));
        }
        c
    }

    /// `QMAILRS_RESOLVER` if allowed and set, else `/etc/resolv.conf`.
    pub fn system() -> Self {
        if !crate::root::is_privileged_exec() {
            if let Some(v) = std::env::var_os(RESOLVER_ENV) {
                if let Some(addr) = parse_server(&v.to_string_lossy()) {
                    return Config {
                        servers: vec![addr],
                        timeout: Duration::from_secs(1),
                        attempts: 2,
                    };
                }
            }
        }
        Self::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    }
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_server(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// The stub resolver.
#[derive(Debug)]
pub struct Resolver {
    config: Config,
    next_id: u16,
}

impl Resolver {
    pub fn new(config: Config) -> Self {
        let seed = std::process::id() as u16 ^ (Instant::now().elapsed().subsec_nanos() as u16);
        Resolver {
            config,
            next_id: seed,
        }
    }

    /// The resolver of this process (`Config::system`).
    pub fn system() -> Self {
        Self::new(Config::system())
    }

    fn exchange(
        &mut self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Message, DnsError> {
        self.next_id = self.next_id.wrapping_mul(25173).wrapping_add(13849);
        let id = self.next_id;
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(name.clone(), rtype));
        let bytes = msg.to_vec().map_err(|_| DnsError::Hard)?;
        let bind: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let sock = UdpSocket::bind(bind).map_err(|_| DnsError::Soft)?;
        sock.connect(server).map_err(|_| DnsError::Soft)?;
        sock.send(&bytes).map_err(|_| DnsError::Soft)?;
        let deadline = Instant::now() + self.config.timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DnsError::Soft);
            }
            sock.set_read_timeout(Some(left))
                .map_err(|_| DnsError::Soft)?;
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(DnsError::Soft)
                }
                Err(_) => return Err(DnsError::Soft),
            };
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if reply.metadata.id != id || reply.metadata.message_type != MessageType::Response {
                continue;
            }
            if reply.metadata.truncation {
                return self.exchange_tcp(server, &bytes, id);
            }
            return Ok(reply);
        }
    }

    fn exchange_tcp(&self, server: SocketAddr, query: &[u8], id: u16) -> Result<Message, DnsError> {
        let t = self.config.timeout;
        let mut s = TcpStream::connect_timeout(&server, t).map_err(|_| DnsError::Soft)?;
        s.set_read_timeout(Some(t)).map_err(|_| DnsError::Soft)?;
        s.set_write_timeout(Some(t)).map_err(|_| DnsError::Soft)?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        s.write_all(&framed).map_err(|_| DnsError::Soft)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).map_err(|_| DnsError::Soft)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).map_err(|_| DnsError::Soft)?;
        let reply = Message::from_vec(&buf).map_err(|_| DnsError::Soft)?;
        if reply.metadata.id != id {
            return Err(DnsError::Soft);
        }
        Ok(reply)
    }
}

/// Map a reply to `res_query`'s outcome.
pub fn answers_of(reply: Message) -> Result<Vec<Record>, DnsError> {
    match reply.metadata.response_code {
        ResponseCode::NoError if reply.answers.is_empty() => Err(DnsError::Hard),
        ResponseCode::NoError => Ok(reply.answers),
        ResponseCode::ServFail => Err(DnsError::Soft),
        _ => Err(DnsError::Hard),
    }
}

impl Lookup for Resolver {
    fn query(&mut self, name: &str, rtype: RecordType) -> Result<Vec<Record>, DnsError> {
        let mut fqdn = Name::from_ascii(name).map_err(|_| DnsError::Hard)?;
        fqdn.set_fqdn(true);
        let servers = self.config.servers.clone();
        let mut last = DnsError::Soft;
        for _ in 0..self.config.attempts {
            for &server in &servers {
                match self.exchange(server, &fqdn, rtype) {
                    Ok(reply) => match answers_of(reply) {
                        Err(DnsError::Soft) => last = DnsError::Soft,
                        other => return other,
                    },
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let c = Config::parse("# x\nsearch a.b\nnameserver 10.0.0.1\nnameserver ::1\noptions ndots:1 timeout:3 attempts:4\n");
        assert_eq!(
            c.servers,
            vec![
                SocketAddr::from(([10, 0, 0, 1], 53)),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.attempts, 4);
        assert_eq!(
            Config::parse("").servers,
            vec![SocketAddr::from(([127, 0, 0, 1], 53))]
        );
        assert_eq!(
            parse_server("127.0.0.1:5353"),
            Some(SocketAddr::from(([127, 0, 0, 1], 5353)))
        );
    }
}
