//! Who may use the control endpoint: the token, read-only mode, and no requests from
//! other sites.
//!
//! - With a token (always off loopback), every request must carry it: header
//!   `X-Tether-Token`, `Authorization: Bearer …`, or — for reads only, so that the page's
//!   URL and `EventSource` work — `?token=`.
//! - Without one, the control endpoint is on loopback and accepts only a loopback `Host`
//!   (a page from elsewhere cannot reach it through DNS rebinding).
//! - Every request that acts (`POST`) must be JSON (`Content-Type: application/json`: a
//!   cross-site form cannot send that without a CORS preflight, which the hub never
//!   grants), and an `Origin`, when present, must be the control endpoint's own.
//! - Read-only mode refuses every request that acts.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// The header carrying the token.
pub const TOKEN_HEADER: &str = "x-tether-token";

/// The control endpoint's access rules.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    pub(crate) token: Option<String>,
    pub(crate) read_only: bool,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("missing or wrong token (X-Tether-Token header, or ?token= on a GET)")]
    Token,
    #[error("the control endpoint answers only to a loopback Host")]
    Host,
    #[error("cross-site request refused (Origin is not this control endpoint)")]
    Origin,
    #[error("requests that act must be JSON (Content-Type: application/json)")]
    NotJson,
    #[error("the hub is read-only")]
    ReadOnly,
}

impl Refused {
    fn status(self) -> StatusCode {
        match self {
            Refused::Token => StatusCode::UNAUTHORIZED,
            Refused::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refused::Host | Refused::Origin | Refused::ReadOnly => StatusCode::FORBIDDEN,
        }
    }
}

/// Paths anyone may read: the page's script holds no data.
fn public(path: &str) -> bool {
    path == "/dashboard.js"
}

/// Compares without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Access {
    /// Checks one request.
    pub(crate) fn check(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<(), Refused> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let reads = method == Method::GET || method == Method::HEAD;
        match &self.token {
            Some(token) if !(reads && public(path)) => {
                let given = header(TOKEN_HEADER)
                    .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")))
                    .or_else(|| if reads { query_token(query) } else { None });
                if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
                    return Err(Refused::Token);
                }
            }
            Some(_) => {}
            None => {
                if !header("host").is_some_and(loopback_host) {
                    return Err(Refused::Host);
                }
            }
        }
        if reads {
            return Ok(());
        }
        if let Some(origin) = header("origin") {
            let own = header("host").map(|h| format!("http://{h}"));
            if own.as_deref() != Some(origin) {
                return Err(Refused::Origin);
            }
        }
        let json = header(header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return Err(Refused::NotJson);
        }
        if self.read_only {
            return Err(Refused::ReadOnly);
        }
        Ok(())
    }
}

/// The middleware in front of every control route.
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let checked = access.check(
        request.method(),
        request.uri().path(),
        request.uri().query(),
        request.headers(),
    );
    match checked {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::warn!(path = %request.uri().path(), %refused, "control request refused");
            (
                refused.status(),
                Json(json!({"ok": false, "error": refused.to_string()})),
            )
                .into_response()
        }
    }
}

/// The token a control endpoint bound to `bound` requires: the one given, else a
/// generated one off loopback, else none.
pub(crate) fn required_token(given: Option<String>, bound: std::net::SocketAddr) -> Option<String> {
    given.or_else(|| (!bound.ip().is_loopback()).then(generate_token))
}

/// A fresh random token: 32 letters and digits from the OS's random source.
pub(crate) fn generate_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut raw = [0u8; 32];
    if getrandom::fill(&mut raw).is_err() {
        // No OS randomness: still unguessable enough for a local tool's session.
        raw.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    raw.iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn fault_requests_without_the_token_are_refused_off_loopback() {
        let access = Access {
            token: Some("s3cret".into()),
            read_only: false,
        };
        let json = ("content-type", "application/json");
        let host = ("host", "10.0.0.5:8790");
        assert_eq!(
            access.check(&Method::POST, "/fault", None, &headers(&[json, host])),
            Err(Refused::Token)
        );
        // The query string does not authorize a request that acts.
        assert_eq!(
            access.check(
                &Method::POST,
                "/fault",
                Some("token=s3cret"),
                &headers(&[json, host])
            ),
            Err(Refused::Token)
        );
        assert_eq!(
            access.check(
                &Method::POST,
                "/fault",
                None,
                &headers(&[json, host, (TOKEN_HEADER, "s3cret")])
            ),
            Ok(())
        );
        assert_eq!(
            access.check(
                &Method::GET,
                "/snapshot",
                Some("token=s3cret"),
                &headers(&[host])
            ),
            Ok(())
        );
        assert_eq!(
            access.check(&Method::GET, "/", None, &headers(&[host])),
            Err(Refused::Token)
        );
        assert_eq!(
            access.check(&Method::GET, "/dashboard.js", None, &headers(&[host])),
            Ok(())
        );
    }

    #[test]
    fn cross_site_fault_requests_are_refused() {
        let access = Access {
            token: None,
            read_only: false,
        };
        let host = ("host", "127.0.0.1:8790");
        // A form post from another page: not JSON.
        assert_eq!(
            access.check(
                &Method::POST,
                "/fault",
                None,
                &headers(&[host, ("content-type", "text/plain")])
            ),
            Err(Refused::NotJson)
        );
        assert_eq!(
            access.check(
                &Method::POST,
                "/fault",
                None,
                &headers(&[
                    host,
                    ("content-type", "application/json"),
                    ("origin", "http://evil.example")
                ])
            ),
            Err(Refused::Origin)
        );
        // DNS rebinding: the page's own name for the hub is not loopback.
        assert_eq!(
            access.check(
                &Method::GET,
                "/snapshot",
                None,
                &headers(&[("host", "evil.example:8790")])
            ),
            Err(Refused::Host)
        );
        assert_eq!(
            access.check(
                &Method::POST,
                "/fault",
                None,
                &headers(&[
                    host,
                    ("content-type", "application/json"),
                    ("origin", "http://127.0.0.1:8790")
                ])
            ),
            Ok(())
        );
        assert!(loopback_host("localhost:1") && loopback_host("[::1]:8790"));
    }

    #[test]
    fn read_only_mode_refuses_faults_but_serves_the_page() {
        let access = Access {
            token: None,
            read_only: true,
        };
        let h = headers(&[
            ("host", "127.0.0.1:1"),
            ("content-type", "application/json"),
        ]);
        assert_eq!(
            access.check(&Method::POST, "/fault", None, &h),
            Err(Refused::ReadOnly)
        );
        assert_eq!(access.check(&Method::GET, "/", None, &h), Ok(()));
    }

    #[test]
    fn off_loopback_a_token_is_generated_unless_one_is_given() {
        let lan: std::net::SocketAddr = "192.168.1.20:8790".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:8790".parse().unwrap();
        let any: std::net::SocketAddr = "0.0.0.0:8790".parse().unwrap();
        assert!(required_token(None, lan).is_some_and(|t| t.len() == 32));
        assert!(required_token(None, any).is_some());
        assert_eq!(required_token(None, local), None);
        assert_eq!(
            required_token(Some("mine".into()), lan).as_deref(),
            Some("mine")
        );
        assert_eq!(
            required_token(Some("mine".into()), local).as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn generated_tokens_differ_and_are_long() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
