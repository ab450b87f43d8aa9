//! tcpserver's per-connection child (0.88 `doit`): with the socket on fd 0
//! and fd 1 it prints the banner, gathers the `TCP*` environment, follows
//! rules.cdb, logs, and execs the program.
//!
//! Environment (tcp-environ(5)): `PROTO=TCP`, `TCPLOCALIP`,
//! `TCPLOCALPORT`, `TCPLOCALHOST`, `TCPREMOTEIP`, `TCPREMOTEPORT`,
//! `TCPREMOTEHOST`, `TCPREMOTEINFO`; a variable whose value is unknown is
//! removed. IPv4-mapped clients are shown as IPv4, unless `-6`. For IPv6
//! clients `PROTO=TCP6` and, as the IPv6 variant does, the `TCP6*` copies
//! (`TCP6LOCALIP` ... `TCP6REMOTEINFO`, `TCP6INTERFACE` for a scoped
//! address) are set too. Rule assignments come last and override.
//!
//! Log lines (`-v`):
//! ```text
//! tcpserver: pid PID from REMOTEIP
//! tcpserver: ok PID LOCALHOST:LOCALIP:LOCALPORT REMOTEHOST:REMOTEIP:REMOTEINFO:REMOTEPORT
//! tcpserver: deny PID ...same fields...
//! ```
//! Fields are cut to 100 bytes (then `...`) and bytes outside `!`..`~`,
//! and `%`, are shown as `?` (so is `:` for IPv4 connections, as 0.88
//! does).

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::cdb::FileReader;

use super::builtin::{Builtin, Found};
use super::errstr::{errno_str, errstr};
use super::ident;
use super::options::Options;
use super::rules::{self, Instructions};

/// How a connection child ends without running the program.
#[derive(Debug)]
pub enum Stop {
    /// A rule said deny (exit 100).
    Deny,
    /// `tcpserver: warning: dropping connection, WHY` (exit 111).
    Drop(String),
}

/// How a connection child goes on once the program is due.
#[derive(Debug)]
pub enum Child {
    /// Run our own program in this process, with these arguments; the
    /// environment exec would have passed is in place.
    Builtin(Builtin, Vec<OsString>),
    /// The program did not run.
    Stop(Stop),
    /// A reused worker ([`super::workers`]) is done: exit with this code.
    Exit(u8),
}

impl Stop {
    /// The exit code 0.88 uses.
    pub fn exit_code(&self) -> u8 {
        match self {
            Stop::Deny => 100,
            Stop::Drop(_) => 111,
        }
    }
}

/// `safecats`: at most 100 bytes, unprintables and `%` as `?`; also `:`
/// when `colon` (0.88 does; the IPv6 variant, whose addresses hold
/// colons, does not).
pub fn safe(field: &[u8], colon: bool, out: &mut Vec<u8>) {
    for &b in field.iter().take(100) {
        let bad = !(33..=126).contains(&b) || b == b'%' || (colon && b == b':');
        out.push(if bad { b'?' } else { b });
    }
    if field.len() >= 100 {
        out.extend_from_slice(b"...");
    }
}

/// An address as tcpserver shows it, and whether that is IPv4.
pub fn show_ip(ip: IpAddr, force_v6: bool) -> (String, bool) {
    match ip {
        IpAddr::V4(v4) if force_v6 => (v4.to_ipv6_mapped().to_string(), false),
        IpAddr::V4(v4) => (v4.to_string(), true),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) if !force_v6 => (v4.to_string(), true),
            _ => (v6.to_string(), false),
        },
    }
}

pub(super) fn reverse(ip: IpAddr) -> Option<Vec<u8>> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    dns_lookup::lookup_addr(&ip)
        .ok()
        .filter(|n| !n.is_empty())
        .map(String::into_bytes)
}

fn forward_matches(name: &[u8], ip: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    dns_lookup::lookup_host(name)
        .map(|ips| ips.into_iter().any(|a| canon(a) == canon(ip)))
        .unwrap_or(false)
}

/// Serve one connection; returns only when the program was not exec'd:
/// it is `builtin` (checked again here) or it could not run.
pub fn serve(
    o: &Options,
    remote: SocketAddr,
    local_port: &str,
    log: super::server::Log,
    builtin: Option<&Found>,
) -> Child {
    match prepare(o, remote, local_port, log) {
        Ok(run) => run.start(builtin),
        Err(stop) => Child::Stop(stop),
    }
}

/// The program's environment, ready to exec (or to run in-process).
struct Run<'a> {
    program: &'a [OsString],
    env: Vec<(String, Option<Vec<u8>>)>,
    extra: Vec<(Vec<u8>, Vec<u8>)>,
}

