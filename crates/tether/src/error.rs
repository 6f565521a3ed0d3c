//! Errors a caller can act on. Every error that concerns a message carries the message.

use std::{io, sync::Arc, time::Duration};

use crate::outgoing::Outgoing;

/// Whether an error is worth reconnecting over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: the engine reconnects with backoff.
    Retryable,
    /// Permanent (bad token, refused login, bad URL, untrusted certificate): the client
    /// stops and reports `Closed { fatal: true }`.
    Fatal,
}

/// The error behind a TLS or handshake failure, kept for [`std::error::Error::source`].
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a connection attempt failed or an established connection ended.
///
/// Cheap to clone (sources are shared), so it can ride on events and states.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// A socket error (refused, reset, broken pipe…).
    #[error("network error: {0}")]
    Io(#[source] Arc<io::Error>),
    /// The connect (TCP + TLS + upgrade) did not finish within the connect timeout.
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The URL cannot be used (scheme, host, port).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// TLS setup or verification failed (an untrusted certificate, a bad CA file).
    #[error("TLS error: {detail}")]
    Tls {
        /// What failed, for people.
        detail: String,
        /// The TLS library's or the file system's error, when there is one.
        #[source]
        source: Option<ErrorSource>,
    },
    /// The server answered the WebSocket upgrade with this HTTP status instead of 101.
    #[error("server refused the WebSocket upgrade with HTTP status {0}")]
    UpgradeRefused(u16),
    /// The WebSocket (or platform) handshake failed for another reason.
    #[error("WebSocket handshake failed: {detail}")]
    Handshake {
        /// What failed, for people.
        detail: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<ErrorSource>,
    },
    /// The peer violated the protocol; tether failed the connection with this close code
    /// (1002 protocol error, 1007 invalid payload such as bad UTF-8, 1009 too big).
    #[error("connection failed with close code {code}: {detail}")]
    ProtocolViolation {
        /// The RFC 6455 close code tether sent.
        code: u16,
        /// What was wrong.
        detail: String,
    },
    /// The peer closed the connection with a close frame.
    #[error("closed by peer (code {}, reason {reason:?})", code.map_or("none".to_string(), |c| c.to_string()))]
    ClosedByPeer {
        /// The close code, if the frame had one.
        code: Option<u16>,
        /// The close reason (scrubbed of secrets).
        reason: String,
    },
    /// The stream ended without a close frame.
    #[error("connection ended without a close frame")]
    Eof,
    /// Nothing arrived (not even a pong) for longer than heartbeat + dead_after.
    #[error("peer silent for {0:?}: connection presumed dead")]
    DeadPeer(Duration),
    /// The platform refused the login or the credentials.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The platform reported a fatal condition.
    #[error("platform error: {0}")]
    Platform(String),
    /// The proxy refused the credentials (HTTP 407, SOCKS5 authentication refused or no
    /// acceptable method): fatal, the same credentials would be refused again.
    #[error("proxy refused the credentials: {0}")]
    ProxyAuth(String),
    /// The proxy could not open the tunnel (an HTTP status other than 200, a SOCKS5
    /// failure reply): retryable. An unreachable proxy is an [`ConnectionError::Io`].
    #[error("proxy could not connect: {0}")]
    Proxy(String),
    /// The client asked for a fresh connection ([`Client::reconnect`](crate::Client::reconnect)).
    #[error("reconnect requested by the client")]
    ReconnectRequested,
}

impl From<io::Error> for ConnectionError {
    fn from(e: io::Error) -> Self {
        ConnectionError::Io(Arc::new(e))
    }
}

/// Errors compare by variant and text (sources such as `io::Error` have no equality).
impl PartialEq for ConnectionError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Eq for ConnectionError {}

