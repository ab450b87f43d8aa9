//! The AUTH command (fehcom 0.8.3 `smtp_auth`; `shared/spec/qmail/smtpd.md`
//! §12.2–§12.5).

use std::time::Duration;

use crate::auth::base64;
use crate::auth::checkpassword::{self, CheckError, Verdict};
use crate::auth::sasl::{self, Mechanism};
use crate::checkpassword::Request;

use super::reply;
use super::session::{now, Auth, Exit, Session, Transaction};

/// Seconds of delay before `535`.
pub const AUTH_SLEEP: Duration = Duration::from_secs(5);

/// User, password (or digest) and challenge from an exchange.
type Credentials = (Vec<u8>, Vec<u8>, Vec<u8>);

/// An exchange that ended without a verdict (its reply is queued).
enum Abort {
    /// 501/504: the command is over.
    Reply,
    /// The connection is over.
    Exit(Exit),
}

impl Session {
    /// `authgetl`: one client line; `*` cancels, an empty line is malformed.
    fn auth_line(&mut self) -> Result<Vec<u8>, Abort> {
        let mut line = match self.conn.read_line() {
            Ok(l) => l,
            Err(e) => return Err(Abort::Exit(self.die_read(e))),
        };
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.first() == Some(&b'*') && line.get(1).is_none_or(|&b| b == 0) {
            self.out(reply::AUTH_CANCELED);
            return Err(Abort::Reply);
        }
        if line.is_empty() {
            self.out(reply::AUTH_INPUT);
            return Err(Abort::Reply);
        }
        Ok(line)
    }

    fn decode(&mut self, b64: &[u8]) -> Result<Vec<u8>, Abort> {
        base64::decode(b64).map_err(|_| {
            self.out(reply::AUTH_INPUT);
            Abort::Reply
        })
    }

    fn prompt(&mut self, p: &str) -> Result<(), Abort> {
        self.out(p);
        self.conn.flush().map_err(|_| Abort::Exit(Exit(1)))
    }

    /// Run the exchange; returns (user, password-or-digest, challenge).
    fn exchange(&mut self, mech: Mechanism, arg: &[u8]) -> Result<Credentials, Abort> {
        let (user, pass, chal) = match mech {
            Mechanism::Login => {
                let user = if arg.is_empty() {
                    self.prompt(reply::AUTH_USERNAME)?;
                    let l = self.auth_line()?;
                    self.decode(&l)?
                } else {
                    self.decode(arg)?
                };
                self.prompt(reply::AUTH_PASSWORD)?;
                let l = self.auth_line()?;
                (user, self.decode(&l)?, Vec::new())
            }
            Mechanism::Plain => {
                let resp = if arg.is_empty() {
                    self.prompt(reply::AUTH_PLAIN_PROMPT)?;
                    let l = self.auth_line()?;
                    self.decode(&l)?
                } else {
                    self.decode(arg)?
                };
                let (u, p) = sasl::plain(&resp);
                (u, p, Vec::new())
            }
            Mechanism::CramMd5 => {
                let chal = sasl::challenge(std::process::id(), now(), &self.cram_host);
                let p = format!("334 {}\r\n", base64::encode(&chal));
                self.prompt(&p)?;
                let l = self.auth_line()?;
                let resp = self.decode(&l)?;
                let (u, d) = sasl::cram(&resp);
                (u, d, chal)
            }
        };
        if user.is_empty() || pass.is_empty() {
            self.out(reply::AUTH_INPUT);
            return Err(Abort::Reply);
        }
        Ok((user, pass, chal))
    }

    pub(super) fn auth(&mut self, arg: &[u8]) -> Result<(), Exit> {
        if self.env.smtpauth == sasl::Mode::Off || self.checkpassword.is_empty() {
            self.out(reply::AUTH_UNAVAILABLE);
            return Ok(());
        }
        if self.auth == Auth::Authenticated {
            self.out(reply::AUTH_ALREADY);
            return Ok(());
        }
        if matches!(self.tx, Transaction::Mail { .. }) {
            self.out(reply::AUTH_IN_MAIL);
            return Ok(());
        }
        if self.env.forcetls && !self.conn.is_tls() {
            self.out(reply::AUTH_NEEDS_TLS);
            return Ok(());
        }
        let (mech, rest) = sasl::split_arg(arg);
        let Some(mech) = Mechanism::parse(mech) else {
            self.out(reply::AUTH_TYPE);
            return Ok(());
        };
        let (user, pass, chal) = match self.exchange(mech, rest) {
            Ok(x) => x,
            Err(Abort::Reply) => return Ok(()),
            Err(Abort::Exit(e)) => return Err(e),
        };
        let req = Request {
            login: user,
            password: pass,
            timestamp: chal,
        };
        let data = checkpassword::request_bytes(&req, self.env.smtpauth.sends_challenge());
        let limit = Duration::from_secs(self.cfg.timeout);
        match checkpassword::check(&self.checkpassword, &data, limit) {
            Ok(Verdict::Accepted) => {
                self.auth = Auth::Authenticated;
                self.protocol = match self.conn.cipher() {
                    Some(c) => format!("ESMTPSA ({c} encrypted, authenticated)").into_bytes(),
                    None => b"ESMTPA".to_vec(),
                };
                let user = req
                    .login
                    .split(|&b| b == 0)
                    .next()
                    .unwrap_or_default()
                    .to_vec();
                (self.hooks.export)("TCPREMOTEINFO", &user);
                (self.hooks.export)("RELAYCLIENT", b"");
                self.env.remoteinfo = Some(user);
                self.env.relayclient = Some(Vec::new());
                self.out(reply::AUTH_OK);
            }
            Ok(Verdict::Refused) => {
                std::thread::sleep(AUTH_SLEEP);
                self.out(reply::AUTH_FAILED);
            }
            Err(CheckError::Pipe) => self.out(reply::AUTH_PIPE),
            Err(CheckError::Fork) => self.out(reply::AUTH_FORK),
            Err(CheckError::Write) => self.out(reply::AUTH_WRITE),
            Err(CheckError::Child) => self.out(reply::AUTH_CHILD),
        }
        Ok(())
    }
}
