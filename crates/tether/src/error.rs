//! Errors a caller can act on. Every error that concerns a message carries the message.

use std::{io, time::Duration};

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

/// Why a connection attempt failed or an established connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// A socket error (refused, reset, broken pipe…).
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    /// The connect (TCP + TLS + upgrade) did not finish within the connect timeout.
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The URL cannot be used (scheme, host, port).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// TLS setup or verification failed (an untrusted certificate, a bad CA file).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server answered the WebSocket upgrade with this HTTP status instead of 101.
    #[error("server refused the WebSocket upgrade with HTTP status {0}")]
    UpgradeRefused(u16),
    /// The WebSocket handshake failed for another reason.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
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
}

impl ConnectionError {
    /// The default classification; a platform may override it for close codes
    /// (see [`crate::Protocol::classify_close`]).
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        match self {
            ConnectionError::Io(_)
            | ConnectionError::ConnectTimeout(_)
            | ConnectionError::Handshake(_)
            | ConnectionError::ProtocolViolation { .. }
            | ConnectionError::Eof
            | ConnectionError::DeadPeer(_) => Disposition::Retryable,
            ConnectionError::InvalidUrl(_)
            | ConnectionError::Tls(_)
            | ConnectionError::LoginRefused(_)
            | ConnectionError::Platform(_) => Disposition::Fatal,
            ConnectionError::UpgradeRefused(status) => match status {
                401 | 403 => Disposition::Fatal,
                _ => Disposition::Retryable,
            },
            ConnectionError::ClosedByPeer { code, .. } => default_close_disposition(*code),
        }
    }
}

/// The default reading of a close code: 4001 (token refused, as the hub and several
/// platforms use it), 1008 (policy violation) and 4000–4099 auth-range codes are fatal;
/// everything else (1000, 1001, 1006, 1011, 1012, 1013…) is retryable.
#[must_use]
pub fn default_close_disposition(code: Option<u16>) -> Disposition {
    match code {
        Some(1008 | 4001 | 4003 | 4004) => Disposition::Fatal,
        _ => Disposition::Retryable,
    }
}

/// Why a message handed to `send` was not delivered. Every variant carries the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The outbox is at capacity and the policy is `Reject`.
    #[error("outbox full: message rejected")]
    Full(Outgoing),
    /// The client is closing or closed; the message was not (or not provably) delivered.
    #[error("client closed before the message was delivered")]
    Closed(Outgoing),
    /// The client stopped on a fatal error before the message was delivered.
    #[error("client stopped on a fatal error before the message was delivered: {reason}")]
    Fatal {
        /// The message.
        message: Outgoing,
        /// What stopped the client.
        reason: String,
    },
    /// The message's deadline passed before it was delivered.
    #[error("deadline passed before the message was delivered")]
    DeadlineExceeded(Outgoing),
    /// Dropped to make room under the `DropOldest` policy (also reported in a `dropped` event).
    #[error("dropped from a full outbox (drop-oldest policy)")]
    Dropped(Outgoing),
    /// The peer acknowledged the message negatively.
    #[error("peer rejected the message: {reason}")]
    Rejected {
        /// The message.
        message: Outgoing,
        /// The peer's reason.
        reason: String,
    },
    /// The message is larger than the configured maximum message size.
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
            | SendError::Closed(m)
            | SendError::DeadlineExceeded(m)
            | SendError::Dropped(m)
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
            | SendError::Closed(m)
            | SendError::DeadlineExceeded(m)
            | SendError::Dropped(m)
            | SendError::Fatal { message: m, .. }
            | SendError::Rejected { message: m, .. }
            | SendError::TooLarge { message: m, .. } => m,
        }
    }

    /// A short machine-readable name of the variant (`full`, `closed`, `deadline`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            SendError::Full(_) => "full",
            SendError::Closed(_) => "closed",
            SendError::Fatal { .. } => "fatal",
            SendError::DeadlineExceeded(_) => "deadline",
            SendError::Dropped(_) => "dropped",
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
    /// No reply came before the timeout; the message is handed back (and withdrawn from
    /// the outbox if it was still there).
    #[error("no reply within {timeout:?}")]
    Timeout {
        /// The request.
        message: Outgoing,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The request was never delivered.
    #[error(transparent)]
    Send(#[from] SendError),
}

impl RequestError {
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
            ConnectionError::Io(refused).disposition(),
            Disposition::Retryable
        );
        assert_eq!(
            ConnectionError::Tls("bad cert".into()).disposition(),
            Disposition::Fatal
        );
    }
}
