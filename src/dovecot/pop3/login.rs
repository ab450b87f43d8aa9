//! Dovecot's `pop3-login` (AUTHORIZATION state;
//! `shared/spec/dovecot/pop3.md` §1, `src/pop3-login/`): greeting, CAPA
//! before login, USER/PASS (turned into PLAIN), AUTH with the mechanism
//! list, PLAIN and LOGIN, STLS, APOP refused, QUIT, three bad commands.

use std::time::{Duration, Instant};

use super::session::CAPABILITY;
use crate::dovecot::io::{Lines, ReadError};
use crate::dovecot::login::{self, until, AuthResult, Client, SaslEnd, Settings, Ssl, User};
use crate::dovecot::sasl::{Credentials, Mech};
use crate::dovecot::tlsio::TlsLines;

/// `CLIENT_MAX_BAD_COMMANDS` of pop3-login.
const MAX_BAD: u32 = 3;

const PLAINTEXT_DISALLOWED: &str =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// How the login phase ended.
pub enum LoginEnd {
    LoggedIn(User),
    Closed,
}

/// One command's effect.
enum Next {
    Continue,
    Bad,
    Close,
    LoggedIn(User),
}

/// Serve the AUTHORIZATION state on `io` (the greeting included), at
/// most `timeout` from now: login-common's timeout counts from the
/// connection, not from the last command.
pub fn run(set: &Settings, client: &mut Client, io: &mut TlsLines, timeout: Duration) -> LoginEnd {
    let deadline = Instant::now() + timeout;
    io.line(&format!("+OK {}", set.greeting));
    let mut last_user: Option<String> = None;
    let mut bad = 0;
    loop {
        until(io, deadline);
        let line = match io.read_line() {
            Ok(l) => l,
            Err(ReadError::Timeout) => {
                io.line("-ERR Disconnected for inactivity.");
                io.flush();
                return LoginEnd::Closed;
            }
            Err(ReadError::TooLong) => {
                io.line("-ERR Input line too long.");
                io.flush();
                return LoginEnd::Closed;
            }
            Err(ReadError::Closed) => return LoginEnd::Closed,
        };
        let line = String::from_utf8_lossy(&line).into_owned();
        let (name, args) = line.split_once(' ').unwrap_or((&line, ""));
        let next = command(
            set,
            client,
            io,
            &name.to_ascii_uppercase(),
            args,
            &mut last_user,
            deadline,
        );
        match next {
            Next::Continue => bad = 0,
            Next::Bad => {
                bad += 1;
                if bad >= MAX_BAD {
                    io.line("-ERR Too many invalid bad commands.");
                    io.flush();
                    return LoginEnd::Closed;
                }
            }
            Next::Close => {
                io.flush();
                return LoginEnd::Closed;
            }
            Next::LoggedIn(u) => return LoginEnd::LoggedIn(u),
        }
        if io.broken() {
            return LoginEnd::Closed;
        }
    }
}

fn command(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    name: &str,
    args: &str,
    last_user: &mut Option<String>,
    deadline: Instant,
) -> Next {
    match name {
        "CAPA" => {
            capa(set, client, io);
            Next::Continue
        }
        "USER" => {
            if !client.plaintext_allowed(set) {
                io.line(PLAINTEXT_DISALLOWED);
                client.auth_attempts += 1;
            } else {
                *last_user = Some(args.to_string());
                io.line("+OK");
            }
            Next::Continue
        }
        "PASS" => {
            let Some(user) = last_user.take() else {
                if !client.plaintext_allowed(set) {
                    io.line(PLAINTEXT_DISALLOWED);
                } else {
                    io.line("-ERR No username given.");
                }
                return Next::Continue;
            };
            let cred = Credentials {
                user: user.into_bytes(),
                password: args.as_bytes().to_vec(),
            };
            verify(set, client, io, Mech::Plain, &cred)
        }
        "AUTH" => auth(set, client, io, args, deadline),
        "APOP" => {
            io.line("-ERR APOP not enabled.");
            Next::Continue
        }
        "STLS" => stls(set, client, io),
        "QUIT" => {
            io.line("+OK Logging out");
            Next::Close
        }
        _ => {
            io.line("-ERR Unknown command.");
            Next::Bad
        }
    }
}

fn tls_offered(set: &Settings) -> bool {
    set.ssl != Ssl::No && set.tls.is_some()
}

fn capa(set: &Settings, client: &Client, io: &mut TlsLines) {
    io.out(b"+OK\r\n");
    io.out(CAPABILITY.as_bytes());
    if tls_offered(set) && !client.tls {
        io.out(b"STLS\r\n");
    }
    let plain_ok = client.plaintext_allowed(set);
    if plain_ok {
        io.out(b"USER\r\n");
    }
    io.out(b"SASL");
    if plain_ok {
        for m in &set.mechanisms {
            io.out(b" ");
            io.out(m.name().as_bytes());
        }
    }
    io.out(b"\r\n.\r\n");
}

fn stls(set: &Settings, client: &mut Client, io: &mut TlsLines) -> Next {
    let Some(cfg) = set.tls.clone().filter(|_| tls_offered(set)) else {
        io.line("-ERR TLS support isn't enabled.");
        return Next::Continue;
    };
    if client.tls {
        io.line("-ERR TLS is already active.");
        return Next::Continue;
    }
    io.line("+OK Begin TLS negotiation now.");
    io.flush();
    if io.conn.start_tls(cfg).is_err() {
        return Next::Close;
    }
    client.tls = true;
    Next::Continue
}

fn auth(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    args: &str,
    deadline: Instant,
) -> Next {
    if args.is_empty() {
        io.out(b"+OK\r\n");
        if client.plaintext_allowed(set) {
            for m in &set.mechanisms {
                io.line(m.name());
            }
        }
        io.line(".");
        return Next::Continue;
    }
    let (mech_name, initial) = match args.split_once(' ') {
        Some((m, i)) => (m, Some(i)),
        None => (args, None),
    };
    let Some(mech) = Mech::by_name(mech_name).filter(|m| set.mechanisms.contains(m)) else {
        io.line("-ERR [AUTH] Unsupported authentication mechanism.");
        return Next::Continue;
    };
    if !client.plaintext_allowed(set) {
        io.line(PLAINTEXT_DISALLOWED);
        return Next::Continue;
    }
    match login::sasl_exchange(set, client, io, mech, initial, deadline) {
        SaslEnd::Done(cred) => verify(set, client, io, mech, &cred),
        SaslEnd::Aborted => {
            io.line("-ERR Authentication aborted by client.");
            Next::Continue
        }
        SaslEnd::InvalidBase64 => {
            io.line("-ERR [AUTH] Invalid base64 in response");
            Next::Continue
        }
        SaslEnd::Failed => {
            io.line("-ERR [AUTH] Authentication failed.");
            Next::Continue
        }
        SaslEnd::TimedOut => {
            io.line("-ERR Disconnected for inactivity during authentication.");
            Next::Close
        }
        SaslEnd::Closed => Next::Close,
    }
}

fn verify(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    mech: Mech,
    cred: &Credentials,
) -> Next {
    io.flush();
    match login::authenticate(set, client, mech, cred) {
        AuthResult::Ok(u) => Next::LoggedIn(u),
        AuthResult::Failed => {
            io.line("-ERR [AUTH] Authentication failed.");
            Next::Continue
        }
        AuthResult::TempFail => {
            io.line("-ERR [SYS/TEMP] Temporary authentication failure.");
            Next::Continue
        }
        AuthResult::Internal => {
            io.line("-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.");
            Next::Close
        }
    }
}
