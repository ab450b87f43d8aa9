//! tcpclient — connect to a TCP server and run a program on the
//! connection (ucspi-tcp 0.88, IPv6 variant; the behaviour is in
//! `qmail::tcp::client`): fd 6 reads from the server, fd 7 writes to it.
//!
//! # Exit codes
//! * the program's (it is exec'd).
//! * 100 — usage.
//! * 111 — no connection (each address's failure on stderr), or
//!   `tcpclient: fatal: ...` (port or address unknown, descriptors, exec).

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use qmail::tcp::client::{self, Options};
use qmail::tcp::errstr::errstr;

fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsString::into_vec)
        .collect();
    let o = match Options::parse(&args) {
        Ok(o) => o,
        Err(lines) => {
            for l in lines {
                eprintln!("{l}");
            }
            return ExitCode::from(100);
        }
    };
    let quiet = o.verbosity == 0;
    let say = |l: &str| {
        if !quiet {
            eprintln!("{l}");
        }
    };
    let fatal = |l: &str| {
        say(&format!("tcpclient: fatal: {l}"));
        ExitCode::from(111)
    };
    let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
    let Some(port) = client::port_number(&o.port, &services) else {
        return fatal(&format!("unable to figure out port number for {}", o.port));
    };
    let ips = match client::addresses(&o.host, o.v4_only) {
        Ok(ips) if ips.is_empty() => return fatal(&format!("no IP address for {}", o.host)),
        Ok(ips) => ips,
        Err(e) => {
            return fatal(&format!(
                "temporarily unable to figure out IP address for {}: {}",
                o.host,
                errstr(&e)
            ))
        }
    };
    let Some(stream) = client::connect_any(&o, &ips, port, &mut |l| say(&l)) else {
        return ExitCode::from(111);
    };
    if !o.delay {
        let _ = stream.set_nodelay(true);
    }
    let env = match client::environment(&o, &stream) {
        Ok(e) => e,
        Err(e) => return fatal(&format!("unable to get local address: {}", errstr(&e))),
    };
    for (k, v) in &env {
        match v {
            Some(v) => std::env::set_var(k, std::ffi::OsStr::from_bytes(v)),
            None => std::env::remove_var(k),
        }
    }
    if o.verbosity >= 2 {
        let get = |k: &str| std::env::var(k).unwrap_or_default();
        say(&format!(
            "tcpclient: connected to {} port {}",
            get("TCPREMOTEIP"),
            get("TCPREMOTEPORT")
        ));
    }
    for (fd, what) in [(6, "6"), (7, "7")] {
        if let Err(e) = nix::unistd::dup2(stream.as_raw_fd(), fd) {
            return fatal(&format!(
                "unable to set up descriptor {what}: {}",
                errstr(&e.into())
            ));
        }
    }
    drop(stream);
    let prog = std::ffi::OsStr::from_bytes(&o.program[0]);
    let err = std::process::Command::new(prog)
        .args(
            o.program[1..]
                .iter()
                .map(|a| std::ffi::OsStr::from_bytes(a)),
        )
        .exec();
    fatal(&format!(
        "unable to run {}: {}",
        prog.to_string_lossy(),
        errstr(&err)
    ))
}
