//! qmail-remote: deliver one message to one remote host over SMTP
//! (`shared/spec/qmail/remote.md`), as netqmail 1.06 with the TLS
//! (Vermeulen 20231230) and AUTH (fehcom 0.8.3) patches.
//!
//! [`deliver`] does everything after argv is read: controls, routes,
//! address preparation, DNS, the loop rule, tcpto, connecting, the
//! dialogue; it returns the records for qmail-rspawn.
//!
//! Test override (processes that are not set-uid only): `QMAILRS_REMOTE_PORT`
//! replaces the default port 25 (a route's own `:port` still wins);
//! `QMAILRS_RESOLVER` (see [`crate::dns`]) replaces the nameservers.

pub mod addr;
pub mod auth;
pub mod conn;
pub mod qmtp;
pub mod report;
pub mod routes;
pub mod session;
pub mod tls;
pub mod x509;

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::control::Control;
use crate::dns::mx::{self, Target};
use crate::dns::{DnsError, Lookup};
use crate::tcpto::TcptoFile;

use conn::Conn;
use report::{Fatal, Output};
use routes::{Map, Route};
use session::{Job, Session};

/// The test override of the default port.
pub const PORT_ENV: &str = "QMAILRS_REMOTE_PORT";

/// Process facts the delivery depends on.
#[derive(Debug, Clone)]
pub struct Env {
    pub now: u64,
    pub pid: u32,
    /// Default port (25, or the test override).
    pub default_port: u16,
    /// Look up AAAA records too.
    pub ipv6: bool,
}

impl Env {
    /// This process's facts.
    pub fn system() -> Self {
        let port = if crate::root::is_privileged_exec() {
            None
        } else {
            std::env::var(PORT_ENV).ok().and_then(|v| v.parse().ok())
        };
        Env {
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            pid: std::process::id(),
            default_port: port.unwrap_or(25),
            ipv6: true,
        }
    }
}

struct Controls {
    timeout: u64,
    timeoutconnect: u64,
    helohost: Vec<u8>,
    routes: Map,
    qmtproutes: Map,
    authsenders: Map,
}

fn controls(home: &Path) -> Result<Controls, Fatal> {
    let c = Control::at(home.join("control")).map_err(|_| Fatal::Control)?;
    let e = |_| Fatal::Control;
    let list = |name| -> Result<Map, Fatal> {
        Ok(Map::new(
            &c.read_list(name, false).map_err(e)?.unwrap_or_default(),
        ))
    };
    Ok(Controls {
        timeout: c.read_int("timeoutremote", 1200).map_err(e)?,
        timeoutconnect: c.read_int("timeoutconnect", 60).map_err(e)?,
        helohost: c
            .read_line_default("helohost", true, None)
            .map_err(e)?
            .ok_or(Fatal::Control)?,
        routes: list("smtproutes")?,
        qmtproutes: list("qmtproutes")?,
        authsenders: list("authsenders")?,
    })
}

/// `addrmangle`: quoted box, `@`, the domain (canonicalised when `cname`).
/// Returns the address and whether it counts as an alias.
fn mangle(l: &mut dyn Lookup, a: &[u8], cname: bool) -> Result<(Vec<u8>, bool), Fatal> {
    let Some((mut head, mut domain)) = addr::split(a) else {
        return Ok((a.to_vec(), cname));
    };
    let mut alias = cname;
    if cname {
        match mx::dns_cname(l, &mut domain) {
            Ok(0) => alias = false,
            Ok(_) => {}
            Err(DnsError::Soft) => return Err(Fatal::DnsCanon),
            Err(DnsError::Hard) => {}
        }
    }
    head.extend_from_slice(&domain);
    Ok((head, alias))
}

/// The seed `now() + (getpid() << 16)`, with the C `int` shift.
pub fn seed(now: u64, pid: u32) -> u64 {
    let shifted = (pid as i32).wrapping_shl(16);
    now.wrapping_add(i64::from(shifted) as u64)
}

/// Deliver: `args` = host, sender, recipients. Never fails: every outcome
/// is in the returned records.
pub fn deliver(
    home: &Path,
    args: &[Vec<u8>],
    message: &mut dyn Read,
    lookup: &mut dyn Lookup,
    env: &Env,
) -> Output {
    let mut out = Output::new();
    if let Err(f) = run(home, args, message, lookup, env, &mut out) {
        out.record(&f.0);
    }
    out
}

