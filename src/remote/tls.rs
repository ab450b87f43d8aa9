//! The TLS patch's client side (`remote.md` §4), on rustls.
//!
//! Policy per server name (FQDN = MX or relay name; none for literals):
//! `control/tlshosts/FQDN.pem` → TLS required and verified against those
//! CAs and FQDN; else `control/tlshosts/exhaustivelist` or
//! `control/notlshosts/FQDN` → no TLS; else STARTTLS when advertised.
//! Like the original the handshake itself never fails on verification;
//! verification is checked afterwards, only when required, with the
//! original's texts. `control/tlsclientciphers` (OpenSSL syntax) has no
//! rustls equivalent and is not applied; rustls' safe defaults are used.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::tls::accept_any::AcceptAnyCert;

use super::conn::Conn;
use super::report::{outsafe, quit};
use super::session::{Final, Job, Session};
use super::x509;

/// TLS decisions for one server.
#[derive(Debug, Clone, Default)]
pub struct TlsPolicy {
    /// Server name, when known.
    pub fqdn: Option<String>,
    /// `control/tlshosts/FQDN.pem` (relative text, full path).
    pub required: Option<(String, PathBuf)>,
    /// exhaustivelist or notlshosts/FQDN.
    pub denied: bool,
    /// `control/clientcert.pem`.
    pub clientcert: Option<PathBuf>,
    /// Partner address, for the handshake when there is no name.
    pub ip: Option<IpAddr>,
}

impl TlsPolicy {
    /// Decide from the files under the qmail root `home`.
    pub fn decide(home: &Path, fqdn: Option<&str>, ip: IpAddr) -> Self {
        let mut p = TlsPolicy {
            fqdn: fqdn.map(str::to_string),
            ip: Some(ip),
            ..Self::default()
        };
        let cc = home.join("control/clientcert.pem");
        if cc.exists() {
            p.clientcert = Some(cc);
        }
        if let Some(f) = fqdn {
            let rel = format!("control/tlshosts/{f}.pem");
            let full = home.join(&rel);
            if std::fs::metadata(&full).is_ok() {
                p.required = Some((rel, full));
            } else if std::fs::metadata(home.join("control/tlshosts/exhaustivelist")).is_ok()
                || std::fs::metadata(home.join("control/notlshosts").join(f)).is_ok()
            {
                p.denied = true;
            }
        }
        p
    }

    /// TLS may be attempted at all.
    pub fn wants_tls(&self) -> bool {
        !self.denied
    }
}

/// The text for an I/O error inside TLS (`ssl_error_str`).
pub fn error_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::BrokenPipe => "broken pipe".into(),
        _ => e.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &bytes[..])
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate or crl found".into());
    }
    Ok(certs)
}

fn client_config(policy: &TlsPolicy) -> Result<ClientConfig, rustls::Error> {
    let p = provider();
    let builder = || -> Result<_, rustls::Error> {
        Ok(ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(p.clone()))))
    };
    // Like the original, a client certificate that does not load is skipped.
    if let Some(bytes) = policy
        .clientcert
        .as_ref()
        .and_then(|cc| std::fs::read(cc).ok())
    {
        let chain: Vec<_> = rustls_pemfile::certs(&mut &bytes[..])
            .filter_map(Result::ok)
            .collect();
        if let Ok(Some(key)) = rustls_pemfile::private_key(&mut &bytes[..]) {
            if !chain.is_empty() {
                if let Ok(c) = builder()?.with_client_auth_cert(chain, key) {
                    return Ok(c);
                }
            }
        }
    }
    Ok(builder()?.with_no_client_auth())
}

/// OpenSSL's `X509_verify_cert_error_string` for a chain failure.
fn verify_error_text(e: &rustls::Error, self_issued: bool) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "certificate has expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not yet valid",
            C::UnknownIssuer if self_issued => "self-signed certificate",
            C::UnknownIssuer => "unable to get local issuer certificate",
            C::BadSignature => "certificate signature failure",
            C::Revoked => "certificate revoked",
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "unsupported certificate purpose"
            }
            _ => "certificate verify failed",
        },
        _ => "certificate verify failed",
    }
}

/// Check the chain against the CA file; `Err(text)` on failure.
fn verify_chain(
    cas: &[CertificateDer<'static>],
    chain: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<(), &'static str> {
    let leaf = &chain[0];
    let names = x509::names(leaf);
    let secs = now.as_secs() as i64;
    if cas.iter().any(|c| c.as_ref() == leaf.as_ref()) {
        // Directly trusted (a pinned self-signed certificate).
        if names.not_after.is_some_and(|t| secs > t) {
            return Err("certificate has expired");
        }
        if names.not_before.is_some_and(|t| secs < t) {
            return Err("certificate is not yet valid");
        }
        return Ok(());
    }
    let mut roots = RootCertStore::empty();
    for c in cas {
        let _ = roots.add(c.clone());
    }
    let p = provider();
    let parsed = rustls::server::ParsedCertificate::try_from(leaf)
        .map_err(|e| verify_error_text(&e, names.self_issued))?;
    rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        &roots,
        &chain[1..],
        now,
        p.signature_verification_algorithms.all,
    )
    .map_err(|e| verify_error_text(&e, names.self_issued))?;
    Ok(())
}

