//! The HPX client state machine: greeting, optional re-login, then one reply per request.

use std::{
    collections::VecDeque,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use serde_json::{Map, Value};

use crate::{
    error::ConnectionError,
    frame::Frame,
    outgoing::{AckKey, Outgoing},
    protocol::{Ack, CodecFactory, DecodeError, Inbound, Output, Protocol},
    secret::Secret,
};

use super::{
    codec::{HpxCodec, Limits, SESSION_PLACEHOLDER},
    model::{AUTHENTICATED, Message, ParseError},
};

/// Frames written and not answered yet, kept at most (a server that stops answering
/// cannot grow it without bound; past it, the oldest are forgotten).
const MAX_UNANSWERED: usize = 65_536;

/// The key a request carries: a fingerprint of its payload.
///
/// HPX has no request ids: the server answers each message once, in order. The codec
/// reports every frame it writes ([`HpxCodec::on_write`]); each reply takes the oldest
/// written frame's fingerprint and acknowledges the request with that key. So a reply
/// arriving after its request was given up (deadline) answers nothing instead of the
/// next request, and a message nobody asked for (nothing written) answers nothing.
#[must_use]
pub fn request_key(payload: &[u8]) -> AckKey {
    let mut hasher = DefaultHasher::new();
    payload.hash(&mut hasher);
    AckKey::new(format!("hpx:{:016x}", hasher.finish()))
}

/// A request for the engine's outbox: the frame, answered by its reply.
#[must_use]
pub fn request(payload: impl Into<Frame>) -> Outgoing {
    let frame = payload.into();
    let key = request_key(frame.payload());
    Outgoing::new(frame).with_ack(key)
}

/// Who logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A guest (`data: {}`).
    Guest,
    /// A user and password (`data: {"user": U, "password": P}`).
    User {
        /// The user name.
        user: String,
        /// The password (redacted in `Debug`).
        password: Secret,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Guest => f.write_str("Guest"),
            Credentials::User { user, .. } => f
                .debug_struct("User")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    /// The handshake's `data`.
    #[must_use]
    pub fn data(&self) -> Value {
        let mut map = Map::new();
        if let Credentials::User { user, password } = self {
            map.insert("user".into(), Value::String(user.clone()));
            map.insert(
                "password".into(),
                Value::String(password.expose().to_owned()),
            );
        }
        Value::Object(map)
    }

    /// Replaces the password in `text` (a server's message) with `<redacted>`.
    ///
    /// Passwords under [`Credentials::SCRUB_MIN`] characters are left alone: replacing
    /// every `p` would mangle the message (`"Session ex<redacted>ired"`) and point at
    /// the password rather than hide it.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        match self {
            Credentials::User { password, .. } if password.expose().len() >= Self::SCRUB_MIN => {
                password.scrub(text)
            }
            _ => text.to_owned(),
        }
    }

    /// The shortest password [`Credentials::scrub`] replaces.
    pub const SCRUB_MIN: usize = 4;
}

/// One message from the server: its decompressed text, and the parsed envelope (or why
/// it is not one).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The decompressed payload (invalid UTF-8 replaced).
    pub text: Arc<str>,
    /// The envelope.
    pub message: Result<Message, ParseError>,
}

impl Reply {
    /// Decodes one frame.
    #[must_use]
    pub fn from_frame(frame: &Frame) -> Self {
        let text: Arc<str> = Arc::from(String::from_utf8_lossy(frame.payload()));
        let message = Message::parse(frame.payload());
        Self { text, message }
    }

    /// The event name handlers see: `greeting`, `error` (a reply with an `error`),
    /// `reply`, or `invalid`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match &self.message {
            Ok(m) if m.is_greeting() => "greeting",
            Ok(m) if m.error.is_some() => "error",
            Ok(_) => "reply",
            Err(_) => "invalid",
        }
    }
}

/// What the protocol and the typed client know about the connection.
#[derive(Debug, Default)]
pub(crate) struct HpxState {
    /// The client's name.
    pub(crate) name: String,
    /// The current session id.
    pub(crate) session: String,
    /// Authenticated.
    pub(crate) accepted: bool,
    /// The greeting arrived on the current connection.
    pub(crate) greeted: bool,
    /// A transport is open.
    pub(crate) open: bool,
    /// From the greeting.
    pub(crate) version: Option<Value>,
    /// From the greeting.
    pub(crate) guest_allowed: bool,
    /// The last credentials that were accepted.
    pub(crate) credentials: Option<Credentials>,
    /// Re-handshake with `credentials` after a reconnect.
    pub(crate) relogin: bool,
    /// Handshake with `credentials` right after every greeting.
    pub(crate) auto_login: bool,
    /// Keys of the frames written on this connection and not answered yet, oldest first.
    pub(crate) unanswered: VecDeque<AckKey>,
    /// Why bodies the codec could not decode failed, oldest first.
    pub(crate) bad_bodies: VecDeque<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    LoggingIn,
    Ready,
}

