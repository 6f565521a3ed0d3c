//! What an HPX server does with each message, as SPEC describes the real one: a greeting
//! on connect, the handshake (guests and users), sessions that outlive a connection,
//! server commands (`requestauth`), and a few API functions answering a function list
//! with one result per function. Sans-IO: bytes in, reply out; the hub frames it.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use crate::{
    json,
    json::{Map, Value},
};

use crate::secret::Secret;

use super::{
    error::ServerCode,
    model::{AUTHENTICATED, Message},
};

/// Sessions kept at most; the oldest is forgotten past this.
pub const MAX_SESSIONS: usize = 10_000;

/// Largest payload `get_large` returns.
pub const MAX_LARGE: u64 = 32 * 1024 * 1024;

/// What `get_large` returns without a `size`.
pub const DEFAULT_LARGE: u64 = 1024 * 1024;

/// The server's version, as the real server's greeting shows it.
#[must_use]
pub fn default_version() -> Value {
    json!({"core": [0, 1, 2], "db": [0, 1, 0], "torrent": [0, 0, 0]})
}

#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<String, Option<String>>,
    order: VecDeque<String>,
}

/// An HPX server's behaviour, shared by all its connections (sessions are global, as
/// in the real server, so a client that reconnects keeps its session).
///
/// ```
/// use tether::hpx::server::HpxServer;
/// let server = HpxServer::new().user("alice", "s3cret");
/// let reply = server.handle(br#"{"session": "", "name": "c", "data": {"user": "alice", "password": "s3cret"}}"#);
/// assert_eq!(reply.data, "Authenticated");
/// let session = reply.session;
/// let reply = server.handle(format!(
///     r#"{{"session": "{session}", "name": "c", "data": [{{"fname": "echo", "msg": "hi"}}]}}"#
/// ).as_bytes());
/// assert_eq!(reply.data, serde_json::json!([{"fname": "echo", "data": {"msg": "hi"}}]));
/// ```
#[derive(Debug, Clone)]
pub struct HpxServer {
    name: String,
    guest_allowed: bool,
    version: Value,
    users: Vec<(String, Secret)>,
    sessions: Arc<Mutex<Sessions>>,
}

impl Default for HpxServer {
    fn default() -> Self {
        Self::new()
    }
}

impl HpxServer {
    /// A server named `server` that allows guests and has no users.
    #[must_use]
    pub fn new() -> Self {
        Self {
            name: "server".into(),
            guest_allowed: true,
            version: default_version(),
            users: Vec::new(),
            sessions: Arc::default(),
        }
    }

    /// Sets the server's name (the `name` of every reply).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Allows guests or not.
    #[must_use]
    pub fn guest_allowed(mut self, allowed: bool) -> Self {
        self.guest_allowed = allowed;
        self
    }

