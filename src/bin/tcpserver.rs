//! tcpserver — accept TCP connections and run a program for each
//! (ucspi-tcp 0.88 compatible, with the IPv6 variant's additions).
//!
//! # Invocation
//! `tcpserver [ -461UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ]
//! [ -B banner ] [ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ]
//! [ -t timeout ] [ -I interface ] host port program [ arg ... ]`
//!
//! `host` `0` (or empty) listens on every address (dual-stack `::`, or
//! 0.0.0.0 with `-4` or without IPv6); an IPv4 or IPv6 literal or a host
//! name listens on that address. `port` is a number (0 = any free port,
//! printed with `-1`) or an /etc/services name. For each connection the
//! program runs with fd 0 and fd 1 on the socket and the `TCP*`
//! environment of tcp-environ(5) (see `qmail::tcp::conn`). At most
//! `limit` (default 40) programs run at once; further connections wait in
//! the backlog. `-x` follows rules built by tcprules: `deny` drops the
//! connection, assignments are added to the environment. DNS lookups
//! (`-h`, `-p`, and TCPLOCALHOST without `-l`) use the system resolver;
//! `-H -R -l name` avoids all lookups.
//!
//! # Security
//! Binds first, then drops to `-g gid` (also the only supplementary group)
//! and `-u uid` (`-U`: $GID and $UID), as 0.88 does. The per-connection
//! child is this executable re-run (`/proc/self/exe`) before it execs the
//! program, so it runs with the dropped ids.
//!
//! # Exit codes and messages (stderr; none with `-q`)
//! * 100 — usage. 111 — `tcpserver: fatal: unable to bind: ERR` and the
//!   other `fatal` messages of `qmail::tcp::server::Fatal`.
//! * SIGTERM: exit 0. Log lines with `-v`: `status: N/M`, `pid P from IP`,
//!   `ok P ...`, `deny P ...`, `end P status S`.
//! * Connection child: 100 on deny, 111 on
//!   `tcpserver: warning: dropping connection, ...`.
//!
//! # See also
//! tcprules, tcprulescheck, `shared/spec/qmail/cdb.md` §6.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use qmail::tcp::conn;
use qmail::tcp::options::{self, USAGE};
use qmail::tcp::server::{self, Log, CHILD_MARK};

/// Connection mode: `CHILD_MARK IP PORT LOCALPORT tcpserver-args...`.
fn connection(args: &[OsString]) -> ExitCode {
    let [ip, port, local_port, rest @ ..] = args else {
        return ExitCode::from(111);
    };
    let Ok(o) = options::parse(rest, |k| std::env::var_os(k)) else {
        return ExitCode::from(100);
    };
    let log = Log {
        verbosity: o.verbosity,
    };
    let ip: Option<IpAddr> = ip.to_str().and_then(|s| s.parse().ok());
    let port: Option<u16> = port.to_str().and_then(|s| s.parse().ok());
    let (Some(ip), Some(port), Some(local_port)) = (ip, port, local_port.to_str()) else {
        return ExitCode::from(111);
    };
    let stop = conn::serve(&o, SocketAddr::new(ip, port), local_port, log);
    if let conn::Stop::Drop(why) = &stop {
        log.line(
            1,
            format!("tcpserver: warning: dropping connection, {why}").as_bytes(),
        );
    }
    ExitCode::from(stop.exit_code())
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_else(|| OsString::from("tcpserver"));
    let args: Vec<OsString> = argv.collect();
    if args.first().is_some_and(|a| a == CHILD_MARK) {
        return connection(&args[1..]);
    }
    let o = match options::parse(&args, |k| std::env::var_os(k)) {
        Ok(o) => o,
        Err(options::Usage) => {
            eprintln!("{USAGE}");
            return ExitCode::from(100);
        }
    };
    let log = Log {
        verbosity: o.verbosity,
    };
    match server::run(&o, &argv0, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            log.line(1, format!("tcpserver: fatal: {fatal}").as_bytes());
            ExitCode::from(111)
        }
    }
}
