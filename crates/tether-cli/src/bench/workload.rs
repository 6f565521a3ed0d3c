//! The three workloads, each through tether's public `send` and event stream: pipelined
//! echo (latency per message), send-only into a sink, and idle connections.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use tether::{Client, ClientConfig, Event, Events, Frame, Policy, raw::Raw, raw::RawMessage};

use super::measure::latency_histogram;

/// What every client of a run shares.
#[derive(Clone)]
pub struct Plan {
    /// Server URL.
    pub url: String,
    /// Messages per client (`u64::MAX` with a duration).
    pub messages: u64,
    /// The messages sent, in turn (one, unless `--messages-from` gave several).
    pub frames: Arc<[Frame]>,
    /// Their mean size in bytes.
    pub size: usize,
    /// Outstanding messages per client (echo).
    pub window: usize,
    /// Messages per second per client (0: as fast as possible).
    pub rate: f64,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    /// Client configuration.
    pub config: ClientConfig,
    /// Messages done so far, all clients (for the progress bar).
    pub progress: Arc<AtomicU64>,
    /// Hand messages over with `send_all` and take events with `recv_many`.
    pub batch: bool,
}

/// Messages per `send_all` in the send-only workload with `--batch`.
const SEND_ONLY_BATCH: u64 = 1024;

impl Plan {
    /// The message sent as number `seq` (the frames in turn).
    #[must_use]
    pub fn frame(&self, seq: u64) -> Frame {
        let n = self.frames.len() as u64;
        self.frames[usize::try_from(seq % n).unwrap_or(0)].clone()
    }

    /// `n` messages from number `seq` on.
    fn frames_from(&self, seq: u64, n: usize) -> impl Iterator<Item = Frame> + '_ {
        (seq..).take(n).map(|i| self.frame(i))
    }
}

/// The messages of a `--messages-from` file: one text frame per non-empty line.
///
/// # Errors
/// When the file cannot be read or holds no message.
pub fn messages_from(path: &std::path::Path) -> Result<Vec<Frame>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let frames: Vec<Frame> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Frame::text(l.to_owned()))
        .collect();
    if frames.is_empty() {
        return Err(format!("{}: no messages", path.display()));
    }
    Ok(frames)
}

/// A message of `size` bytes: a JSON text (`{"seq":0,"pad":"xx…"}`) or, with `binary`,
/// that many bytes.
#[must_use]
pub fn message(size: usize, binary: bool) -> Frame {
    if binary {
        return Frame::binary(vec![0x5a; size]);
    }
    let head = r#"{"seq":0,"pad":""#;
    let pad = size.saturating_sub(head.len() + 2);
    Frame::text(format!("{head}{}\"}}", "x".repeat(pad)))
}

/// The client configuration of a run: room in the outbox and event stream for the whole
/// window; heartbeat, watchdog and reconnect stay on as in any client.
#[must_use]
pub fn config(window: usize, max_message_size: usize) -> ClientConfig {
    ClientConfig::default()
        .outbox(window.max(1024), Policy::Backpressure)
        .event_capacity(window.max(1024))
        .max_message_size(max_message_size)
}

/// Starts a client and waits until it is ready; the first failed attempt is an error.
///
/// # Errors
/// When it cannot start or closes before it is ready.
pub async fn open(plan: &Plan) -> Result<(Client<RawMessage>, Events<RawMessage>), String> {
    let (client, events) = Client::builder(Raw::text())
        .url(&plan.url)
        .config(plan.config.clone())
        .start()
        .map_err(|e| e.to_string())?;
    // The first failed attempt ends the run (a benchmark does not wait out a backoff).
    let mut events = events;
    let failed = first_failure(&mut events);
    tokio::select! {
        ready = client.ready() => {
            ready.map_err(|state| format!("{}: not ready: {state:?}", plan.url))?;
        }
        error = failed => return Err(format!("{}: {error}", plan.url)),
    }
    Ok((client, events))
}

/// The error of the client's first failed connection attempt (events before it are
/// skipped).
pub async fn first_failure<E>(events: &mut Events<E>) -> String {
    loop {
        match events.recv().await {
            Some(Event::Disconnected { error, .. }) => return error.to_string(),
            Some(_) => {}
            None => return "the client stopped".to_owned(),
        }
    }
}

/// What one echo client measured.
pub struct EchoResult {
    /// Messages echoed back.
    pub received: u64,
    /// Latencies in µs.
    pub latency: Histogram<u64>,
}

/// Keeps at most `window` messages outstanding, matches echoes in order, records each
/// round trip.
///
/// # Errors
/// When the connection closes or a send fails.
pub async fn echo(
    plan: Plan,
    client: Client<RawMessage>,
    mut events: Events<RawMessage>,
) -> Result<EchoResult, String> {
    if plan.batch {
        return echo_batched(plan, client, events).await;
    }
    let (client_ref, plan_ref) = (&client, &plan);
    let result = echo_loop(
        &plan,
        &mut events,
        |seq| async move {
            client_ref
                .send(plan_ref.frame(seq))
                .await
                .map(drop)
                .map_err(|e| format!("send failed: {e}"))
        },
        |event, _| match event {
            Event::Message(_) => Answer::Reply,
            Event::State(state) if state.is_closed() => {
                Answer::Failed(format!("the connection closed: {state:?}"))
            }
            _ => Answer::Other,
        },
    )
    .await?;
    client.close().await;
    Ok(result)
}

/// What one event is to an echo loop.
pub enum Answer {
    /// The reply to the oldest outstanding message.
    Reply,
    /// Anything else: skipped.
    Other,
    /// The run cannot go on.
    Failed(String),
}

