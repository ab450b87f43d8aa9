//! STARTTLS and SMTPS (`smtp_tls`, `tls_init`;
//! `shared/spec/qmail/smtpd.md` §11.1).

use std::io::Write;

use crate::tls::{self, SetupError};

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
        let (config, warnings) = match tls::server_config(&tls::ServerSettings {
            servercert: &pem,
            ciphers: &ciphers,
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
