//! The stdout contract: one JSON object per line.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tether::{AckOutcome, Event, Frame, Outgoing, State, Transmission};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Appends the `"data": D` of a frame (plus `"binary": true` for binary frames) to `line`,
/// which holds an open JSON object. Text that is JSON is written verbatim (numbers keep
/// their spelling); other text becomes a JSON string.
pub fn push_data(line: &mut String, frame: &Frame, is_json: Option<bool>) {
    match frame {
        Frame::Binary(bytes) => {
            line.push_str(",\"binary\":true,\"data\":\"");
            line.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            line.push('"');
        }
        Frame::Text(_) => {
            let text = frame.as_text().unwrap_or_default();
            let is_json = is_json
                .unwrap_or_else(|| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
            line.push_str(",\"data\":");
            if is_json {
                push_single_line_json(line, text.trim());
            } else {
                line.push_str(&Value::String(text.to_owned()).to_string());
            }
        }
    }
}

/// Writes valid JSON text on one line: whitespace outside strings is removed only when
/// the text spans lines, so `420.0` stays `420.0` and nothing else changes.
fn push_single_line_json(line: &mut String, text: &str) {
    if !text.contains(['\n', '\r']) {
        line.push_str(text);
        return;
    }
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            line.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            line.push(c);
        } else if !c.is_whitespace() {
            line.push(c);
        }
    }
}

fn open(kind: &str, with_time: bool) -> String {
    let mut line = String::with_capacity(128);
    line.push_str("{\"type\":\"");
    line.push_str(kind);
    line.push('"');
    if with_time {
        line.push_str(",\"at\":");
        line.push_str(&now_ms().to_string());
    }
    line
}

/// Appends `"key":value` pairs in the given order.
fn extend(line: &mut String, fields: Fields) {
    for (k, v) in fields {
        line.push_str(",\"");
        line.push_str(k);
        line.push_str("\":");
        line.push_str(&v.to_string());
    }
}

/// A whole event line the session makes itself: `{"type":kind,"at":ms,fields…}`.
pub fn event(kind: &str, fields: Fields) -> String {
    let mut line = open(kind, true);
    extend(&mut line, fields);
    line.push('}');
    line
}