/// `TLS_QUIT`: report `head`, then `; connecting to IP.` (before the
/// handshake) or `; connected to IP.` (after).
fn tls_quit(s: &mut Session<'_>, head: Vec<u8>, connected: bool) -> Final {
    let prepend: &[u8] = if connected {
        b"; connected to "
    } else {
        b"; connecting to "
    };
    s.quit_with([head, prepend.to_vec()].concat(), "")
}

/// `tls_init()`: STARTTLS (or the SMTPS handshake) as the policy says.
/// `Ok(true)` when the session is now inside TLS.
pub fn negotiate(s: &mut Session<'_>, job: &Job<'_>) -> Result<bool, Final> {
    let policy = &job.tls;
    if policy.denied {
        return Ok(false);
    }
    let required = policy.required.clone();
    let must = job.smtps || required.is_some();
    if !job.smtps
        && !s
            .ehlo_kw
            .iter()
            .any(|k| k.eq_ignore_ascii_case(b"STARTTLS"))
    {
        let Some((rel, _)) = required else {
            return Ok(false);
        };
        s.text.clear();
        return Err(tls_quit(
            s,
            format!("ZNo TLS achieved while {rel} exists").into_bytes(),
            false,
        ));
    }
    let config = match client_config(policy) {
        Ok(c) => Arc::new(c),
        Err(_) if !must => return Ok(false),
        Err(e) => {
            s.text.clear();
            return Err(tls_quit(
                s,
                format!("ZTLS error initializing ctx: {e}").into_bytes(),
                false,
            ));
        }
    };
    let cas = match &required {
        Some((rel, full)) => match load_certs(full) {
            Ok(c) => c,
            Err(e) => {
                s.text.clear();
                return Err(tls_quit(
                    s,
                    format!("ZTLS unable to load {rel}: {e}").into_bytes(),
                    false,
                ));
            }
        },
        None => Vec::new(),
    };
    if !job.smtps {
        s.command(&[b"STARTTLS"])?;
        if s.smtpcode()? != 220 {
            let Some((rel, _)) = required else {
                return Ok(false);
            };
            return Err(tls_quit(
                s,
                format!("ZSTARTTLS rejected while {rel} exists").into_bytes(),
                false,
            ));
        }
        s.text.clear();
    }
    s.discard_input();
    let name: ServerName<'static> = policy
        .fqdn
        .as_deref()
        .and_then(|f| ServerName::try_from(f.to_string()).ok())
        .or_else(|| policy.ip.map(ServerName::from))
        .unwrap_or_else(|| ServerName::from(IpAddr::from([0u8, 0, 0, 0])));
    let Some(mut sock) = s.conn.take_plain() else {
        return Err(s.dropped());
    };
    let mut conn = match ClientConnection::new(config, name) {
        Ok(c) => c,
        Err(_) if !must => {
            s.conn = Conn::Plain(sock);
            return Ok(false);
        }
        Err(e) => {
            s.conn = Conn::Plain(sock);
            s.text.clear();
            return Err(tls_quit(
                s,
                format!("ZTLS error initializing ssl: {e}").into_bytes(),
                false,
            ));
        }
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            s.can_quit = false;
            s.conn = Conn::Plain(sock);
            s.text.clear();
            return Err(tls_quit(
                s,
                format!("ZTLS connect failed: {}", error_text(&e)).into_bytes(),
                true,
            ));
        }
    }
    s.conn = Conn::Tls(Box::new(StreamOwned::new(conn, sock)));
    if let Some((rel, _)) = &required {
        let fqdn = policy.fqdn.clone().unwrap_or_default();
        let chain: Vec<CertificateDer<'static>> = s
            .conn
            .tls()
            .and_then(|c| c.peer_certificates())
            .map(|c| c.iter().map(|x| x.clone().into_owned()).collect())
            .unwrap_or_default();
        if chain.is_empty() {
            let h = format!("ZTLS unable to verify server {fqdn}: no certificate provided");
            return Err(tls_quit(s, h.into_bytes(), true));
        }
        if let Err(e) = verify_chain(&cas, &chain, UnixTime::now()) {
            let h = format!("ZTLS unable to verify server with {rel}: {e}");
            return Err(tls_quit(s, h.into_bytes(), true));
        }
        let names = x509::names(&chain[0]);
        let f = fqdn.as_bytes();
        if names.dns_names.is_empty() {
            match names.common_name.filter(|c| !c.is_empty()) {
                None => {
                    let h = format!("ZTLS unable to verify server {fqdn}: certificate contains no valid commonName");
                    return Err(tls_quit(s, h.into_bytes(), true));
                }
                Some(cn) if !x509::match_partner(f, &cn) => {
                    let mut h =
                        format!("ZTLS unable to verify server {fqdn}: received certificate for ")
                            .into_bytes();
                    h.extend_from_slice(&outsafe(&cn));
                    return Err(tls_quit(s, h, true));
                }
                Some(_) => {}
            }
        } else if !names.dns_names.iter().any(|n| x509::match_partner(f, n)) {
            let h = format!(
                "ZTLS unable to verify server {fqdn}: certificate contains no matching dNSNnames"
            );
            return Err(tls_quit(s, h.into_bytes(), true));
        }
    }
    if job.smtps && s.smtpcode()? != 220 {
        return Err(s.quit(quit::TLS_GREETING));
    }
    Ok(true)
}
