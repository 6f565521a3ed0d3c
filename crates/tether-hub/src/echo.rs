//! The generic endpoints: `echo`, `echo-ack` and `sink`.

use serde_json::Value;
use tether::Frame;

use crate::service::{Close, ConnInfo, Service, Session};

/// Echoes every text and binary message.
#[derive(Debug, Default)]
pub struct Echo;

struct EchoSession;

impl Service for Echo {
    fn open(&self, _conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(EchoSession))
    }
}

impl Session for EchoSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        out.push(frame);
        Ok(())
    }
}

/// Answers each JSON object carrying the ack field (default `id`, `?field=` to choose)
/// with `{"<field>": value, "ack": true}`; other messages get no answer.
#[derive(Debug, Default)]
pub struct EchoAck;

struct EchoAckSession {
    field: String,
}

impl Service for EchoAck {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        let field = conn
            .query_param("field")
            .filter(|f| !f.is_empty())
            .unwrap_or("id")
            .to_owned();
        Ok(Box::new(EchoAckSession { field }))
    }
}

impl Session for EchoAckSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        let Some(text) = frame.as_text() else {
            return Ok(());
        };
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
            return Ok(());
        };
        if let Some(value) = object.remove(&self.field) {
            // Field first, then "ack", whatever the map's key order.
            let field = Value::String(self.field.clone());
            out.push(Frame::text(format!("{{{field}:{value},\"ack\":true}}")));
        }
        Ok(())
    }
}

/// Discards everything; the endpoint's counters say how much arrived.
#[derive(Debug, Default)]
pub struct Sink;

struct SinkSession;

impl Service for Sink {
    fn open(&self, _conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(SinkSession))
    }
}

impl Session for SinkSession {
    fn on_frame(&mut self, _frame: Frame, _out: &mut Vec<Frame>) -> Result<(), Close> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_ack_answers_objects_with_the_field_only() {
        let mut s = EchoAckSession { field: "id".into() };
        let mut out = Vec::new();
        s.on_frame(Frame::text(r#"{"id":[1,"x"],"body":"…"}"#), &mut out)
            .unwrap();
        s.on_frame(Frame::text(r#"{"other":1}"#), &mut out).unwrap();
        s.on_frame(Frame::text("not json"), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_text(), Some(r#"{"id":[1,"x"],"ack":true}"#));
    }
}
