//! The HPX envelope (`{"session", "name", "data"}`, plus `"error"` from the server) and
//! Python's `json.dumps` text for it.

use std::io;

use serde::{Deserialize, Serialize};

use crate::json::{Map, Value};

/// The `data` of a re-login request (`request_handshake`): a server command, matched by
/// name without regard to case.
pub const REQUEST_AUTH: &str = "requestauth";

/// The `data` of a successful handshake reply.
pub const AUTHENTICATED: &str = "Authenticated";

/// An error the server attached to a reply (or to one function's result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerError {
    /// The server's error code (see [`super::ServerCode`]).
    pub code: i64,
    /// The server's message.
    #[serde(default)]
    pub msg: String,
}

/// One HPX message: what the client sends (`session`, `name`, `data`, in that order) and
/// what the server answers (the same keys, plus `error` when something failed).
///
/// Keys the model does not know are kept in [`Message::extra`] and written back after
/// the known ones; `data` keeps its key order (as Python dicts do).
///
/// ```
/// use tether::hpx::Message;
/// use serde_json::json;
/// let msg = Message::new("my-client", json!([{"fname": "get_version"}])).session("abc123");
/// assert_eq!(
///     msg.to_python_json(),
///     r#"{"session": "abc123", "name": "my-client", "data": [{"fname": "get_version"}]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The session id (`""` before authentication).
    #[serde(default)]
    pub session: String,
    /// The client's name (client → server) or the server's name (server → client).
    #[serde(default)]
    pub name: String,
    /// Any JSON value: a handshake dict, a function list, a server command, a result.
    #[serde(default)]
    pub data: Value,
    /// The server's error, if the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ServerError>,
    /// Unknown keys, kept in order.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Text that is not an HPX message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotAnObject,
    /// An object whose known keys have the wrong types.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The body could not be decoded at all (not gzip, or inflating past the bound).
    #[error("undecodable body: {0}")]
    Body(String),
}

impl Message {
    /// A message from client `name` carrying `data`, with no session yet.
    pub fn new(name: impl Into<String>, data: impl Into<Value>) -> Self {
        Self {
            session: String::new(),
            name: name.into(),
            data: data.into(),
            error: None,
            extra: Map::new(),
        }
    }

    /// Sets the session id.
    #[must_use]
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = session.into();
        self
    }

    /// Sets the error (server side).
    #[must_use]
    pub fn error(mut self, code: i64, msg: impl Into<String>) -> Self {
        self.error = Some(ServerError {
            code,
            msg: msg.into(),
        });
        self
    }

    /// Parses one decompressed payload.
    ///
    /// # Errors
    /// [`ParseError`] for invalid JSON, a non-object, or known keys of the wrong type
    /// (`session` or `name` not a string, `error` without an integer `code`).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let value = super::json::parse_json(bytes).map_err(ParseError::Json)?;
        Self::from_value(value)
    }

    /// Validates a parsed JSON value.
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        if !value.is_object() {
            return Err(ParseError::NotAnObject);
        }
        crate::json::from_value(value).map_err(|e| ParseError::Invalid(e.to_string()))
    }

    /// The message as a JSON object: `session`, `name`, `data`, then `error` (if any) and
    /// the unknown keys.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("session".into(), Value::String(self.session.clone()));
        map.insert("name".into(), Value::String(self.name.clone()));
        map.insert("data".into(), self.data.clone());
        if let Some(error) = &self.error {
            let mut e = Map::new();
            e.insert("code".into(), Value::from(error.code));
            e.insert("msg".into(), Value::String(error.msg.clone()));
            map.insert("error".into(), Value::Object(e));
        }
        for (k, v) in &self.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(map)
    }

    /// The text the Python SDK (and server) sends: `json.dumps` with default arguments.
    #[must_use]
    pub fn to_python_json(&self) -> String {
        to_python_json(&self.to_value())
    }

    /// Whether this is the server's greeting (`data` holds `version`).
    #[must_use]
    pub fn is_greeting(&self) -> bool {
        self.data.get("version").is_some()
    }
}