/// The echo loop every profile shares: keeps at most `window` messages outstanding
/// (`send(seq)` sends message `seq`), paced by `--rate` and `--duration`, reads events
/// and lets `answer(event, replies so far)` say which is the reply to the oldest
/// outstanding message, and records each round trip.
///
/// # Errors
/// A send's error, an `answer` that failed, or the event stream ending.
pub async fn echo_loop<E, Sent>(
    plan: &Plan,
    events: &mut Events<E>,
    mut send: impl FnMut(u64) -> Sent,
    mut answer: impl FnMut(Event<E>, u64) -> Answer,
) -> Result<EchoResult, String>
where
    Sent: Future<Output = Result<(), String>>,
{
    let mut latency = latency_histogram();
    let mut outstanding: VecDeque<Instant> = VecDeque::with_capacity(plan.window);
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    let mut sending = true;
    loop {
        while sending && outstanding.len() < plan.window {
            if sent >= plan.messages || plan.duration.is_some_and(|d| start.elapsed() >= d) {
                sending = false;
                break;
            }
            if plan.rate > 0.0 {
                #[allow(clippy::cast_precision_loss)]
                let due = start + Duration::from_secs_f64(sent as f64 / plan.rate);
                if due > Instant::now() && !outstanding.is_empty() {
                    break; // read replies until it is time to send again
                }
                tokio::time::sleep_until(due.into()).await;
            }
            send(sent).await?;
            outstanding.push_back(Instant::now());
            sent += 1;
        }
        if !sending && outstanding.is_empty() {
            break;
        }
        let event = if plan.rate > 0.0 && sending && !outstanding.is_empty() {
            #[allow(clippy::cast_precision_loss)]
            let due = start + Duration::from_secs_f64(sent as f64 / plan.rate);
            match tokio::time::timeout_at(due.into(), events.recv()).await {
                Ok(event) => event,
                Err(_) => continue,
            }
        } else {
            events.recv().await
        };
        let Some(event) = event else {
            return Err("the client stopped".into());
        };
        match answer(event, received) {
            Answer::Reply => {
                let Some(at) = outstanding.pop_front() else {
                    return Err("a reply arrived for a message never sent".into());
                };
                let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(us.max(1));
                received += 1;
                plan.progress.fetch_add(1, Relaxed);
            }
            Answer::Other => {}
            Answer::Failed(error) => return Err(error),
        }
    }
    Ok(EchoResult { received, latency })
}

/// The echo workload with `--batch`: each refill of the window is one `send_all` (its
/// messages share one send time: they are handed over together), and events are taken
/// with `recv_many`.
async fn echo_batched(
    plan: Plan,
    client: Client<RawMessage>,
    mut events: Events<RawMessage>,
) -> Result<EchoResult, String> {
    let mut latency = latency_histogram();
    let mut outstanding: VecDeque<Instant> = VecDeque::with_capacity(plan.window);
    let mut buffer = Vec::with_capacity(plan.window);
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let sending = sent < plan.messages && plan.duration.is_none_or(|d| start.elapsed() < d);
        let room = plan.window - outstanding.len();
        if sending && room > 0 {
            let n = usize::try_from(plan.messages - sent).map_or(room, |left| left.min(room));
            client
                .send_all(plan.frames_from(sent, n))
                .await
                .map_err(|e| format!("send failed: {e}"))?;
            let at = Instant::now();
            outstanding.extend(std::iter::repeat_n(at, n));
            sent += n as u64;
        } else if outstanding.is_empty() {
            break;
        }
        if events.recv_many(&mut buffer, plan.window).await == 0 {
            return Err("the client stopped".into());
        }
        let now = Instant::now();
        let mut echoed = 0;
        for event in buffer.drain(..) {
            match event {
                Event::Message(_) => {
                    let Some(at) = outstanding.pop_front() else {
                        return Err("an echo arrived for a message never sent".into());
                    };
                    let us = u64::try_from((now - at).as_micros()).unwrap_or(u64::MAX);
                    latency.saturating_record(us.max(1));
                    echoed += 1;
                }
                Event::State(state) if state.is_closed() => {
                    return Err(format!("the connection closed: {state:?}"));
                }
                _ => {}
            }
        }
        received += echoed;
        plan.progress.fetch_add(echoed, Relaxed);
    }
    client.close().await;
    Ok(EchoResult { received, latency })
}

/// Writes the plan's messages without waiting for anything but room in the outbox, then
/// waits until every one is flushed.
///
/// # Errors
/// When a send fails or they are not flushed within a minute.
pub async fn send_only(plan: Plan, client: Client<RawMessage>) -> Result<u64, String> {
    let start = Instant::now();
    let mut sent = 0u64;
    while plan.batch && sent < plan.messages && plan.duration.is_none_or(|d| start.elapsed() < d) {
        let n = (plan.messages - sent).min(SEND_ONLY_BATCH);
        client
            .send_all(plan.frames_from(sent, usize::try_from(n).unwrap_or(1)))
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        sent += n;
        plan.progress.fetch_add(n, Relaxed);
    }
    while sent < plan.messages && plan.duration.is_none_or(|d| start.elapsed() < d) {
        if plan.rate > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            let due = start + Duration::from_secs_f64(sent as f64 / plan.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        client
            .send(plan.frame(sent))
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        sent += 1;
        if sent % 1024 == 0 {
            plan.progress.fetch_add(1024, Relaxed);
        }
    }
    if !plan.batch {
        plan.progress.fetch_add(sent % 1024, Relaxed);
    }
    client
        .drain(Duration::from_secs(60))
        .await
        .map_err(|n| format!("{n} messages not flushed after 60 s"))?;
    Ok(sent)
}
