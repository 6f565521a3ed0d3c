//! The datadivr client state machine: no login, no application heartbeat.

use crate::{
    frame::Frame,
    protocol::{DecodeError, Inbound, Output, Protocol},
};

use super::model::Message;

/// The datadivr platform for the engine: ready as soon as the WebSocket is open; every
/// text frame is one [`Message`], routed to handlers by its `event_name`.
///
/// datadivr has no application heartbeat: the engine's WebSocket pings (answered by any
/// server) notice a dead peer. A frame that is not a valid message (invalid JSON, a
/// non-object, no `event_name`, a binary frame) is a decode error; the connection goes on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Datadivr;

impl Protocol for Datadivr {
    type Event = Message;

    fn name(&self) -> &'static str {
        "datadivr"
    }

    fn on_open(&mut self, out: &mut Output<Message>) {
        out.ready();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<Message>) -> Result<(), DecodeError> {
        let Some(text) = frame.as_text() else {
            return Err(DecodeError::new("binary frame: datadivr sends JSON text"));
        };
        let message = Message::parse(text).map_err(|e| DecodeError::new(e.to_string()))?;
        let name = message.event_name.clone();
        out.deliver(Inbound::new(message).named(name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(frame: Frame) -> (Result<(), DecodeError>, Output<Message>) {
        let mut out = Output::default();
        (Datadivr.on_frame(frame, &mut out), out)
    }

    #[test]
    fn ready_on_open_without_sending_anything() {
        let mut out = Output::default();
        Datadivr.on_open(&mut out);
        assert!(out.ready);
        assert!(out.control.is_empty());
        assert!(Datadivr.heartbeat_interval().is_none());
    }

    #[test]
    fn a_message_is_named_by_its_event_name() {
        let (result, out) = feed(Frame::text(
            r#"{"event_name":"sum_handler_result","payload":420.0,"to":"x","from_id":"server","message":null}"#,
        ));
        result.unwrap();
        let inbound = &out.inbound[0];
        assert_eq!(inbound.name.as_deref(), Some("sum_handler_result"));
        assert!(inbound.event.payload.is_f64());
        assert!(inbound.ack.is_none());
    }

    #[test]
    fn bad_frames_are_decode_errors_and_deliver_nothing() {
        for frame in [
            Frame::text("not json"),
            Frame::text(r#"{"payload": 1}"#),
            Frame::text("[1, 2]"),
            Frame::text("42"),
            Frame::binary(&b"{\"event_name\":\"x\"}"[..]),
        ] {
            let (result, out) = feed(frame.clone());
            assert!(result.is_err(), "{frame:?} should not decode");
            assert!(out.inbound.is_empty());
        }
    }
}
