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
        // What the last event sent (`None`: nothing since no page listened).
        let mut previous: Option<HashMap<String, Value>> = None;
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
                previous = None;
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
            let event = match &previous {
                Some(previous) if ticks % SNAPSHOT_EVERY != 1 => {
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
                }
                _ => FeedEvent::snapshot(&snapshot),
            };
            previous = Some(values);
            self.seq.store(seq, Relaxed);
            let _ = self.tx.send(event);
        }
    }

    /// One page's events: a snapshot first, then the feed's events; a resync snapshot
    /// after lagging; they end at shutdown (so a graceful shutdown does not wait on an
    /// open page).
    pub(crate) fn events(self: &Arc<Self>) -> impl Stream<Item = FeedEvent> + use<> {
        let rx = self.tx.subscribe();
        let first = FeedEvent::snapshot(&self.snapshot());
        let state = (Some(first), rx, self.clone(), self.shutdown.clone());
        futures_util::stream::unfold(state, |(first, mut rx, feed, mut stop)| async move {
            if let Some(event) = first {
                return Some((event, (None, rx, feed, stop)));
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
            Some((event, (None, rx, feed, stop)))
        })
    }

    /// [`Feed::events`] as server-sent events (the first tells the browser to retry
    /// after a second when the stream breaks).
    pub(crate) fn stream(
        self: &Arc<Self>,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        use futures_util::StreamExt as _;
        let stream = self.events().enumerate().map(|(i, event)| {
            let sse = event.sse();
            Ok(if i == 0 {
                sse.retry(Duration::from_secs(1))
            } else {
                sse
            })
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

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    fn feed() -> (Arc<Feed>, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        let hub = Arc::new(HubInner {
            endpoints: Vec::new(),
            apis: Vec::new(),
        });
        (Arc::new(Feed::new(hub, false, shutdown)), stop)
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_that_lags_behind_gets_a_fresh_snapshot_then_follows_again() {
        let (feed, stop) = feed();
        tokio::spawn(feed.clone().run());
        let mut events = Box::pin(feed.events());
        let first = events.next().await.unwrap();
        assert_eq!(first.name, "snapshot");
        assert!(first.json.contains(r#""resync":false"#), "{}", first.json);

        // Not reading while more events are sent than the channel holds.
        tokio::time::sleep(TICK * (CHANNEL as u32 + 4)).await;
        let resync = events.next().await.unwrap();
        assert_eq!(resync.name, "snapshot");
        assert!(resync.json.contains(r#""resync":true"#), "{}", resync.json);

        // In step again: the feed's own events, each following the one before.
        let (a, b) = (events.next().await.unwrap(), events.next().await.unwrap());
        let seq = |e: &FeedEvent| {
            serde_json::from_str::<Value>(&e.json).unwrap()["seq"]
                .as_u64()
                .unwrap()
        };
        assert!(!a.json.contains(r#""resync":true"#), "{}", a.json);
        assert_eq!(seq(&b), seq(&a) + 1);
        if b.name == "delta" {
            assert!(
                b.json.contains(&format!(r#""prev":{}"#, seq(&a))),
                "{}",
                b.json
            );
        }

        // Shutdown ends the page's stream.
        let _ = stop.send(true);
        assert!(events.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn between_whole_snapshots_the_feed_sends_deltas() {
        let (feed, _stop) = feed();
        tokio::spawn(feed.clone().run());
        let mut events = Box::pin(feed.events());
        let names: Vec<&str> = {
            let mut names = Vec::new();
            for _ in 0..=SNAPSHOT_EVERY + 1 {
                names.push(events.next().await.unwrap().name);
            }
            names
        };
        assert_eq!(names[0], "snapshot");
        assert!(
            names.iter().filter(|n| **n == "delta").count() >= 8,
            "{names:?}"
        );
        assert!(names[2..].contains(&"snapshot"), "{names:?}");
    }
}
