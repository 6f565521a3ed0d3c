//! `tether demo`: the embedded hub plus a client of each landed platform, through a short
//! scripted story with injected faults; ends with a summary table and an exit code that
//! says whether every promise held.

use std::{collections::HashSet, time::Duration};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use tether::{
    BackoffConfig, Client, ClientConfig, Event, Policy, Receipt, State, raw::Raw, raw::RawMessage,
};
use tether_hub::{Fault, Hub};
use tokio::time::Instant;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the summary as JSON on stdout (the live story goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Messages per fault phase (at least 100 are in flight when each fault fires).
    #[arg(long, default_value = "200", value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub burst: u32,
}

/// What one platform's scene measured.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    platform: &'static str,
    sent: usize,
    delivered: usize,
    received_by_hub: usize,
    reconnects: u64,
    in_flight_at_drop: usize,
    in_flight_at_stall: usize,
    stall_noticed_ms: Option<u64>,
    time_to_ready_ms: Option<u64>,
    rtt_p50_us: Option<u64>,
    failures: Vec<String>,
}

/// Live output: one line per happening, above a progress bar.
struct Ui {
    bar: ProgressBar,
}

impl Ui {
    fn new(json: bool, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        if json {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:32}] {pos}/{len} delivered {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }

    fn say(&self, platform: &str, text: &str) {
        let line = format!("{platform:>9} │ {text}");
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

/// Runs the demo; returns the exit code.
pub async fn run(args: DemoArgs) -> u8 {
    let hub = match Hub::builder().ephemeral().record(true).start().await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("tether demo: cannot start the hub: {e}");
            return 1;
        }
    };
    let burst = args.burst as usize;
    let ui = Ui::new(args.json, (EXCHANGE + 2 * burst) as u64);
    ui.say(
        "hub",
        &format!(
            "listening: {}",
            hub.endpoints()
                .iter()
                .map(|(n, u)| format!("{n} {u}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let reports = vec![raw_scene(&hub, &ui, burst).await];
    ui.bar.finish_and_clear();
    hub.shutdown().await;

    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.platform))
        })
        .collect();
    if args.json {
        println!(
            "{}",
            json!({"ok": failures.is_empty(), "platforms": reports, "failures": failures})
        );
    } else {
        print_table(&reports);
        if failures.is_empty() {
            println!(
                "\nevery promise held: nothing lost, order kept, dead peer noticed, reconnected."
            );
        } else {
            println!("\npromises broken:");
            for f in &failures {
                println!("  - {f}");
            }
        }
    }
    u8::from(!failures.is_empty())
}

fn print_table(reports: &[Report]) {
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ms"));
    println!(
        "\n{:<10} {:>6} {:>10} {:>9} {:>11} {:>14} {:>10} {:>9}",
        "platform",
        "sent",
        "delivered",
        "hub got",
        "reconnects",
        "time to ready",
        "RTT p50",
        "stall"
    );
    for r in reports {
        println!(
            "{:<10} {:>6} {:>10} {:>9} {:>11} {:>14} {:>10} {:>9}",
            r.platform,
            r.sent,
            r.delivered,
            r.received_by_hub,
            r.reconnects,
            ms(r.time_to_ready_ms),
            r.rtt_p50_us.map_or("-".into(), |v| format!("{v} µs")),
            ms(r.stall_noticed_ms),
        );
    }
}

