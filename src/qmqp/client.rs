//! qmail-qmqpc: the qmail-queue interface (message on fd 0, envelope on
//! fd 1) sending to the first reachable server of `control/qmqpservers`.
//!
//! Exit codes are qmail-queue's so that every injector understands them:
//! 0 `K`, 71 `Z`, 31 `D`, 51 out of memory, 54 read error, 55 control
//! error (also no qmqpservers), 56 socket error, 61 home directory,
//! 72 connect timeout / 73 refused (the last error when no server could
//! be reached), 74 communication error, 91 envelope format.
//!
//! Test override (not set-uid only): `QMAILRS_QMQP_PORT` replaces port 628.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::dns::mx::ip_literal;
use crate::netstring;

pub const PORT_ENV: &str = "QMAILRS_QMQP_PORT";
pub const PORT: u16 = 628;

/// The exit codes, kept once.
pub mod exit {
    pub const OK: i32 = 0;
    pub const PERM: i32 = 31;
    pub const NOMEM: i32 = 51;
    pub const READ: i32 = 54;
    pub const CONTROL: i32 = 55;
    pub const SOCKET: i32 = 56;
    pub const HOME: i32 = 61;
    pub const TEMP: i32 = 71;
    pub const TIMEOUT: i32 = 72;
    pub const REFUSED: i32 = 73;
    pub const CONN: i32 = 74;
    pub const FORMAT: i32 = 91;
}

/// Build the request body (`beforemessage message aftermessage`) from the
/// message and the envelope bytes; `Err(exit code)` on a bad envelope.
pub fn request(message: &[u8], envelope: &[u8]) -> Result<Vec<u8>, i32> {
    let mut inner = netstring::encode(message);
    let mut rest = envelope;
    let line = |rest: &mut &[u8]| -> Result<Vec<u8>, i32> {
        let n = rest.iter().position(|&b| b == 0).ok_or(exit::FORMAT)?;
        let l = rest[..n].to_vec();
        *rest = &rest[n + 1..];
        Ok(l)
    };
    let first = line(&mut rest)?;
    if first.is_empty() || first[0] != b'F' {
        return Err(exit::FORMAT);
    }
    netstring::write(&first[1..], &mut inner);
    loop {
        let l = line(&mut rest)?;
        if l.is_empty() {
            break;
        }
        if l[0] != b'T' {
            return Err(exit::FORMAT);
        }
        netstring::write(&l[1..], &mut inner);
    }
    Ok(netstring::encode(&inner))
}

/// Read the envelope from fd 1 as `getln(…, '\0')` would: up to and
/// including the line that is a lone NUL.
pub fn read_envelope(r: &mut dyn Read) -> Result<Vec<u8>, i32> {
    let mut env = Vec::new();
    let mut byte = [0u8; 1];
    let mut line_len = 0usize;
    loop {
        match r.read(&mut byte) {
            Ok(0) => return Err(exit::FORMAT),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(exit::READ),
        }
        env.push(byte[0]);
        if byte[0] == 0 {
            if line_len == 0 {
                return Ok(env);
            }
            line_len = 0;
        } else {
            line_len += 1;
        }
    }
}

/// `ip_scan`-style server entry: the IPv4 address at its start.
fn server_addr(entry: &[u8], port: u16) -> Option<SocketAddr> {
    let end = entry
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        .unwrap_or(entry.len());
    match ip_literal(&entry[..end]) {
        Some(ip) => Some(SocketAddr::new(ip, port)),
        None => ip_literal(entry).map(|ip| SocketAddr::new(ip, port)),
    }
}

/// Try each server; returns the exit code.
pub fn send_to(servers: &[Vec<u8>], req: &[u8], port: u16) -> i32 {
    let mut last = exit::CONTROL;
    for s in servers {
        let Some(addr) = server_addr(s, port) else {
            continue;
        };
        let mut sock = match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(sock) => sock,
            Err(e) => {
                last = if e.kind() == io::ErrorKind::TimedOut {
                    exit::TIMEOUT
                } else {
                    exit::REFUSED
                };
                continue;
            }
        };
        let t = Some(Duration::from_secs(60));
        if sock.set_read_timeout(t).is_err() || sock.set_write_timeout(t).is_err() {
            return exit::SOCKET;
        }
        if sock.write_all(req).and_then(|()| sock.flush()).is_err() {
            return exit::CONN;
        }
        let mut buf = [0u8; 1024];
        loop {
            let n = match sock.read(&mut buf) {
                Ok(0) | Err(_) => return exit::CONN,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                match b {
                    b'K' => return exit::OK,
                    b'Z' => return exit::TEMP,
                    b'D' => return exit::PERM,
                    _ => {}
                }
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        assert_eq!(
            request(b"hi\n", b"Fa@b\0Tc@d\0Te@f\0\0").unwrap(),
            b"24:3:hi\n,3:a@b,3:c@d,3:e@f,,".to_vec()
        );
        assert_eq!(request(b"", b"Xa\0\0"), Err(exit::FORMAT));
        assert_eq!(request(b"", b"Fa\0Ub\0\0"), Err(exit::FORMAT));
        assert_eq!(request(b"", b"Fa\0Tb\0"), Err(exit::FORMAT));
        let mut r: &[u8] = b"Fa\0Tb\0\0rest";
        assert_eq!(read_envelope(&mut r).unwrap(), b"Fa\0Tb\0\0");
        let mut r: &[u8] = b"Fa\0Tb\0";
        assert_eq!(read_envelope(&mut r), Err(exit::FORMAT));
        assert_eq!(
            server_addr(b"10.0.0.1", 628),
            Some("10.0.0.1:628".parse().unwrap())
        );
        assert_eq!(server_addr(b"host.example", 628), None);
    }
}
