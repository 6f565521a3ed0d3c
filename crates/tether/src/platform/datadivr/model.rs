//! The datadivr message (`WebSocketMessage` in the Python package) and its two wire
//! encodings: the client's (Python `json.dumps` defaults) and the server's (Starlette
//! `send_json`: compact, raw UTF-8).

use crate::json::Value;
use serde::{Deserialize, Serialize};

use crate::platform::pyjson;

/// The default `to`: every connected client except the sender.
pub const TO_OTHERS: &str = "others";
/// `to` for every connected client, the sender included.
pub const TO_ALL: &str = "all";
/// The default `from_id`: the Python client never sets it, and the server overwrites it
/// with the sender's id when it relays a message.
pub const FROM_SERVER: &str = "server";

/// One datadivr message.
///
/// Fields keep the Python model's order on the wire (`event_name`, `payload`, `to`,
/// `from_id`, `message`); unknown fields are ignored when parsing.
///
/// ```
/// use tether::{datadivr::Message, json};
/// // `tether::json!` keeps keys in the order written (a `serde_json::Value` converts too).
/// let msg = Message::new("sum_event").payload(json!({"numbers": [391, 29]})).to("all");
/// assert_eq!(
///     msg.client_wire_text(),
///     r#"{"event_name": "sum_event", "payload": {"numbers": [391, 29]}, "to": "all", "from_id": "server", "message": null}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The event name: what handlers are registered by.
    pub event_name: String,
    /// Any JSON value (default `null`).
    #[serde(default)]
    pub payload: Value,
    /// Recipient: `"all"`, `"others"` (default) or a client id.
    #[serde(default = "default_to")]
    pub to: String,
    /// Sender: a client id, or `"server"` (default).
    #[serde(default = "default_from_id")]
    pub from_id: String,
    /// An optional text.
    #[serde(default)]
    pub message: Option<String>,
}

fn default_to() -> String {
    TO_OTHERS.to_owned()
}

fn default_from_id() -> String {
    FROM_SERVER.to_owned()
}

/// Text that is not a valid datadivr message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON, but not an object (the server rejects arrays and scalars).
    #[error("not a JSON object")]
    NotAnObject,
    /// An object that fails validation (no `event_name`, `to: null`, a wrong type…).
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl Message {
    /// A message with this event name and every other field at its default.
    pub fn new(event_name: impl Into<String>) -> Self {
        Self {
            event_name: event_name.into(),
            payload: Value::Null,
            to: default_to(),
            from_id: default_from_id(),
            message: None,
        }
    }

    /// Sets the payload.
    #[must_use]
    pub fn payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Sets the recipient (`"all"`, `"others"` or a client id).
    #[must_use]
    pub fn to(mut self, to: impl Into<String>) -> Self {
        self.to = to.into();
        self
    }

    /// Sets the sender id.
    #[must_use]
    pub fn from_id(mut self, from_id: impl Into<String>) -> Self {
        self.from_id = from_id.into();
        self
    }

    /// Sets the text message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Parses one text frame, validating it as the server does.
    ///
    /// # Errors
    /// [`ParseError`] for invalid JSON, a non-object, or an object that fails validation.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        // Fast path: an object straight into the struct, without building a `Value` map
        // first. What it accepts, the path below accepts into the same message; what it
        // refuses (a duplicate field, a wrong type, invalid JSON…) goes the path below,
        // which decides, so results and errors are unchanged.
        if text.trim_start().starts_with('{') {
            if let Ok(message) = serde_json::from_str::<Self>(text) {
                return Ok(message);
            }
        }
        Self::parse_via_value(text)
    }

    /// [`Message::parse`] through a full [`Value`]: the reference, and what judges what
    /// the fast path refuses.
    fn parse_via_value(text: &str) -> Result<Self, ParseError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
        Self::from_value(value)
    }

    /// Validates a parsed JSON value.
    ///
    /// # Errors
    /// [`ParseError::NotAnObject`] or [`ParseError::Invalid`].
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        if !value.is_object() {
            return Err(ParseError::NotAnObject);
        }
        crate::json::from_value(value).map_err(|e| ParseError::Invalid(e.to_string()))
    }

    /// The model dump as a JSON value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut map = crate::json::Map::new();
        map.insert("event_name".into(), Value::String(self.event_name.clone()));
        map.insert("payload".into(), self.payload.clone());
        map.insert("to".into(), Value::String(self.to.clone()));
        map.insert("from_id".into(), Value::String(self.from_id.clone()));
        map.insert(
            "message".into(),
            self.message.clone().map_or(Value::Null, Value::String),
        );
        Value::Object(map)
    }

    /// The text the Python client sends: `json.dumps` with default arguments (`", "` and
    /// `": "` separators, non-ASCII escaped as `\uXXXX`, Python float repr).
    #[must_use]
    pub fn client_wire_text(&self) -> String {
        self.fields().text(pyjson::Style::PYTHON)
    }

    /// The text the server sends: Starlette's `send_json` (compact separators, raw UTF-8,
    /// Python float repr, so `420.0` stays `420.0`).
    #[must_use]
    pub fn server_wire_text(&self) -> String {
        self.fields().text(pyjson::Style::COMPACT)
    }

    /// Appends [`Message::client_wire_text`] to `out` (for a caller reusing a buffer).
    pub fn write_client_wire_text(&self, out: &mut String) {
        write_wire(out, &self.fields(), pyjson::Style::PYTHON);
    }

    /// Appends [`Message::server_wire_text`] to `out` (for a caller reusing a buffer).
    pub fn write_server_wire_text(&self, out: &mut String) {
        write_wire(out, &self.fields(), pyjson::Style::COMPACT);
    }

    /// The fields, borrowed, for the wire writers.
    fn fields(&self) -> WireFields<'_> {
        WireFields {
            event_name: &self.event_name,
            payload: &self.payload,
            to: &self.to,
            from_id: &self.from_id,
            message: self.message.as_deref(),
        }
    }
}

