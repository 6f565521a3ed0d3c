//! The scripted story every platform goes through: connect and log in, exchange
//! messages, a `drop` and a `stall` fault with at least `burst` messages in flight,
//! reconnect, and a check of the hub's receive log (the hub's count, not the client's).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use tether::{BackoffConfig, Client, ClientConfig, Event, Events, Policy, Receipt, State};
use tether_hub::{Fault, Hub};
use tokio::time::Instant;

use super::{Report, Ui, scene::Scene};

/// Messages exchanged before the faults.
pub const EXCHANGE: usize = 100;
/// Ping interval of the demo's clients.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Silence tolerated past a heartbeat.
const DEAD_AFTER: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs the story for one platform.
pub async fn run<S: Scene>(mut scene: S, hub: &Hub, ui: &Ui, burst: usize) -> Report {
    let name = scene.name();
    let endpoint = scene.endpoint();
    let mut report = Report {
        platform: name,
        ..Report::default()
    };
    ui.bar.set_prefix(name);
    ui.bar.set_position(0);
    ui.bar.set_length((EXCHANGE + 2 * burst) as u64);
    let config = ClientConfig::default()
        .heartbeat(HEARTBEAT)
        .dead_after(DEAD_AFTER)
        .outbox(4 * burst, Policy::Backpressure)
        .backoff(BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(500),
            ..BackoffConfig::default()
        });
    let (client, events) = match scene.start(hub, config) {
        Ok(started) => started,
        Err(e) => {
            report.failures.push(format!("cannot start: {e}"));
            return report;
        }
    };
    let lost_at = Arc::new(Mutex::new(None));
    let narrator = tokio::spawn(narrate(events, ui.clone(), name, lost_at.clone()));
    if tokio::time::timeout(Duration::from_secs(10), client.ready())
        .await
        .map_or(true, |r| r.is_err())
    {
        report.failures.push("not ready within 10 s".into());
        client.close().await;
        return report;
    }
    let mut story = Story {
        scene: &scene,
        client: &client,
        ui,
        next: 0,
        receipts: Vec::new(),
        lost_at,
        report,
    };

    story.exchange().await;
    if scene.acks() {
        story.drop_with_acks(hub, burst).await;
    } else {
        story.drop_without_acks(hub, burst).await;
    }
    story.stall(hub, burst).await;
    story.settle().await;
    // Flushed is not yet read: give the hub a moment to read the last burst.
    story.until_hub_has_all(hub).await;
    let Story {
        next, mut report, ..
    } = story;
    report.sent = usize::try_from(next).unwrap_or(usize::MAX);
    check_hub_log(&scene, hub, endpoint, next, &mut report);
    if report.rtt_p50_us.is_none() {
        // No request/reply on this platform: the WebSocket ping's round trip instead
        // (the first ping goes out one heartbeat after the last reconnect).
        report.rtt_source = "ping";
        let deadline = Instant::now() + 2 * HEARTBEAT;
        while client.stats().heartbeat_rtt.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        report.rtt_p50_us = client.stats().heartbeat_rtt.map(micros);
    }
    let stats = client.stats();
    report.reconnects = stats.reconnects;
    report.time_to_ready_ms = stats
        .time_to_first_ready
        .map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0);
    if report.reconnects < 2 {
        report.failures.push(format!(
            "expected 2 reconnects (drop, stall), saw {}",
            report.reconnects
        ));
    }
    for (fault, n) in [
        ("drop", report.in_flight_at_drop),
        ("stall", report.in_flight_at_stall),
    ] {
        if n < 100 {
            report
                .failures
                .push(format!("only {n} messages in flight at the {fault}"));
        }
    }
    client.close().await;
    scene.finish();
    let _ = narrator.await;
    ui.say(
        name,
        &format!(
            "done: {} sent, {} delivered, {} received by the hub",
            report.sent, report.delivered, report.received_by_hub
        ),
    );
    report
}

struct Story<'a, S: Scene> {
    scene: &'a S,
    client: &'a Client<S::Event>,
    ui: &'a Ui,
    next: u64,
    receipts: Vec<Receipt<S::Event>>,
    /// When the narrator last saw the connection lost (every event is seen, in order;
    /// a state watch could miss a short-lived `Reconnecting`).
    lost_at: Arc<Mutex<Option<Instant>>>,
    report: Report,
}