fn prepare<'a>(
    o: &'a Options,
    remote: SocketAddr,
    local_port: &str,
    log: super::server::Log,
) -> Result<Run<'a>, Stop> {
    let pid = std::process::id().to_string();
    let (remote_ip, v4) = show_ip(remote.ip(), o.force_v6);
    log.line(
        2,
        format!("tcpserver: pid {pid} from {remote_ip}").as_bytes(),
    );

    let sock = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => TcpStream::from(fd),
        Err(e) => {
            return Err(Stop::Drop(format!(
                "unable to get local address: {}",
                errstr(&e)
            )))
        }
    };
    if !o.delay {
        let _ = sock.set_nodelay(true);
    }
    if !o.banner.is_empty() {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(&o.banner).and_then(|()| out.flush()) {
            return Err(Stop::Drop(format!(
                "unable to print banner: {}",
                errstr(&e)
            )));
        }
    }
    let local = match sock.local_addr() {
        Ok(a) => a,
        Err(e) => {
            return Err(Stop::Drop(format!(
                "unable to get local address: {}",
                errstr(&e)
            )))
        }
    };
    let (local_ip, _) = show_ip(local.ip(), o.force_v6);
    let local_host = o.local_name.clone().or_else(|| reverse(local.ip()));
    let remote_host = if o.remote_host {
        reverse(remote.ip()).filter(|name| !o.paranoid || forward_matches(name, remote.ip()))
    } else {
        None
    };
    let remote_info = if o.remote_info {
        ident::remote_info(remote, local, o.timeout)
    } else {
        None
    };
    let remote_port = remote.port().to_string();

    let base: [(&str, Option<Vec<u8>>); 8] = [
        (
            "PROTO",
            Some(if v4 {
                b"TCP".to_vec()
            } else {
                b"TCP6".to_vec()
            }),
        ),
        ("TCPLOCALIP", Some(local_ip.clone().into_bytes())),
        ("TCPLOCALPORT", Some(local_port.as_bytes().to_vec())),
        ("TCPLOCALHOST", local_host.clone()),
        ("TCPREMOTEIP", Some(remote_ip.clone().into_bytes())),
        ("TCPREMOTEPORT", Some(remote_port.clone().into_bytes())),
        ("TCPREMOTEHOST", remote_host.clone()),
        ("TCPREMOTEINFO", remote_info.clone()),
    ];
    let mut env: Vec<(String, Option<Vec<u8>>)> = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if !v4 {
        env.extend(
            base[1..]
                .iter()
                .map(|(k, v)| (k.replacen("TCP", "TCP6", 1), v.clone())),
        );
        if let SocketAddr::V6(a) = local {
            if a.scope_id() != 0 {
                if let Ok(name) = nix::net::if_::if_indextoname(a.scope_id()) {
                    env.push(("TCP6INTERFACE".to_string(), Some(name.into_bytes())));
                }
            }
        }
    }
    let fields = Fields {
        local_host: &local_host,
        local_ip: &local_ip,
        local_port,
        remote_host: &remote_host,
        remote_ip: &remote_ip,
        remote_info: &remote_info,
        remote_port: &remote_port,
        v4,
    };
    finish(o, env, &pid, fields, log)
}

/// What the `ok`/`deny` line shows.
struct Fields<'a> {
    local_host: &'a Option<Vec<u8>>,
    local_ip: &'a str,
    local_port: &'a str,
    remote_host: &'a Option<Vec<u8>>,
    remote_ip: &'a str,
    remote_info: &'a Option<Vec<u8>>,
    remote_port: &'a str,
    v4: bool,
}

