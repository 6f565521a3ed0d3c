//! rustls client configuration: webpki roots, plus a CA file's roots and DER roots when
//! given.
//! Verification is always on; there is no "insecure" switch.

use std::{path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::error::ConnectionError;

/// A TLS connector trusting the webpki roots and, if given, the certificates in `ca_file`.
///
/// # Errors
/// [`ConnectionError::Tls`] when the file cannot be read or holds no certificate.
pub fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector, ConnectionError> {
    tls_connector_with(ca_file, &[])
}

/// [`tls_connector`], trusting the DER certificates `ca_certs` too.
///
/// # Errors
/// As [`tls_connector`], and when one of `ca_certs` is not a usable certificate.
pub fn tls_connector_with(
    ca_file: Option<&Path>,
    ca_certs: &[Vec<u8>],
) -> Result<TlsConnector, ConnectionError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| {
                ConnectionError::tls(format!("cannot read CA file {}: {e}", path.display()), e)
            })?
            .collect::<Result<_, _>>()
            .map_err(|e| {
                ConnectionError::tls(format!("bad PEM in CA file {}: {e}", path.display()), e)
            })?;
        if certs.is_empty() {
            return Err(ConnectionError::tls_detail(format!(
                "CA file {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                ConnectionError::tls(format!("bad certificate in {}: {e}", path.display()), e)
            })?;
        }
    }
    for (i, der) in ca_certs.iter().enumerate() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| ConnectionError::tls(format!("bad CA certificate #{i}: {e}"), e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectionError::tls(e.to_string(), e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Runs the TLS handshake for `host` over `stream`.
pub(crate) async fn wrap<S>(
    connector: &TlsConnector,
    host: &str,
    stream: S,
) -> Result<TlsStream<S>, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| ConnectionError::InvalidUrl(format!("{host}: {e}")))?;
    connector.connect(name, stream).await.map_err(|e| {
        // rustls reports verification failures as InvalidData io errors.
        if e.kind() == std::io::ErrorKind::InvalidData {
            ConnectionError::tls(
                format!("certificate of {host} not trusted or handshake failed: {e}"),
                e,
            )
        } else {
            ConnectionError::from(e)
        }
    })
}