/// The HPX platform for the engine.
///
/// On each connection it waits for the server's greeting (storing `version` and
/// `guest_allowed`), re-handshakes with the last accepted credentials when re-login is
/// on and the client had been accepted, and is then ready. Every message after that is
/// the reply to the oldest unanswered request ([`request`] marks requests so).
///
/// HPX has no heartbeat: a stalled server is noticed by request deadlines and TCP
/// keepalive.
#[derive(Debug, Clone)]
pub struct Hpx {
    state: Arc<Mutex<HpxState>>,
    limits: Limits,
    phase: Phase,
}

impl Hpx {
    /// The protocol for a client called `name`, with default size limits.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self::with_state(
            Arc::new(Mutex::new(HpxState {
                name: name.into(),
                ..HpxState::default()
            })),
            Limits::default(),
        )
    }

    pub(crate) fn with_state(state: Arc<Mutex<HpxState>>, limits: Limits) -> Self {
        Self {
            state,
            limits,
            phase: Phase::Greeting,
        }
    }

    /// Sets the codec's size limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Starts with this session id: the client counts as accepted once greeted, with no
    /// handshake (the SDK's `session_id` argument).
    #[must_use]
    pub fn session_id(self, session: impl Into<String>) -> Self {
        self.lock().session = session.into();
        self
    }

    /// Logs in with `credentials` right after every greeting (including the first), so
    /// queued requests flow only once authenticated. A refusal stops the client.
    #[must_use]
    pub fn login(self, credentials: Credentials) -> Self {
        {
            let mut state = self.lock();
            state.credentials = Some(credentials);
            state.auto_login = true;
        }
        self
    }

    /// The current session id (`""` before authentication).
    #[must_use]
    pub fn session(&self) -> String {
        self.lock().session.clone()
    }

    /// Whether the client is authenticated.
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.lock().accepted
    }

    /// The envelope of `data` from this client with the current session (what a request
    /// would carry if written now).
    #[must_use]
    pub fn envelope(&self, data: Value) -> Message {
        let state = self.lock();
        Message::new(state.name.clone(), data).session(state.session.clone())
    }

    /// A request carrying `data` whose session is filled in when it is written: queued
    /// before the handshake, or replayed after a re-handshake, it carries the session
    /// current then.
    #[must_use]
    pub fn request(&self, data: Value) -> Outgoing {
        let name = self.lock().name.clone();
        request(
            Message::new(name, data)
                .session(SESSION_PLACEHOLDER)
                .to_python_json(),
        )
    }

    fn lock(&self) -> MutexGuard<'_, HpxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_greeting(&mut self, message: &Message, out: &mut Output<Reply>) {
        let shared = Arc::clone(&self.state);
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        state.version = message.data.get("version").cloned();
        state.guest_allowed = message
            .data
            .get("guest_allowed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        state.greeted = true;
        match &state.credentials {
            Some(credentials) if state.auto_login || (state.relogin && state.accepted) => {
                let login = Message::new(state.name.clone(), credentials.data());
                tracing::debug!(client = %state.name, "re-handshake after connecting");
                out.send(Frame::text(login.to_python_json()));
                self.phase = Phase::LoggingIn;
            }
            _ => {
                if !state.session.is_empty() {
                    state.accepted = true;
                }
                self.phase = Phase::Ready;
                out.ready();
            }
        }
    }

    fn on_login_reply(&mut self, reply: &Reply, out: &mut Output<Reply>) {
        let shared = Arc::clone(&self.state);
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        match &reply.message {
            Ok(m) if m.error.is_none() && m.data == Value::String(AUTHENTICATED.into()) => {
                state.session.clone_from(&m.session);
                state.accepted = true;
                self.phase = Phase::Ready;
                out.ready();
            }
            other => {
                state.accepted = false;
                let why = match other {
                    Ok(Message { error: Some(e), .. }) => format!("{}: {}", e.code, e.msg),
                    Ok(m) => format!("unexpected handshake reply {}", m.data),
                    Err(e) => {
                        // Not a refusal: an unreadable reply. Try again.
                        out.fail(ConnectionError::ProtocolViolation {
                            code: 1002,
                            detail: format!("unreadable handshake reply: {e}"),
                        });
                        return;
                    }
                };
                let why = match &state.credentials {
                    Some(c) => c.scrub(&why),
                    None => why,
                };
                out.fail(ConnectionError::LoginRefused(why));
            }
        }
    }
}