impl<S: Scene> Story<'_, S> {
    fn say(&self, text: &str) {
        self.ui.say(self.scene.name(), text);
    }

    /// Round trips where the platform pairs replies with requests; plain sends otherwise
    /// (the RTT then comes from the WebSocket pings).
    async fn exchange(&mut self) {
        if self.scene.acks() {
            let mut rtts = Vec::with_capacity(EXCHANGE);
            for _ in 0..EXCHANGE {
                let started = Instant::now();
                let n = self.next;
                self.next += 1;
                match self.client.request(self.scene.message(n)).await {
                    Ok(_) => {
                        rtts.push(started.elapsed());
                        self.report.delivered += 1;
                    }
                    Err(e) => self
                        .report
                        .failures
                        .push(format!("request {n} failed: {e}")),
                }
            }
            rtts.sort_unstable();
            self.report.rtt_source = "request";
            self.report.rtt_p50_us = rtts.get(rtts.len() / 2).copied().map(micros);
            self.say(&format!(
                "{EXCHANGE} request/reply round trips, p50 {} µs",
                self.report.rtt_p50_us.unwrap_or(0)
            ));
        } else {
            self.burst(EXCHANGE).await;
            self.say(&format!(
                "{EXCHANGE} messages sent (no acks: delivered = flushed)"
            ));
        }
    }

    async fn burst(&mut self, n: usize) {
        for _ in 0..n {
            let number = self.next;
            self.next += 1;
            match self.client.send(self.scene.message(number)).await {
                Ok(r) => {
                    self.receipts.push(r);
                    if !self.scene.acks() {
                        self.ui.bar.inc(1); // with acks, the bar counts acks instead
                    }
                }
                Err(e) => self
                    .report
                    .failures
                    .push(format!("send {number} failed: {e}")),
            }
        }
    }

    /// A crash (TCP reset) while acks are slowed, so the burst is in flight.
    async fn drop_with_acks(&mut self, hub: &Hub, burst: usize) {
        let endpoint = self.scene.endpoint();
        let _ = hub.fault(endpoint, &Fault::Delay { ms: 300 });
        self.burst(burst).await;
        self.report.in_flight_at_drop = self.client.pending();
        self.say(&format!(
            "fault: drop (TCP reset) with {} messages awaiting acks",
            self.report.in_flight_at_drop
        ));
        let _ = hub.resume(Some(endpoint));
        let _ = hub.fault(endpoint, &Fault::Drop { code: None });
        self.wait_ready("after the drop").await;
    }

    /// Without acks, what was flushed into a socket that dies is lost to everyone; the
    /// promise is about what is queued once the client knows: the burst goes in while the
    /// connection is down, and all of it must arrive, in order, after the reconnect.
    async fn drop_without_acks(&mut self, hub: &Hub, burst: usize) {
        let endpoint = self.scene.endpoint();
        self.until_hub_has_all(hub).await;
        let _ = hub.fault(endpoint, &Fault::Refuse { secs: 0.3 });
        let _ = hub.fault(endpoint, &Fault::Drop { code: None });
        let mut state = self.client.state();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            state.wait_for(|s| !matches!(s, State::Ready)),
        )
        .await
        .map(|_| ());
        self.burst(burst).await;
        self.report.in_flight_at_drop = self.client.pending();
        self.say(&format!(
            "fault: drop (TCP reset), new connections refused for 0.3 s; {} messages queued meanwhile",
            self.report.in_flight_at_drop
        ));
        self.wait_ready("after the drop").await;
    }

    /// A half-open peer: the hub stops reading and writing; the watchdog must notice
    /// within heartbeat + dead_after.
    async fn stall(&mut self, hub: &Hub, burst: usize) {
        let endpoint = self.scene.endpoint();
        let acks = self.scene.acks();
        if !acks {
            self.until_hub_has_all(hub).await;
        }
        self.lost_at.lock().expect("not poisoned").take();
        let _ = hub.fault(endpoint, &Fault::Stall { secs: None });
        let stalled_at = Instant::now();
        if acks {
            self.burst(burst).await;
            self.report.in_flight_at_stall = self.client.pending();
            self.say(&format!(
                "fault: stall with {} messages awaiting acks",
                self.report.in_flight_at_stall
            ));
        } else {
            self.say("fault: stall (the hub stops reading and writing)");
        }
        let bound = HEARTBEAT + DEAD_AFTER;
        let mut noticed = None;
        while noticed.is_none() && stalled_at.elapsed() < bound * 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            noticed = *self.lost_at.lock().expect("not poisoned");
        }
        if let Some(lost_at) = noticed {
            let after = lost_at.saturating_duration_since(stalled_at);
            self.report.stall_noticed_ms = Some(millis(after));
            self.say(&format!(
                "half-open connection noticed after {} ms (bound {} ms)",
                millis(after),
                millis(bound)
            ));
            if after > bound + Duration::from_millis(500) {
                self.report.failures.push(format!(
                    "stall noticed after {after:?}, promised within {bound:?}"
                ));
            }
        } else {
            self.report
                .failures
                .push(format!("stall not noticed within {:?}", bound * 3));
        }
        if !acks {
            // Queued while the client reconnects to a hub that still refuses for a moment.
            let _ = hub.fault(endpoint, &Fault::Refuse { secs: 0.3 });
            self.burst(burst).await;
            self.report.in_flight_at_stall = self.client.pending();
            self.say(&format!(
                "{} messages queued while reconnecting",
                self.report.in_flight_at_stall
            ));
        }
        let _ = hub.resume(Some(endpoint));
        self.wait_ready("after the stall").await;
    }

    /// Without acks, a fault must not hit messages still in the hub's socket buffer (they
    /// are nobody's to save): wait until the hub has read everything sent so far.
    async fn until_hub_has_all(&self, hub: &Hub) {
        let _ = self.client.drain(Duration::from_secs(5)).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let seen: HashSet<u64> = hub
                .received(self.scene.endpoint())
                .iter()
                .filter_map(|f| self.scene.number_in(f))
                .collect();
            if seen.len() as u64 >= self.next {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for every receipt: delivered (acked, or flushed without acks) or failed.
    async fn settle(&mut self) {
        let all = futures_util::future::join_all(std::mem::take(&mut self.receipts));
        match tokio::time::timeout(Duration::from_secs(30), all).await {
            Ok(results) => {
                for r in results {
                    match r {
                        Ok(_) => self.report.delivered += 1,
                        Err(e) => self.report.failures.push(format!("not delivered: {e}")),
                    }
                }
            }
            Err(_) => self
                .report
                .failures
                .push("messages still undelivered after 30 s".into()),
        }
    }

    async fn wait_ready(&mut self, when: &str) {
        let mut state = self.client.state();
        // Give the engine a moment to see the fault before waiting for Ready again.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            state.wait_for(|s| !matches!(s, State::Ready)),
        )
        .await
        .map(|_| ());
        if tokio::time::timeout(Duration::from_secs(10), self.client.ready())
            .await
            .map_or(true, |r| r.is_err())
        {
            self.report
                .failures
                .push(format!("not ready again within 10 s {when}"));
        }
    }
}

