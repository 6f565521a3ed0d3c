//! The `raw` platform: JSON values (or plain text) over WebSocket, or JSON lines over
//! TCP, with no login. Optional acknowledgements by a top-level field, and routing by
//! an event-name field.
//!
//! ```
//! use tether::raw::Raw;
//! use serde_json::json;
//! let raw = Raw::json().ack_field("id");
//! let msg = raw.encode(&json!({"id": 1, "text": "hi"}));
//! assert_eq!(msg.ack().unwrap().as_str(), "1");
//! assert_eq!(msg.frame().as_text(), Some(r#"{"id":1,"text":"hi"}"#));
//! ```

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use serde_json::Value;

use crate::{
    frame::Frame,
    outgoing::{AckKey, Outgoing},
    protocol::{Ack, CodecError, CodecFactory, DecodeError, FrameCodec, Inbound, Output, Protocol},
};

/// Whether frames carry JSON or arbitrary text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each text frame is one JSON value; others are decode errors.
    Json,
    /// Frames are passed through untouched.
    Text,
}

/// The raw platform.
#[derive(Debug, Clone)]
pub struct Raw {
    mode: Mode,
    ack_field: Option<Arc<str>>,
    event_field: Option<Arc<str>>,
    max_line: usize,
}

/// An inbound raw message: the frame, and its JSON when it parsed.
///
/// Like [`Frame`]'s, its `Debug` never shows the payload (which may carry a secret,
/// e.g. a server echoing a token): only the frame's size and whether JSON parsed.
#[derive(Clone)]
pub struct RawMessage {
    /// The frame as received.
    pub frame: Frame,
    /// The parsed JSON value (JSON mode, valid JSON text frames only).
    pub json: Option<Arc<Value>>,
}

impl std::fmt::Debug for RawMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMessage")
            .field("frame", &self.frame)
            .field("json", &self.json.is_some())
            .finish()
    }
}

impl RawMessage {
    /// The frame's text, for text frames.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        self.frame.as_text()
    }
}

/// A stdin line (or any text) that is not a valid message for the platform.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMessage(pub String);

impl Raw {
    /// JSON mode.
    #[must_use]
    pub fn json() -> Self {
        Self {
            mode: Mode::Json,
            ack_field: None,
            event_field: None,
            max_line: 16 * 1024 * 1024,
        }
    }

    /// Text mode: frames pass through untouched.
    #[must_use]
    pub fn text() -> Self {
        Self {
            mode: Mode::Text,
            ..Self::json()
        }
    }

    /// Declares acknowledgements: an outgoing JSON object with this top-level field stays
    /// pending until an inbound object whose field is equal (as a JSON value) arrives.
    #[must_use]
    pub fn ack_field(mut self, field: impl Into<String>) -> Self {
        self.ack_field = Some(Arc::from(field.into()));
        self
    }

    /// Routes inbound JSON objects to handlers by the string value of this field.
    #[must_use]
    pub fn event_field(mut self, field: impl Into<String>) -> Self {
        self.event_field = Some(Arc::from(field.into()));
        self
    }

    /// Largest line on `tcp://` (JSON lines).
    #[must_use]
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// The mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A message for a JSON value, without acknowledgement.
    #[must_use]
    pub fn message(value: &Value) -> Outgoing {
        Outgoing::new(Frame::text(value.to_string()))
    }

    /// A message for a JSON value, pending an ack when the value has the ack field.
    /// This is also the dry run: the returned frame is exactly what would be sent.
    #[must_use]
    pub fn encode(&self, value: &Value) -> Outgoing {
        let msg = Self::message(value);
        match self.ack_key(value) {
            Some(key) => msg.with_ack(key),
            None => msg,
        }
    }

    /// A message from one line of input: in JSON mode the line must be one JSON value and
    /// is sent verbatim; in text mode it is sent as it is.
    ///
    /// # Errors
    /// [`InvalidMessage`] with the parse error for a line that is not JSON (JSON mode).
    pub fn encode_line(&self, line: &str) -> Result<Outgoing, InvalidMessage> {
        match self.mode {
            Mode::Text => Ok(Outgoing::new(Frame::text(line.to_owned()))),
            Mode::Json => {
                let line = line.trim();
                let value: Value = serde_json::from_str(line)
                    .map_err(|e| InvalidMessage(format!("invalid JSON: {e}")))?;
                let msg = Outgoing::new(Frame::text(line.to_owned()));
                Ok(match self.ack_key(&value) {
                    Some(key) => msg.with_ack(key),
                    None => msg,
                })
            }
        }
    }

    fn ack_key(&self, value: &Value) -> Option<AckKey> {
        let field = self.ack_field.as_deref()?;
        value.get(field).map(AckKey::from_json)
    }
}

impl Protocol for Raw {
    type Event = RawMessage;