/// Ordered fields of an output line.
pub type Fields = Vec<(&'static str, Value)>;

/// The JSON of a state.
pub fn state_fields(state: &State) -> Fields {
    let mut m = vec![("state", json!(state.name()))];
    match state {
        State::Reconnecting { attempt, delay } => {
            m.push(("attempt", json!(attempt)));
            m.push((
                "delay_ms",
                json!(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            ));
        }
        State::Closed { reason, fatal } => {
            m.push(("reason", json!(reason.to_string())));
            m.push(("fatal", json!(fatal)));
        }
        _ => {}
    }
    m
}

/// `"transmission"`: `not_sent` (safe to send again), `unconfirmed` (written, may have
/// arrived) or `refused` (arrived, refused by the peer).
fn transmission_field(transmission: Transmission) -> (&'static str, Value) {
    let name = match transmission {
        Transmission::NotSent => "not_sent",
        Transmission::Unconfirmed => "unconfirmed",
        Transmission::Refused => "refused",
    };
    ("transmission", json!(name))
}

fn message_line(kind: &str, message: &Outgoing, with_time: bool) -> String {
    let mut line = open(kind, with_time);
    push_data(&mut line, message.frame(), None);
    line
}

/// The stdout line of one event, or `None` when the event is not printed
/// (without `--events` only messages are).
pub fn event_line<E>(
    event: &Event<E>,
    events: bool,
    data: impl Fn(&E, &mut String),
) -> Option<String> {
    let mut line = match event {
        Event::Message(m) => {
            let mut line = open("message", events);
            data(m, &mut line);
            line
        }
        _ if !events => return None,
        Event::State(state) => {
            let mut line = open("state", true);
            extend(&mut line, state_fields(state));
            line
        }
        Event::Disconnected { error, fatal } => {
            let mut line = open("disconnected", true);
            extend(
                &mut line,
                vec![("error", json!(error.to_string())), ("fatal", json!(fatal))],
            );
            line
        }
        Event::Ack { key, outcome } => {
            let mut line = open("ack", true);
            let key: Value =
                serde_json::from_str(key.as_str()).unwrap_or_else(|_| json!(key.as_str()));
            let mut m = vec![("key", key)];
            match outcome {
                AckOutcome::Accepted => m.push(("accepted", json!(true))),
                AckOutcome::Rejected(reason) => {
                    m.push(("accepted", json!(false)));
                    m.push(("reason", json!(reason)));
                }
            }
            extend(&mut line, m);
            line
        }
        Event::Dropped {
            message,
            transmission,
        } => {
            let mut line = message_line("dropped", message, true);
            extend(&mut line, vec![transmission_field(*transmission)]);
            line
        }
        Event::DecodeError { reason, excerpt } => {
            let mut line = open("decode_error", true);
            extend(
                &mut line,
                vec![("reason", json!(reason)), ("excerpt", json!(excerpt))],
            );
            line
        }
        Event::HandlerError { event, error } => {
            let mut line = open("handler_error", true);
            extend(
                &mut line,
                vec![("event", json!(event)), ("error", json!(error))],
            );
            line
        }
        Event::Undelivered(error) => {
            let mut line = message_line("undelivered", error.message(), true);
            extend(
                &mut line,
                vec![
                    ("reason", json!(error.kind())),
                    ("error", json!(error.to_string())),
                    transmission_field(error.transmission()),
                ],
            );
            line
        }
        _ => return None,
    };
    line.push('}');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether::raw::RawMessage;

    fn raw_line(event: &Event<RawMessage>, events: bool) -> Option<String> {
        event_line(event, events, |m: &RawMessage, line: &mut String| {
            push_data(line, &m.frame, m.json.as_ref().map(|_| true))
        })
    }
    use std::sync::Arc;

    fn msg(text: &str) -> Event<RawMessage> {
        let json = serde_json::from_str::<Value>(text).ok().map(Arc::new);
        Event::Message(RawMessage {
            frame: Frame::text(text),
            json,
        })
    }

    #[test]
    fn json_messages_are_printed_verbatim() {
        assert_eq!(
            raw_line(&msg(r#"{"v": 420.0}"#), false).unwrap(),
            r#"{"type":"message","data":{"v": 420.0}}"#
        );
    }

    #[test]
    fn multi_line_json_is_joined_without_touching_strings() {
        let line = raw_line(&msg("{\n  \"a\": \"x  y\",\n  \"b\": 1.50\n}"), false).unwrap();
        assert_eq!(line, r#"{"type":"message","data":{"a":"x  y","b":1.50}}"#);
    }

    #[test]
    fn non_json_text_becomes_a_string_and_binary_base64() {
        let text = Event::Message(RawMessage {
            frame: Frame::text("hi \"there\""),
            json: None,
        });
        assert_eq!(
            raw_line(&text, false).unwrap(),
            r#"{"type":"message","data":"hi \"there\""}"#
        );
        let bin = Event::Message(RawMessage {
            frame: Frame::binary(vec![1u8, 2, 3]),
            json: None,
        });
        assert_eq!(
            raw_line(&bin, false).unwrap(),
            r#"{"type":"message","binary":true,"data":"AQID"}"#
        );
    }

    #[test]
    fn events_carry_time_and_state_details() {
        let e = Event::State(State::Reconnecting {
            attempt: 2,
            delay: std::time::Duration::from_millis(1500),
        });
        assert!(raw_line(&e, false).is_none());
        let line = raw_line(&e, true).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "state");
        assert_eq!(v["state"], "reconnecting");
        assert_eq!(v["attempt"], 2);
        assert_eq!(v["delay_ms"], 1500);
        assert!(v["at"].as_u64().unwrap() > 1_600_000_000_000);
    }
}
