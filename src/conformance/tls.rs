//! The replayer's TLS client: it talks to a test server whose certificate
//! is self-signed, so it verifies signatures but not the chain or name.

use std::io;
use std::sync::Arc;

use crate::tls::accept_any::AcceptAnyCert;

/// A client configuration that trusts any server certificate.
pub fn any_cert_config() -> io::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