impl ConnectionError {
    /// A TLS error with the error that caused it.
    pub fn tls(
        detail: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConnectionError::Tls {
            detail: detail.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// A TLS error without an underlying error.
    pub fn tls_detail(detail: impl Into<String>) -> Self {
        ConnectionError::Tls {
            detail: detail.into(),
            source: None,
        }
    }

    /// A handshake error with the error that caused it.
    pub fn handshake(
        detail: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConnectionError::Handshake {
            detail: detail.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// A handshake error without an underlying error.
    pub fn handshake_detail(detail: impl Into<String>) -> Self {
        ConnectionError::Handshake {
            detail: detail.into(),
            source: None,
        }
    }

    /// The default classification; a platform may override it for close codes
    /// (see [`crate::Protocol::classify_close`]).
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        match self {
            ConnectionError::Io(_)
            | ConnectionError::ConnectTimeout(_)
            | ConnectionError::Handshake { .. }
            | ConnectionError::ProtocolViolation { .. }
            | ConnectionError::Eof
            | ConnectionError::DeadPeer(_)
            | ConnectionError::Proxy(_)
            | ConnectionError::ReconnectRequested => Disposition::Retryable,
            ConnectionError::InvalidUrl(_)
            | ConnectionError::Tls { .. }
            | ConnectionError::LoginRefused(_)
            | ConnectionError::ProxyAuth(_)
            | ConnectionError::Platform(_) => Disposition::Fatal,
            ConnectionError::UpgradeRefused(status) => match status {
                401 | 403 => Disposition::Fatal,
                _ => Disposition::Retryable,
            },
            ConnectionError::ClosedByPeer { code, .. } => default_close_disposition(*code),
        }
    }

    /// The close code, when the peer closed with one or tether failed the connection
    /// with one.
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ConnectionError::ClosedByPeer { code, .. } => *code,
            ConnectionError::ProtocolViolation { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The same error with every text it carries passed through `scrub` (secrets out).
    #[must_use]
    pub(crate) fn scrubbed(self, scrub: impl Fn(String) -> String) -> Self {
        match self {
            ConnectionError::InvalidUrl(t) => ConnectionError::InvalidUrl(scrub(t)),
            ConnectionError::Tls { detail, source } => ConnectionError::Tls {
                detail: scrub(detail),
                source,
            },
            ConnectionError::Handshake { detail, source } => ConnectionError::Handshake {
                detail: scrub(detail),
                source,
            },
            ConnectionError::ProtocolViolation { code, detail } => {
                ConnectionError::ProtocolViolation {
                    code,
                    detail: scrub(detail),
                }
            }
            ConnectionError::ClosedByPeer { code, reason } => ConnectionError::ClosedByPeer {
                code,
                reason: scrub(reason),
            },
            ConnectionError::LoginRefused(t) => ConnectionError::LoginRefused(scrub(t)),
            ConnectionError::Platform(t) => ConnectionError::Platform(scrub(t)),
            ConnectionError::ProxyAuth(t) => ConnectionError::ProxyAuth(scrub(t)),
            ConnectionError::Proxy(t) => ConnectionError::Proxy(scrub(t)),
            other => other,
        }
    }
}

/// The default reading of a close code: 1008 (policy violation), 4001 (token refused,
/// as the hub and several platforms use it), 4003 (forbidden) and 4004 (authentication
/// failed) are fatal; every other code, and a close without one (1000, 1001, 1006, 1011,
/// 1012, 1013, other 4xxx…), is retryable.
#[must_use]
pub fn default_close_disposition(code: Option<u16>) -> Disposition {
    match code {
        Some(1008 | 4001 | 4003 | 4004) => Disposition::Fatal,
        _ => Disposition::Retryable,
    }
}

/// Why a client stopped for good: what [`State::Closed`](crate::State::Closed) carries.
///
/// `Display` gives the text the CLI prints (`closed by client`, `… (reconnect disabled)`,
/// `gave up after N attempts: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`Client::close`](crate::Client::close) was called (or a requested close
    /// completed).
    #[error("closed by client")]
    Requested,
    /// A fatal error stopped the client (token refused, untrusted certificate, bad URL…).
    #[error("{0}")]
    Fatal(ConnectionError),
    /// The connection was lost and reconnecting is disabled.
    #[error("{0} (reconnect disabled)")]
    ReconnectDisabled(ConnectionError),
    /// The backoff's attempt limit was reached.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Reconnect attempts made.
        attempts: u32,
        /// The error of the last one.
        last: ConnectionError,
    },
    /// The client's actor is gone (its runtime shut down).
    #[error("client gone")]
    Gone,
}

impl CloseReason {
    /// Whether an error (not a requested close) stopped the client.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(self, CloseReason::Fatal(_) | CloseReason::GaveUp { .. })
    }

    /// The connection error behind the stop, if one was.
    #[must_use]
    pub fn error(&self) -> Option<&ConnectionError> {
        match self {
            CloseReason::Fatal(e)
            | CloseReason::ReconnectDisabled(e)
            | CloseReason::GaveUp { last: e, .. } => Some(e),
            CloseReason::Requested | CloseReason::Gone => None,
        }
    }
}

/// What is known of a message handed back undelivered: whether it may have reached the
/// peer. This decides whether sending it again is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transmission {
    /// Never written on any connection: sending it again cannot duplicate it.
    NotSent,
    /// Written (on this connection or an earlier one) and not acknowledged: it may have
    /// arrived, and sending it again may duplicate it.
    Unconfirmed,
    /// It reached the peer, which refused it ([`SendError::Rejected`]).
    Refused,
}

