//! qmail-smtpd's `main`, shared by its binary and by tcpserver, which
//! runs it in the connection child without an exec when the program
//! file is ours (`crate::tcp::builtin`). Signal dispositions are the
//! caller's (they need `unsafe`): SIGCHLD must be the default.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::config::{Config, Env};
use super::reply;
use super::session::{Hooks, Session};
use crate::tls::stream::Conn;

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

/// A start-up failure: the reply goes straight to fd 1, exit 1.
fn fail(msg: &str) -> i32 {
    let _ = std::io::stdout().write_all(msg.as_bytes());
    let _ = std::io::stdout().flush();
    1
}

/// Serve the client on fd 0 and fd 1; `args` are argv[1..]. Returns the
/// exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    // Our duplicates of fd 0 and 1 stay off fd 3, the checkpassword child's.
    let Ok(mut conn) = Conn::stdio(Duration::from_secs(1200)) else {
        return 1;
    };

    let home = crate::root::qmail_home();
    if std::env::set_current_dir(&home).is_err() {
        return fail(reply::CONTROL);
    }
    let env = Env::from_lookup(|k| std::env::var_os(k));
    let Ok(cfg) = Config::load(&home, &env) else {
        return fail(reply::CONTROL);
    };
    let Ok(ipme) = crate::ipme::ipv4() else {
        return fail(reply::IPME);
    };
    let (cram_host, checkpassword) = command_line(args);
    conn.set_timeout(Duration::from_secs(cfg.timeout));
    // Ours alone: children get fd 0/1 only to ignore them (checkpassword).
    conn.use_socket_timeouts();
    let hooks = Hooks {
        export: Box::new(|k, v| std::env::set_var(k, OsStr::from_bytes(v))),
        log: Box::new(std::io::stderr()),
    };
    let mut session = Session::new(cfg, env, conn, hooks, ipme);
    session.checkpassword = checkpassword;
    if let Some(h) = cram_host {
        session.cram_host = h;
    }
    session.run().0
}
