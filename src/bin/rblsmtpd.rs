//! rblsmtpd — block SMTP clients listed in DNS blocklists (ucspi-tcp
//! 0.88 compatible; the behaviour is in `qmail::tcp::rblsmtpd`).
//!
//! # Invocation
//! `tcpserver ... rblsmtpd [ -b ] [ -B ] [ -c ] [ -C ] [ -t timeout ]
//! [ -r base ] [ -a base ] qmail-smtpd [ arg ... ]`, with TCPREMOTEIP
//! and, from tcprules, RBLSMTPD in the environment.
//!
//! DNS: the nameservers of /etc/resolv.conf, or `$DNSCACHEIP` (the
//! first IPv4 address in it) as djb's resolver library reads it;
//! `QMAILRS_RESOLVER=IP:PORT` (tests) wins over both unless the program
//! runs set-uid.
//!
//! # Exit codes
//! * the program's, when the client is not refused (it is exec'd).
//! * 0 — a refused client's session ended.
//! * 100 — usage.
//! * 111 — `rblsmtpd: fatal: unable to run PROG: ERR`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use qmail::dns::{Config, Resolver, RESOLVER_ENV};
use qmail::tcp::errstr::errstr;
use qmail::tcp::rblsmtpd::{self, Check};
use qmail::tls::stream::Conn;

/// djb's `dns_rcip` reading of `$DNSCACHEIP`: the first dotted quad.
fn dnscache_ip(v: &str) -> Option<std::net::IpAddr> {
    let quad: String = v
        .split('.')
        .take(4)
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".");
    quad.parse::<std::net::Ipv4Addr>().ok().map(Into::into)
}

fn resolver() -> Resolver {
    let overridden = std::env::var_os(RESOLVER_ENV).is_some() && !qmail::root::is_privileged_exec();
    if !overridden {
        if let Some(ip) = std::env::var("DNSCACHEIP")
            .ok()
            .and_then(|v| dnscache_ip(&v))
        {
            let mut c = Config::system();
            c.servers = vec![std::net::SocketAddr::new(ip, 53)];
            return Resolver::new(c);
        }
    }
    Resolver::system()
}

fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsString::into_vec)
        .collect();
    let ip = std::env::var("TCPREMOTEIP").unwrap_or_default();
    let env = std::env::var_os("RBLSMTPD").map(OsString::into_vec);
    let mut check = Check::new(&ip, env.as_deref());
    let mut dns = resolver();
    let prog = match check.options(&args, &mut dns) {
        Ok(p) => p,
        Err(lines) => {
            for l in lines {
                eprintln!("{l}");
            }
            return ExitCode::from(100);
        }
    };
    if check.refused() {
        let message = check.message();
        let _ = std::io::stderr().write_all(&rblsmtpd::log_line(&ip, std::process::id(), &message));
        if check.timeout == 0 {
            let _ = rblsmtpd::refuse_once(&mut std::io::stdout(), &message);
        } else {
            let t = Duration::from_secs(check.timeout);
            let deadline = Instant::now() + t;
            if let Ok(mut conn) = Conn::stdio(t) {
                rblsmtpd::converse(&mut conn, &message, deadline);
            }
        }
        return ExitCode::SUCCESS;
    }
    let name = std::ffi::OsStr::from_bytes(&prog[0]);
    let err = std::process::Command::new(name)
        .args(prog[1..].iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .exec();
    eprintln!(
        "rblsmtpd: fatal: unable to run {}: {}",
        name.to_string_lossy(),
        errstr(&err)
    );
    ExitCode::from(111)
}
