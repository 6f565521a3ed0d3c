//! `--profile datadivr`: the echo workload through the typed [`DatadivrClient`] against a
//! datadivr server (the hub's `datadivr` endpoint): `sum_event` requests with payload
//! `{"numbers": [seq, 0]}`, whose `sum_handler_result` replies (payload `seq` as a float)
//! are matched in order, at most `window` in flight — the workload the suite's W6 runs
//! against the datadivr Python SDK.

use std::{
    collections::VecDeque,
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use serde_json::json;
use tether::{
    Event, Events,
    datadivr::{DatadivrClient, Message},
};

use super::{
    measure::latency_histogram,
    workload::{EchoResult, Plan, first_failure},
};

/// The request's event name, and the reply's.
const REQUEST: &str = "sum_event";
const REPLY: &str = "sum_handler_result";

/// The text of request `seq` (its size is what the report's `size` says).
#[must_use]
pub fn wire_text(seq: u64) -> String {
    DatadivrClient::build_message(json!({"numbers": [seq, 0]}), REQUEST, None, "all")
}

/// Connects a typed client and waits until it is ready; the first failed attempt is an
/// error.
///
/// # Errors
/// When it cannot start or closes before it is ready.
pub async fn open(plan: &Plan) -> Result<(DatadivrClient, Events<Message>), String> {
    let client = DatadivrClient::new(plan.url.clone()).config(plan.config.clone());
    let mut events = client.connect().map_err(|e| e.to_string())?;
    let failed = first_failure(&mut events);
    tokio::select! {
        ready = client.ready() => ready.map_err(|e| format!("{}: not ready: {e}", plan.url))?,
        error = failed => return Err(format!("{}: {error}", plan.url)),
    }
    Ok((client, events))
}

/// Keeps at most `window` `sum_event` requests outstanding, matches each reply to the
/// oldest request by its sum (`seq`), records each round trip.
///
/// # Errors
/// When the connection closes, a send fails, or a reply is not the one expected.
pub async fn echo(
    plan: Plan,
    client: DatadivrClient,
    mut events: Events<Message>,
) -> Result<EchoResult, String> {
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
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
            }
            client
                .send_message(json!({"numbers": [sent, 0]}), REQUEST, None, "all")
                .await
                .map_err(|e| format!("send failed: {e}"))?;
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
        match event {
            Some(Event::Message(msg)) if msg.event_name == REPLY => {
                #[allow(clippy::cast_precision_loss)]
                let expected = received as f64;
                if msg.payload.as_f64() != Some(expected) {
                    return Err(format!(
                        "reply out of order: {} for request {received}",
                        msg.payload
                    ));
                }
                let Some(at) = outstanding.pop_front() else {
                    return Err("a reply arrived for a request never sent".into());
                };
                let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(us.max(1));
                received += 1;
                plan.progress.fetch_add(1, Relaxed);
            }
            Some(Event::Message(msg)) if msg.event_name == "error" => {
                return Err(format!("the server answered an error: {:?}", msg.message));
            }
            Some(Event::State(state)) if state.is_closed() => {
                return Err(format!("the connection closed: {state:?}"));
            }
            Some(_) => {}
            None => return Err("the client stopped".into()),
        }
    }
    client.disconnect().await;
    Ok(EchoResult { received, latency })
}
