//! The dashboard's view of the hub: every endpoint, its faults and live connections, as
//! JSON (`GET /snapshot`, and the SSE feed's `snapshot` and `delta` events).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::redact::redact;
use crate::{
    conn_stats::{ConnStats, Direction},
    endpoint::{EndpointShared, Transport},
    hub::HubInner,
    stats::EndpointStats,
};

/// Connections listed per endpoint at most (the newest); the count covers all of them.
pub(crate) const LISTED_CONNECTIONS: usize = 50;

/// The whole hub.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// Always `snapshot`.
    pub(crate) kind: &'static str,
    /// The feed's sequence number this snapshot matches.
    pub(crate) seq: u64,
    /// Set when the snapshot replaces deltas a lagging page missed.
    pub(crate) resync: bool,
    /// Milliseconds since the Unix epoch.
    pub(crate) time_ms: u64,
    /// Faults are refused (the page hides its buttons).
    pub(crate) read_only: bool,
    /// The endpoints, in the hub's order.
    pub(crate) endpoints: Vec<EndpointView>,
    /// The platforms' HTTP APIs: `(name, base URL)`.
    pub(crate) apis: Vec<(String, String)>,
}

/// One endpoint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct EndpointView {
    pub(crate) name: String,
    pub(crate) platform: String,
    pub(crate) transport: String,
    pub(crate) url: String,
    pub(crate) listening: bool,
    pub(crate) stats: EndpointStats,
    /// Messages per second from clients, over the feed's last tick.
    pub(crate) rate_in: f64,
    /// Messages per second to clients.
    pub(crate) rate_out: f64,
    pub(crate) faults: FaultsView,
    /// Live connections (all of them; `connections` lists the newest few).
    pub(crate) connections_total: usize,
    pub(crate) connections: Vec<ConnView>,
}

/// Faults in force on an endpoint.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct FaultsView {
    /// Stalled (new and live connections).
    pub(crate) stalled: bool,
    /// Seconds left of the stall; `None` while stalled: until resumed.
    pub(crate) stall_left_s: Option<f64>,
    /// Delay on every outgoing message.
    pub(crate) delay_ms: u64,
    /// Seconds left of a `refuse` fault.
    pub(crate) refusing_left_s: Option<f64>,
}

/// One live connection.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ConnView {
    pub(crate) id: u64,
    pub(crate) peer: String,
    /// When it connected, ms since the Unix epoch.
    pub(crate) since_ms: u64,
    pub(crate) received: u64,
    pub(crate) received_bytes: u64,
    pub(crate) sent: u64,
    pub(crate) sent_bytes: u64,
    /// `open`, `stalled` or `delayed`.
    pub(crate) state: &'static str,
    pub(crate) stall_left_s: Option<f64>,
    pub(crate) delay_ms: u64,
    /// The last messages, oldest first, redacted.
    pub(crate) last: Vec<MessageView>,
}

/// One kept message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct MessageView {
    /// `in` (from the client) or `out`.
    pub(crate) dir: &'static str,
    /// Its number within its direction.
    pub(crate) n: u64,
    /// The whole message's length in bytes.
    pub(crate) len: usize,
    pub(crate) binary: bool,
    /// The redacted excerpt (binary frames that are not text: only their size).
    pub(crate) text: String,
    /// The excerpt is shorter than the message.
    pub(crate) truncated: bool,
}

pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// The platform an endpoint speaks.
fn platform(name: &str) -> String {
    match name {
        "echo" | "echo-ack" | "sink" => "raw".to_owned(),
        other => other.to_owned(),
    }
}

impl Snapshot {
    /// Reads the hub now; `rates` gives each endpoint's last measured rates.
    pub(crate) fn take(
        hub: &HubInner,
        seq: u64,
        read_only: bool,
        rates: impl Fn(&str) -> (f64, f64),
    ) -> Self {
        Self {
            kind: "snapshot",
            seq,
            resync: false,
            time_ms: unix_ms(SystemTime::now()),
            read_only,
            endpoints: hub
                .endpoints
                .iter()
                .map(|e| EndpointView::take(e, rates(&e.spec.name)))
                .collect(),
            apis: hub.apis.clone(),
        }
    }
}

impl EndpointView {
    fn take(endpoint: &EndpointShared, (rate_in, rate_out): (f64, f64)) -> Self {
        let stats = endpoint.stats.snapshot();
        let state = endpoint.faults.borrow().clone();
        let now = tokio::time::Instant::now();
        let stall_left = match state.stalled {
            Some(Some(at)) if at <= now => None,
            other => other.map(|until| until.map(|at| at - now)),
        };
        let conns = endpoint.registry.stats();
        let connections_total = conns.len();
        let connections = conns
            .iter()
            .rev()
            .take(LISTED_CONNECTIONS)
            .rev()
            .map(|(id, c)| ConnView::take(*id, c))
            .collect();
        Self {
            name: endpoint.spec.name.clone(),
            platform: platform(&endpoint.spec.name),
            transport: match &endpoint.spec.transport {
                Transport::WebSocket { path } => format!("WebSocket {path}"),
                Transport::Tcp(_) => "TCP".into(),
                Transport::Tls(..) => "TLS".into(),
            },
            url: endpoint.url(),
            listening: stats.listening,
            stats,
            rate_in,
            rate_out,
            faults: FaultsView {
                stalled: stall_left.is_some(),
                stall_left_s: stall_left.flatten().map(secs),
                delay_ms: u64::try_from(state.delay.as_millis()).unwrap_or(u64::MAX),
                refusing_left_s: endpoint.stats.refusing_left().map(secs),
            },
            connections_total,
            connections,
        }
    }
}

impl ConnView {
    fn take(id: u64, conn: &ConnStats) -> Self {
        let counters = conn.counters();
        let stall = conn.stall_left();
        let delay = conn.delay();
        let state = if stall.is_some() {
            "stalled"
        } else if !delay.is_zero() {
            "delayed"
        } else {
            "open"
        };
        Self {
            id,
            peer: conn.peer.to_string(),
            since_ms: unix_ms(conn.since),
            received: counters.received,
            received_bytes: counters.received_bytes,
            sent: counters.sent,
            sent_bytes: counters.sent_bytes,
            state,
            stall_left_s: stall.flatten().map(secs),
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            last: conn
                .last_messages()
                .into_iter()
                .map(|m| MessageView {
                    dir: match m.direction {
                        Direction::In => "in",
                        Direction::Out => "out",
                    },
                    n: m.number,
                    len: m.len,
                    binary: m.binary,
                    // Binary that is not text (protobuf, say) is not shown: a secret in
                    // it would have no key name to redact it by.
                    text: if m.binary && std::str::from_utf8(&m.bytes).is_err() {
                        format!("(binary, {} bytes)", m.len)
                    } else {
                        redact(&m.bytes)
                    },
                    truncated: m.bytes.len() < m.len,
                })
                .collect(),
        }
    }
}