impl Protocol for Hpx {
    type Event = Reply;

    fn name(&self) -> &'static str {
        "hpx"
    }

    fn on_open(&mut self, _out: &mut Output<Reply>) {
        // The server speaks first.
        self.phase = Phase::Greeting;
        let mut state = self.lock();
        state.open = true;
        state.unanswered.clear();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<Reply>) -> Result<(), DecodeError> {
        let reply = if matches!(&frame, Frame::Binary(b) if b.is_empty()) {
            // The codec's stand-in for a body it could not decode (bad gzip, a bomb).
            let why = self
                .lock()
                .bad_bodies
                .pop_front()
                .unwrap_or_else(|| "undecodable body".into());
            Reply {
                text: Arc::from(""),
                message: Err(ParseError::Body(why)),
            }
        } else {
            Reply::from_frame(&frame)
        };
        let name = reply.name();
        let decoded = reply
            .message
            .as_ref()
            .map(|_| ())
            .map_err(|e| DecodeError::new(e.to_string()));
        match self.phase {
            Phase::Greeting => {
                if let Ok(m) = &reply.message
                    && m.is_greeting()
                {
                    self.on_greeting(m, out);
                }
                out.deliver(Inbound::new(reply).named(name));
            }
            Phase::LoggingIn => {
                self.lock().unanswered.pop_front();
                self.on_login_reply(&reply, out);
                out.deliver(Inbound::new(reply).named("handshake"));
            }
            Phase::Ready => {
                // Whatever it is, it answers the oldest frame written: an unreadable
                // reply still pairs, so later replies are not misattributed.
                let answered = self.lock().unanswered.pop_front();
                let inbound = Inbound::new(reply).named(name);
                out.deliver(match answered {
                    Some(key) => inbound.acking(Ack::accepted(key)),
                    None => inbound,
                });
            }
        }
        decoded
    }

    fn on_close(&mut self) {
        self.phase = Phase::Greeting;
        let mut state = self.lock();
        state.open = false;
        state.greeted = false;
        state.unanswered.clear();
        state.bad_bodies.clear();
    }

    fn codec(&self) -> Option<CodecFactory> {
        let limits = self.limits;
        let state = Arc::downgrade(&self.state);
        Some(Arc::new(move || {
            let session = {
                let state = state.clone();
                Arc::new(move || {
                    state.upgrade().map_or_else(String::new, |state| {
                        state
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .session
                            .clone()
                    })
                })
            };
            let on_write = {
                let state = state.clone();
                Arc::new(move |payload: &[u8]| {
                    if let Some(state) = state.upgrade() {
                        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                        if state.unanswered.len() >= MAX_UNANSWERED {
                            state.unanswered.pop_front();
                        }
                        state.unanswered.push_back(request_key(payload));
                    }
                })
            };
            let on_bad_body = {
                let state = state.clone();
                Arc::new(move |e: &crate::CodecError| {
                    tracing::warn!(error = %e, "undecodable HPX message skipped");
                    if let Some(state) = state.upgrade() {
                        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                        if state.bad_bodies.len() >= MAX_UNANSWERED {
                            state.bad_bodies.pop_front();
                        }
                        state.bad_bodies.push_back(e.to_string());
                    }
                })
            };
            Box::new(
                HpxCodec::new(limits)
                    .on_write(on_write)
                    .session_source(session)
                    .on_bad_body(on_bad_body),
            ) as Box<dyn crate::FrameCodec>
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn greeting() -> Frame {
        Frame::text(
            r#"{"session": "", "name": "server", "data": {"version": {"core": [0, 1, 2]}, "guest_allowed": true}}"#,
        )
    }

    fn feed(p: &mut Hpx, frame: Frame) -> (Result<(), DecodeError>, Output<Reply>) {
        let mut out = Output::default();
        (p.on_frame(frame, &mut out), out)
    }

    #[test]
    fn ready_after_the_greeting_and_not_before() {
        let mut p = Hpx::new("c");
        let mut out = Output::default();
        p.on_open(&mut out);
        assert!(out.is_empty(), "the server speaks first");
        let (r, out) = feed(&mut p, greeting());
        r.unwrap();
        assert!(out.ready);
        assert!(out.control.is_empty());
        assert_eq!(out.inbound[0].name.as_deref(), Some("greeting"));
        assert!(out.inbound[0].ack.is_none());
        let state = p.lock();
        assert_eq!(state.version, Some(json!({"core": [0, 1, 2]})));
        assert!(state.guest_allowed && state.greeted && !state.accepted);
    }

    #[test]
    fn a_preset_session_is_accepted_at_the_greeting() {
        let mut p = Hpx::new("c").session_id("pre");
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(out.ready);
        assert!(p.accepted());
        assert_eq!(p.envelope(json!([])).session, "pre");
    }

    /// Writes `payload` through the protocol's codec, as the engine does.
    fn write(p: &Hpx, payload: &str) {
        let mut codec = (p.codec().unwrap())();
        codec
            .encode(&Frame::text(payload), &mut bytes::BytesMut::new())
            .unwrap();
    }

    #[test]
    fn replies_after_ready_answer_the_oldest_request_even_when_unreadable() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&p, "first");
        write(&p, "second");
        let (r, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "s", "name": "server", "data": []}"#),
        );
        r.unwrap();
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"first")))
        );
        assert_eq!(request("first").ack(), Some(&request_key(b"first")));
        let (r, out) = feed(&mut p, Frame::text("not json"));
        assert!(r.is_err(), "counted as a decode error");
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"second")))
        );
        assert_eq!(out.inbound[0].name.as_deref(), Some("invalid"));
        assert_eq!(&*out.inbound[0].event.text, "not json");
        // Nothing was asked: a message answers nothing.
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "", "name": "server", "data": 1}"#),
        );
        assert!(out.inbound[0].ack.is_none());
    }

    #[test]
    fn an_undecodable_body_is_a_decode_error_that_still_answers_its_request() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&p, "asked");
        let mut codec = (p.codec().unwrap())();
        let mut wire = bytes::BytesMut::from(&b"not gzip<EOF>"[..]);
        let frame = codec.decode(&mut wire).unwrap().expect("a stand-in frame");
        let (r, out) = feed(&mut p, frame);
        let e = r.unwrap_err();
        assert!(e.reason.contains("invalid gzip"), "{e}");
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"asked")))
        );
        assert!(matches!(
            out.inbound[0].event.message,
            Err(ParseError::Body(_))
        ));
    }

    #[test]
    fn a_new_connection_forgets_what_the_old_one_wrote() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&p, "lost");
        p.on_close();
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&p, "replayed");
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "", "name": "server", "data": 1}"#),
        );
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"replayed")))
        );
    }

    #[test]
    fn relogs_in_with_the_last_credentials_after_a_reconnect() {
        let creds = Credentials::User {
            user: "alice".into(),
            password: Secret::new("s3cret"),
        };
        let mut p = Hpx::new("c").login(creds);
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(!out.ready, "not before the handshake reply");
        assert_eq!(
            out.control[0].as_text().unwrap(),
            r#"{"session": "", "name": "c", "data": {"user": "alice", "password": "s3cret"}}"#
        );
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "new", "name": "server", "data": "Authenticated"}"#),
        );
        assert!(out.ready);
        assert!(
            out.inbound[0].ack.is_none(),
            "the login reply is not a request's"
        );
        assert_eq!(p.session(), "new");
    }

    #[test]
    fn a_refused_relogin_is_fatal_and_never_shows_the_password() {
        let creds = Credentials::User {
            user: "alice".into(),
            password: Secret::new("s3cret"),
        };
        assert!(!format!("{creds:?}").contains("s3cret"));
        let mut p = Hpx::new("c").login(creds);
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        let (_, out) = feed(
            &mut p,
            Frame::text(
                r#"{"session": "", "name": "server", "data": null, "error": {"code": 411, "msg": "bad password s3cret"}}"#,
            ),
        );
        let fatal = out.fatal.expect("fatal");
        assert_eq!(fatal.disposition(), crate::Disposition::Fatal);
        let text = fatal.to_string();
        assert!(text.contains("411") && !text.contains("s3cret"), "{text}");
        assert!(!p.accepted());
    }
}
