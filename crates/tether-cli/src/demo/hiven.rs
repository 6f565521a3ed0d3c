//! The Hiven scene. A Hiven client sends nothing over the Swarm but its login and
//! heartbeats — messages are posted through the REST API — so the outbox story does not
//! apply. Its story instead: log in and become ready (every house joined), post messages
//! and see each come back as `MESSAGE_CREATE`, then a `drop` and a `stall` of the Swarm:
//! the client notices, logs in again, is ready again, and every message posted after that
//! arrives. (Hiven has no resume: events sent while a client is away are not replayed by
//! the Swarm, so the story posts once the client is ready again.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tether::{
    BackoffConfig, ClientConfig, Event, State,
    hiven::{HivenClient, SwarmEvent},
};
use tether_hub::{Fault, Hub};
use tokio::time::Instant;

use super::{Report, Ui, scene::demo_number};

const ROOM: &str = "100000000000000011";
const HEARTBEAT: Duration = Duration::from_secs(1);
const DEAD_AFTER: Duration = Duration::from_secs(1);

/// What the event reader saw: when each `demo N` came back, when the connection was lost.
#[derive(Default)]
struct Seen {
    messages: HashMap<u64, Instant>,
    lost_at: Option<Instant>,
}

/// Runs the Hiven story.
pub async fn run(hub: &Hub, ui: &Ui, burst: usize) -> Report {
    let mut report = Report {
        platform: "hiven",
        rtt_source: "request",
        ..Report::default()
    };
    ui.bar.set_prefix("hiven");
    ui.bar.set_position(0);
    ui.bar
        .set_length((super::story::EXCHANGE + 2 * burst) as u64);
    let (Some(swarm), Some(api)) = (hub.url("hiven"), hub.url("hiven-api")) else {
        report.failures.push("hub has no hiven endpoints".into());
        return report;
    };
    let config = ClientConfig::default()
        .heartbeat(HEARTBEAT)
        .dead_after(DEAD_AFTER)
        .backoff(BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(500),
            ..BackoffConfig::default()
        });
    let built = HivenClient::builder("d3m0".repeat(32))
        .swarm_url(swarm)
        .api_url(api)
        .config(config)
        .build();
    let client = match built {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(format!("cannot build: {e}"));
            return report;
        }
    };
    let mut events = match client.connect() {
        Ok(events) => events,
        Err(e) => {
            report.failures.push(format!("cannot start: {e}"));
            return report;
        }
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reader = {
        let (seen, ui) = (seen.clone(), ui.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let text = match event {
                    Event::Message(m) => {
                        if let SwarmEvent::MessageCreate(msg) = &m.event
                            && let Some(n) = demo_number(&msg.content)
                        {
                            seen.lock()
                                .expect("not poisoned")
                                .messages
                                .insert(n, Instant::now());
                            ui.bar.inc(1);
                        }
                        continue;
                    }
                    Event::Disconnected { error, .. } => {
                        seen.lock().expect("not poisoned").lost_at = Some(Instant::now());
                        format!("connection lost: {error}")
                    }
                    Event::State(State::Reconnecting { attempt, delay }) => format!(
                        "reconnecting (attempt {attempt}, in {} ms)",
                        delay.as_millis()
                    ),
                    Event::State(state) => state.name().to_owned(),
                    _ => continue,
                };
                ui.say("hiven", &text);
            }
        })
    };
    if !ready_within(&client, Duration::from_secs(10)).await {
        report.failures.push("not ready within 10 s".into());
        client.close().await;
        return report;
    }
    ui.say("hiven", "ready: logged in, every house joined");

    // 1. Posts through the REST API, each seen back as MESSAGE_CREATE (the RTT).
    let mut next = 0u64;
    let mut rtts = Vec::new();
    for _ in 0..super::story::EXCHANGE {
        let started = Instant::now();
        if post(&client, next, &mut report).await {
            let n = next;
            let back = tokio::time::timeout(Duration::from_secs(5), async {
                while !seen.lock().expect("not poisoned").messages.contains_key(&n) {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            })
            .await;
            if back.is_ok() {
                rtts.push(started.elapsed());
            }
        }
        next += 1;
    }
    rtts.sort_unstable();
    report.rtt_p50_us = rtts
        .get(rtts.len() / 2)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    ui.say(
        "hiven",
        &format!(
            "{} messages posted and seen back, p50 {} µs",
            rtts.len(),
            report.rtt_p50_us.unwrap_or(0)
        ),
    );

    // 2. A TCP reset of the Swarm connection: log in again, ready again, post a burst.
    if !all_seen(&seen, next, Duration::from_secs(10)).await {
        report
            .failures
            .push("the first messages did not all come back before the drop".into());
    }
    seen.lock().expect("not poisoned").lost_at = None;
    let _ = hub.fault("hiven", &Fault::Drop { code: None });
    ui.say("hiven", "fault: drop (TCP reset)");
    recover(&client, &seen, &mut report, "after the drop").await;
    for _ in 0..burst {
        post(&client, next, &mut report).await;
        next += 1;
    }

    // 3. A half-open Swarm: noticed within heartbeat + dead_after. The burst's messages
    // come back first: the Swarm does not replay what a stalled connection missed.
    if !all_seen(&seen, next, Duration::from_secs(10)).await {
        report
            .failures
            .push("the burst after the drop did not all come back before the stall".into());
    }
    seen.lock().expect("not poisoned").lost_at = None;
    let _ = hub.fault("hiven", &Fault::Stall { secs: None });
    let stalled_at = Instant::now();
    ui.say(
        "hiven",
        "fault: stall (the Swarm stops reading and writing)",
    );
    let bound = HEARTBEAT + DEAD_AFTER;
    let mut noticed = None;
    while noticed.is_none() && stalled_at.elapsed() < bound * 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        noticed = seen.lock().expect("not poisoned").lost_at;
    }
    match noticed {
        Some(at) => {
            let after = at.saturating_duration_since(stalled_at);
            report.stall_noticed_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
            if after > bound + Duration::from_millis(500) {
                report.failures.push(format!(
                    "stall noticed after {after:?}, promised within {bound:?}"
                ));
            }
        }
        None => report
            .failures
            .push(format!("stall not noticed within {:?}", bound * 3)),
    }
    let _ = hub.resume(Some("hiven"));
    recover(&client, &seen, &mut report, "after the stall").await;
    for _ in 0..burst {
        post(&client, next, &mut report).await;
        next += 1;
    }

    // 4. Every posted message came back to the client, counted by its own event stream.
    all_seen(&seen, next, Duration::from_secs(10)).await;
    report.sent = usize::try_from(next).unwrap_or(usize::MAX);
    report.received_by_hub = report.delivered;
    let got = seen.lock().expect("not poisoned").messages.len();
    if got as u64 != next {
        report.failures.push(format!(
            "{got} of {next} posted messages came back as MESSAGE_CREATE"
        ));
    }
    if let Some(engine) = client.engine() {
        let stats = engine.stats();
        report.reconnects = stats.reconnects;
        report.time_to_ready_ms = client
            .startup_time()
            .map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0);
    }
    if report.reconnects < 2 {
        report.failures.push(format!(
            "expected 2 reconnects (drop, stall), saw {}",
            report.reconnects
        ));
    }
    client.close().await;
    let _ = reader.await;
    ui.say(
        "hiven",
        &format!(
            "done: {} posted, {got} came back as MESSAGE_CREATE",
            report.sent
        ),
    );
    report
}

/// Waits until `count` messages came back, up to `limit`; whether they all did.
async fn all_seen(seen: &Mutex<Seen>, count: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let got = seen.lock().expect("not poisoned").messages.len() as u64;
        if got >= count {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Posts `demo N` to the room; counts it delivered when the REST API accepted it.
async fn post(client: &HivenClient, n: u64, report: &mut Report) -> bool {
    match client.send_message(ROOM, &format!("demo {n}")).await {
        Ok(_) => {
            report.delivered += 1;
            true
        }
        Err(e) => {
            report.failures.push(format!("post {n} failed: {e}"));
            false
        }
    }
}

async fn ready_within(client: &HivenClient, limit: Duration) -> bool {
    tokio::time::timeout(limit, client.wait_ready())
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Waits for the client to lose its connection, then to be ready again.
async fn recover(client: &HivenClient, seen: &Mutex<Seen>, report: &mut Report, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.lock().expect("not poisoned").lost_at.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if !ready_within(client, Duration::from_secs(10)).await {
        report
            .failures
            .push(format!("not ready again within 10 s {when}"));
    }
}