fn run(
    home: &Path,
    args: &[Vec<u8>],
    message: &mut dyn Read,
    lookup: &mut dyn Lookup,
    env: &Env,
    out: &mut Output,
) -> Result<(), session::Final> {
    if args.len() < 3 {
        return Err(Fatal::Usage.into());
    }
    if !home.is_dir() {
        return Err(Fatal::Chdir.into());
    }
    let ctl = controls(home)?;
    let mut host = args[0].clone();
    let (sender, _) = mangle(lookup, &args[1], false)?;
    // authsenders (AUTH patch), then qmtproutes (opt-in QMTP), then
    // smtproutes.
    let (route, qmtp_route): (Option<Route>, bool) =
        match routes::authsender(&ctl.authsenders, &sender) {
            Some(r) => (Some(r), false),
            None => match routes::smtproute(&ctl.qmtproutes, &host) {
                Some(r) => (Some(r), true),
                None => (routes::smtproute(&ctl.routes, &host), false),
            },
        };
    let mut port = env.default_port;
    let mut qmtp_port = qmtp::PORT;
    if let Some(r) = &route {
        if let Some(p) = r.port {
            if qmtp_route {
                qmtp_port = p;
            } else {
                port = p;
            }
        }
        host = r.relay.clone();
    }
    let mut recipients = Vec::new();
    let mut all_aliases = true;
    for r in &args[2..] {
        let (m, alias) = mangle(lookup, r, route.is_none())?;
        all_aliases &= alias;
        recipients.push(m);
    }
    let me = crate::ipme::addresses().map_err(|_| Fatal::OsErr)?;
    let targets: Vec<Target> = if route.is_some() {
        match mx::dns_ip(lookup, &host, env.ipv6) {
            Ok(t) => t,
            Err(DnsError::Soft) => return Err(Fatal::Dns.into()),
            Err(DnsError::Hard) => return Err(Fatal::PermDns(host).into()),
        }
    } else {
        match mx::dns_mxip(lookup, &host, seed(env.now, env.pid), env.ipv6) {
            Ok((t, true)) if t.is_empty() => return Err(Fatal::Dns.into()),
            Ok((t, _)) => t,
            Err(DnsError::Soft) => return Err(Fatal::Dns.into()),
            Err(DnsError::Hard) => return Err(Fatal::PermDns(host).into()),
        }
    };
    if targets.is_empty() {
        return Err(Fatal::NoMx.into());
    }
    let mut prefme: u32 = targets
        .iter()
        .filter(|t| me.contains(&t.ip))
        .map(|t| t.pref)
        .fold(100_000, u32::min);
    if route.is_some() {
        prefme = 300_000;
    }
    if all_aliases {
        prefme = 500_000;
    }
    let candidates: Vec<&Target> = targets.iter().filter(|t| t.pref < prefme).collect();
    if candidates.is_empty() {
        return Err(Fatal::AmbigMx.into());
    }
    let auth = route
        .as_ref()
        .and_then(|r| r.auth.as_ref())
        .map(|(u, p)| (u.as_slice(), p.as_slice()));
    let mut dialer = Dialer {
        tcpto: TcptoFile::at(home),
        env,
        timeout: Duration::from_secs(ctl.timeout.max(1)),
        connect_timeout: Duration::from_secs(ctl.timeoutconnect.max(1)),
    };
    let mut buffered = Vec::new();
    let mut rest: &[u8];
    let mut message: &mut dyn Read = message;
    if qmtp_route {
        message
            .read_to_end(&mut buffered)
            .map_err(|_| Fatal::Read)?;
        if let Some((sock, t)) = dialer.connect(&candidates, qmtp_port) {
            let partner = t.ip.to_string();
            return Err(qmtp::deliver(
                sock,
                &partner,
                &buffered,
                &sender,
                &recipients,
                out,
            ));
        }
        // No QMTP connection anywhere: SMTP to the same addresses.
        rest = &buffered;
        message = &mut rest;
    }
    let Some((sock, t)) = dialer.connect(&candidates, port) else {
        return Err(Fatal::NoConn.into());
    };
    let job = Job {
        helohost: &ctl.helohost,
        sender: &sender,
        recipients: &recipients,
        auth,
        timeout: dialer.timeout,
        smtps: port == 465,
        tls: tls::TlsPolicy::decide(home, t.fqdn.as_deref(), t.ip),
    };
    let mut s = Session::new(Conn::Plain(sock), t.ip.to_string(), out);
    Err(s.run(&job, message))
}

/// Connecting with `timeoutconnect` and the tcpto table (`remote.md` §2.5).
struct Dialer<'e> {
    tcpto: TcptoFile,
    env: &'e Env,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Dialer<'_> {
    /// The first candidate that accepts a connection on `port`, with the
    /// I/O timeouts set.
    fn connect<'t>(
        &mut self,
        candidates: &[&'t Target],
        port: u16,
    ) -> Option<(TcpStream, &'t Target)> {
        for &t in candidates {
            let v4 = match t.ip {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            };
            if let Some(a) = v4 {
                if self.tcpto.skip(a, self.env.now, self.env.pid) {
                    continue;
                }
            }
            match TcpStream::connect_timeout(&SocketAddr::new(t.ip, port), self.connect_timeout) {
                Ok(sock) => {
                    if let Some(a) = v4 {
                        self.tcpto.record(a, false, self.env.now);
                    }
                    let _ = sock.set_read_timeout(Some(self.timeout));
                    let _ = sock.set_write_timeout(Some(self.timeout));
                    return Some((sock, t));
                }
                Err(e) => {
                    if let Some(a) = v4 {
                        self.tcpto.record(
                            a,
                            e.kind() == std::io::ErrorKind::TimedOut,
                            self.env.now,
                        );
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_uses_int_shift() {
        assert_eq!(seed(1000, 1), 1000 + 65536);
        // pid 40000 << 16 overflows a C int and goes negative.
        assert_eq!(
            seed(1u64 << 40, 40000),
            (1u64 << 40).wrapping_add(((40000i32).wrapping_shl(16)) as i64 as u64)
        );
    }
}