fn finish<'a>(
    o: &'a Options,
    env: Vec<(String, Option<Vec<u8>>)>,
    pid: &str,
    f: Fields<'_>,
    log: super::server::Log,
) -> Result<Run<'a>, Stop> {
    let mut deny = false;
    let mut extra: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if let Some(path) = &o.rules {
        let show = String::from_utf8_lossy(path.as_bytes()).into_owned();
        // Opened per connection and read at each lookup, as 0.88's
        // cdb_find: a rules file rebuilt by rename counts from the next
        // connection, and a big one costs no more than a small one.
        match FileReader::open(Path::new(path)) {
            Ok(db) => {
                let protocol = || {
                    Stop::Drop(format!(
                        "unable to read {show}: {}",
                        errno_str(libc::EPROTO)
                    ))
                };
                let Ok(db) = db else {
                    return Err(protocol());
                };
                match rules::lookup(
                    &db,
                    f.remote_ip.as_bytes(),
                    f.remote_host.as_deref(),
                    f.remote_info.as_deref(),
                ) {
                    Ok(Some((_, data))) => {
                        let ins = Instructions::decode(&data);
                        deny = ins.deny;
                        extra = ins.env;
                    }
                    Ok(None) => {}
                    Err(_) => return Err(protocol()),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && o.allow_no_rules => {}
            Err(e) => return Err(Stop::Drop(format!("unable to read {show}: {}", errstr(&e)))),
        }
    }

    let mut line = b"tcpserver: ".to_vec();
    safe(if deny { b"deny" } else { b"ok" }, f.v4, &mut line);
    line.push(b' ');
    safe(pid.as_bytes(), f.v4, &mut line);
    line.push(b' ');
    if let Some(h) = f.local_host {
        safe(h, f.v4, &mut line);
    }
    line.push(b':');
    safe(f.local_ip.as_bytes(), f.v4, &mut line);
    line.push(b':');
    safe(f.local_port.as_bytes(), f.v4, &mut line);
    line.push(b' ');
    if let Some(h) = f.remote_host {
        safe(h, f.v4, &mut line);
    }
    line.push(b':');
    safe(f.remote_ip.as_bytes(), f.v4, &mut line);
    line.push(b':');
    if let Some(i) = f.remote_info {
        safe(i, f.v4, &mut line);
    }
    line.push(b':');
    safe(f.remote_port.as_bytes(), f.v4, &mut line);
    log.line(2, &line);
    if deny {
        return Err(Stop::Deny);
    }
    Ok(Run {
        program: &o.program,
        env,
        extra,
    })
}

/// Can the process environment hold `k=v` (what exec would reject, or
/// `set_var` panic on)?
fn settable(k: &[u8], v: &[u8]) -> bool {
    !k.is_empty() && !k.contains(&b'=') && !k.contains(&0) && !v.contains(&0)
}

impl Run<'_> {
    /// Run `builtin` in-process when it is still valid and the
    /// environment can be set; otherwise exec the program.
    fn start(self, builtin: Option<&Found>) -> Child {
        let Some((_, args)) = self.program.split_first() else {
            return Child::Stop(Stop::Drop("unable to run : invalid argument".to_string()));
        };
        let fits = self
            .env
            .iter()
            .all(|(k, v)| settable(k.as_bytes(), v.as_deref().unwrap_or_default()))
            && self
                .extra
                .iter()
                .all(|(k, v)| k.is_empty() || settable(k, v));
        match builtin {
            Some(found) if fits && found.still_valid() => {
                self.set_environment();
                Child::Builtin(found.builtin, args.to_vec())
            }
            _ => Child::Stop(self.exec()),
        }
    }

    /// Make the process environment what exec would pass: the `TCP*`
    /// variables, then the rule's assignments.
    fn set_environment(self) {
        for (k, v) in self.env {
            match v {
                Some(v) => std::env::set_var(k, OsString::from_vec(v)),
                None => std::env::remove_var(k),
            }
        }
        for (k, v) in self.extra {
            if !k.is_empty() {
                std::env::set_var(OsString::from_vec(k), OsString::from_vec(v));
            }
        }
    }

    fn exec(self) -> Stop {
        let Some((prog, args)) = self.program.split_first() else {
            return Stop::Drop("unable to run : invalid argument".to_string());
        };
        let mut cmd = Command::new(prog);
        cmd.args(args);
        for (k, v) in self.env {
            match v {
                Some(v) => cmd.env(k, OsString::from_vec(v)),
                None => cmd.env_remove(k),
            };
        }
        for (k, v) in self.extra {
            if !k.is_empty() {
                cmd.env(OsString::from_vec(k), OsString::from_vec(v));
            }
        }
        let e = cmd.exec();
        Stop::Drop(format!(
            "unable to run {}: {}",
            String::from_utf8_lossy(prog.as_bytes()),
            errstr(&e)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safecats() {
        let mut out = Vec::new();
        safe(b"a b%c\x7f:", true, &mut out);
        assert_eq!(out, b"a?b?c??");
        let mut out = Vec::new();
        safe(b"::1", false, &mut out);
        assert_eq!(out, b"::1");
        let mut out = Vec::new();
        safe(&[b'x'; 120], true, &mut out);
        assert_eq!(out.len(), 103);
        assert!(out.ends_with(b"x..."));
    }

    #[test]
    fn address_forms() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(show_ip(mapped, false), ("127.0.0.1".to_string(), true));
        assert_eq!(
            show_ip(mapped, true),
            ("::ffff:127.0.0.1".to_string(), false)
        );
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(show_ip(v6, false), ("::1".to_string(), false));
    }
}