impl Transmission {
    /// Whether the peer may have received the message.
    #[must_use]
    pub fn may_have_arrived(self) -> bool {
        !matches!(self, Transmission::NotSent)
    }

    /// The words `Display` of an error adds for it.
    fn suffix(self) -> &'static str {
        match self {
            Transmission::NotSent | Transmission::Refused => "",
            Transmission::Unconfirmed => " (it was written and may have arrived)",
        }
    }
}

/// Why a message handed to `send` was not delivered. Every variant carries the message,
/// and [`SendError::transmission`] says whether it may have reached the peer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The outbox is at capacity and the policy is `Reject`. Not sent.
    #[error("outbox full: message rejected")]
    Full(Outgoing),
    /// The client is closing or closed before the message was delivered.
    #[error("client closed before the message was delivered{}", transmission.suffix())]
    Closed {
        /// The message.
        message: Outgoing,
        /// Whether it may have arrived.
        transmission: Transmission,
    },
    /// The client stopped on a fatal error before the message was delivered.
    #[error("client stopped on a fatal error before the message was delivered: {reason}{}", transmission.suffix())]
    Fatal {
        /// The message.
        message: Outgoing,
        /// What stopped the client (shared by every message it handed back).
        reason: Arc<CloseReason>,
        /// Whether it may have arrived.
        transmission: Transmission,
    },
    /// The message's deadline passed before it was delivered.
    #[error("deadline passed before the message was delivered{}", transmission.suffix())]
    DeadlineExceeded {
        /// The message.
        message: Outgoing,
        /// Whether it may have arrived.
        transmission: Transmission,
    },
    /// Dropped to make room under the `DropOldest` policy (also reported in a `dropped`
    /// event). Queued messages are dropped first; a written one only when none is queued.
    #[error("dropped from a full outbox (drop-oldest policy){}", transmission.suffix())]
    Dropped {
        /// The message.
        message: Outgoing,
        /// Whether it may have arrived.
        transmission: Transmission,
    },
    /// The peer acknowledged the message negatively: it arrived and was refused.
    #[error("peer rejected the message: {reason}")]
    Rejected {
        /// The message.
        message: Outgoing,
        /// The peer's reason.
        reason: String,
    },
    /// The message is larger than the configured maximum message size. Not sent.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The message.
        message: Outgoing,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why [`Client::send_all`](crate::Client::send_all) stopped before queuing every
/// message. Nothing is lost: the messages queued before the refusal stay queued (follow
/// them with `receipt`), the refused one is in `error`, and every later one is in `rest`.
#[derive(Debug, thiserror::Error)]
#[error("batch stopped after {queued} queued message(s): {error}")]
pub struct SendAllError {
    /// How many messages were queued before the refusal.
    pub queued: usize,
    /// The receipt of the queued messages.
    pub receipt: crate::BatchReceipt,
    /// The refusal, carrying the refused message.
    pub error: SendError,
    /// The messages after the refused one, not queued, in order.
    pub rest: Vec<Outgoing>,
}