/// Request/reply round trips measured before the faults.
const EXCHANGE: usize = 100;
const HEARTBEAT: Duration = Duration::from_secs(1);
const DEAD_AFTER: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The raw platform through the `echo-ack` endpoint: acks by `id`.
async fn raw_scene(hub: &Hub, ui: &Ui, burst: usize) -> Report {
    const NAME: &str = "raw";
    const ENDPOINT: &str = "echo-ack";
    let mut report = Report {
        platform: NAME,
        ..Report::default()
    };
    let Some(url) = hub.url(ENDPOINT) else {
        report
            .failures
            .push(format!("hub has no {ENDPOINT} endpoint"));
        return report;
    };
    ui.bar.set_prefix(NAME);
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .heartbeat(HEARTBEAT)
        .dead_after(DEAD_AFTER)
        .outbox(4 * burst, Policy::Backpressure)
        .backoff(BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(500),
            ..BackoffConfig::default()
        });
    let (client, events) = match Client::builder(raw.clone())
        .url(&url)
        .config(config)
        .start()
    {
        Ok(started) => started,
        Err(e) => {
            report
                .failures
                .push(format!("cannot start the client: {e}"));
            return report;
        }
    };
    let narrator = tokio::spawn(narrate(events, ui.bar.clone(), NAME));
    if tokio::time::timeout(Duration::from_secs(10), client.ready())
        .await
        .map_or(true, |r| r.is_err())
    {
        report.failures.push("not ready within 10 s".into());
        client.close().await;
        return report;
    }

    // 1. Exchange: request/reply round trips.
    let mut next_id = 0usize;
    let mut rtts = Vec::with_capacity(EXCHANGE);
    for _ in 0..EXCHANGE {
        let started = Instant::now();
        match client
            .request(raw.encode(&json!({"id": next_id, "text": "hello"})))
            .await
        {
            Ok(_) => rtts.push(started.elapsed()),
            Err(e) => report
                .failures
                .push(format!("request {next_id} failed: {e}")),
        }
        next_id += 1;
        ui.bar.inc(1);
    }
    rtts.sort_unstable();
    report.rtt_p50_us = rtts
        .get(rtts.len() / 2)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    ui.say(
        NAME,
        &format!(
            "{EXCHANGE} request/reply round trips, p50 {} µs",
            report.rtt_p50_us.unwrap_or(0)
        ),
    );

    // 2. A crash (TCP reset) while acks are slowed, so the burst is in flight.
    let mut receipts: Vec<Receipt<RawMessage>> = Vec::new();
    let _ = hub.fault(ENDPOINT, &Fault::Delay { ms: 300 });
    send_burst(
        &client,
        &raw,
        &mut next_id,
        burst,
        &mut receipts,
        &mut report,
    )
    .await;
    report.in_flight_at_drop = client.pending();
    ui.say(
        NAME,
        &format!(
            "fault: drop (TCP reset) with {} messages in flight",
            report.in_flight_at_drop
        ),
    );
    let _ = hub.resume(Some(ENDPOINT));
    let _ = hub.fault(ENDPOINT, &Fault::Drop { code: None });
    wait_ready(&client, &mut report, "after the drop").await;

    // 3. A half-open peer: the hub stops reading and writing.
    let _ = hub.fault(ENDPOINT, &Fault::Stall { secs: None });
    let mut state = client.state();
    let stalled_at = Instant::now();
    send_burst(
        &client,
        &raw,
        &mut next_id,
        burst,
        &mut receipts,
        &mut report,
    )
    .await;
    report.in_flight_at_stall = client.pending();
    ui.say(
        NAME,
        &format!(
            "fault: stall with {} messages in flight",
            report.in_flight_at_stall
        ),
    );
    let bound = HEARTBEAT + DEAD_AFTER;
    // Map the borrow guard away at once: holding it would block the client's state updates.
    let noticed = tokio::time::timeout(
        bound * 3,
        state.wait_for(|s| matches!(s, State::Reconnecting { .. })),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    match noticed {
        true => {
            let after = stalled_at.elapsed();
            report.stall_noticed_ms = Some(millis(after));
            ui.say(
                NAME,
                &format!(
                    "half-open connection noticed after {} ms (bound {} ms)",
                    millis(after),
                    millis(bound)
                ),
            );
            if after > bound + Duration::from_millis(500) {
                report.failures.push(format!(
                    "stall noticed after {after:?}, promised within {bound:?}"
                ));
            }
        }
        false => report
            .failures
            .push(format!("stall not noticed within {:?}", bound * 3)),
    }
    let _ = hub.resume(Some(ENDPOINT));
    wait_ready(&client, &mut report, "after the stall").await;

    // 4. Everything delivered? Counted by the hub, not by the client.
    let all = futures_util::future::join_all(receipts);
    match tokio::time::timeout(Duration::from_secs(30), all).await {
        Ok(results) => {
            for (i, r) in results.into_iter().enumerate() {
                match r {
                    Ok(_) => report.delivered += 1,
                    Err(e) => report
                        .failures
                        .push(format!("message {} not delivered: {e}", EXCHANGE + i)),
                }
            }
        }
        Err(_) => report
            .failures
            .push("messages still undelivered after 30 s".into()),
    }
    report.delivered += EXCHANGE.min(rtts.len());
    report.sent = next_id;
    check_hub_log(hub, ENDPOINT, next_id, &mut report);
    let stats = client.stats();
    report.reconnects = stats.reconnects;
    report.time_to_ready_ms = stats.time_to_first_ready.map(millis);
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
    let _ = narrator.await;
    ui.say(
        NAME,
        &format!(
            "done: {} sent, {} delivered, {} received by the hub",
            report.sent, report.delivered, report.received_by_hub
        ),
    );
    report
}

async fn send_burst(
    client: &Client<RawMessage>,
    raw: &Raw,
    next_id: &mut usize,
    n: usize,
    receipts: &mut Vec<Receipt<RawMessage>>,
    report: &mut Report,
) {
    for _ in 0..n {
        match client
            .send(raw.encode(&json!({"id": *next_id, "text": "in flight"})))
            .await
        {
            Ok(r) => receipts.push(r),
            Err(e) => report
                .failures
                .push(format!("send {} failed: {e}", *next_id)),
        }
        *next_id += 1;
    }
}

async fn wait_ready(client: &Client<RawMessage>, report: &mut Report, when: &str) {
    let mut state = client.state();
    // Give the engine a moment to see the fault before waiting for Ready again.
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| !matches!(s, State::Ready)),
    )
    .await;
    if tokio::time::timeout(Duration::from_secs(10), client.ready())
        .await
        .map_or(true, |r| r.is_err())
    {
        report
            .failures
            .push(format!("not ready again within 10 s {when}"));
    }
}

/// Every id arrived at the hub, first-seen in send order.
fn check_hub_log(hub: &Hub, endpoint: &str, sent: usize, report: &mut Report) {
    let mut seen = HashSet::new();
    let mut first_seen = Vec::new();
    for frame in hub.received(endpoint) {
        let id = frame
            .as_text()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|v| v["id"].as_u64());
        if let Some(id) = id
            && seen.insert(id)
        {
            first_seen.push(id);
        }
    }
    report.received_by_hub = first_seen.len();
    if first_seen.len() != sent {
        report.failures.push(format!(
            "hub received {} distinct messages of {sent}",
            first_seen.len()
        ));
    }
    let expected: Vec<u64> = (0..sent as u64).collect();
    if first_seen != expected && first_seen.len() == sent {
        report.failures.push("hub saw messages out of order".into());
    }
}

/// Prints state changes and notable events as they happen; counts acks on the bar.
async fn narrate(mut events: tether::Events<RawMessage>, bar: ProgressBar, name: &'static str) {
    while let Some(event) = events.recv().await {
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
                bar.inc(1);
                continue;
            }
            Event::DecodeError { reason, .. } => format!("decode error: {reason}"),
            _ => continue,
        };
        let line = format!("{name:>9} │ {text}");
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    }
}
