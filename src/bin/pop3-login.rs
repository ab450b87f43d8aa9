//! pop3-login: Dovecot 2.3's POP3 login process and, after a login, the
//! POP3 session itself (`shared/spec/dovecot/pop3.md`, `auth.md`,
//! `config.md`).
//!
//! Invocation: `pop3-login [-c /etc/dovecot/dovecot.conf] [--ssl]` with
//! the client on fds 0/1, under a UCSPI server:
//! `tcpserver -R -H 0 110 pop3-login` (and `--ssl` on 995 for implicit
//! TLS). TCPLOCALIP/TCPLOCALPORT/TCPREMOTEIP/TCPREMOTEPORT come from it.
//!
//! Reads the hoster's dovecot.conf (and includes): `login_greeting`,
//! `auth_mechanisms`, `disable_plaintext_auth`, `ssl`, `ssl_cert`,
//! `ssl_key`, `auth_failure_delay`, `passdb { driver = checkpassword }`,
//! `userdb { prefetch | static }`, `mail_location`, `first/last_valid_uid/gid`,
//! `import_environment`, `pop3_uidl_format`, `pop3_client_workarounds`,
//! `pop3_no_flag_updates`. The checkpassword program gets our
//! `checkpassword-reply` (installed beside this binary) as its last word.
//!
//! A client not logged in 3 minutes after connecting, busy or not, gets
//! `-ERR Disconnected for inactivity.` (`... during authentication.`
//! inside an AUTH exchange), as login-common's timeout; the
//! `QMAILRS_IMAP_LOGIN_TIMEOUT` seconds shorten it for tests, as for
//! imap-login.
//!
//! Security: runs as started (root, to switch users); after a login it
//! drops to the user's uid/gid before touching the Maildir.
//! Exit codes: 0 after a session, 89 on a configuration error.

use std::process::ExitCode;
use std::time::Duration;

use qmail::dovecot::config::{self, Config};
use qmail::dovecot::io::Lines;
use qmail::dovecot::login::{self, Client, Settings};
use qmail::dovecot::passdb;
use qmail::dovecot::pop3::fetch::Workarounds;
use qmail::dovecot::pop3::login::{run, LoginEnd};
use qmail::dovecot::pop3::mailbox::Inbox;
use qmail::dovecot::pop3::session::{Session, Settings as PopSettings, INTERNAL_ERROR};
use qmail::dovecot::pop3::uidl::Format;
use qmail::dovecot::tlsio::TlsLines;
use qmail::tls::stream::Conn;

/// The pop3 process's idle timeout.
const SESSION_IDLE: Duration = Duration::from_secs(600);
const FATAL: u8 = 89;

fn pop_settings(set: &Settings) -> Result<(PopSettings, Format), String> {
    let get = |k: &str| set.config.get(k, "pop3");
    let mut w = Workarounds::default();
    for name in get("pop3_client_workarounds")
        .unwrap_or("")
        .split_whitespace()
    {
        match name {
            "outlook-no-nuls" => w.outlook_no_nuls = true,
            "oe-ns-eoh" => w.oe_ns_eoh = true,
            _ => {
                return Err(format!(
                    "pop3_client_workarounds: unknown workaround {name}"
                ))
            }
        }
    }
    let format = match get("pop3_uidl_format") {
        Some(f) => Format::parse(f).map_err(|e| format!("pop3_uidl_format: {e:?}"))?,
        None => Format::default_format(),
    };
    let no_flag_updates = get("pop3_no_flag_updates")
        .and_then(config::boolean)
        .unwrap_or(false);
    Ok((
        PopSettings {
            workarounds: w,
            no_flag_updates,
        },
        format,
    ))
}

fn main() -> ExitCode {
    let _fds = passdb::reserve_fds();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match login::Invocation::parse(&args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("pop3-login: Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let (conf, implicit_tls, helper) = (inv.conf, inv.implicit_tls, login::reply_helper());
    let setup = Config::load(&conf)
        .map_err(|e| e.to_string())
        .and_then(|c| Settings::from_config(&c, "pop3", helper).map_err(|e| e.0))
        .and_then(|s| pop_settings(&s).map(|p| (s, p)));
    let (set, (pop, format)) = match setup {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pop3-login: Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let login_timeout = login::login_timeout();
    let conn = match Conn::stdio(login_timeout) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pop3-login: Fatal: {e}");
            return ExitCode::from(FATAL);
        }
    };
    let mut io = TlsLines::new(conn, 4096);
    let mut client = Client::from_env();
    if implicit_tls {
        let Some(cfg) = set.tls.clone() else {
            eprintln!("pop3-login: Fatal: --ssl needs ssl_cert and ssl_key");
            return ExitCode::from(FATAL);
        };
        if io.conn.start_tls(cfg).is_err() {
            return ExitCode::SUCCESS;
        }
        client.tls = true;
    }
    let user = match run(&set, &mut client, &mut io, login_timeout) {
        LoginEnd::Closed => return ExitCode::SUCCESS,
        LoginEnd::LoggedIn(u) => u,
    };
    io.line("+OK Logged in.");
    io.conn.set_timeout(SESSION_IDLE);
    io.max_line = 2048;
    let inbox = login::become_user(&user)
        .map_err(|e| e.to_string())
        .and_then(|()| user.maildir().map_err(|e| e.to_string()))
        .and_then(|path| {
            Inbox::open(&path, &format).map_err(|e| format!("{}: {e}", path.display()))
        });
    let inbox = match inbox {
        Ok(i) => i,
        Err(e) => {
            eprintln!("pop3({}): Error: Couldn't init INBOX: {e}", user.name);
            io.line(INTERNAL_ERROR);
            io.flush();
            return ExitCode::SUCCESS;
        }
    };
    Session::new(inbox, pop).run(&mut io);
    ExitCode::SUCCESS
}
