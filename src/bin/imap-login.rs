//! imap-login: Dovecot 2.3's IMAP login process and, after a login, the
//! IMAP session itself in the same process (`shared/spec/dovecot/imap.md`,
//! `auth.md`, `config.md`), as `pop3-login` does for POP3: a STARTTLS
//! connection cannot be handed to another program.
//!
//! Invocation: `imap-login [-c /etc/dovecot/dovecot.conf] [--ssl]` with
//! the client on fds 0/1, under a UCSPI server:
//! `tcpserver -R -H 0 143 imap-login` (and `--ssl` on 993 for implicit
//! TLS). TCPLOCALIP/TCPLOCALPORT/TCPREMOTEIP/TCPREMOTEPORT come from it.
//!
//! Reads the hoster's dovecot.conf (and includes): `login_greeting`,
//! `auth_mechanisms`, `disable_plaintext_auth`, `ssl`, `ssl_cert`,
//! `ssl_key`, `auth_failure_delay`, `passdb { driver = checkpassword }`,
//! `userdb { prefetch | static }`, `mail_location`, `first/last_valid_uid/gid`,
//! `import_environment`. The checkpassword program gets our
//! `checkpassword-reply` (installed beside this binary) as its last word.
//!
//! A client not logged in 3 minutes after connecting gets `* BYE
//! Disconnected for inactivity.` (`... during authentication.` inside an
//! AUTHENTICATE exchange); `QMAILRS_IMAP_LOGIN_TIMEOUT` (seconds)
//! shortens that for tests. After the login the session ends with `* BYE Disconnected for
//! inactivity.` after 30 minutes without a command (not in IDLE);
//! `QMAILRS_IMAP_IDLE_TIMEOUT` (seconds) shortens that for tests unless
//! the program runs set-uid/set-gid.
//!
//! Security: runs as started (root, to switch users); after a login it
//! drops to the user's uid/gid before touching the Maildir.
//! Exit codes: 0 after a session, 89 on a configuration error, 1 on an
//! I/O error in the session.

use std::cell::RefCell;
use std::io::{self, Write};
use std::process::ExitCode;
use std::rc::Rc;

use qmail::dovecot::config::Config;
use qmail::dovecot::imap_login::{run, LoginEnd, Shared, SharedReader};
use qmail::dovecot::login::{self, Client, Settings};
use qmail::dovecot::passdb;
use qmail::dovecot::tlsio::TlsLines;
use qmail::imap::{Config as ImapConfig, Session, CAPABILITY};
use qmail::tls::stream::Conn;

#[path = "shared/localtime.rs"]
mod localtime;

const FATAL: u8 = 89;

fn fatal(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("imap-login: Fatal: {e}");
    ExitCode::from(FATAL)
}

fn main() -> ExitCode {
    let _fds = passdb::reserve_fds();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match login::Invocation::parse(&args) {
        Ok(i) => i,
        Err(e) => return fatal(e),
    };
    let (conf, implicit_tls, helper) = (inv.conf, inv.implicit_tls, login::reply_helper());
    let set = match Config::load(&conf)
        .map_err(|e| e.to_string())
        .and_then(|c| Settings::from_config(&c, "imap", helper).map_err(|e| e.0))
    {
        Ok(s) => s,
        Err(e) => return fatal(e),
    };
    let login_timeout = qmail::dovecot::imap_login::login_timeout();
    let conn = match Conn::stdio(login_timeout) {
        Ok(c) => c,
        Err(e) => return fatal(e),
    };
    let mut io = TlsLines::new(conn, 65536);
    let mut client = Client::from_env();
    if implicit_tls {
        let Some(cfg) = set.tls.clone() else {
            return fatal("--ssl needs ssl_cert and ssl_key");
        };
        if io.conn.start_tls(cfg).is_err() {
            return ExitCode::SUCCESS;
        }
        client.tls = true;
    }
    let (user, tag, capability_asked) = match run(&set, &mut client, &mut io, login_timeout) {
        LoginEnd::Closed => return ExitCode::SUCCESS,
        LoginEnd::LoggedIn {
            user,
            tag,
            capability_asked,
        } => (user, tag, capability_asked),
    };
    let shared = Shared(Rc::new(RefCell::new(io.conn)));
    let root = login::become_user(&user)
        .map_err(|e| e.to_string())
        .and_then(|()| user.maildir().map_err(|e| e.to_string()))
        .and_then(|p| {
            if p.is_dir() {
                Ok(p)
            } else {
                Err(format!("{}: no Maildir", p.display()))
            }
        });
    let mut w = shared.clone();
    let root = match root {
        Ok(r) => r,
        Err(e) => {
            eprintln!("imap({}): Error: {e}", user.name);
            let _ = w.write_all(
                b"* BYE Internal error occurred. Refer to server log for more information.\r\n",
            );
            let _ = w.flush();
            return ExitCode::SUCCESS;
        }
    };
    let cfg = ImapConfig {
        user: user.name.clone(),
        root,
        tz: localtime::local_offset,
        capability: CAPABILITY.to_string(),
        login_tag: Some(tag.clone()),
        idle_timeout: qmail::imap::idle_timeout(),
    };
    // A read inside a command waits as long as one between commands.
    let input = SharedReader::new(shared.clone(), cfg.idle_timeout);
    let mut s = Session::new(input, shared, cfg);
    let served = if capability_asked {
        s.out(&format!("* CAPABILITY {CAPABILITY}"))
            .and_then(|()| s.out(&format!("{tag} OK Logged in")))
            .and_then(|()| s.serve())
    } else {
        s.run()
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imap({}): {e}", user.name);
            ExitCode::from(1)
        }
    }
}
