//! Dovecot's `imap-login` (`shared/spec/dovecot/imap.md` §1,
//! `src/imap-login/`): the greeting with the pre-login capabilities,
//! CAPABILITY, NOOP, ID, ENABLE, LOGOUT, LOGIN (atoms, quoted strings,
//! literals), AUTHENTICATE PLAIN/LOGIN with SASL-IR, STARTTLS, and three
//! bad commands in a row end the connection. Replies carry no timing
//! suffix (only the imap process adds it).

use std::cell::RefCell;
use std::io::{self, BufRead, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::dovecot::io::{Lines, ReadError};
use crate::dovecot::login::{self, AuthResult, Client, SaslEnd, Settings, Ssl, User};
use crate::dovecot::sasl::{Credentials, Mech};
use crate::dovecot::tlsio::TlsLines;
use crate::imap::input::Wait;
use crate::imap::parse::{self, literal_at_end, Arg, Head};
use crate::tls::stream::{Conn, ConnError};

/// `CLIENT_MAX_BAD_COMMANDS` of imap-login.
const MAX_BAD: u32 = 3;
/// Largest literal before login (user names and passwords).
const MAX_LITERAL: usize = 8192;

const BAD: &str = "BAD Error in IMAP command received by server.";
const PLAINTEXT_DISALLOWED: &str =
    "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";
const AUTH_FAILED: &str = "NO [AUTHENTICATIONFAILED] Authentication failed.";

/// How the login phase ended.
pub enum LoginEnd {
    /// Logged in: the user, the login command's tag, and whether the
    /// client asked for CAPABILITY on the plaintext connection (then the
    /// post-login list goes untagged before `<tag> OK Logged in`).
    LoggedIn {
        user: User,
        tag: String,
        capability_asked: bool,
    },
    Closed,
}

/// One command's effect.
enum Next {
    Continue,
    Bad,
    Close,
    LoggedIn(User),
}

/// The login phase's state.
struct State {
    capability_asked: bool,
    starttls: bool,
    /// When the login timeout ends the connection.
    deadline: Instant,
}

/// The pre-login capability list for this connection.
pub fn capability(set: &Settings, client: &Client) -> String {
    let mut c = String::from("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+");
    if tls_offered(set) && !client.tls {
        c.push_str(" STARTTLS");
    }
    if client.plaintext_allowed(set) {
        for m in &set.mechanisms {
            c.push_str(" AUTH=");
            c.push_str(m.name());
        }
    } else {
        c.push_str(" LOGINDISABLED");
    }
    c
}

fn tls_offered(set: &Settings) -> bool {
    set.ssl != Ssl::No && set.tls.is_some()
}

use super::login::until;
pub use super::login::{login_timeout, LOGIN_TIMEOUT};

/// Serve the non-authenticated state on `io` (the greeting included),
/// at most `timeout` from now.
pub fn run(set: &Settings, client: &mut Client, io: &mut TlsLines, timeout: Duration) -> LoginEnd {
    let deadline = Instant::now() + timeout;
    io.line(&format!(
        "* OK [CAPABILITY {}] {}",
        capability(set, client),
        set.greeting
    ));
    let mut st = State {
        capability_asked: false,
        starttls: false,
        deadline,
    };
    let mut bad = 0;
    loop {
        until(io, deadline);
        let cmd = match read_command(io) {
            Ok(c) => c,
            Err(ReadError::Timeout) => {
                io.line("* BYE Disconnected for inactivity.");
                io.flush();
                return LoginEnd::Closed;
            }
            Err(ReadError::TooLong) => {
                io.line("* BYE Input buffer full, aborting");
                io.flush();
                return LoginEnd::Closed;
            }
            Err(ReadError::Closed) => return LoginEnd::Closed,
        };
        let (tag, next) = match parse::head(&cmd) {
            Head::BadTag => ("*".to_string(), Next::Bad),
            Head::BadName(tag) => (tag, Next::Bad),
            Head::Command { tag, name, rest } => {
                let next = command(set, client, io, &mut st, &tag, &name, rest);
                (tag, next)
            }
        };
        match next {
            Next::Continue => bad = 0,
            Next::Bad => {
                bad += 1;
                if bad >= MAX_BAD {
                    io.line("* BYE Too many invalid IMAP commands.");
                    io.flush();
                    return LoginEnd::Closed;
                }
                io.line(&format!("{tag} {BAD}"));
            }
            Next::Close => {
                io.flush();
                return LoginEnd::Closed;
            }
            Next::LoggedIn(user) => {
                return LoginEnd::LoggedIn {
                    user,
                    tag,
                    capability_asked: st.capability_asked,
                }
            }
        }
        if io.broken() {
            return LoginEnd::Closed;
        }
    }
}

/// One command with its literals, as on the wire (line ends inside).
fn read_command(io: &mut TlsLines) -> Result<Vec<u8>, ReadError> {
    let mut cmd = Vec::new();
    loop {
        let line = io.read_line()?;
        cmd.extend_from_slice(&line);
        let Some((n, plus)) = literal_at_end(&line) else {
            return Ok(cmd);
        };
        if n > MAX_LITERAL {
            return Err(ReadError::TooLong);
        }
        if !plus {
            io.line("+ OK");
        }
        cmd.extend_from_slice(b"\r\n");
        read_exact(io, n, &mut cmd)?;
    }
}

fn read_exact(io: &mut TlsLines, mut n: usize, to: &mut Vec<u8>) -> Result<(), ReadError> {
    while n > 0 {
        if io.conn.flush().is_err() {
            return Err(ReadError::Closed);
        }
        let buf = io.conn.buffered().map_err(|e| match e {
            ConnError::Timeout => ReadError::Timeout,
            ConnError::Closed => ReadError::Closed,
        })?;
        let k = buf.len().min(n);
        to.extend_from_slice(&buf[..k]);
        io.conn.consume(k);
        n -= k;
    }
    Ok(())
}

fn command(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    st: &mut State,
    tag: &str,
    name: &str,
    rest: &[u8],
) -> Next {
    let args = match parse::args(rest) {
        Ok(a) => a,
        Err(e) if is_known(name) => {
            io.line(&format!("{tag} BAD {}", e.0));
            return Next::Continue;
        }
        Err(_) => return Next::Bad,
    };
    match name {
        "CAPABILITY" => {
            if !st.starttls {
                st.capability_asked = true;
            }
            io.line(&format!("* CAPABILITY {}", capability(set, client)));
            io.line(&format!(
                "{tag} OK Pre-login capabilities listed, post-login capabilities have more."
            ));
            Next::Continue
        }
        "NOOP" => {
            io.line(&format!("{tag} OK NOOP completed."));
            Next::Continue
        }
        "ID" => {
            io.line("* ID (\"name\" \"Dovecot\")");
            io.line(&format!("{tag} OK ID completed."));
            Next::Continue
        }
        "ENABLE" => {
            io.line("* ENABLED");
            io.line(&format!(
                "{tag} OK ENABLE ignored in non-authenticated state."
            ));
            Next::Continue
        }
        "LOGOUT" => {
            io.line("* BYE Logging out");
            io.line(&format!("{tag} OK Logout completed."));
            Next::Close
        }
        "STARTTLS" => starttls(set, client, io, st, tag),
        "LOGIN" => login(set, client, io, tag, &args),
        "AUTHENTICATE" => authenticate(set, client, io, tag, &args, st.deadline),
        _ => Next::Bad,
    }
}

fn is_known(name: &str) -> bool {
    matches!(
        name,
        "CAPABILITY" | "NOOP" | "ID" | "ENABLE" | "LOGOUT" | "STARTTLS" | "LOGIN" | "AUTHENTICATE"
    )
}

fn starttls(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    st: &mut State,
    tag: &str,
) -> Next {
    let Some(cfg) = set.tls.clone().filter(|_| tls_offered(set)) else {
        io.line(&format!("{tag} BAD TLS support isn't enabled."));
        return Next::Continue;
    };
    if client.tls {
        io.line(&format!("{tag} BAD TLS is already active."));
        return Next::Continue;
    }
    io.line(&format!("{tag} OK Begin TLS negotiation now."));
    io.flush();
    if io.conn.start_tls(cfg).is_err() {
        return Next::Close;
    }
    client.tls = true;
    st.starttls = true;
    Next::Continue
}

fn login(set: &Settings, client: &mut Client, io: &mut TlsLines, tag: &str, args: &[Arg]) -> Next {
    let [user, pass] = args else {
        return Next::Bad;
    };
    let (Some(user), Some(pass)) = (user.astring(), pass.astring()) else {
        return Next::Bad;
    };
    if !client.plaintext_allowed(set) {
        client.auth_attempts += 1;
        io.line(&format!("{tag} {PLAINTEXT_DISALLOWED}"));
        return Next::Continue;
    }
    let cred = Credentials {
        user: user.to_vec(),
        password: pass.to_vec(),
    };
    verify(set, client, io, tag, Mech::Plain, &cred)
}

fn authenticate(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    tag: &str,
    args: &[Arg],
    deadline: Instant,
) -> Next {
    let (mech_name, initial) = match args {
        [m] => (m.atom(), None),
        [m, i] => (m.atom(), i.atom()),
        _ => return Next::Bad,
    };
    let Some(mech_name) = mech_name else {
        return Next::Bad;
    };
    let Some(mech) = Mech::by_name(mech_name).filter(|m| set.mechanisms.contains(m)) else {
        io.line(&format!(
            "{tag} NO [ALERT] Unsupported authentication mechanism."
        ));
        return Next::Continue;
    };
    if !client.plaintext_allowed(set) {
        io.line(&format!("{tag} {PLAINTEXT_DISALLOWED}"));
        return Next::Continue;
    }
    match login::sasl_exchange(set, client, io, mech, initial, deadline) {
        SaslEnd::Done(cred) => verify(set, client, io, tag, mech, &cred),
        SaslEnd::Aborted => {
            io.line(&format!("{tag} BAD Authentication aborted by client."));
            Next::Continue
        }
        SaslEnd::InvalidBase64 => {
            io.line(&format!("{tag} NO [ALERT] Invalid base64 in response"));
            Next::Continue
        }
        SaslEnd::Failed => {
            io.line(&format!("{tag} {AUTH_FAILED}"));
            Next::Continue
        }
        SaslEnd::TimedOut => {
            io.line("* BYE Disconnected for inactivity during authentication.");
            io.flush();
            Next::Close
        }
        SaslEnd::Closed => Next::Close,
    }
}

fn verify(
    set: &Settings,
    client: &mut Client,
    io: &mut TlsLines,
    tag: &str,
    mech: Mech,
    cred: &Credentials,
) -> Next {
    io.flush();
    match login::authenticate(set, client, mech, cred) {
        AuthResult::Ok(u) => Next::LoggedIn(u),
        AuthResult::Failed => {
            io.line(&format!("{tag} {AUTH_FAILED}"));
            Next::Continue
        }
        AuthResult::TempFail => {
            io.line(&format!(
                "{tag} NO [UNAVAILABLE] Temporary authentication failure."
            ));
            Next::Continue
        }
        AuthResult::Internal => {
            io.line(&format!(
                "{tag} NO [SERVERBUG] Internal error occurred. Refer to server log for more information."
            ));
            Next::Close
        }
    }
}

/// The connection after login as the imap session's input and output:
/// one [`Conn`] shared by a reader and a writer. Reading flushes the
/// queued replies first (Dovecot's corked output).
#[derive(Clone)]
pub struct Shared(pub Rc<RefCell<Conn>>);

/// The session's input side of [`Shared`].
pub struct SharedReader {
    conn: Shared,
    buf: Vec<u8>,
    pos: usize,
    /// The idle timeout to restore after a [`Wait::wait`].
    idle: Duration,
}

impl SharedReader {
    pub fn new(conn: Shared, idle: Duration) -> SharedReader {
        conn.0.borrow_mut().set_timeout(idle);
        SharedReader {
            conn,
            buf: Vec::new(),
            pos: 0,
            idle,
        }
    }

    /// Move what the connection has (reading once if nothing) into `buf`.
    fn fill(&mut self) -> Result<(), ConnError> {
        let mut c = self.conn.0.borrow_mut();
        c.flush()?;
        let got = c.buffered()?;
        self.buf = got.to_vec();
        self.pos = 0;
        let n = self.buf.len();
        c.consume(n);
        Ok(())
    }
}

impl Read for SharedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for SharedReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() && self.fill().is_err() {
            // Closed or idle too long: the session ends as at EOF.
            self.buf.clear();
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl Wait for SharedReader {
    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        self.conn.0.borrow_mut().set_timeout(timeout);
        let got = self.fill();
        self.conn.0.borrow_mut().set_timeout(self.idle);
        match got {
            Ok(()) => Ok(true),
            Err(ConnError::Timeout) => Ok(false),
            Err(ConnError::Closed) => Ok(true),
        }
    }
}

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().out(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .borrow_mut()
            .flush()
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}