/// The SDK's `finalize(name, data, session_id="")`: the envelope a client sends.
///
/// ```
/// use tether::hpx::finalize;
/// let v = finalize("golden-client", tether::json!({}), "");
/// assert_eq!(v.to_string(), r#"{"session":"","name":"golden-client","data":{}}"#);
/// ```
#[must_use]
pub fn finalize(name: &str, data: Value, session_id: &str) -> Value {
    Message::new(name, data).session(session_id).to_value()
}

/// `value` as Python's `json.dumps(value)` writes it: `", "` and `": "` separators,
/// keys in map order, everything outside printable ASCII escaped as `\uXXXX` (lower-case
/// hex, surrogate pairs above the BMP), floats as Python's `repr`.
///
/// ```
/// use tether::json;
/// assert_eq!(
///     tether::hpx::to_python_json(&json!({"q": "h\u{e9}llo", "n": [1, 2.0]})),
///     r#"{"q": "h\u00e9llo", "n": [1, 2.0]}"#
/// );
/// ```
#[must_use]
pub fn to_python_json(value: &Value) -> String {
    // The one `json.dumps` writer the platforms share.
    crate::platform::pyjson::dumps(value)
}

/// Writes `value` as [`to_python_json`] does into a writer (a gzip encoder).
///
/// # Errors
/// The writer's error.
pub fn write_python_json<W: io::Write>(mut writer: W, value: &Value) -> io::Result<()> {
    writer.write_all(to_python_json(value).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn floats_follow_python_repr() {
        for (f, want) in [
            (420.0, "420.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (2.5e-300, "2.5e-300"),
        ] {
            assert_eq!(to_python_json(&json!(f)), want, "{f:?}");
        }
    }

    #[test]
    fn strings_escape_as_python_ensure_ascii_does() {
        let text = to_python_json(&json!("a\"\\\n\t\u{1}\u{7f}é日😀/"));
        assert_eq!(text, r#""a\"\\\n\t\u0001\u007f\u00e9\u65e5\ud83d\ude00/""#);
    }

    #[test]
    fn nested_values_use_python_separators_and_keep_key_order() {
        let v = json!({"b": 1, "a": [2.5, {"z": null, "y": true}], "e": {}, "l": []});
        assert_eq!(
            to_python_json(&v),
            r#"{"b": 1, "a": [2.5, {"z": null, "y": true}], "e": {}, "l": []}"#
        );
    }

    #[test]
    fn replies_parse_with_error_and_unknown_keys_kept() {
        let msg = Message::parse(
            br#"{"session": "", "name": "server", "data": null, "error": {"code": 411, "msg": "Wrong"}, "x": 1}"#,
        )
        .unwrap();
        assert_eq!(
            msg.error,
            Some(ServerError {
                code: 411,
                msg: "Wrong".into()
            })
        );
        assert_eq!(msg.extra.get("x"), Some(&json!(1)));
        assert_eq!(
            msg.to_python_json(),
            r#"{"session": "", "name": "server", "data": null, "error": {"code": 411, "msg": "Wrong"}, "x": 1}"#
        );
    }

    #[test]
    fn bad_payloads_are_parse_errors() {
        assert!(matches!(Message::parse(b"{nope"), Err(ParseError::Json(_))));
        assert_eq!(Message::parse(b"[1]"), Err(ParseError::NotAnObject));
        assert!(matches!(
            Message::parse(br#"{"session": 5}"#),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn greeting_is_recognised_by_its_version() {
        let g = Message::new(
            "server",
            json!({"version": {"core": [0, 1, 2]}, "guest_allowed": true}),
        );
        assert!(g.is_greeting());
        assert!(!Message::new("server", json!("Authenticated")).is_greeting());
    }
}
