//! Client configuration: timeouts, heartbeat, backoff, outbox, limits, credentials.

use std::{path::PathBuf, time::Duration};

use crate::{
    secret::Secret,
    transport::{ProxySetting, deflate::Compression},
};

/// What `send` does when the outbox is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// `send` waits until there is room.
    #[default]
    Backpressure,
    /// `send` fails at once with [`crate::SendError::Full`], which carries the message.
    Reject,
    /// The oldest queued message is dropped to make room; the `dropped` event carries it.
    DropOldest,
}

/// Reconnect delays: exponential backoff with full jitter.
///
/// The delay before attempt `n` (from 1) is uniform in `[0, min(cap, base · 2ⁿ⁻¹)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// The first delay's upper bound.
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
    /// Give up after this many consecutive failed attempts (`None`: never).
    pub max_attempts: Option<u32>,
    /// Seed for the jitter (tests); `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_attempts: None,
            seed: None,
        }
    }
}

/// Everything the engine needs to know besides the platform and where to connect.
///
/// Built with chained setters from [`ClientConfig::default`]:
/// ```
/// use std::time::Duration;
/// use tether::{ClientConfig, Policy};
/// let config = ClientConfig::default()
///     .heartbeat(Duration::from_secs(5))
///     .dead_after(Duration::from_secs(3))
///     .outbox(100, Policy::Reject)
///     .token("secret-token");
/// assert_eq!(config.outbox_capacity, 100);
/// assert!(!format!("{config:?}").contains("secret-token"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// TCP + TLS + upgrade must finish within this.
    pub connect_timeout: Duration,
    /// A close handshake that takes longer is cut short.
    pub close_timeout: Duration,
    /// Interval of WebSocket pings (sent whatever the platform's app heartbeat does).
    pub heartbeat: Duration,
    /// A connection with no inbound traffic (pongs count) for `heartbeat + dead_after`
    /// is presumed dead and re-established. On transports without pings (TCP), the
    /// silence counts only while a message awaits its acknowledgement (a server that
    /// stops answering requests).
    pub dead_after: Duration,
    /// Reconnect backoff.
    pub backoff: BackoffConfig,
    /// Whether to reconnect at all after a retryable failure.
    pub reconnect: bool,
    /// Maximum messages held (queued and sent-but-unacknowledged).
    pub outbox_capacity: usize,
    /// What happens when the outbox is full.
    pub policy: Policy,
    /// Largest message accepted from the peer (and sent); bigger inbound frames fail the
    /// connection with 1009.
    pub max_message_size: usize,
    /// Capacity of the event stream; when the consumer lags this far behind, reading
    /// from the socket pauses (TCP flow control), nothing is dropped.
    pub event_capacity: usize,
    /// Default timeout of [`crate::Client::request`].
    pub request_timeout: Duration,
    /// Bearer token, sent as `Authorization: Bearer …` on WebSocket upgrades, and offered
    /// to the platform for its login. Redacted everywhere.
    pub token: Option<Secret>,
    /// Extra HTTP headers for the WebSocket upgrade (values are treated as secrets).
    pub headers: Vec<(String, Secret)>,
    /// Extra trusted roots (PEM) for `wss://` and `tls://`, added to the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// More extra trusted roots, as DER certificates (say, what Python's
    /// `SSLContext.get_ca_certs(binary_form=True)` gives), added the same way.
    pub ca_certs: Vec<Vec<u8>>,
    /// TCP keepalive on TCP transports (also under WebSocket).
    pub tcp_keepalive: Option<Duration>,
    /// More secrets to keep out of logs, errors and events, never sent by the engine
    /// itself (a platform's login credentials, such as an API key in a login frame).
    pub redact: Vec<Secret>,
    /// permessage-deflate (RFC 7692) on WebSocket connections: offered by default,
    /// messages of at least [`Compression::threshold`] bytes (default 1 KiB) compressed
    /// when the server accepts. Statistics report the wire bytes next to the payload bytes.
    pub compression: Compression,
    /// The proxy every transport connects through: from `HTTPS_PROXY`, `HTTP_PROXY`,
    /// `ALL_PROXY` and `NO_PROXY` (either case) by default, see [`crate::transport::Proxy`].
    pub proxy: ProxySetting,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_secs(15),
            dead_after: Duration::from_secs(10),
            backoff: BackoffConfig::default(),
            reconnect: true,
            outbox_capacity: 1024,
            policy: Policy::Backpressure,
            max_message_size: 16 * 1024 * 1024,
            event_capacity: 1024,
            request_timeout: Duration::from_secs(30),
            token: None,
            headers: Vec::new(),
            ca_file: None,
            ca_certs: Vec::new(),
            tcp_keepalive: Some(Duration::from_secs(30)),
            redact: Vec::new(),
            compression: Compression::default(),
            proxy: ProxySetting::FromEnv,
        }
    }
}

impl ClientConfig {
    /// Sets the WebSocket ping interval.
    #[must_use]
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Sets how long past a heartbeat silence is tolerated.
    #[must_use]
    pub fn dead_after(mut self, after: Duration) -> Self {
        self.dead_after = after;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the close-handshake timeout.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets the outbox capacity and full-outbox policy.
    #[must_use]
    pub fn outbox(mut self, capacity: usize, policy: Policy) -> Self {
        self.outbox_capacity = capacity;
        self.policy = policy;
        self
    }

    /// Sets the reconnect backoff.
    #[must_use]
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Turns reconnecting off (the first failure closes the client).
    #[must_use]
    pub fn no_reconnect(mut self) -> Self {
        self.reconnect = false;
        self
    }

    /// Sets the largest message size.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets the bearer token.
    #[must_use]
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Adds an HTTP header to the WebSocket upgrade.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Keeps this secret out of logs, errors and events (scrubbed wherever text from the
    /// peer or an error may echo it); the engine never sends it. For a secret a platform
    /// puts in its own login message (a token, an API key).
    #[must_use]
    pub fn redact(mut self, secret: impl Into<Secret>) -> Self {
        self.redact.push(secret.into());
        self
    }

    /// Trusts the certificates in this PEM file (in addition to the webpki roots).
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Trusts this DER certificate too (in addition to the webpki roots and `ca_file`).
    #[must_use]
    pub fn ca_cert_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.ca_certs.push(der.into());
        self
    }

    /// Sets the default request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets whether and above which size messages are compressed
    /// ([`Compression::off`], [`Compression::on`]).
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Connects through this proxy (`http://[user:password@]host:port`, `socks5://…`,
    /// `socks5h://…`) whatever the environment says; the URL is a secret.
    #[must_use]
    pub fn proxy(mut self, url: impl Into<Secret>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects directly, whatever the environment's proxy variables say.
    #[must_use]
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// Sets the event stream capacity.
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), crate::error::ConfigError> {
        use crate::error::ConfigError;
        if self.outbox_capacity == 0 {
            return Err(ConfigError("outbox capacity must be at least 1".into()));
        }
        if self.event_capacity == 0 {
            return Err(ConfigError("event capacity must be at least 1".into()));
        }
        if self.heartbeat.is_zero() {
            return Err(ConfigError("heartbeat must be greater than zero".into()));
        }
        if self.backoff.cap < self.backoff.base {
            return Err(ConfigError("backoff cap must be at least the base".into()));
        }
        if self.max_message_size == 0 {
            return Err(ConfigError("max message size must be at least 1".into()));
        }
        Ok(())
    }
}
