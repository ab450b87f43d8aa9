//! One SMTP session (`shared/spec/qmail/smtpd.md` §3–§11): the command
//! loop, HELO/EHLO, MAIL, RCPT, DATA and the simple verbs. AUTH is in
//! [`super::auth_cmd`], STARTTLS in [`super::tls_cmd`].
//!
//! Every handler returns `Err(Exit)` when the connection must end; the
//! reply that goes with it has been queued already. Only the binary's
//! `main` exits.

use std::ffi::OsString;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::envelope::Envelope;
use crate::queue::client::Injection;
use crate::tls::stream::{Conn, ConnError};

use super::addr;
use super::command::{self, After, Verb};
use super::config::{Config, Env};
use super::data::{DataDecoder, End, MAX_HOPS};
use super::policy;
use super::received::Received;
use super::reply;
use super::validrcptto::{self, Verdict};

/// The process must end with this status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

/// The mail transaction (the original's `seenmail`, `flagbarf`,
/// `mailfrom`, `rcptto`).
#[derive(Debug, Clone, Default)]
pub enum Transaction {
    /// No MAIL yet (or it ended with DATA, HELO, EHLO, RSET).
    #[default]
    Idle,
    /// After MAIL.
    Mail {
        sender: Vec<u8>,
        /// The sender is in badmailfrom (reported at RCPT).
        barf: bool,
        recipients: Vec<Vec<u8>>,
    },
}

/// How the client is authenticated (for relaying and the Received line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// AUTH succeeded.
    Authenticated,
}

/// Sets a variable in the process environment.
pub type Export = dyn FnMut(&str, &[u8]);

/// Hooks to the process around the session.
pub struct Hooks {
    /// Export a variable to later children (`env_put2`).
    pub export: Box<Export>,
    /// The log (fd 2).
    pub log: Box<dyn Write>,
}

