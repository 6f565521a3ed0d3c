//! The datadivr message (`WebSocketMessage` in the Python package) and its two wire
//! encodings: the client's (Python `json.dumps` defaults) and the server's (Starlette
//! `send_json`: compact, raw UTF-8).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
/// use tether::datadivr::Message;
/// use serde_json::json;
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
        serde_json::from_value(value).map_err(|e| ParseError::Invalid(e.to_string()))
    }

    /// The model dump as a JSON value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut map = serde_json::Map::new();
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
        self.encode(Style::PYTHON)
    }

    /// The text the server sends: Starlette's `send_json` (compact separators, raw UTF-8,
    /// Python float repr, so `420.0` stays `420.0`).
    #[must_use]
    pub fn server_wire_text(&self) -> String {
        self.encode(Style::COMPACT)
    }

    fn encode(&self, style: Style) -> String {
        let mut out = String::with_capacity(96);
        write_value(&mut out, &self.to_value(), style);
        out
    }
}

/// How `json.dumps` is called.
#[derive(Debug, Clone, Copy)]
struct Style {
    item_sep: &'static str,
    key_sep: &'static str,
    ensure_ascii: bool,
}

impl Style {
    const PYTHON: Style = Style {
        item_sep: ", ",
        key_sep: ": ",
        ensure_ascii: true,
    };
    const COMPACT: Style = Style {
        item_sep: ",",
        key_sep: ":",
        ensure_ascii: false,
    };
}

/// Writes `value` as Python's `json.dumps` would with `style` (keys in map order).
fn write_value(out: &mut String, value: &Value, style: Style) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => write_float(out, f),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => write_str(out, s, style.ensure_ascii),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_sep);
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_sep);
                }
                write_str(out, key, style.ensure_ascii);
                out.push_str(style.key_sep);
                write_value(out, item, style);
            }
            out.push('}');
        }
    }
}

/// Python's `float.__repr__`: the shortest round-trip digits, fixed notation for
/// decimal exponents -4..16 (always with a fractional part), else `1e+16` / `1e-05`.
fn write_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // serde_json values cannot hold these; kept for completeness.
        out.push_str(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "4.2e2", "-1e-5".
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        out.push_str(&sci);
        return;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        out.push_str(&sci);
        return;
    };
    if (-4..16).contains(&exp) {
        let fixed = format!("{f}");
        out.push_str(&fixed);
        if !fixed.contains('.') {
            out.push_str(".0");
        }
    } else {
        out.push_str(mantissa);
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
}

/// A JSON string as Python writes it: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// control characters as `\u00XX`; with `ensure_ascii`, everything outside
/// printable ASCII as `\uXXXX` (lower-case hex, surrogate pairs above the BMP).
fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !(' '..='~').contains(&c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float_text(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_follow_python_repr() {
        for (f, want) in [
            (420.0, "420.0"),
            (4.5, "4.5"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (1e300, "1e+300"),
            (2.5e-300, "2.5e-300"),
        ] {
            assert_eq!(float_text(f), want, "{f:?}");
        }
    }

    #[test]
    fn strings_escape_as_python_does() {
        let mut py = String::new();
        write_str(&mut py, "a\"\\\n\t\u{1}\u{7f}é😀", true);
        assert_eq!(py, r#""a\"\\\n\t\u0001\u007f\u00e9\ud83d\ude00""#);
        let mut compact = String::new();
        write_str(&mut compact, "a\"\\\n\u{1}\u{7f}é😀", false);
        assert_eq!(compact, "\"a\\\"\\\\\\n\\u0001\u{7f}é😀\"");
    }

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
    fn payload_keys_keep_their_order() {
        let msg = Message::new("e").payload(json!({"b": 1, "a": [2.0, {"z": null, "y": true}]}));
        assert_eq!(
            msg.server_wire_text(),
            r#"{"event_name":"e","payload":{"b":1,"a":[2.0,{"z":null,"y":true}]},"to":"others","from_id":"server","message":null}"#
        );
    }
}
