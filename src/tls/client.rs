//! Relaying by client certificate (`tls_verify`;
//! `shared/spec/qmail/smtpd.md` §11.3): `control/clientca.pem`,
//! `control/clientcrl.pem`, `control/tlsclients`.
//!
//! The original asks for a certificate by renegotiating when a recipient
//! fails rcpthosts. rustls does not renegotiate, so the certificate is
//! requested (optionally) in the first handshake whenever tlsclients and
//! clientca.pem exist; the handshake never fails for it. Its verification
//! result is recorded here and consulted at RCPT time, as the original
//! consults `SSL_get_verify_result`.

use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// Wraps the webpki verifier, records its verdict, never fails the
/// handshake over the certificate itself.
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    result: Mutex<Option<Result<(), String>>>,
}

/// OpenSSL's `X509_verify_cert_error_string` for the common cases.
fn reason(e: &Error) -> String {
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not yet valid".into()
            }
            CertificateError::Revoked => "certificate revoked".into(),
            CertificateError::UnknownIssuer => "unable to get local issuer certificate".into(),
            CertificateError::BadSignature => "certificate signature failure".into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

impl RecordingVerifier {
    /// From the PEM contents of clientca.pem and (optionally) clientcrl.pem.
    /// `None` when no CA can be loaded (the original then does nothing).
    pub fn new(clientca: &[u8], clientcrl: Option<&[u8]>) -> Option<Arc<Self>> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut &clientca[..]).flatten() {
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            return None;
        }
        let crls: Vec<CertificateRevocationListDer<'static>> = clientcrl
            .map(|c| rustls_pemfile::crls(&mut &c[..]).flatten().collect())
            .unwrap_or_default();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls)
            .allow_unauthenticated()
            .build()
            .ok()?;
        Some(Arc::new(RecordingVerifier {
            inner,
            result: Mutex::new(None),
        }))
    }

    /// `None`: no certificate; `Some(Err(reason))`: it did not verify.
    pub fn result(&self) -> Option<Result<(), String>> {
        self.result.lock().ok().and_then(|r| r.clone())
    }
}

impl ClientCertVerifier for RecordingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let r = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
            .map(|_| ())
            .map_err(|e| reason(&e));
        if let Ok(mut slot) = self.result.lock() {
            *slot = Some(r);
        }
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One DER element: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&len0, mut b) = b.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let l = b[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        b = &b[n..];
        l
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// DER of the OID 1.2.840.113549.1.9.1 (pkcs9 emailAddress).
const EMAIL_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

/// The subject's emailAddress of a DER certificate, if any.
pub fn subject_email(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, certificate, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // version
    }
    for _ in 0..4 {
        // serial, signature, issuer, validity
        rest = tlv(rest)?.2;
    }
    let (_, subject, _) = tlv(rest)?;
    let mut rdns = subject;
    while let Some((_, set, more)) = tlv(rdns) {
        let mut atvs = set;
        while let Some((_, atv, next)) = tlv(atvs) {
            let (_, oid, val) = tlv(atv)?;
            if oid == EMAIL_OID {
                return Some(tlv(val)?.1.to_vec());
            }
            atvs = next;
        }
        rdns = more;
    }
    None
}
