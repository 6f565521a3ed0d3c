//! `--profile hpx`.

use std::time::Duration;

use serde_json::{Map, Value};
use tether::{
    Frame, Outgoing,
    hpx::{Hpx, Reply},
};

use super::Profile;
use crate::output;

/// `--profile hpx`: each line is the `data` of one request, sent in the envelope
/// `{"session", "name", "data"}` with the session current when it is written (lines
/// queued before the handshake completes carry its session):
/// a JSON value (a function list `[{"fname": ...}]`, a server command string), or the
/// shorthand `fname [kwargs-object]` for a one-function list. Each request carries the
/// deadline `--request-timeout`: HPX has no heartbeat, so a stalled server is noticed by
/// the deadline (and TCP keepalive).
pub struct HpxProfile {
    /// The protocol (its session).
    pub protocol: Hpx,
    /// Each request's deadline.
    pub deadline: Duration,
}

impl HpxProfile {
    /// The `data` a line stands for.
    ///
    /// # Errors
    /// Why the line is not HPX data.
    pub fn data(line: &str) -> Result<Value, String> {
        let line = line.trim();
        if line.is_empty() {
            return Err("empty line".into());
        }
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            return Ok(value);
        }
        let (fname, kwargs) = match line.split_once(char::is_whitespace) {
            Some((fname, rest)) => (fname, Some(rest.trim())),
            None => (line, None),
        };
        if !fname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "not JSON, and {fname:?} is not a function name (use JSON, or `fname {{kwargs}}`)"
            ));
        }
        let mut call = Map::new();
        call.insert("fname".into(), Value::String(fname.to_owned()));
        if let Some(kwargs) = kwargs {
            match serde_json::from_str::<Value>(kwargs) {
                Ok(Value::Object(args)) => {
                    if args.contains_key("fname") {
                        return Err("the arguments after the function name hold \"fname\"".into());
                    }
                    call.extend(args);
                }
                Ok(other) => {
                    return Err(format!(
                        "the arguments after {fname:?} must be a JSON object, not {other}"
                    ));
                }
                Err(e) => return Err(format!("the arguments after {fname:?} are not JSON: {e}")),
            }
        }
        Ok(Value::Array(vec![Value::Object(call)]))
    }
}

impl Profile for HpxProfile {
    type Event = Reply;

    fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        let data = Self::data(line)?;
        Ok(self.protocol.request(data).with_deadline(self.deadline))
    }

    fn push_data(&self, event: &Reply, line: &mut String) {
        output::push_data(line, &Frame::text(event.text.to_string()), None);
    }

    fn pretty(&self, event: &Reply) -> String {
        match &event.message {
            Ok(m) => match &m.error {
                Some(e) => format!("error {}: {}", e.code, e.msg),
                None if m.is_greeting() => format!("greeting from {}: {}", m.name, m.data),
                None => format!("reply: {}", m.data),
            },
            Err(e) => format!("invalid reply ({e}): {}", event.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_lines_and_the_function_shorthand() {
        assert_eq!(
            HpxProfile::data(r#"[{"fname": "get_version"}]"#).unwrap(),
            json!([{"fname": "get_version"}])
        );
        assert_eq!(
            HpxProfile::data("\"requestauth\"").unwrap(),
            json!("requestauth")
        );
        assert_eq!(
            HpxProfile::data("get_version").unwrap(),
            json!([{"fname": "get_version"}])
        );
        assert_eq!(
            HpxProfile::data(r#"echo {"msg": "hi", "n": 1}"#).unwrap(),
            json!([{"fname": "echo", "msg": "hi", "n": 1}])
        );
    }

    #[test]
    fn rejects_what_is_not_hpx_data() {
        assert!(HpxProfile::data("  ").is_err());
        assert!(
            HpxProfile::data("{broken")
                .unwrap_err()
                .contains("not a function name")
        );
        assert!(
            HpxProfile::data("echo [1]")
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(
            HpxProfile::data("echo {bad")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(HpxProfile::data(r#"echo {"fname": "x"}"#).is_err());
    }

    #[test]
    fn a_line_becomes_a_request_in_the_envelope_with_a_deadline() {
        let profile = HpxProfile {
            protocol: Hpx::new("tether").session_id("abc"),
            deadline: Duration::from_secs(10),
        };
        let out = profile.encode_line("get_version").unwrap();
        // The session is filled in when written (the engine's codec), not when queued.
        assert_eq!(
            out.frame().as_text().unwrap(),
            format!(
                r#"{{"session": "{}", "name": "tether", "data": [{{"fname": "get_version"}}]}}"#,
                tether::hpx::SESSION_PLACEHOLDER
            )
        );
        assert!(out.ack().is_some(), "its reply acknowledges it");
        assert_eq!(out.deadline(), Some(Duration::from_secs(10)));
    }
}
