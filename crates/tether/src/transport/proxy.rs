//! Proxies under every transport: `http://` (HTTP CONNECT, basic auth from the URL) and
//! `socks5://` / `socks5h://` (RFC 1928, username/password RFC 1929; `socks5h` lets the
//! proxy resolve the host), for `ws://`, `wss://`, `tcp://` and `tls://` alike (TLS and
//! the WebSocket upgrade run through the tunnel).
//!
//! Unless configured ([`ProxySetting`]), the proxy comes from the environment as curl and
//! Python take it: `https_proxy` / `HTTPS_PROXY` for `wss://` and `tls://`, `http_proxy` /
//! `HTTP_PROXY` for `ws://` and `tcp://`, then `all_proxy` / `ALL_PROXY`; hosts listed in
//! `no_proxy` / `NO_PROXY` (`*`, names, domain suffixes such as `.example.com`, addresses)
//! are reached directly. Proxy credentials are secrets: a proxy prints as
//! `http://user:<redacted>@host:port`.
//!
//! A 407 or refused SOCKS5 credentials are fatal ([`ConnectionError::ProxyAuth`]); an
//! unreachable proxy is a network error, retried like any other.

use base64::Engine;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::Scheme;
use crate::{error::ConnectionError, secret::Secret};

/// The kinds of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP CONNECT.
    Http,
    /// SOCKS5, the host resolved locally.
    Socks5,
    /// SOCKS5, the host name sent to the proxy to resolve.
    Socks5h,
}

/// Where a client's proxy comes from ([`ClientConfig::proxy`](crate::ClientConfig)).
#[derive(Debug, Clone, Default)]
pub enum ProxySetting {
    /// From the environment variables (the default; see the [module](self) docs).
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    Off,
    /// This proxy URL (a secret: it may carry credentials).
    Url(Secret),
}

/// A parsed proxy URL.
#[derive(Clone)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<Secret>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy({self})")
    }
}

impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}:<redacted>@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Proxy {
    /// Parses `http://[user:password@]host[:port]` (port 80 by default),
    /// `socks5://…` or `socks5h://…` (port 1080 by default); a URL without a scheme is
    /// taken as `http://`, as curl does.
    ///
    /// ```
    /// let p = tether::transport::Proxy::parse("socks5h://me:p%40ss@proxy.example:1081").unwrap();
    /// assert_eq!(p.to_string(), "socks5h://me:<redacted>@proxy.example:1081");
    /// assert!(tether::transport::Proxy::parse("ftp://x").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ConnectionError::InvalidUrl`] (with the credentials left out) for another scheme,
    /// no host or a bad port.
    pub fn parse(url: &str) -> Result<Self, ConnectionError> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "http" => ProxyKind::Http,
            "socks5" => ProxyKind::Socks5,
            "socks5h" => ProxyKind::Socks5h,
            other => {
                return Err(ConnectionError::InvalidUrl(format!(
                    "proxy scheme {other:?} (use http://, socks5:// or socks5h://)"
                )));
            }
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                (
                    Some(percent_decode(user)),
                    Some(Secret::new(percent_decode(pass))),
                )
            }
            None => (None, None),
        };
        let default_port = if kind == ProxyKind::Http { 80 } else { 1080 };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| ConnectionError::InvalidUrl("proxy: unclosed [".into()))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(ConnectionError::InvalidUrl("proxy URL has no host".into()));
        }
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p
                .parse()
                .map_err(|_| ConnectionError::InvalidUrl(format!("proxy port {p:?}")))?,
        };
        Ok(Self {
            kind,
            host: host.to_owned(),
            port,
            user,
            password,
        })
    }

    /// The kind of proxy.
    #[must_use]
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's password, if the URL had credentials (to redact it).
    #[must_use]
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// Opens a TCP connection to `host:port` through the proxy.
    ///
    /// # Errors
    /// [`ConnectionError::Io`] when the proxy cannot be reached (retryable),
    /// [`ConnectionError::ProxyAuth`] when it refuses the credentials (fatal),
    /// [`ConnectionError::Proxy`] when it cannot open the tunnel (retryable).
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, ConnectionError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let tunnel = match self.kind {
            ProxyKind::Http => self.http_connect(tcp, host, port).await?,
            ProxyKind::Socks5 | ProxyKind::Socks5h => self.socks5(tcp, host, port).await?,
        };
        tracing::debug!(proxy = %self, %host, port, "tunnel open");
        Ok(tunnel)
    }

    async fn http_connect(
        &self,
        mut tcp: TcpStream,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, ConnectionError> {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(user) = &self.user {
            let password = self.password.as_ref().map_or("", Secret::expose);
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {credentials}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await?;
        // Byte by byte: what follows the head belongs to the tunnel (a server that speaks
        // first, such as HPX's greeting, may follow in the same segment).
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err(ConnectionError::Proxy(format!(
                    "{self}: response head over 16 KiB"
                )));
            }
            let byte = tcp.read_u8().await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    ConnectionError::Proxy(format!("{self} closed the connection during CONNECT"))
                } else {
                    ConnectionError::from(e)
                }
            })?;
            head.push(byte);
        }
        let status_line = String::from_utf8_lossy(&head);
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok());
        match status {
            Some(200..=299) => Ok(tcp),
            Some(407) => Err(ConnectionError::ProxyAuth(format!(
                "{self} answered CONNECT {target} with HTTP 407 (proxy authentication required{})",
                if self.user.is_some() {
                    ": credentials refused"
                } else {
                    "; the proxy URL has no credentials"
                }
            ))),
            Some(other) => Err(ConnectionError::Proxy(format!(
                "{self} answered CONNECT {target} with HTTP {other}"
            ))),
            None => Err(ConnectionError::Proxy(format!(
                "{self} sent no HTTP status to CONNECT {target}"
            ))),
        }
    }

    async fn socks5(
        &self,
        tcp: TcpStream,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, ConnectionError> {
        use tokio_socks::{Error as E, TargetAddr, tcp::Socks5Stream};
        let target: TargetAddr<'_> = match self.kind {
            ProxyKind::Socks5h => match host.parse::<std::net::IpAddr>() {
                Ok(ip) => TargetAddr::Ip((ip, port).into()),
                Err(_) => TargetAddr::Domain(host.into(), port),
            },
            _ => TargetAddr::Ip(
                tokio::net::lookup_host((host, port))
                    .await?
                    .next()
                    .ok_or_else(|| {
                        ConnectionError::from(std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("cannot resolve {host}"),
                        ))
                    })?,
            ),
        };
        let result = match &self.user {
            Some(user) => {
                let password = self.password.as_ref().map_or("", Secret::expose);
                Socks5Stream::connect_with_password_and_socket(tcp, target, user, password).await
            }
            None => Socks5Stream::connect_with_socket(tcp, target).await,
        };
        result.map(Socks5Stream::into_inner).map_err(|e| match e {
            E::Io(io) => ConnectionError::from(io),
            E::PasswordAuthFailure(_) | E::InvalidAuthValues(_) => {
                ConnectionError::ProxyAuth(format!("{self} refused the username and password"))
            }
            E::NoAcceptableAuthMethods | E::AuthorizationRequired => {
                ConnectionError::ProxyAuth(format!(
                    "{self} accepted none of the offered authentication methods{}",
                    if self.user.is_some() {
                        ""
                    } else {
                        " (the proxy URL has no credentials)"
                    }
                ))
            }
            other => ConnectionError::Proxy(format!("{self} to {host}:{port}: {other}")),
        })
    }
}

/// Whether `no_proxy` (comma-separated: `*`, host names, domain suffixes with or without
/// a leading dot, addresses, each optionally with `:port`) exempts `host`.
fn exempt(no_proxy: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            let entry = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
                    h.to_owned()
                }
                _ => entry,
            };
            let entry = entry.trim_start_matches('.').trim_start_matches("*.");
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

