//! The connection state a client is in, and the statistics it keeps.

use crate::error::CloseReason;

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Where the client is in its life. Watch it with [`crate::Client::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Opening the transport (TCP, TLS, WebSocket upgrade).
    Connecting,
    /// The transport is up; the platform's login may still be running.
    Open,
    /// Logged in and platform-ready: queued messages flow.
    Ready,
    /// Waiting `delay` before reconnect attempt `attempt` (from 1).
    Reconnecting {
        /// The attempt this wait precedes, from 1.
        attempt: u32,
        /// How long the wait is.
        delay: Duration,
    },
    /// A close was requested; the close handshake is running.
    Closing,
    /// The client has stopped for good.
    Closed {
        /// Why it stopped (`Display` gives the CLI's text).
        reason: CloseReason,
        /// Whether an error (not a requested close) stopped it:
        /// [`CloseReason::is_fatal`].
        fatal: bool,
    },
}

impl State {
    /// The final state for `reason` (with `fatal` taken from it).
    #[must_use]
    pub fn closed(reason: CloseReason) -> Self {
        State::Closed {
            fatal: reason.is_fatal(),
            reason,
        }
    }

    /// The lower-case name used in CLI output (`connecting`, `open`, `ready`, …).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Open => "open",
            State::Ready => "ready",
            State::Reconnecting { .. } => "reconnecting",
            State::Closing => "closing",
            State::Closed { .. } => "closed",
        }
    }

    /// Whether the client has stopped for good.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, State::Closed { .. })
    }
}

/// Counters any handle can read while the client runs. All are cumulative.
#[derive(Debug, Default)]
pub struct Statistics {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) rtt_micros: AtomicU64,
    pub(crate) first_ready_micros: AtomicU64,
    pub(crate) wire: std::sync::Arc<crate::transport::deflate::WireCounters>,
}

/// A point-in-time copy of [`Statistics`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Application messages received.
    pub messages_in: u64,
    /// Application messages written (including replays and control frames of the platform).
    pub messages_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes written.
    pub bytes_out: u64,
    /// Bytes read from the WebSocket byte stream: frames as they travelled, compressed
    /// where permessage-deflate was used, headers and control frames included (TLS
    /// records not); 0 for TCP transports and custom connectors.
    pub wire_bytes_in: u64,
    /// Bytes written to the WebSocket byte stream, counted as `wire_bytes_in`.
    pub wire_bytes_out: u64,
    /// Connections on which permessage-deflate was negotiated (of `connects`).
    pub deflate_connects: u64,
    /// Transport connections established.
    pub connects: u64,
    /// Reconnect attempts started after a connection was lost or failed.
    pub reconnects: u64,
    /// Messages dropped by the `DropOldest` policy.
    pub dropped: u64,
    /// Inbound messages that could not be decoded.
    pub decode_errors: u64,
    /// Handlers that returned an error or panicked.
    pub handler_errors: u64,
    /// Messages acknowledged by the peer.
    pub acked: u64,
    /// Messages re-sent after a reconnect because their ack had not arrived.
    pub replayed: u64,
    /// The latest heartbeat round trip (ping → pong), if any was measured.
    pub heartbeat_rtt: Option<Duration>,
    /// Time from the client's start to the first Ready.
    pub time_to_first_ready: Option<Duration>,
}

impl Statistics {
    /// Copies every counter.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let micros = |v: u64| (v != 0).then(|| Duration::from_micros(v));
        StatsSnapshot {
            messages_in: self.messages_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            wire_bytes_in: self.wire.read(),
            wire_bytes_out: self.wire.written(),
            deflate_connects: self.wire.deflate_connections(),
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            decode_errors: self.decode_errors.load(Relaxed),
            handler_errors: self.handler_errors.load(Relaxed),
            acked: self.acked.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            heartbeat_rtt: micros(self.rtt_micros.load(Relaxed)),
            time_to_first_ready: micros(self.first_ready_micros.load(Relaxed)),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn set_duration(counter: &AtomicU64, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        counter.store(micros, Relaxed);
    }
}
