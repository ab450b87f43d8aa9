//! TLS for the qmail side (Vermeulen qmail-tls 20231230 conventions;
//! `shared/spec/qmail/smtpd.md` §11), on rustls with the ring provider.
//!
//! * `control/servercert.pem`: certificate chain and private key in one
//!   PEM file.
//! * `control/tlsserverciphers` / `TLSCIPHERS`: an OpenSSL cipher string,
//!   mapped by [`ciphers`].
//!
//! * `control/clientca.pem`, `control/clientcrl.pem`, `control/tlsclients`:
//!   relaying by client certificate ([`client`]).
//!
//! TLS 1.2 and 1.3 are offered.

pub mod accept_any;
pub mod ciphers;
pub mod client;
pub mod stream;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why a server configuration could not be built; the `WHAT` of
/// `454 TLS WHAT: ERR (#4.3.0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    /// `missing certificate`
    MissingCertificate(Option<String>),
    /// `no valid RSA private key`
    NoValidKey(Option<String>),
    /// `unable to initialize ctx`
    Context(String),
}

impl SetupError {
    /// The `WHAT` text and the library's error text.
    pub fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            SetupError::MissingCertificate(e) => ("missing certificate", e.as_deref()),
            SetupError::NoValidKey(e) => ("no valid RSA private key", e.as_deref()),
            SetupError::Context(e) => ("unable to initialize ctx", Some(e)),
        }
    }
}

/// Certificates and key of a PEM file holding both.
pub fn load_cert_and_key(
    pem: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), SetupError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError::MissingCertificate(Some(e.to_string())))?;
    if certs.is_empty() {
        return Err(SetupError::MissingCertificate(Some(
            "no certificate in PEM file".into(),
        )));
    }
    let key = rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| SetupError::NoValidKey(Some(e.to_string())))?
        .ok_or_else(|| SetupError::NoValidKey(Some("no private key in PEM file".into())))?;
    Ok((certs, key))
}

/// Inputs for a server configuration.
pub struct ServerSettings<'a> {
    /// Contents of servercert.pem.
    pub servercert: &'a [u8],
    /// The OpenSSL cipher string in force (`DEFAULT` when none).
    pub ciphers: &'a str,
    /// Ask for a client certificate and record its verification.
    pub client_verifier: Option<Arc<client::RecordingVerifier>>,
}

/// Build the rustls configuration; also returns the cipher warnings.
pub fn server_config(
    s: &ServerSettings<'_>,
) -> Result<(Arc<ServerConfig>, Vec<String>), SetupError> {
    let (certs, key) = load_cert_and_key(s.servercert)?;
    let sel = ciphers::select(s.ciphers);
    let base = rustls::crypto::ring::default_provider();
    let provider = CryptoProvider {
        cipher_suites: sel.tls13.iter().chain(sel.tls12.iter()).copied().collect(),
        ..base
    };
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| SetupError::Context(e.to_string()))?;
    let builder = match &s.client_verifier {
        Some(v) => builder.with_client_cert_verifier(v.clone()),
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| SetupError::NoValidKey(Some(e.to_string())))?;
    Ok((Arc::new(config), sel.warnings))
}

/// Read a PEM file; `None` when it does not exist or cannot be read.
pub fn read_pem(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}