/// Every message number arrived at the hub, first seen in send order.
fn check_hub_log<S: Scene>(scene: &S, hub: &Hub, endpoint: &str, sent: u64, report: &mut Report) {
    let mut seen = HashSet::new();
    let mut first_seen = Vec::new();
    for frame in hub.received(endpoint) {
        if let Some(n) = scene.number_in(&frame)
            && seen.insert(n)
        {
            first_seen.push(n);
        }
    }
    report.received_by_hub = first_seen.len();
    if first_seen.len() as u64 != sent {
        report.failures.push(format!(
            "hub received {} distinct messages of {sent}; missing {}",
            first_seen.len(),
            ranges((0..sent).filter(|n| !seen.contains(n)))
        ));
    } else if !first_seen.iter().copied().eq(0..sent) {
        report.failures.push("hub saw messages out of order".into());
    }
}

/// Prints state changes and notable events as they happen; counts acks on the bar.
async fn narrate<E>(
    mut events: Events<E>,
    ui: Ui,
    name: &'static str,
    lost_at: Arc<Mutex<Option<Instant>>>,
) {
    while let Some(event) = events.recv().await {
        if matches!(event, Event::Disconnected { .. }) {
            *lost_at.lock().expect("not poisoned") = Some(Instant::now());
        }
        let text = match event {
            Event::State(State::Reconnecting { attempt, delay }) => {
                format!(
                    "reconnecting (attempt {attempt}, in {} ms)",
                    delay.as_millis()
                )
            }
            Event::State(State::Closed { reason, .. }) => format!("closed: {reason}"),
            Event::State(state) => state.name().to_owned(),
            Event::Disconnected { error, .. } => format!("connection lost: {error}"),
            Event::Ack { .. } => {
                ui.bar.inc(1);
                continue;
            }
            Event::DecodeError { reason, .. } => format!("decode error: {reason}"),
            _ => continue,
        };
        ui.say(name, &text);
    }
}

/// `3, 4, 5, 9` → `3-5, 9` (at most five ranges, then `…`).
fn ranges(numbers: impl Iterator<Item = u64>) -> String {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for n in numbers {
        match spans.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => spans.push((n, n)),
        }
    }
    let mut text: Vec<String> = spans
        .iter()
        .take(5)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if spans.len() > 5 {
        text.push("…".into());
    }
    text.join(", ")
}
