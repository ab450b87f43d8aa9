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
//! and `-u uid` (`-U`: $GID and $UID), as 0.88 does. Each connection is
//! served by a forked child, which execs the program with the dropped ids;
//! when the program file is this release's qmail-smtpd, it runs without
//! the exec, with the same environment and ids (`qmail::tcp::builtin`),
//! in worker processes reused for up to 100 connections each
//! (`qmail::tcp::workers`; `QMAILRS_TCPSERVER_REUSE=0`: one fork per
//! connection).
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

use std::process::ExitCode;

use qmail::tcp::builtin::{self, Builtin};
use qmail::tcp::conn;
use qmail::tcp::options::{self, USAGE};
use qmail::tcp::server::{self, Forked, Log};
use qmail::tcp::workers;

/// `fork(2)` for the accept loop.
fn fork() -> std::io::Result<Forked> {
    // SAFETY: tcpserver never starts a thread (signal-hook's handlers run
    // on the main thread; tests/tcp_server.rs checks /proc/PID/task), so
    // the child may allocate and run ordinary code before it execs.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(e) => Err(std::io::Error::from_raw_os_error(e as i32)),
    }
}

/// Run our own program `b` in this connection child, as if exec'd: the
/// signals this process catches go back to their defaults (exec resets
/// caught signals; ignored ones stay ignored either way), descriptors
/// marked close-on-exec are closed, and the process takes its name.
fn run_builtin(b: Builtin, args: Vec<std::ffi::OsString>) -> u8 {
    default_signals();
    builtin::close_cloexec_fds();
    builtin::set_process_name(b);
    run_program(b, args).clamp(0, 255) as u8
}

/// The signals tcpserver catches back to their defaults.
fn default_signals() {
    for sig in [libc::SIGTERM, libc::SIGCHLD] {
        // SAFETY: installing SIG_DFL runs no handler code; one thread.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Run `b` in this process; the exit code. A reused worker's runner.
fn run_program(b: Builtin, args: Vec<std::ffi::OsString>) -> i32 {
    default_signals();
    match b {
        Builtin::QmailSmtpd => qmail::smtp::program::main(args),
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
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
    let program = workers::Program {
        default_signals: &default_signals,
        run: &run_program,
    };
    match server::run(&o, &fork, Some(&program)) {
        Ok(conn::Child::Builtin(b, args)) => ExitCode::from(run_builtin(b, args)),
        Ok(conn::Child::Exit(code)) => ExitCode::from(code),
        Ok(conn::Child::Stop(stop)) => {
            // A connection child that did not run the program.
            if let conn::Stop::Drop(why) = &stop {
                log.line(
                    1,
                    format!("tcpserver: warning: dropping connection, {why}").as_bytes(),
                );
            }
            ExitCode::from(stop.exit_code())
        }
        Err(fatal) => {
            log.line(1, format!("tcpserver: fatal: {fatal}").as_bytes());
            ExitCode::from(111)
        }
    }
}
