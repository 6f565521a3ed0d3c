//! Game-server discovery: `GET {api_root}spaces/{space_id}/game-server-assignment` with the
//! `apiKey` header answers the engine's WebSocket URL as a JSON string.

use std::{path::Path, sync::Arc, time::Duration};

use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::{
    config::ClientConfig,
    error::ConnectionError,
    secret::Secret,
    transport::{Connect, ConnectFuture, Endpoint, UrlConnector},
};

/// The real API root the SDK uses.
pub const DEFAULT_API_ROOT: &str = "https://api.gather.town/api/v2/";

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The API refused the API key (401 or 403): fatal.
    #[error("the Gather API refused the API key (HTTP {0})")]
    Refused(u16),
    /// The API answered another error status (5xx and 429 are worth retrying).
    #[error("the Gather API answered HTTP {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// The request failed (network, TLS, timeout).
    #[error("cannot reach the Gather API: {0}")]
    Http(String),
    /// The answer is not a JSON string holding a ws:// or wss:// URL.
    #[error("unexpected game-server assignment: {0}")]
    InvalidResponse(String),
    /// The API root is not an http(s) URL, or TLS cannot be set up.
    #[error("invalid Gather API setup: {0}")]
    Setup(String),
}

impl From<DiscoveryError> for ConnectionError {
    fn from(e: DiscoveryError) -> Self {
        match e {
            DiscoveryError::Refused(_) => ConnectionError::LoginRefused(e.to_string()),
            DiscoveryError::Status { status } if status >= 500 || status == 429 => {
                ConnectionError::handshake(e.to_string(), e)
            }
            DiscoveryError::Status { .. } | DiscoveryError::Setup(_) => {
                ConnectionError::Platform(e.to_string())
            }
            DiscoveryError::Http(_) | DiscoveryError::InvalidResponse(_) => {
                ConnectionError::handshake(e.to_string(), e)
            }
        }
    }
}

/// The assignment URL of a space (the space id with `/` → `\`, percent-encoded).
///
/// ```
/// use tether::gather::discovery::assignment_url;
/// assert_eq!(
///     assignment_url("http://127.0.0.1:8776/api/v2/", "AbCdEf/My Space"),
///     "http://127.0.0.1:8776/api/v2/spaces/AbCdEf%5CMy%20Space/game-server-assignment"
/// );
/// ```
#[must_use]
pub fn assignment_url(api_root: &str, space_id: &str) -> String {
    let mut url = api_root.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str("spaces/");
    for b in super::model::space_id(space_id).bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("/game-server-assignment");
    url
}

/// An HTTP client for the API: rustls with the webpki roots (plus `ca_file`).
///
/// # Errors
/// [`DiscoveryError::Setup`] when the CA file cannot be read.
pub fn http_client(
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<reqwest::Client, DiscoveryError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| DiscoveryError::Setup(format!("CA file {}: {e}", path.display())))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| DiscoveryError::Setup(format!("CA file {}: {e}", path.display())))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DiscoveryError::Setup(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .build()
        .map_err(|e| DiscoveryError::Setup(e.to_string()))
}

/// Asks the API which engine serves `space_id`; returns its WebSocket URL.
///
/// # Errors
/// [`DiscoveryError`]: refused key (fatal), HTTP status, network, or an unexpected body.
pub async fn game_server_assignment(
    http: &reqwest::Client,
    api_root: &str,
    space_id: &str,
    api_key: &Secret,
) -> Result<String, DiscoveryError> {
    let url = assignment_url(api_root, space_id);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(DiscoveryError::Setup(format!(
            "API root {api_root:?} is not an http:// or https:// URL"
        )));
    }
    let response = http
        .get(&url)
        .header("apiKey", api_key.expose())
        .send()
        .await
        .map_err(|e| DiscoveryError::Http(api_key.scrub(&e.to_string())))?;
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(DiscoveryError::Refused(status));
    }
    if !response.status().is_success() {
        return Err(DiscoveryError::Status { status });
    }
    let body = response
        .text()
        .await
        .map_err(|e| DiscoveryError::Http(e.to_string()))?;
    let engine: String = serde_json::from_str(&body).map_err(|_| {
        let excerpt: String = api_key.scrub(&body).chars().take(120).collect();
        DiscoveryError::InvalidResponse(format!("expected a JSON string, got {excerpt:?}"))
    })?;
    if !(engine.starts_with("ws://") || engine.starts_with("wss://")) {
        return Err(DiscoveryError::InvalidResponse(format!(
            "{engine:?} is not a ws:// or wss:// URL"
        )));
    }
    tracing::debug!(%engine, "gather: game server assigned");
    Ok(engine)
}

/// Connects by asking the API for the engine before every attempt (a space may move to
/// another game server between connections).
pub(crate) struct DiscoveryConnector {
    pub(crate) http: reqwest::Client,
    pub(crate) api_root: String,
    pub(crate) space_id: String,
    pub(crate) api_key: Secret,
    pub(crate) config: ClientConfig,
}

impl Connect for DiscoveryConnector {
    fn connect(&mut self) -> ConnectFuture {
        let http = self.http.clone();
        let api_root = self.api_root.clone();
        let space_id = self.space_id.clone();
        let api_key = self.api_key.clone();
        let config = self.config.clone();
        Box::pin(async move {
            let url = game_server_assignment(&http, &api_root, &space_id, &api_key).await?;
            let endpoint = Endpoint::parse(&url)?;
            UrlConnector::new(endpoint, config, None)?.connect().await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_fatal_and_server_errors_retryable() {
        use crate::Disposition;
        let d = |e: DiscoveryError| ConnectionError::from(e).disposition();
        assert_eq!(d(DiscoveryError::Refused(401)), Disposition::Fatal);
        assert_eq!(
            d(DiscoveryError::Status { status: 404 }),
            Disposition::Fatal
        );
        assert_eq!(
            d(DiscoveryError::Status { status: 503 }),
            Disposition::Retryable
        );
        assert_eq!(
            d(DiscoveryError::Http("reset".into())),
            Disposition::Retryable
        );
    }

    #[test]
    fn the_api_root_may_omit_its_trailing_slash() {
        assert_eq!(
            assignment_url("http://h/api/v2", "s"),
            "http://h/api/v2/spaces/s/game-server-assignment"
        );
    }
}