    fn name(&self) -> &'static str {
        "raw"
    }

    fn on_open(&mut self, out: &mut Output<RawMessage>) {
        out.ready();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<RawMessage>) -> Result<(), DecodeError> {
        if self.mode == Mode::Text || !frame.is_text() {
            out.deliver(Inbound::new(RawMessage { frame, json: None }));
            return Ok(());
        }
        match serde_json::from_slice::<Value>(frame.payload()) {
            Ok(value) => {
                let mut inbound = Inbound::new(RawMessage {
                    frame: frame.clone(),
                    json: None,
                });
                if let Some(name) = self
                    .event_field
                    .as_deref()
                    .and_then(|f| value.get(f))
                    .and_then(Value::as_str)
                {
                    inbound = inbound.named(name);
                }
                if let Some(key) = self.ack_key(&value) {
                    inbound = inbound.acking(Ack::accepted(key));
                }
                inbound.event.json = Some(Arc::new(value));
                out.deliver(inbound);
                Ok(())
            }
            Err(e) => {
                // Shown on the event stream (as text) but never routed to handlers.
                out.deliver(Inbound::new(RawMessage { frame, json: None }));
                Err(DecodeError::new(format!("invalid JSON: {e}")))
            }
        }
    }

    fn codec(&self) -> Option<CodecFactory> {
        let max = self.max_line;
        Some(Arc::new(move || {
            Box::new(JsonLines { max, scanned: 0 }) as Box<dyn FrameCodec>
        }))
    }
}

/// Newline-delimited frames (JSON lines) for `tcp://` and `tls://`.
#[derive(Debug)]
struct JsonLines {
    max: usize,
    scanned: usize,
}

impl FrameCodec for JsonLines {
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let Some(offset) = src[self.scanned..].iter().position(|b| *b == b'\n') else {
            self.scanned = src.len();
            if src.len() > self.max {
                return Err(CodecError::TooLarge { limit: self.max });
            }
            return Ok(None);
        };
        let end = self.scanned + offset;
        self.scanned = 0;
        if end > self.max {
            return Err(CodecError::TooLarge { limit: self.max });
        }
        let mut line = src.split_to(end + 1);
        line.truncate(end);
        if line.last() == Some(&b'\r') {
            line.truncate(end - 1);
        }
        Frame::text_from_bytes(line.freeze())
            .map(Some)
            .map_err(|_| CodecError::Malformed("line is not UTF-8".into()))
    }

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        let payload = frame.payload();
        if payload.contains(&b'\n') {
            return Err(CodecError::Malformed(
                "a JSON-lines frame cannot contain a newline".into(),
            ));
        }
        dst.reserve(payload.len() + 1);
        dst.put_slice(payload);
        dst.put_u8(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_that_are_not_json_are_refused_with_the_reason() {
        let err = Raw::json().encode_line("{nope").unwrap_err();
        assert!(err.0.starts_with("invalid JSON"), "{err}");
        assert!(Raw::text().encode_line("{nope").is_ok());
    }

    #[test]
    fn encode_line_keeps_the_text_verbatim_and_finds_the_ack_key() {
        let raw = Raw::json().ack_field("id");
        let msg = raw.encode_line(r#" {"id": "a", "v": 420.0} "#).unwrap();
        assert_eq!(msg.frame().as_text(), Some(r#"{"id": "a", "v": 420.0}"#));
        assert_eq!(msg.ack().unwrap().as_str(), r#""a""#);
        assert!(raw.encode_line(r#"{"v":1}"#).unwrap().ack().is_none());
    }

    #[test]
    fn inbound_json_is_named_and_acks_by_field() {
        let mut raw = Raw::json().ack_field("id").event_field("type");
        let mut out = Output::default();
        raw.on_frame(
            Frame::text(json!({"id": 3, "type": "chat"}).to_string()),
            &mut out,
        )
        .unwrap();
        let inbound = &out.inbound[0];
        assert_eq!(inbound.name.as_deref(), Some("chat"));
        assert_eq!(inbound.ack.as_ref().unwrap().key.as_str(), "3");
    }

    #[test]
    fn debug_never_prints_the_payload() {
        let mut out = Output::default();
        Raw::json()
            .on_frame(Frame::text(r#"{"token":"hunter2"}"#), &mut out)
            .unwrap();
        let shown = format!("{:?}", out.inbound[0].event);
        assert_eq!(shown, "RawMessage { frame: Text(19 bytes), json: true }");
    }

    #[test]
    fn invalid_json_is_a_decode_error_but_still_shown() {
        let mut raw = Raw::json();
        let mut out = Output::default();
        assert!(raw.on_frame(Frame::text("not json"), &mut out).is_err());
        assert_eq!(out.inbound.len(), 1);
        assert!(out.inbound[0].event.json.is_none());
    }

    #[test]
    fn json_lines_codec_splits_joined_and_partial_lines() {
        let factory = Raw::json().max_line(16).codec().unwrap();
        let mut codec = factory();
        let mut buf = BytesMut::from(&b"{\"a\":1}\n{\"b\""[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap().unwrap().as_text(),
            Some("{\"a\":1}")
        );
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b":2}\r\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap().unwrap().as_text(),
            Some("{\"b\":2}")
        );
        let mut big = BytesMut::from(&[b'x'; 40][..]);
        assert!(matches!(
            codec.decode(&mut big),
            Err(CodecError::TooLarge { .. })
        ));
    }
}
