//! `--profile gather`: the echo workload through the typed [`GatherClient`] against a
//! Gather engine (the hub's `gather` endpoint): `set_text_status` actions, each
//! acknowledged by its `transactionStatus` (the engine's ack tracking, by txnId), at most
//! `window` unacknowledged — the workload the suite's W6 runs against the real Gather SDK.

use std::{
    collections::VecDeque,
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use tether::{
    Client, Receipt,
    gather::{Action, GatherClient, ServerEvent, encode_action},
};

use super::{
    measure::latency_histogram,
    workload::{EchoResult, Plan, first_failure},
};

/// The space the bench's clients join.
const SPACE: &str = "bench";

/// The action of message `seq`, built with the typed constructor (what a Rust caller
/// writes; `Action::from_json` is the CLI's path for typed-in lines).
fn action(seq: u64) -> Action {
    Action::set_text_status(format!("s{seq}"), None)
}

/// The size of one action on the wire (its protobuf encoding with a txnId).
#[must_use]
pub fn wire_size() -> usize {
    encode_action(&action(0), Some(u32::MAX)).len()
}

/// Connects a typed client to the engine URL and waits until it is ready (`init` →
/// `ready`); the first failed attempt is an error.
///
/// # Errors
/// When it cannot start or closes before it is ready.
pub async fn open(plan: &Plan) -> Result<(GatherClient, Client<ServerEvent>), String> {
    let client = GatherClient::builder("bench-api-key", SPACE)
        .config(plan.config.clone())
        .engine_url(plan.url.clone())
        .build();
    let mut events = client.connect().map_err(|e| e.to_string())?;
    let failed = first_failure(&mut events);
    tokio::select! {
        ready = client.ready() => ready.map_err(|e| format!("{}: not ready: {e}", plan.url))?,
        error = failed => return Err(format!("{}: {error}", plan.url)),
    }
    // The event stream is not needed: acknowledgements resolve the receipts. Reading
    // it on would only cost; dropping it keeps the socket read.
    drop(events);
    let engine = client.engine().ok_or("the gather client did not start")?;
    Ok((client, engine))
}

/// Keeps at most `window` actions unacknowledged; each round trip is the time from
/// `send` to its `transactionStatus`, acknowledged in send order.
///
/// # Errors
/// When a send fails or an action is not acknowledged.
pub async fn echo(
    plan: Plan,
    client: GatherClient,
    engine: Client<ServerEvent>,
) -> Result<EchoResult, String> {
    let mut latency = latency_histogram();
    let mut outstanding: VecDeque<(Instant, Receipt<ServerEvent>)> =
        VecDeque::with_capacity(plan.window);
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let sending = sent < plan.messages && plan.duration.is_none_or(|d| start.elapsed() < d);
        if sending && outstanding.len() < plan.window {
            if plan.rate > 0.0 {
                #[allow(clippy::cast_precision_loss)]
                let due = start + Duration::from_secs_f64(sent as f64 / plan.rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let (_, message) = client.outgoing(&action(sent));
            let receipt = engine
                .send(message)
                .await
                .map_err(|e| format!("send failed: {e}"))?;
            outstanding.push_back((Instant::now(), receipt));
            sent += 1;
            continue;
        }
        let Some((at, receipt)) = outstanding.pop_front() else {
            break;
        };
        receipt
            .await
            .map_err(|e| format!("action {received} not acknowledged: {e}"))?;
        let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(us.max(1));
        received += 1;
        plan.progress.fetch_add(1, Relaxed);
    }
    client.close().await;
    Ok(EchoResult { received, latency })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_action_is_the_one_from_json_builds() {
        for seq in [0, 7, u64::MAX] {
            let from_json = Action::from_json(
                "set_text_status",
                &serde_json::json!({"text_status": format!("s{seq}")}),
            )
            .unwrap();
            assert_eq!(action(seq), from_json);
        }
    }
}
