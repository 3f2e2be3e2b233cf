//! TLS to the server, as the URL's `sslmode` asks, with libpq's meanings. `disable`: never;
//! `prefer` (the default): when the server offers it; `require`: always. These three do not check
//! the server's certificate, as libpq's do not: they keep the line from being read, not a server
//! from posing as the real one. `verify-ca`: always, with a certificate from a trusted root;
//! `verify-full`: that, and issued for the host the URL names. The trusted roots are those of
//! `sslrootcert=FILE` (PEM; given with `require`, it is checked as `verify-ca`), else the web's.

use std::str::FromStr;
use std::sync::Arc;

use pingan_store::{StoreError, StoreResult};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What is checked of the server's certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Issuer,
    IssuerAndHost,
}

/// The connection `url` describes, and the TLS it asks for.
pub(crate) fn connection(url: &str) -> StoreResult<(tokio_postgres::Config, MakeRustlsConnect)> {
    let refused = |why: String| StoreError::UnsupportedUrl(format!("{url}: {why}"));
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root_file) = (String::from("prefer"), None);
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sslmode" => mode = value.into_owned(),
            "sslrootcert" => root_file = Some(value.into_owned()),
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    let (ssl_mode, check) = match mode.as_str() {
        "disable" => (SslMode::Disable, Check::Nothing),
        "prefer" => (SslMode::Prefer, Check::Nothing),
        "require" if root_file.is_some() => (SslMode::Require, Check::Issuer),
        "require" => (SslMode::Require, Check::Nothing),
        "verify-ca" => (SslMode::Require, Check::Issuer),
        "verify-full" => (SslMode::Require, Check::IssuerAndHost),
        other => {
            return Err(refused(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    let rest = rest.finish();
    let plain_url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{rest}") };
    let mut config = tokio_postgres::Config::from_str(&plain_url).map_err(|e| refused(e.to_string()))?;
    config.ssl_mode(ssl_mode);
    let roots = trusted_roots(root_file.as_deref()).map_err(refused)?;
    Ok((config, MakeRustlsConnect::new(client_config(check, roots).map_err(|e| refused(e.to_string()))?)))
}

fn trusted_roots(file: Option<&str>) -> Result<RootCertStore, String> {
    let Some(file) = file else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(file).map_err(|e| format!("sslrootcert {file}: {e}"))? {
        let certificate = certificate.map_err(|e| format!("sslrootcert {file}: {e}"))?;
        roots.add(certificate).map_err(|e| format!("sslrootcert {file}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {file} holds no certificate"));
    }
    Ok(roots)
}

fn client_config(check: Check, roots: RootCertStore) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let issuer = || {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::General(e.to_string()))
    };
    let config = match check {
        Check::IssuerAndHost => builder.with_webpki_verifier(issuer()?),
        Check::Issuer => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ShortOfHost { issuer: Some(issuer()?), provider })),
        Check::Nothing => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(ShortOfHost { issuer: None, provider }))
        }
    };
    Ok(config.with_no_client_auth())
}

/// Checks the certificate's issuer when there is one to check against, never the host it was
/// issued for (`verify-full` is rustls's own verifier); in every mode, that the server holds the
/// certificate's key.
#[derive(Debug)]
struct ShortOfHost {
    issuer: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ShortOfHost {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(issuer) = &self.issuer else { return Ok(ServerCertVerified::assertion()) };
        // The host is checked after the issuer: a wrong host means the issuer held.
        match issuer.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            checked => checked,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_beyond_libpqs_are_refused_and_pingans_options_are_taken_out() {
        let error = connection("postgres://u@127.0.0.1/db?sslmode=allow").err().expect("refused");
        assert!(error.to_string().contains("not one of disable, prefer, require"), "{error}");
        let error =
            connection("postgres://u@127.0.0.1/db?sslmode=verify-ca&sslrootcert=/no/such/file").err().expect("refused");
        assert!(error.to_string().contains("sslrootcert /no/such/file"), "{error}");
        let (config, _) = connection("postgres://u@127.0.0.1/db?application_name=pingan&sslmode=verify-full").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_application_name(), Some("pingan"));
        let (config, _) = connection("postgres://u@127.0.0.1/db").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer);
    }
}
