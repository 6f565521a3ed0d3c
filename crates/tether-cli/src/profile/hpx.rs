//! `--profile hpx`: HappyPanda X over tcp:// or tls://; the protocol logs in (and again
//! after each reconnect) before any line flows, and lines go through its envelope.

use std::time::Duration;

use tether::{
    Client, Frame, Outgoing,
    hpx::{Credentials, Hpx, Limits, Reply, session_request},
    json::{Map, Value},
    transport::{Endpoint, Scheme},
};

use super::{Delivery, Profile, Started, queue};
use crate::{connect::ConnectArgs, output};

/// `--profile hpx`: each line is the `data` of one request, sent in the envelope
/// `{"session", "name", "data"}` with the session current when it is written (lines
/// queued before the handshake completes carry its session):
/// a JSON value (a function list `[{"fname": ...}]`, a server command string), or the
/// shorthand `fname [kwargs-object]` for a one-function list. Each request carries the
/// deadline `--request-timeout`: HPX has no heartbeat, so a stalled server is noticed by
/// the deadline (and TCP keepalive).
pub struct HpxProfile {
    /// The client's name in the envelope.
    pub name: String,
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

impl HpxProfile {
    /// The HPX protocol, logging in after every greeting.
    fn protocol(args: &ConnectArgs) -> Result<Hpx, String> {
        let endpoint = Endpoint::parse(&args.url).map_err(|e| e.to_string())?;
        if !matches!(endpoint.scheme(), Scheme::Tcp | Scheme::Tls) {
            return Err(format!(
                "{}: the hpx profile runs over tcp:// or tls://",
                args.url
            ));
        }
        let credentials = match (&args.user, &args.password) {
            (Some(user), Some(password)) => Credentials::User {
                user: user.clone(),
                password: password.as_str().into(),
            },
            (None, None) => Credentials::Guest,
            (None, Some(_)) => return Err("--password needs --user".into()),
            (Some(_), None) => return Err("--user needs --password".into()),
        };
        let limits = Limits {
            max_frame: args.max_message_size.saturating_add(1024),
            max_payload: args.max_message_size,
        };
        Ok(Hpx::new(args.name.clone())
            .limits(limits)
            .login(credentials))
    }

    /// The request a line stands for, with `--request-timeout` as its deadline.
    ///
    /// # Errors
    /// Why the line is not HPX data.
    pub fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        let data = Self::data(line)?;
        // The protocol stamps the session current when the request is written.
        Ok(session_request(&self.name, data).with_deadline(self.deadline))
    }
}

impl Profile for HpxProfile {
    type Event = Reply;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        let hpx = Self::protocol(args)?;
        let profile = HpxProfile {
            name: hpx.name().to_owned(),
            deadline: args.request_timeout,
        };
        let (client, events) = Client::builder(hpx)
            .url(&args.url)
            .config(args.config())
            .start()
            .map_err(|e| e.to_string())?;
        Ok(Started {
            client,
            events,
            profile,
        })
    }

    async fn deliver(&self, client: &Client<Reply>, line: &str) -> Delivery {
        queue(client, self.encode_line(line)).await
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
    use tether::json;

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
            name: "tether".into(),
            deadline: Duration::from_secs(10),
        };
        let out = profile.encode_line("get_version").unwrap();
        // The session is stamped when written (the protocol's outbound hook), not queued.
        assert_eq!(
            out.frame().as_text().unwrap(),
            r#"{"session": "", "name": "tether", "data": [{"fname": "get_version"}]}"#
        );
        assert!(out.is_stamped());
        assert!(out.ack().is_some(), "its reply acknowledges it");
        assert_eq!(out.deadline(), Some(Duration::from_secs(10)));
    }
}
