//! STARTTLS and SMTPS (`smtp_tls`, `tls_init`;
//! `shared/spec/qmail/smtpd.md` §11.1).

use std::io::Write;

use crate::control::Control;
use crate::tls::client::{subject_email, RecordingVerifier};
use crate::tls::{self, SetupError};

use super::policy::ConstMap;

use super::reply;
use super::session::{Exit, Session};

impl Session {
    pub(super) fn starttls(&mut self, arg: &[u8]) -> Result<(), Exit> {
        if self.conn.is_tls() {
            self.out(reply::UNIMPL);
        } else if !arg.is_empty() {
            self.out(reply::TLS_PARAMS);
        } else {
            self.tls_init()?;
        }
        Ok(())
    }

    /// A set-up failure: `454 TLS WHAT[: ERR] (#4.3.0)`; fatal under SMTPS.
    fn tls_setup_failed(&mut self, e: &SetupError) -> Result<(), Exit> {
        let (what, err) = e.parts();
        let r = reply::tls(what, err);
        self.out(&r);
        let _ = self.conn.flush();
        if self.env.smtps {
            return Err(Exit(1));
        }
        Ok(())
    }

    /// Set up TLS and run the handshake on the raw connection.
    pub(super) fn tls_init(&mut self) -> Result<(), Exit> {
        let pem = match std::fs::read(self.cfg.servercert()) {
            Ok(p) => p,
            Err(e) => {
                return self.tls_setup_failed(&SetupError::MissingCertificate(Some(e.to_string())))
            }
        };
        let ciphers = match self.cfg.ciphers(&self.env) {
            Ok(c) => c,
            Err(_) => return Err(self.die(reply::CONTROL)),
        };
        let dir = self.cfg.control_dir.clone();
        self.cert_verifier = if dir.join("tlsclients").exists() {
            std::fs::read(dir.join("clientca.pem")).ok().and_then(|ca| {
                let crl = std::fs::read(dir.join("clientcrl.pem")).ok();
                RecordingVerifier::new(&ca, crl.as_deref())
            })
        } else {
            None
        };
        let (config, warnings) = match tls::server_config(&tls::ServerSettings {
            servercert: &pem,
            ciphers: &ciphers,
            client_verifier: self.cert_verifier.clone(),
        }) {
            Ok(x) => x,
            Err(e) => return self.tls_setup_failed(&e),
        };
        for w in warnings {
            let _ = writeln!(
                self.hooks.log,
                "qmail-smtpd: warning: tlsserverciphers: {w}"
            );
        }
        if !self.env.smtps {
            self.out(reply::TLS_READY);
            if self.conn.flush().is_err() {
                return Err(Exit(1));
            }
        }
        if let Err(e) = self.conn.start_tls(config) {
            let r = reply::tls("connection failed", Some(&e));
            return Err(self.die(&r));
        }
        let cipher = self.conn.cipher().unwrap_or("UNKNOWN");
        self.protocol = format!("ESMTPS ({cipher} encrypted)").into_bytes();
        let host = self.env.remotehost.clone();
        self.dohelo(&host);
        Ok(())
    }
}

impl Session {
    /// `tls_verify`: may a client certificate make this connection a relay
    /// client? Checked once per connection, when rcpthosts refuses inside
    /// TLS. On success RELAYCLIENT becomes empty and the Received
    /// protocol gets `(cert EMAIL)`; otherwise the reason is kept for the
    /// 553 text.
    pub(super) fn tls_verify(&mut self) -> Result<bool, Exit> {
        if !self.conn.is_tls() || self.env.relayclient.is_some() || self.cert_checked {
            return Ok(false);
        }
        self.cert_checked = true;
        let Ok(c) = Control::at(&self.cfg.control_dir) else {
            return Err(self.die(reply::CONTROL));
        };
        let clients = match c.read_list("tlsclients", false) {
            Ok(Some(l)) => ConstMap::new(&l),
            Ok(None) => return Ok(false),
            Err(_) => return Err(self.die(reply::CONTROL)),
        };
        let Some(v) = self.cert_verifier.clone() else {
            return Ok(false);
        };
        match v.result() {
            None => return Ok(false),
            Some(Err(reason)) => {
                self.cert_reason = Some(reason);
                return Ok(false);
            }
            Some(Ok(())) => {}
        }
        let email = self
            .conn
            .peer_certificates()
            .and_then(|c| c.first().and_then(|der| subject_email(der)));
        match email {
            None => self.cert_reason = Some("contains no email address".into()),
            Some(e) if !clients.contains(&e) => {
                self.cert_reason = Some("email address not in my list of tlsclients".into())
            }
            Some(e) => {
                self.protocol.extend_from_slice(b"\n  (cert ");
                self.protocol.extend_from_slice(&e);
                self.protocol.push(b')');
                self.env.relayclient = Some(Vec::new());
                (self.hooks.export)("RELAYCLIENT", b"");
                return Ok(true);
            }
        }
        Ok(false)
    }
}