impl SendError {
    /// The message that was not delivered.
    #[must_use]
    pub fn message(&self) -> &Outgoing {
        match self {
            SendError::Full(m)
            | SendError::Closed { message: m, .. }
            | SendError::DeadlineExceeded { message: m, .. }
            | SendError::Dropped { message: m, .. }
            | SendError::Fatal { message: m, .. }
            | SendError::Rejected { message: m, .. }
            | SendError::TooLarge { message: m, .. } => m,
        }
    }

    /// Takes the message back.
    #[must_use]
    pub fn into_message(self) -> Outgoing {
        match self {
            SendError::Full(m)
            | SendError::Closed { message: m, .. }
            | SendError::DeadlineExceeded { message: m, .. }
            | SendError::Dropped { message: m, .. }
            | SendError::Fatal { message: m, .. }
            | SendError::Rejected { message: m, .. }
            | SendError::TooLarge { message: m, .. } => m,
        }
    }

    /// Whether the message may have reached the peer: [`Transmission::NotSent`] means
    /// sending it again is safe.
    #[must_use]
    pub fn transmission(&self) -> Transmission {
        match self {
            SendError::Full(_) | SendError::TooLarge { .. } => Transmission::NotSent,
            SendError::Rejected { .. } => Transmission::Refused,
            SendError::Closed { transmission, .. }
            | SendError::Fatal { transmission, .. }
            | SendError::DeadlineExceeded { transmission, .. }
            | SendError::Dropped { transmission, .. } => *transmission,
        }
    }

    /// A short machine-readable name of the variant (`full`, `closed`, `deadline`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            SendError::Full(_) => "full",
            SendError::Closed { .. } => "closed",
            SendError::Fatal { .. } => "fatal",
            SendError::DeadlineExceeded { .. } => "deadline",
            SendError::Dropped { .. } => "dropped",
            SendError::Rejected { .. } => "rejected",
            SendError::TooLarge { .. } => "too_large",
        }
    }
}

/// Why `request` did not produce a reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The request has no correlation key, so no reply could ever be matched to it.
    #[error("request has no correlation key; nothing could match a reply")]
    NoCorrelation(Outgoing),
    /// No reply came before the timeout; the request is withdrawn from the outbox and
    /// handed back. `transmission` says whether it had been written (it may have arrived
    /// and a late reply may still come on the event stream) or not.
    #[error("no reply within {timeout:?}{}", transmission.suffix())]
    Timeout {
        /// The request.
        message: Outgoing,
        /// The timeout that passed.
        timeout: Duration,
        /// Whether it may have arrived.
        transmission: Transmission,
    },
    /// The request was never delivered.
    #[error(transparent)]
    Send(#[from] SendError),
}

impl RequestError {
    /// Whether the request may have reached the peer.
    #[must_use]
    pub fn transmission(&self) -> Transmission {
        match self {
            RequestError::NoCorrelation(_) => Transmission::NotSent,
            RequestError::Timeout { transmission, .. } => *transmission,
            RequestError::Send(e) => e.transmission(),
        }
    }

    /// Takes the request back.
    #[must_use]
    pub fn into_message(self) -> Outgoing {
        match self {
            RequestError::NoCorrelation(m) | RequestError::Timeout { message: m, .. } => m,
            RequestError::Send(e) => e.into_message(),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_classified() {
        for code in [1000, 1001, 1006, 1011, 1012] {
            assert_eq!(
                default_close_disposition(Some(code)),
                Disposition::Retryable
            );
        }
        assert_eq!(default_close_disposition(Some(4001)), Disposition::Fatal);
        assert_eq!(default_close_disposition(None), Disposition::Retryable);
    }

    #[test]
    fn auth_refusals_are_fatal_and_network_errors_retryable() {
        assert_eq!(
            ConnectionError::UpgradeRefused(401).disposition(),
            Disposition::Fatal
        );
        assert_eq!(
            ConnectionError::UpgradeRefused(503).disposition(),
            Disposition::Retryable
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ConnectionError::from(refused).disposition(),
            Disposition::Retryable
        );
        assert_eq!(
            ConnectionError::tls_detail("bad cert").disposition(),
            Disposition::Fatal
        );
    }
}