    /// Adds a user.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.users.push((user.into(), password.into()));
        self
    }

    /// The greeting sent on connect (and in answer to `requestauth`).
    #[must_use]
    pub fn greeting(&self) -> Message {
        Message::new(
            self.name.clone(),
            json!({"version": self.version, "guest_allowed": self.guest_allowed}),
        )
    }

    /// Live sessions.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.lock().by_id.len()
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, session: &str, code: ServerCode, msg: impl Into<String>) -> Message {
        Message::new(self.name.clone(), Value::Null)
            .session(session)
            .error(code.code(), msg)
    }

    fn new_session(&self, user: Option<String>) -> String {
        let id = format!("{:032x}", fastrand::u128(..));
        let mut sessions = self.lock();
        sessions.by_id.insert(id.clone(), user);
        sessions.order.push_back(id.clone());
        while sessions.order.len() > MAX_SESSIONS {
            if let Some(old) = sessions.order.pop_front() {
                sessions.by_id.remove(&old);
            }
        }
        id
    }

    /// The reply to a body that could not be decompressed (410 ParsingError, as the
    /// real server answers a gzip failure).
    #[must_use]
    pub fn undecodable(&self) -> Message {
        self.error(
            "",
            ServerCode::ParsingError,
            "Failed to decompress the message (not gzip, or too large once inflated)",
        )
    }

    /// The reply to one decompressed request.
    #[must_use]
    pub fn handle(&self, payload: &[u8]) -> Message {
        let value: Value = match super::json::parse_json(payload) {
            Ok(v) => v,
            Err(e) => {
                return self.error(
                    "",
                    ServerCode::JsonParseError,
                    format!("Failed parsing JSON data: {e}"),
                );
            }
        };
        let Value::Object(map) = value else {
            return self.error(
                "",
                ServerCode::InvalidMessage,
                "Message is not a JSON object",
            );
        };
        let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["data", "name", "session"] {
            return self.error(
                "",
                ServerCode::InvalidMessage,
                "Message must have exactly the keys 'name', 'data' and 'session'",
            );
        }
        let Some(session) = map.get("session").and_then(Value::as_str) else {
            return self.error("", ServerCode::InvalidMessage, "'session' must be a string");
        };
        let data = map.get("data").cloned().unwrap_or(Value::Null);
        match data {
            Value::String(command) => self.command(session, &command.to_lowercase()),
            Value::Number(n) => match n.as_i64() {
                Some(3) => self.command(session, "requestauth"),
                Some(1) => self.command(session, "serverquit"),
                Some(2) => self.command(session, "serverrestart"),
                _ => self.error(
                    session,
                    ServerCode::EnumError,
                    format!("Unknown server command {n}"),
                ),
            },
            Value::Object(credentials) => self.handshake(&credentials),
            Value::Array(functions) => {
                if session.is_empty() {
                    return self.error(
                        "",
                        ServerCode::AuthRequiredError,
                        "Authentication is required",
                    );
                }
                if !self.lock().by_id.contains_key(session) {
                    return self.error(session, ServerCode::SessionExpiredError, "Session expired");
                }
                let results = functions.iter().map(|f| self.call(f)).collect();
                Message::new(self.name.clone(), Value::Array(results)).session(session)
            }
            Value::Null | Value::Bool(_) => self.error(
                session,
                ServerCode::InvalidMessage,
                "'data' must be a function list, a handshake or a server command",
            ),
        }
    }

    fn command(&self, session: &str, command: &str) -> Message {
        match command {
            "requestauth" => self.greeting(),
            "serverquit" | "serverrestart" => self.error(
                session,
                ServerCode::AuthError,
                "This server does not take quit or restart commands",
            ),
            other => self.error(
                session,
                ServerCode::EnumError,
                format!("Unknown server command '{other}'"),
            ),
        }
    }

    fn handshake(&self, credentials: &Map<String, Value>) -> Message {
        if credentials.is_empty() {
            if !self.guest_allowed {
                return self.error(
                    "",
                    ServerCode::AuthRequiredError,
                    "Authentication is required",
                );
            }
            let session = self.new_session(None);
            return Message::new(self.name.clone(), AUTHENTICATED).session(session);
        }
        for key in ["user", "password"] {
            if !credentials.contains_key(key) {
                return self.error(
                    "",
                    ServerCode::AuthMissingCredentials,
                    format!("JSON dict missing '{key}' key"),
                );
            }
        }
        if credentials.len() != 2 {
            return self.error(
                "",
                ServerCode::AuthMissingCredentials,
                "JSON dict must have only 'user' and 'password'",
            );
        }
        let user = credentials.get("user").and_then(Value::as_str);
        let password = credentials.get("password").and_then(Value::as_str);
        let known = self
            .users
            .iter()
            .any(|(u, p)| Some(u.as_str()) == user && Some(p.expose()) == password);
        if !known {
            return self.error(
                "",
                ServerCode::AuthWrongCredentialsError,
                "Wrong credentials",
            );
        }
        let session = self.new_session(user.map(str::to_owned));
        Message::new(self.name.clone(), AUTHENTICATED).session(session)
    }

    /// One function call: `{"fname": f, "data": result}` or with an `error`.
    fn call(&self, function: &Value) -> Value {
        let fname = function.get("fname").cloned().unwrap_or(Value::Null);
        let result = |data: Value| json!({"fname": fname, "data": data});
        let failure = |code: ServerCode, msg: String| json!({"fname": fname, "data": null, "error": {"code": code.code(), "msg": msg}});
        let Some(name) = fname.as_str() else {
            return failure(
                ServerCode::InvalidMessage,
                "A function needs a 'fname' string".into(),
            );
        };
        match name {
            "get_version" => result(self.version.clone()),
            "echo" => {
                // Every argument but `fname`, in the order sent.
                let args = function
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "fname")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                result(Value::Object(args))
            }
            "get_large" => {
                let size = match function.get("size") {
                    None => DEFAULT_LARGE,
                    Some(v) => match v.as_u64() {
                        Some(n) if n <= MAX_LARGE => n,
                        _ => {
                            return failure(
                                ServerCode::ApiRequirementError,
                                format!("'size' must be an integer from 0 to {MAX_LARGE}"),
                            );
                        }
                    },
                };
                let pattern = b"HappyPanda X large payload; ";
                let text: String = pattern
                    .iter()
                    .cycle()
                    .take(usize::try_from(size).unwrap_or(0))
                    .map(|&b| b as char)
                    .collect();
                result(Value::String(text))
            }
            other => failure(
                ServerCode::ApiError,
                format!("Function '{other}' does not exist"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpx::to_python_json;

    fn request(session: &str, data: Value) -> Vec<u8> {
        Message::new("c", data)
            .session(session)
            .to_python_json()
            .into_bytes()
    }

    fn code(m: &Message) -> Option<i64> {
        m.error.as_ref().map(|e| e.code)
    }

    #[test]
    fn guests_get_a_session_and_call_functions() {
        let server = HpxServer::new();
        let auth = server.handle(&request("", json!({})));
        assert_eq!(auth.data, json!("Authenticated"));
        assert_eq!(auth.session.len(), 32);
        let reply = server.handle(&request(
            &auth.session,
            json!([{"fname": "get_version"}, {"fname": "nope"}, {"fname": "get_large", "size": 10}]),
        ));
        assert_eq!(reply.session, auth.session);
        assert_eq!(
            reply.data[0],
            json!({"fname": "get_version", "data": default_version()})
        );
        assert_eq!(reply.data[1]["error"]["code"], json!(404));
        assert_eq!(reply.data[2]["data"], json!("HappyPanda"));
        let echo = server.handle(&request(
            &auth.session,
            json!([{"fname": "echo", "z": 1, "a": 2, "m": 3}]),
        ));
        assert_eq!(
            to_python_json(&echo.data),
            r#"[{"fname": "echo", "data": {"z": 1, "a": 2, "m": 3}}]"#,
            "arguments keep their order"
        );
    }

    #[test]
    fn handshake_errors_follow_spec() {
        let server = HpxServer::new().user("alice", "s3cret");
        let closed = HpxServer::new().guest_allowed(false);
        let wrong = server.handle(&request("", json!({"user": "alice", "password": "x"})));
        assert_eq!(code(&wrong), Some(411));
        assert_eq!(code(&closed.handle(&request("", json!({})))), Some(407));
        assert_eq!(
            code(&closed.handle(&request("", json!({"user": "a"})))),
            Some(412)
        );
        assert_eq!(
            code(&server.handle(&request("", json!([{"fname": "get_version"}])))),
            Some(407)
        );
        assert_eq!(
            code(&server.handle(&request("nope", json!([{"fname": "get_version"}])))),
            Some(408)
        );
        assert_eq!(code(&server.handle(b"{not json")), Some(900));
        assert_eq!(
            code(&server.handle(br#"{"session": "", "data": {}}"#)),
            Some(403)
        );
        assert_eq!(
            code(&server.handle(br#"{"session": "", "name": "c", "data": {}, "x": 1}"#)),
            Some(403)
        );
        assert_eq!(
            code(&server.handle(&request("", json!("Bogus")))),
            Some(409)
        );
    }

    #[test]
    fn requestauth_greets_again_in_any_case() {
        let server = HpxServer::new();
        assert!(
            server
                .handle(&request("", json!("RequestAuth")))
                .is_greeting()
        );
        assert!(server.handle(&request("", json!(3))).is_greeting());
    }

    #[test]
    fn bad_function_arguments_are_405() {
        let server = HpxServer::new();
        let s = server.handle(&request("", json!({}))).session;
        let reply = server.handle(&request(&s, json!([{"fname": "get_large", "size": -1}])));
        assert_eq!(reply.data[0]["error"]["code"], json!(405));
    }
}
