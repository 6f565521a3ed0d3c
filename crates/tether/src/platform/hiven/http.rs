//! The REST part the Swarm needs: `GET /users/@me` and posting a room message, on
//! reqwest with rustls.

use std::{fmt, sync::Arc, time::Duration};

pub use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::secret::Secret;

use super::model::{Message, User};

/// Longest message text the client sends (the hub refuses longer ones too).
pub const MAX_CONTENT_CHARS: usize = 4000;

/// Why a REST call failed. Never shows the token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The call was refused before anything was sent (empty text, a bad room id).
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// The request did not get a response (refused, reset, timeout). Retryable.
    #[error("network error: {0}")]
    Network(String),
    /// The API answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The response body (secrets scrubbed).
        body: String,
    },
    /// The response is not what the API documents.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl HttpError {
    /// Whether trying again later may work (network errors, 408, 429 and 5xx).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Network(_) => true,
            HttpError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            HttpError::InvalidInput(_) | HttpError::Decode(_) => false,
        }
    }

    /// Whether the API refused the token (401 or 403): fatal for this client.
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            HttpError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// A REST request as it would be sent: the dry run of every HTTP builder. The
/// `Authorization` header (the raw token) is added when it is sent and never shown.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)?;
        if let Some(body) = &self.body {
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

/// The Hiven REST client: base URL (default `https://api.hiven.io/v1`), the raw token in
/// `Authorization` (no `Bot` prefix, as both Python clients send it). Cheap to clone.
#[derive(Clone)]
pub struct HivenHttp {
    client: reqwest::Client,
    base: Arc<str>,
    token: Secret,
}

impl fmt::Debug for HivenHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HivenHttp")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl HivenHttp {
    /// A client for the API at `base` (e.g. `http://127.0.0.1:8781/v1`).
    ///
    /// # Errors
    /// [`HttpError::InvalidInput`] for a base URL that is not http(s), or a CA file that
    /// cannot be read.
    pub fn new(
        base: &str,
        token: Secret,
        timeout: Duration,
        connect_timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, HttpError> {
        let base = base.trim_end_matches('/');
        let parsed: http::Uri = base
            .parse()
            .map_err(|e| HttpError::InvalidInput(format!("API URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(HttpError::InvalidInput(format!(
                "API URL {base:?} must be http:// or https:// with a host"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("tether/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| HttpError::InvalidInput(format!("CA file {}: {e}", path.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| HttpError::InvalidInput(format!("CA file {}: {e}", path.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base: Arc::from(base),
            token,
        })
    }

    /// The API base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The dry run of [`HivenHttp::me`].
    #[must_use]
    pub fn build_me(&self) -> HttpRequest {
        HttpRequest {
            method: Method::GET,
            url: format!("{}/users/@me", self.base),
            body: None,
        }
    }

    /// `GET /users/@me`: the account behind the token.
    ///
    /// # Errors
    /// [`HttpError`]; 401 means the token is refused.
    pub async fn me(&self) -> Result<User, HttpError> {
        self.call(self.build_me()).await
    }

    /// The dry run of [`HivenHttp::send_message`]: the exact request it would send.
    ///
    /// ```
    /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use tether::{Secret, hiven::HivenHttp};
    /// let http = HivenHttp::new("http://127.0.0.1:8781/v1", Secret::new("t"),
    ///     Duration::from_secs(5), Duration::from_secs(5), None)?;
    /// let req = http.build_send_message("1001", "hello")?;
    /// assert_eq!(req.to_string(), r#"POST http://127.0.0.1:8781/v1/rooms/1001/messages {"content":"hello"}"#);
    /// assert!(http.build_send_message("1001", "  ").is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`HttpError::InvalidInput`] for empty or too long text, or a room id that is not
    /// ASCII letters and digits.
    pub fn build_send_message(
        &self,
        room_id: &str,
        content: &str,
    ) -> Result<HttpRequest, HttpError> {
        if room_id.is_empty() || !room_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(HttpError::InvalidInput(format!(
                "room id {room_id:?} must be ASCII letters and digits"
            )));
        }
        if content.trim().is_empty() {
            return Err(HttpError::InvalidInput("message text is empty".into()));
        }
        let chars = content.chars().count();
        if chars > MAX_CONTENT_CHARS {
            return Err(HttpError::InvalidInput(format!(
                "message text has {chars} characters; at most {MAX_CONTENT_CHARS}"
            )));
        }
        Ok(HttpRequest {
            method: Method::POST,
            url: format!("{}/rooms/{room_id}/messages", self.base),
            body: Some(json!({ "content": content })),
        })
    }

    /// `POST /rooms/{room_id}/messages` with `{"content": text}`; returns the message the
    /// API created (the Swarm also sends it as `MESSAGE_CREATE`).
    ///
    /// # Errors
    /// [`HttpError`]: invalid input (nothing sent), network, status or decode.
    pub async fn send_message(&self, room_id: &str, content: &str) -> Result<Message, HttpError> {
        let request = self.build_send_message(room_id, content)?;
        self.call(request).await
    }

    /// Sends a request built by one of the `build_*` dry runs (or by hand) and returns
    /// the `data` of the API's `{"success": true, "data": …}` answer.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn call<T: DeserializeOwned>(&self, request: HttpRequest) -> Result<T, HttpError> {
        tracing::debug!(method = %request.method, url = %request.url, "hiven http");
        let mut builder = self
            .client
            .request(request.method, &request.url)
            .header(reqwest::header::AUTHORIZATION, self.token.expose());
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| HttpError::Network(self.token.scrub(&e.to_string())))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| HttpError::Network(self.token.scrub(&e.to_string())))?;
        if !status.is_success() {
            return Err(HttpError::Status {
                status: status.as_u16(),
                body: self.token.scrub(&text),
            });
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| HttpError::Decode(e.to_string()))?;
        if value.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(HttpError::Decode(format!(
                "success: false: {}",
                self.token.scrub(&value.to_string())
            )));
        }
        let data = value.get("data").cloned().unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|e| HttpError::Decode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(base: &str) -> Result<HivenHttp, HttpError> {
        HivenHttp::new(
            base,
            Secret::new("sekrit"),
            Duration::from_secs(1),
            Duration::from_secs(1),
            None,
        )
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert!(http("ftp://x/v1").is_err());
        assert!(http("not a url").is_err());
        let h = http("http://127.0.0.1:9/v1/").unwrap();
        assert_eq!(h.base_url(), "http://127.0.0.1:9/v1");
        assert_eq!(
            h.build_me().to_string(),
            "GET http://127.0.0.1:9/v1/users/@me"
        );
        assert!(!format!("{h:?}").contains("sekrit"));
    }

    #[test]
    fn send_message_refuses_what_it_cannot_send() {
        let h = http("http://127.0.0.1:9/v1").unwrap();
        for (room, text) in [
            ("", "x"),
            ("1/../2", "x"),
            ("1 2", "x"),
            ("1", ""),
            ("1", " \n"),
        ] {
            assert!(
                matches!(
                    h.build_send_message(room, text),
                    Err(HttpError::InvalidInput(_))
                ),
                "{room:?} {text:?}"
            );
        }
        let long = "x".repeat(MAX_CONTENT_CHARS + 1);
        assert!(h.build_send_message("1", &long).is_err());
        let req = h.build_send_message("42", "héllo \"you\"").unwrap();
        assert_eq!(req.body, Some(json!({"content": "héllo \"you\""})));
    }

    #[tokio::test]
    async fn a_network_error_is_retryable_and_never_shows_the_token() {
        // Port 9 (discard) on localhost: refused.
        let h = http("http://127.0.0.1:9/v1").unwrap();
        let err = h.send_message("1", "hi").await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert!(!err.to_string().contains("sekrit"));
        assert!(
            HttpError::Status {
                status: 401,
                body: String::new()
            }
            .is_unauthorized()
        );
    }
}
