//! The live feed: a ticker reads the hub once a second while a page listens, and fans
//! out a `delta` (the endpoints that changed) or, every [`SNAPSHOT_EVERY`] ticks, a
//! whole `snapshot` over a bounded broadcast channel; each page gets its own SSE stream.
//! A page that lags behind the channel gets a fresh snapshot (`resync: true`) instead of
//! the events it missed.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime},
};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::snapshot::{EndpointView, Snapshot, unix_ms};
use crate::hub::HubInner;

/// How often the feed reads the hub.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// A whole snapshot every this many ticks (deltas between).
pub(crate) const SNAPSHOT_EVERY: u64 = 10;
/// Events a page may fall behind before it is resynced.
const CHANNEL: usize = 16;

/// One event as sent: its SSE name and JSON.
#[derive(Debug, Clone)]
pub(crate) struct FeedEvent {
    name: &'static str,
    json: Arc<str>,
}

/// The changed endpoints since event `prev`.
#[derive(Debug, Serialize)]
struct Delta<'a> {
    kind: &'static str,
    seq: u64,
    prev: u64,
    time_ms: u64,
    endpoints: Vec<&'a EndpointView>,
}

/// The feed shared by the ticker and every SSE stream.
pub(crate) struct Feed {
    hub: Arc<HubInner>,
    read_only: bool,
    seq: AtomicU64,
    tx: broadcast::Sender<FeedEvent>,
    /// Each endpoint's last measured `(in, out)` messages per second.
    rates: Mutex<HashMap<String, (f64, f64)>>,
    shutdown: watch::Receiver<bool>,
}

impl Feed {
    pub(crate) fn new(
        hub: Arc<HubInner>,
        read_only: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            hub,
            read_only,
            seq: AtomicU64::new(0),
            tx: broadcast::channel(CHANNEL).0,
            rates: Mutex::default(),
            shutdown,
        }
    }

    fn rates(&self) -> HashMap<String, (f64, f64)> {
        self.rates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The hub now, at the feed's current sequence number.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let rates = self.rates();
        Snapshot::take(&self.hub, self.seq.load(Relaxed), self.read_only, |name| {
            rates.get(name).copied().unwrap_or_default()
        })
    }

    /// Reads the hub every [`TICK`] until shutdown; the expensive part only while a page
    /// listens.
    pub(crate) async fn run(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
        let mut last_at = tokio::time::Instant::now();
        let mut previous: HashMap<String, Value> = HashMap::new();
        let mut ticks = 0u64;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            // Rates: two relaxed loads per endpoint.
            let now = tokio::time::Instant::now();
            let elapsed = (now - last_at).as_secs_f64().max(1e-3);
            last_at = now;
            {
                let mut rates = self
                    .rates
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for e in &self.hub.endpoints {
                    let s = e.stats.snapshot();
                    let (r0, s0) = counts
                        .insert(e.spec.name.clone(), (s.received, s.sent))
                        .unwrap_or((s.received, s.sent));
                    let rate = |a: u64, b: u64| ((a.saturating_sub(b)) as f64 / elapsed).round();
                    rates.insert(
                        e.spec.name.clone(),
                        (rate(s.received, r0), rate(s.sent, s0)),
                    );
                }
            }
            if self.tx.receiver_count() == 0 {
                previous.clear();
                continue;
            }
            ticks += 1;
            let prev = self.seq.load(Relaxed);
            let seq = prev + 1;
            let mut snapshot = self.snapshot();
            snapshot.seq = seq;
            let values: HashMap<String, Value> = snapshot
                .endpoints
                .iter()
                .map(|e| {
                    (
                        e.name.clone(),
                        serde_json::to_value(e).unwrap_or(Value::Null),
                    )
                })
                .collect();
            let event = if ticks % SNAPSHOT_EVERY == 1 || previous.is_empty() {
                FeedEvent::snapshot(&snapshot)
            } else {
                let changed = snapshot
                    .endpoints
                    .iter()
                    .filter(|e| previous.get(&e.name) != values.get(&e.name))
                    .collect();
                FeedEvent::json(
                    "delta",
                    &Delta {
                        kind: "delta",
                        seq,
                        prev,
                        time_ms: unix_ms(SystemTime::now()),
                        endpoints: changed,
                    },
                )
            };
            previous = values;
            self.seq.store(seq, Relaxed);
            let _ = self.tx.send(event);
        }
    }

    /// One page's stream: a snapshot first, then the feed's events; a resync snapshot
    /// after lagging; it ends at shutdown (so a graceful shutdown does not wait on it).
    pub(crate) fn stream(
        self: &Arc<Self>,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let rx = self.tx.subscribe();
        let first = FeedEvent::snapshot(&self.snapshot());
        let state = (Some(first), rx, self.clone(), self.shutdown.clone());
        let stream =
            futures_util::stream::unfold(state, |(first, mut rx, feed, mut stop)| async move {
                if let Some(event) = first {
                    let sse = event.sse().retry(Duration::from_secs(1));
                    return Some((Ok(sse), (None, rx, feed, stop)));
                }
                if *stop.borrow() {
                    return None;
                }
                let event = tokio::select! {
                    received = rx.recv() => match received {
                        Ok(event) => event,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::debug!(missed, "dashboard page lagged: resync");
                            let mut snapshot = feed.snapshot();
                            snapshot.resync = true;
                            FeedEvent::snapshot(&snapshot)
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = stop.changed() => return None,
                };
                Some((Ok(event.sse()), (None, rx, feed, stop)))
            });
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
    }
}

impl FeedEvent {
    fn json(name: &'static str, value: &impl Serialize) -> Self {
        Self {
            name,
            json: serde_json::to_string(value)
                .unwrap_or_else(|_| "{}".into())
                .into(),
        }
    }

    fn snapshot(snapshot: &Snapshot) -> Self {
        Self::json("snapshot", snapshot)
    }

    fn sse(&self) -> Event {
        Event::default().event(self.name).data(&*self.json)
    }
}