/// The session state.
pub struct Session {
    pub cfg: Config,
    pub env: Env,
    pub conn: Conn,
    pub hooks: Hooks,
    /// Our IPv4 addresses, for localiphost.
    pub ipme: Vec<[u8; 4]>,
    /// The checkpassword command (argv[1..] or argv[2..]).
    pub checkpassword: Vec<OsString>,
    /// Host name in the CRAM-MD5 challenge.
    pub cram_host: Vec<u8>,
    pub(super) helo: Vec<u8>,
    pub(super) fakehelo: bool,
    pub(super) tx: Transaction,
    pub(super) auth: Auth,
    pub(super) protocol: Vec<u8>,
    pub(super) invalid_rcpts: u64,
    /// Client-certificate relaying (STARTTLS with tlsclients).
    pub(super) cert_verifier: Option<std::sync::Arc<crate::tls::client::RecordingVerifier>>,
    pub(super) cert_checked: bool,
    pub(super) cert_reason: Option<String>,
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Session {
    pub fn new(cfg: Config, env: Env, conn: Conn, hooks: Hooks, ipme: Vec<[u8; 4]>) -> Self {
        let cram_host = env.local.clone();
        let mut s = Session {
            cfg,
            env,
            conn,
            hooks,
            ipme,
            checkpassword: Vec::new(),
            cram_host,
            helo: Vec::new(),
            fakehelo: false,
            tx: Transaction::Idle,
            auth: Auth::None,
            protocol: b"SMTP".to_vec(),
            invalid_rcpts: 0,
            cert_verifier: None,
            cert_checked: false,
            cert_reason: None,
        };
        let host = s.env.remotehost.clone();
        s.dohelo(&host);
        s
    }

    pub(super) fn out(&mut self, s: &str) {
        self.conn.out(s.as_bytes());
    }

    /// `die_read` / `die_alarm` for a failed read.
    pub(super) fn die_read(&mut self, e: ConnError) -> Exit {
        if let ConnError::Timeout = e {
            self.out(reply::TIMEOUT);
            let _ = self.conn.flush();
        }
        Exit(1)
    }

    /// Queue `msg`, flush, and end with status 1 (`die_*`).
    pub(super) fn die(&mut self, msg: &str) -> Exit {
        self.out(msg);
        let _ = self.conn.flush();
        Exit(1)
    }

    pub(super) fn dohelo(&mut self, arg: &[u8]) {
        self.helo = arg.to_vec();
        self.fakehelo = !arg.eq_ignore_ascii_case(&self.env.remotehost);
    }

    fn greet(&mut self, code: &str) {
        self.conn.out(code.as_bytes());
        let g = self.cfg.greeting.clone();
        self.conn.out(&g);
    }

    /// The greeting (after an SMTPS handshake, if any), then commands
    /// until QUIT or the end of the connection.
    pub fn run(&mut self) -> Exit {
        if self.env.smtps {
            if let Err(e) = self.tls_init() {
                return e;
            }
        }
        self.greet("220 ");
        self.out(" ESMTP\r\n");
        loop {
            let line = match self.conn.read_line() {
                Ok(l) => l,
                Err(e) => return self.die_read(e),
            };
            let cmd = command::parse(&line);
            if let Err(exit) = self.dispatch(cmd.verb, cmd.arg) {
                return exit;
            }
            match cmd.verb.after() {
                After::Keep => {}
                After::Flush => {}
                After::DiscardInput => self.conn.discard_input(),
            }
            if cmd.verb.after() != After::Keep && self.conn.flush().is_err() {
                return Exit(1);
            }
        }
    }

    fn dispatch(&mut self, verb: Verb, arg: &[u8]) -> Result<(), Exit> {
        match verb {
            Verb::Rcpt => self.rcpt(arg)?,
            Verb::Mail => self.mail(arg),
            Verb::Data => self.data()?,
            Verb::Auth => self.auth(arg)?,
            Verb::Quit => {
                self.greet("221 ");
                self.out("\r\n");
                let _ = self.conn.flush();
                return Err(Exit(0));
            }
            Verb::Helo => {
                self.greet("250 ");
                self.out("\r\n");
                self.tx = Transaction::Idle;
                self.dohelo(arg);
            }
            Verb::Ehlo => self.ehlo(arg),
            Verb::Rset => {
                self.tx = Transaction::Idle;
                self.out(reply::FLUSHED);
            }
            Verb::Help => self.out(reply::HELP),
            Verb::StartTls => self.starttls(arg)?,
            Verb::Noop => self.out(reply::OK),
            Verb::Vrfy => self.out(reply::VRFY),
            Verb::Unknown => self.out(reply::UNIMPL),
        }
        Ok(())
    }

    fn ehlo(&mut self, arg: &[u8]) {
        self.greet("250-");
        if !self.conn.is_tls() && std::fs::metadata(self.cfg.servercert()).is_ok() {
            self.out("\r\n250-STARTTLS");
        }
        self.out("\r\n250-PIPELINING\r\n250-8BITMIME\r\n");
        if !self.env.forcetls || self.conn.is_tls() {
            if let Some(l) = self.env.smtpauth.ehlo_line() {
                self.out(l);
            }
        }
        let size = format!("250 SIZE {}\r\n", self.cfg.databytes as u32);
        self.out(&size);
        self.tx = Transaction::Idle;
        self.dohelo(arg);
    }

    fn parse_addr(&self, arg: &[u8]) -> Option<Vec<u8>> {
        let ipme = |ip: [u8; 4]| self.ipme.contains(&ip);
        addr::parse(arg, &ipme, self.cfg.localiphost.as_deref())
    }

    fn mail(&mut self, arg: &[u8]) {
        if self.env.smtpauth.required() && self.auth == Auth::None {
            return self.out(reply::AUTH_REQUIRED);
        }
        let Some(sender) = self.parse_addr(arg) else {
            return self.out(reply::SYNTAX);
        };
        let params = addr::mail_params(arg, self.cfg.databytes);
        if let Some(info) = params.auth {
            if self.env.remoteinfo.is_none() {
                (self.hooks.export)("TCPREMOTEINFO", &info);
                self.env.remoteinfo = Some(info);
            }
        }
        if params.too_big {
            return self.out(reply::SIZE);
        }
        let barf = policy::badmailfrom(self.cfg.badmailfrom.as_ref(), &sender);
        self.tx = Transaction::Mail {
            sender,
            barf,
            recipients: Vec::new(),
        };
        self.out(reply::OK);
    }

    fn rcpt(&mut self, arg: &[u8]) -> Result<(), Exit> {
        let barf = match &self.tx {
            Transaction::Idle => {
                self.out(reply::WANT_MAIL);
                return Ok(());
            }
            Transaction::Mail { barf, .. } => *barf,
        };
        let Some(mut rcpt) = self.parse_addr(arg) else {
            self.out(reply::SYNTAX);
            return Ok(());
        };
        if barf {
            self.out(reply::BMF);
            return Ok(());
        }
        if let Some(rc) = &self.env.relayclient {
            rcpt.extend_from_slice(rc);
        } else {
            match self.cfg.rcpthosts.allowed(&rcpt) {
                Err(_) => return Err(self.die(reply::CONTROL)),
                Ok(false) if self.tls_verify()? => {}
                Ok(false) => {
                    self.out(reply::NOGATEWAY_HEAD);
                    if self.conn.is_tls() && self.env.relayclient.is_none() {
                        self.out(reply::NOGATEWAY_TLS);
                        if let Some(r) = self.cert_reason.clone() {
                            self.out(": ");
                            self.out(&r);
                        }
                    }
                    self.out(reply::NOGATEWAY_TAIL);
                    return Ok(());
                }
                Ok(true) => {}
            }
            let validrcptto = if self.env.relayclient.is_some() {
                None
            } else {
                self.cfg.validrcptto.as_ref()
            };
            if let Some(v) = validrcptto {
                match v.check(&rcpt) {
                    Err(_) => return Err(self.die(reply::CONTROL)),
                    Ok(Verdict::Valid) => {}
                    Ok(Verdict::Invalid) => {
                        let line = validrcptto::log_line(&self.env.remoteip, &rcpt);
                        let _ = self.hooks.log.write_all(&line);
                        self.invalid_rcpts += 1;
                        let limit = self.cfg.validrcptto_limit;
                        if limit > 0 && self.invalid_rcpts >= limit {
                            return Err(self.die(reply::VALIDRCPTTO_LIMIT));
                        }
                        self.out(reply::VALIDRCPTTO);
                        return Ok(());
                    }
                }
            }
        }
        if let Transaction::Mail { recipients, .. } = &mut self.tx {
            recipients.push(rcpt);
        }
        self.out(reply::OK);
        Ok(())
    }

    fn data(&mut self) -> Result<(), Exit> {
        match &self.tx {
            Transaction::Idle => {
                self.out(reply::WANT_MAIL);
                return Ok(());
            }
            // MAIL stays in force, as the original keeps `seenmail`.
            Transaction::Mail { recipients, .. } if recipients.is_empty() => {
                self.out(reply::WANT_RCPT);
                return Ok(());
            }
            Transaction::Mail { .. } => {}
        }
        let Transaction::Mail {
            sender, recipients, ..
        } = std::mem::take(&mut self.tx)
        else {
            return Ok(());
        };
        let mut qq = match Injection::open() {
            Ok(q) => q,
            Err(_) => {
                self.out(reply::QQT);
                return Ok(());
            }
        };
        let qp = qq.pid();
        self.out(reply::GO_AHEAD);
        let mut head = Vec::new();
        Received {
            remotehost: &self.env.remotehost,
            helo: self.fakehelo.then_some(&self.helo[..]),
            remoteinfo: self.env.remoteinfo.as_deref(),
            remoteip: &self.env.remoteip,
            local: &self.env.local,
            protocol: &self.protocol,
            when: now(),
        }
        .write(&mut head);
        qq.put(&head);
        let databytes = self.cfg.databytes;
        let mut stored: u64 = 0;
        let mut overflow = false;
        let mut dec = DataDecoder::default();
        let mut chunk = Vec::with_capacity(4096);
        let end = loop {
            let buf = match self.conn.buffered() {
                Ok(b) => b,
                // Dropping `qq` unclosed: qmail-queue sees no envelope and
                // queues nothing.
                Err(e) => return Err(self.die_read(e)),
            };
            chunk.clear();
            let (used, end) = dec.feed(buf, &mut chunk);
            self.conn.consume(used);
            if !overflow {
                stored += chunk.len() as u64;
                if databytes > 0 && stored > databytes {
                    overflow = true;
                    qq.fail();
                } else {
                    qq.put(&chunk);
                }
            }
            if let Some(end) = end {
                break end;
            }
        };
        if end == End::StrayNewline {
            return Err(self.die(reply::STRAY_NEWLINE));
        }
        let hops = dec.hops >= MAX_HOPS;
        if hops {
            qq.fail();
        }
        let env = Envelope { sender, recipients };
        match qq.close(&env) {
            Ok(()) => {
                let r = reply::accepted(now(), qp);
                self.out(&r);
            }
            Err(_) if hops => self.out(reply::HOPS),
            Err(_) if overflow => self.out(reply::SIZE),
            Err(e) => {
                let r = format!("{} {}\r\n", if e.permanent { 554 } else { 451 }, e.text);
                self.out(&r);
            }
        }
        Ok(())
    }
}
