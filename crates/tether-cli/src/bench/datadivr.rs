//! `--profile datadivr`: the echo workload through the typed [`DatadivrClient`] against a
//! datadivr server (the hub's `datadivr` endpoint): `sum_event` requests with payload
//! `{"numbers": [seq, 0]}`, whose `sum_handler_result` replies (payload `seq` as a float)
//! are matched in order, at most `window` in flight — the workload the suite's W6 runs
//! against the datadivr Python SDK.

use serde_json::json;
use tether::{
    Event, Events,
    datadivr::{DatadivrClient, Message},
};

use super::workload::{Answer, EchoResult, Plan, echo_loop, first_failure};

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
    let client_ref = &client;
    let result = echo_loop(
        &plan,
        &mut events,
        |seq| async move {
            client_ref
                .send_message(json!({"numbers": [seq, 0]}), REQUEST, None, "all")
                .await
                .map(drop)
                .map_err(|e| format!("send failed: {e}"))
        },
        |event, received| match event {
            Event::Message(msg) if msg.event_name == REPLY => {
                #[allow(clippy::cast_precision_loss)]
                let expected = received as f64;
                if msg.payload.as_f64() == Some(expected) {
                    Answer::Reply
                } else {
                    Answer::Failed(format!(
                        "reply out of order: {} for request {received}",
                        msg.payload
                    ))
                }
            }
            Event::Message(msg) if msg.event_name == "error" => {
                Answer::Failed(format!("the server answered an error: {:?}", msg.message))
            }
            Event::State(state) if state.is_closed() => {
                Answer::Failed(format!("the connection closed: {state:?}"))
            }
            _ => Answer::Other,
        },
    )
    .await?;
    client.disconnect().await;
    Ok(result)
}