/// A message's fields, borrowed: what the wire texts are written from, field by field, as
/// `json.dumps(model_dump())` would, with no intermediate [`Value`] and no copies.
pub(crate) struct WireFields<'a> {
    pub(crate) event_name: &'a str,
    pub(crate) payload: &'a Value,
    pub(crate) to: &'a str,
    pub(crate) from_id: &'a str,
    pub(crate) message: Option<&'a str>,
}

impl WireFields<'_> {
    /// The client's wire text of these fields ([`Message::client_wire_text`]).
    pub(crate) fn client_wire_text(&self) -> String {
        self.text(pyjson::Style::PYTHON)
    }

    /// The wire text in `style`, in a buffer sized for the fixed part, the strings and a
    /// small payload.
    fn text(&self, style: pyjson::Style) -> String {
        let mut out = String::with_capacity(
            112 + self.event_name.len()
                + self.to.len()
                + self.from_id.len()
                + self.message.map_or(0, str::len),
        );
        write_wire(&mut out, self, style);
        out
    }
}

/// Writes the model dump of `fields` with `style`, in the model's field order.
fn write_wire(out: &mut String, fields: &WireFields<'_>, style: pyjson::Style) {
    let key = |out: &mut String, name: &str, first: bool| {
        if !first {
            out.push_str(style.item_sep);
        }
        // Field names are plain ASCII: no escapes.
        out.push('"');
        out.push_str(name);
        out.push('"');
        out.push_str(style.key_sep);
    };
    out.push('{');
    key(out, "event_name", true);
    pyjson::write_str(out, fields.event_name, style.ensure_ascii);
    key(out, "payload", false);
    pyjson::write_value(out, fields.payload, style);
    key(out, "to", false);
    pyjson::write_str(out, fields.to, style.ensure_ascii);
    key(out, "from_id", false);
    pyjson::write_str(out, fields.from_id, style.ensure_ascii);
    key(out, "message", false);
    match fields.message {
        Some(text) => pyjson::write_str(out, text, style.ensure_ascii),
        None => out.push_str("null"),
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn defaults_apply_and_unknown_fields_are_ignored() {
        let msg = Message::parse(r#"{"event_name":"e","x":1,"from":"y"}"#).unwrap();
        assert_eq!(msg, Message::new("e"));
        assert_eq!(msg.to, "others");
        assert_eq!(msg.from_id, "server");
        assert_eq!(msg.payload, Value::Null);
    }

    #[test]
    fn validation_matches_the_server() {
        assert!(matches!(Message::parse("{nope"), Err(ParseError::Json(_))));
        assert_eq!(
            Message::parse(r#"["e", null]"#),
            Err(ParseError::NotAnObject)
        );
        assert!(matches!(
            Message::parse(r#"{"payload": 1}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            Message::parse(r#"{"event_name": "e", "to": null}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(Message::parse(r#"{"event_name": "e", "message": null}"#).is_ok());
    }

    #[test]
    fn the_fast_parse_agrees_with_the_value_parse() {
        for text in [
            r#"{"event_name":"sum_handler_result","payload":420.0,"to":"x","from_id":"server","message":null}"#,
            r#" {"event_name": "e", "event_name": "f"}"#,
            r#"{"event_name": "e", "payload": 1, "payload": {"b": 1, "a": 2}}"#,
            r#"{"event\u005fname": "\u00e9\ud83d\ude00", "to": "all"}"#,
            r#"{"event_name": "e", "to": null}"#,
            r#"{"event_name": "e", "message": 5}"#,
            r#"{"event_name": "e", "x": [1, {"y": null}]} "#,
            r#"{"event_name": "e"} x"#,
            r#"{"event_name": "e""#,
            r#"["e", null, "all", "server", null]"#,
            "\u{a0}{\"event_name\": \"e\"}",
            r#"{}"#,
            "",
            "null",
        ] {
            assert_eq!(
                Message::parse(text),
                Message::parse_via_value(text),
                "{text}"
            );
        }
        let dup = Message::parse(r#"{"event_name": "e", "event_name": "f"}"#).unwrap();
        assert_eq!(
            dup.event_name, "f",
            "the last of duplicate keys wins, as in Python"
        );
    }

    #[test]
    fn wire_texts_equal_the_dumps_of_the_model() {
        let msg = Message::new("\u{e9}v\"")
            .payload(json!({"b": [1, 2.5, -0.0, 1e16, "\u{1f600}\n"], "a": null}))
            .to("all")
            .message("h\u{e9}llo\u{1}");
        assert_eq!(msg.client_wire_text(), pyjson::dumps(&msg.to_value()));
        assert_eq!(
            msg.server_wire_text(),
            pyjson::dumps_compact(&msg.to_value())
        );
        let mut out = String::from("x");
        msg.write_client_wire_text(&mut out);
        assert_eq!(out[1..], msg.client_wire_text());
    }

    #[test]
    fn payload_keys_keep_their_order() {
        let msg = Message::new("e").payload(json!({"b": 1, "a": [2.0, {"z": null, "y": true}]}));
        assert_eq!(
            msg.server_wire_text(),
            r#"{"event_name":"e","payload":{"b":1,"a":[2.0,{"z":null,"y":true}]},"to":"others","from_id":"server","message":null}"#
        );
    }
}
