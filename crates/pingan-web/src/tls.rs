//! HTTPS served by Pingan itself, for an office without a TLS proxy: a certificate chain and its
//! private key, PEM files, read at start. HTTP/1.1 only, as the server speaks.

use std::path::Path;
use std::sync::Arc;

use pingan_app::AppError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use tokio_rustls::TlsAcceptor;

/// The acceptor for the certificate chain in `certificate` and the private key in `key`.
pub fn acceptor(certificate: &Path, key: &Path) -> Result<TlsAcceptor, AppError> {
    let bad = |file: &Path, reason: String| AppError::BadFile { file: file.display().to_string(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| bad(certificate, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(certificate, "no certificate in it (PEM, BEGIN CERTIFICATE)".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(certificate, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(certificate, format!("the certificate and the key do not go together: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
