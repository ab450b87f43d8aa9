//! qmail-smtpd — receive mail via SMTP (netqmail 1.06 with Vermeulen's
//! STARTTLS 20231230, fehcom's SMTP AUTH 0.8.3, force-tls and the
//! validrcptto.cdb check). Specification: `shared/spec/qmail/smtpd.md`.
//!
//! # Invocation
//! `qmail-smtpd [ checkprogram subprogram [ arg ... ] ]`, or the older
//! `qmail-smtpd hostname checkprogram subprogram [ arg ... ]` (told apart
//! by argv[1]: a host name is not an executable path or a program found in
//! PATH, while argv[2] is; the host name then goes into the CRAM-MD5
//! challenge). Started by tcpserver once per connection: the client on
//! fd 0 (read) and fd 1 (write), the log on fd 2.
//!
//! Environment: `TCPREMOTEIP`, `TCPREMOTEHOST`, `TCPREMOTEINFO`,
//! `TCPLOCALHOST`, `TCPLOCALIP`, `RELAYCLIENT`, `DATABYTES`, `SMTPAUTH`,
//! `FORCETLS`, `SMTPS`, `TLSCIPHERS`, `VALIDRCPTTO_CDB`,
//! `VALIDRCPTTO_LIMIT`, `QMAILQUEUE`; `QMAILRS_ROOT` moves /var/qmail.
//!
//! # Security
//! Runs as whatever uid tcpserver gave it (qmaild, group nofiles); needs
//! read access to control/ and, for STARTTLS, to servercert.pem. Starts
//! qmail-queue (set-uid qmailq) and the checkpassword program.
//!
//! # Control files
//! me, smtpgreeting, localiphost, timeoutsmtpd, rcpthosts,
//! morercpthosts.cdb, badmailfrom, databytes, validrcptto.cdb,
//! servercert.pem, tlsserverciphers (see `qmail::smtp::config::CONTROLS`).
//!
//! # Exit codes
//! 0 after QUIT; 1 when the client goes away, times out, or start-up
//! fails (after a `421` reply).
//!
//! # See also
//! qmail-queue(8), tcpserver(1), checkpassword, checkvpw(8).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use qmail::smtp::config::{Config, Env};
use qmail::smtp::policy;
use qmail::smtp::reply;
use qmail::smtp::session::{Hooks, Session};
use qmail::tls::stream::Conn;

/// Is `name` a program execvp would find?
fn is_program(name: &OsStr) -> bool {
    let exec = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let p = Path::new(name);
    if name.as_bytes().contains(&b'/') {
        return exec(p);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|d| exec(&d.join(p))))
        .unwrap_or(false)
}

/// Split argv[1..] into (CRAM host name, checkpassword command).
fn command_line(args: Vec<OsString>) -> (Option<Vec<u8>>, Vec<OsString>) {
    if args.len() >= 3 && !is_program(&args[0]) && is_program(&args[1]) {
        let host = args[0].as_bytes().to_vec();
        return (Some(host), args[1..].to_vec());
    }
    (None, args)
}

/// Write a start-up failure reply straight to fd 1 and exit 1.
fn fail(msg: &str) -> ! {
    let _ = std::io::stdout().write_all(msg.as_bytes());
    let _ = std::io::stdout().flush();
    std::process::exit(1);
}

/// Restore the default SIGCHLD disposition. A parent that ignores
/// SIGCHLD (some test harnesses and `--pipe` clients do) would otherwise
/// make the kernel reap our children, and waiting for qmail-queue or the
/// checkpassword program would fail.
fn default_sigchld() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installing SIG_DFL runs no handler code, so none of the
    // async-signal-safety requirements of `signal` apply.
    let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
}

fn main() {
    default_sigchld();
    // Our duplicates of fd 0 and 1 stay off fd 3, the checkpassword child's.
    let Ok(mut conn) = Conn::stdio(Duration::from_secs(1200)) else {
        std::process::exit(1);
    };

    let home = qmail::root::qmail_home();
    if std::env::set_current_dir(&home).is_err() {
        fail(reply::CONTROL);
    }
    let env = Env::from_lookup(|k| std::env::var_os(k));
    let Ok(cfg) = Config::load(&home, &env) else {
        fail(reply::CONTROL)
    };
    let Ok(ipme) = policy::ipme() else {
        fail(reply::IPME)
    };
    let (cram_host, checkpassword) = command_line(std::env::args_os().skip(1).collect());
    conn.set_timeout(Duration::from_secs(cfg.timeout));
    let hooks = Hooks {
        export: Box::new(|k, v| std::env::set_var(k, OsStr::from_bytes(v))),
        log: Box::new(std::io::stderr()),
    };
    let mut session = Session::new(cfg, env, conn, hooks, ipme);
    session.checkpassword = checkpassword;
    if let Some(h) = cram_host {
        session.cram_host = h;
    }
    let exit = session.run();
    std::process::exit(exit.0);
}