/// The proxy URL the environment gives for a connection to `host` over `scheme`, looked
/// up with `var` (see the [module](self) docs for the order).
///
/// ```
/// use tether::transport::{Scheme, proxy_from_env};
/// let env = |name: &str| match name {
///     "HTTPS_PROXY" => Some("http://proxy:3128".to_owned()),
///     "NO_PROXY" => Some("localhost,.internal".to_owned()),
///     _ => None,
/// };
/// assert_eq!(proxy_from_env(Scheme::Wss, "example.com", env).as_deref(), Some("http://proxy:3128"));
/// assert_eq!(proxy_from_env(Scheme::Wss, "db.internal", env), None);
/// assert_eq!(proxy_from_env(Scheme::Ws, "example.com", env), None);
/// ```
pub fn proxy_from_env(
    scheme: Scheme,
    host: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let get = |name: &str| {
        var(&name.to_ascii_lowercase())
            .or_else(|| var(&name.to_ascii_uppercase()))
            .filter(|v| !v.trim().is_empty())
    };
    if get("no_proxy").is_some_and(|list| exempt(&list, host)) {
        return None;
    }
    let specific = match scheme {
        Scheme::Wss | Scheme::Tls => "https_proxy",
        Scheme::Ws | Scheme::Tcp => "http_proxy",
    };
    get(specific).or_else(|| get("all_proxy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_with_default_ports_and_redacted_credentials() {
        let p = Proxy::parse("http://proxy:3128").unwrap();
        assert_eq!((p.kind(), p.port), (ProxyKind::Http, 3128));
        assert_eq!(Proxy::parse("socks5://h").unwrap().port, 1080);
        assert_eq!(Proxy::parse("proxy.example").unwrap().port, 80);
        let p = Proxy::parse("http://u%3Ax:s3cr3t@[::1]:8080/").unwrap();
        assert_eq!(p.host, "::1");
        assert_eq!(p.user.as_deref(), Some("u:x"));
        assert_eq!(p.password().unwrap().expose(), "s3cr3t");
        assert!(!format!("{p:?} {p}").contains("s3cr3t"));
        for bad in ["ftp://h", "http://", "http://h:port", "socks4://h"] {
            let e = Proxy::parse(bad).unwrap_err();
            assert!(matches!(e, ConnectionError::InvalidUrl(_)), "{bad}");
        }
        let e = Proxy::parse("gopher://user:s3cr3t@h").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
    }

    #[test]
    fn the_environment_picks_the_proxy_by_scheme_and_no_proxy_exempts_hosts() {
        let env = |name: &str| match name {
            "http_proxy" => Some("http://lower:1".to_owned()),
            "HTTP_PROXY" => Some("http://upper:1".to_owned()),
            "ALL_PROXY" => Some("socks5h://all:1080".to_owned()),
            "no_proxy" => Some("localhost, .corp.example,10.0.0.1:8080".to_owned()),
            _ => None,
        };
        assert_eq!(
            proxy_from_env(Scheme::Ws, "a.example", env).as_deref(),
            Some("http://lower:1")
        );
        assert_eq!(
            proxy_from_env(Scheme::Tcp, "a.example", env).as_deref(),
            Some("http://lower:1")
        );
        assert_eq!(
            proxy_from_env(Scheme::Wss, "a.example", env).as_deref(),
            Some("socks5h://all:1080")
        );
        assert_eq!(
            proxy_from_env(Scheme::Tls, "a.example", env).as_deref(),
            Some("socks5h://all:1080")
        );
        for direct in ["localhost", "x.corp.example", "corp.example", "10.0.0.1"] {
            assert_eq!(proxy_from_env(Scheme::Ws, direct, env), None, "{direct}");
        }
        assert!(exempt("*", "anything"));
        assert!(!exempt("example.com", "badexample.com"));
    }
}
