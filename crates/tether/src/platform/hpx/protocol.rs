//! The HPX client state machine: greeting, optional re-login, then one reply per request.

use std::{
    collections::VecDeque,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use crate::json::{Map, Value};
use tokio::sync::watch;

use crate::{
    error::ConnectionError,
    frame::Frame,
    outgoing::{AckKey, Outgoing},
    protocol::{Ack, CodecFactory, DecodeError, Inbound, Outbound, Output, Protocol},
    secret::Secret,
};

use super::{
    codec::{HpxCodec, Limits},
    model::{AUTHENTICATED, Message, ParseError},
};

/// Frames written and not answered yet, kept at most (a server that stops answering
/// cannot grow it without bound; past it, the oldest are forgotten).
const MAX_UNANSWERED: usize = 65_536;

/// The key a request carries: a fingerprint of its payload.
///
/// HPX has no request ids: the server answers each message once, in order. [`Hpx`] notes
/// every frame as it is written ([`Protocol::before_write`]); each reply takes the oldest
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

    /// The credentials a handshake message carries (`data` `{}` or
    /// `{"user": U, "password": P}`); `None` for any other message.
    #[must_use]
    pub fn of_handshake(payload: &[u8]) -> Option<Self> {
        let message = Message::parse(payload).ok()?;
        let data = message.data.as_object()?;
        if data.is_empty() {
            return Some(Credentials::Guest);
        }
        let user = data.get("user")?.as_str()?;
        let password = data.get("password").and_then(Value::as_str).unwrap_or("");
        Some(Credentials::User {
            user: user.to_owned(),
            password: Secret::new(password),
        })
    }
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

/// What the HPX protocol knows of its connection, as it publishes it
/// ([`Hpx::status`]): the typed client reads it, nobody else writes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HpxStatus {
    /// The current session id (`""` before authentication).
    pub session: String,
    /// The server accepted a handshake (or a preset session id) on this client.
    pub accepted: bool,
    /// The greeting arrived on the current connection.
    pub greeted: bool,
    /// The server's version, from its last greeting.
    pub version: Option<Value>,
    /// Whether the server allows guests, from its last greeting.
    pub guest_allowed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    LoggingIn,
    Ready,
}

/// A frame written on this connection and not answered yet.
#[derive(Debug)]
struct Written {
    /// Its request key (the fingerprint of the frame as queued).
    key: AckKey,
    /// The frame as written: read again only when its reply accepts a handshake.
    frame: Frame,
}

/// The HPX platform for the engine.
///
/// On each connection it waits for the server's greeting (noting `version` and
/// `guest_allowed`), shakes hands with its credentials when it logs in by itself
/// ([`Hpx::login`]) or re-logs in ([`Hpx::relogin`]) once accepted, and is then ready.
/// Every message after that answers the oldest frame written and not answered yet
/// ([`request`] marks requests so): HPX has no request ids. Requests built with
/// [`Hpx::request`] get the session current when they are written
/// ([`Protocol::before_write`]), so one queued before the handshake or replayed after a
/// re-handshake carries the right one.
///
/// What it learns (session, acceptance, greeting) comes from the wire alone: a reply
/// `"Authenticated"` accepts the handshake it answers, whoever wrote it. It publishes
/// that as [`HpxStatus`] ([`Hpx::status`]).
///
/// HPX has no heartbeat: a stalled server is noticed by request deadlines and TCP
/// keepalive.
#[derive(Debug)]
pub struct Hpx {
    name: String,
    limits: Limits,
    phase: Phase,
    /// What is published; `published` carries it out.
    status: HpxStatus,
    published: watch::Sender<HpxStatus>,
    /// The credentials the server last accepted (or the ones to log in with).
    credentials: Option<Credentials>,
    /// Handshake with `credentials` after every greeting once accepted.
    relogin: bool,
    /// Handshake with `credentials` after every greeting, the first included.
    auto_login: bool,
    /// Frames written on this connection and not answered yet, oldest first.
    unanswered: VecDeque<Written>,
}

impl Hpx {
    /// The protocol for a client called `name`, with default size limits.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            limits: Limits::default(),
            phase: Phase::Greeting,
            status: HpxStatus::default(),
            published: watch::Sender::new(HpxStatus::default()),
            credentials: None,
            relogin: false,
            auto_login: false,
            unanswered: VecDeque::new(),
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
    pub fn session_id(mut self, session: impl Into<String>) -> Self {
        self.status.session = session.into();
        self.publish();
        self
    }

    /// Logs in with `credentials` right after every greeting (including the first), so
    /// queued requests flow only once authenticated. A refusal stops the client.
    #[must_use]
    pub fn login(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self.auto_login = true;
        self
    }

    /// After a reconnect, shakes hands again with the credentials the server last
    /// accepted (`accepted` seeds them, as from an earlier connection), before queued
    /// requests are replayed. Off by default.
    #[must_use]
    pub fn relogin(mut self, on: bool, accepted: Option<Credentials>) -> Self {
        self.relogin = on;
        if let Some(credentials) = accepted {
            self.credentials = Some(credentials);
            self.status.accepted = true;
            self.publish();
        }
        self
    }

    /// Follows what the protocol learns: session, acceptance, greeting. Take it before
    /// handing the protocol to the engine.
    #[must_use]
    pub fn status(&self) -> watch::Receiver<HpxStatus> {
        self.published.subscribe()
    }

    /// The client's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A request carrying `data` from this client, its session filled in when it is
    /// written (see [`session_request`]).
    #[must_use]
    pub fn request(&self, data: Value) -> Outgoing {
        session_request(&self.name, data)
    }

    fn publish(&self) {
        self.published.send_if_modified(|published| {
            let changed = *published != self.status;
            if changed {
                published.clone_from(&self.status);
            }
            changed
        });
    }

    fn on_greeting(&mut self, message: &Message, out: &mut Output<Reply>) {
        self.note_greeting(message);
        self.status.greeted = true;
        match &self.credentials {
            Some(credentials) if self.auto_login || (self.relogin && self.status.accepted) => {
                let login = Message::new(self.name.clone(), credentials.data());
                tracing::debug!(client = %self.name, "handshake after the greeting");
                out.send(Frame::text(login.to_python_json()));
                self.phase = Phase::LoggingIn;
            }
            _ => {
                if !self.status.session.is_empty() {
                    self.status.accepted = true;
                }
                self.phase = Phase::Ready;
                out.ready();
            }
        }
    }

    fn note_greeting(&mut self, message: &Message) {
        self.status.version = message.data.get("version").cloned();
        self.status.guest_allowed = message
            .data
            .get("guest_allowed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    }

    fn on_login_reply(&mut self, reply: &Reply, out: &mut Output<Reply>) {
        match &reply.message {
            Ok(m) if m.error.is_none() && m.data == Value::String(AUTHENTICATED.into()) => {
                self.status.session.clone_from(&m.session);
                self.status.accepted = true;
                self.phase = Phase::Ready;
                out.ready();
            }
            other => {
                self.status.accepted = false;
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
                let why = match &self.credentials {
                    Some(c) => c.scrub(&why),
                    None => why,
                };
                out.fail(ConnectionError::LoginRefused(why));
            }
        }
    }

    /// A reply once ready: it answers the oldest frame written; a greeting (after
    /// `requestauth`) or an accepted handshake updates the status.
    fn on_ready_reply(&mut self, reply: Reply, out: &mut Output<Reply>) {
        // Whatever it is, it answers the oldest frame written: an unreadable reply
        // still pairs, so later replies are not misattributed.
        let answered = self.unanswered.pop_front();
        if let Ok(m) = &reply.message {
            if m.is_greeting() {
                self.note_greeting(m);
            } else if m.error.is_none() && m.data == Value::String(AUTHENTICATED.into()) {
                self.status.session.clone_from(&m.session);
                self.status.accepted = true;
                if let Some(credentials) = answered
                    .as_ref()
                    .and_then(|w| Credentials::of_handshake(w.frame.payload()))
                {
                    self.credentials = Some(credentials);
                }
            }
        }
        let name = reply.name();
        let inbound = Inbound::new(reply).named(name);
        out.deliver(match answered {
            Some(written) => inbound.acking(Ack::accepted(written.key)),
            None => inbound,
        });
    }

    fn on_reply(&mut self, reply: Reply, out: &mut Output<Reply>) {
        match self.phase {
            Phase::Greeting => {
                if let Ok(m) = &reply.message
                    && m.is_greeting()
                {
                    self.on_greeting(m, out);
                }
                let name = reply.name();
                out.deliver(Inbound::new(reply).named(name));
            }
            Phase::LoggingIn => {
                self.unanswered.pop_front();
                self.on_login_reply(&reply, out);
                out.deliver(Inbound::new(reply).named("handshake"));
            }
            Phase::Ready => self.on_ready_reply(reply, out),
        }
        self.publish();
    }
}

/// A request from client `name` carrying `data`, acknowledged by its reply, whose
/// session is filled in when it is written: queued before the handshake, or replayed
/// after a re-handshake, it carries the session current then. Queued, it reads
/// `{"session": "", ...}`; [`Hpx`] stamps it.
///
/// ```
/// use tether::hpx::session_request;
/// let request = session_request("c", tether::json!([{"fname": "get_version"}]));
/// assert!(request.is_stamped() && request.ack().is_some());
/// assert_eq!(
///     request.frame().as_text().unwrap(),
///     r#"{"session": "", "name": "c", "data": [{"fname": "get_version"}]}"#
/// );
/// ```
#[must_use]
pub fn session_request(name: &str, data: Value) -> Outgoing {
    request(Message::new(name, data).to_python_json()).stamped()
}

/// How a message built by [`session_request`] starts: the session to stamp.
const UNSTAMPED: &[u8] = b"{\"session\": \"\"";

/// `frame` with `session` in place of its empty session (frames built by
/// [`session_request`]); any other frame as it is.
fn stamp_session(frame: Frame, session: &str) -> Frame {
    if session.is_empty() {
        return frame;
    }
    let Some(rest) = frame.payload().strip_prefix(UNSTAMPED) else {
        return frame;
    };
    let mut text = String::with_capacity(frame.len() + session.len() + 2);
    text.push_str("{\"session\": ");
    crate::platform::pyjson::write_str(&mut text, session, true);
    // The rest is the tail of valid UTF-8 text after an ASCII prefix.
    text.push_str(&String::from_utf8_lossy(rest));
    Frame::text(text)
}

impl Protocol for Hpx {
    type Event = Reply;

    fn name(&self) -> &'static str {
        "hpx"
    }

    fn on_open(&mut self, _out: &mut Output<Reply>) {
        // The server speaks first.
        self.phase = Phase::Greeting;
        self.unanswered.clear();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<Reply>) -> Result<(), DecodeError> {
        let reply = Reply::from_frame(&frame);
        let decoded = reply
            .message
            .as_ref()
            .map(|_| ())
            .map_err(|e| DecodeError::new(e.to_string()));
        self.on_reply(reply, out);
        decoded
    }

    fn on_undecodable(&mut self, reason: &str, out: &mut Output<Reply>) {
        // A body that does not decompress (bad gzip, a bomb) still answers its request.
        let reply = Reply {
            text: Arc::from(""),
            message: Err(ParseError::Body(reason.to_owned())),
        };
        self.on_reply(reply, out);
    }

    fn before_write(&mut self, frame: Frame, origin: Outbound) -> Frame {
        // The key is the fingerprint of the frame as queued (what its `request` carries).
        let key = request_key(frame.payload());
        let frame = match origin {
            Outbound::Message { stamp: true } => stamp_session(frame, &self.status.session),
            _ => frame,
        };
        if self.unanswered.len() >= MAX_UNANSWERED {
            self.unanswered.pop_front();
        }
        self.unanswered.push_back(Written {
            key,
            frame: frame.clone(),
        });
        frame
    }

    fn on_close(&mut self) {
        self.phase = Phase::Greeting;
        self.status.greeted = false;
        self.unanswered.clear();
        self.publish();
    }

    fn codec(&self) -> Option<CodecFactory> {
        Some(HpxCodec::factory(self.limits))
    }
}

#[cfg(test)]
mod tests {
    use crate::json;

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

    /// Writes `payload` as the engine does: through the outbound hook.
    fn write(p: &mut Hpx, payload: &str) -> Frame {
        p.before_write(Frame::text(payload), Outbound::Message { stamp: false })
    }

    #[test]
    fn ready_after_the_greeting_and_not_before() {
        let mut p = Hpx::new("c");
        let status = p.status();
        let mut out = Output::default();
        p.on_open(&mut out);
        assert!(out.is_empty(), "the server speaks first");
        let (r, out) = feed(&mut p, greeting());
        r.unwrap();
        assert!(out.ready);
        assert!(out.control.is_empty());
        assert_eq!(out.inbound[0].name.as_deref(), Some("greeting"));
        assert!(out.inbound[0].ack.is_none());
        let status = status.borrow();
        assert_eq!(status.version, Some(json!({"core": [0, 1, 2]})));
        assert!(status.guest_allowed && status.greeted && !status.accepted);
    }

    #[test]
    fn a_preset_session_is_accepted_at_the_greeting_and_stamped_on_requests() {
        let mut p = Hpx::new("c").session_id("pre");
        let status = p.status();
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(out.ready);
        assert!(status.borrow().accepted);
        let queued = p.request(json!([]));
        let written = p.before_write(queued.frame().clone(), Outbound::Message { stamp: true });
        assert_eq!(
            written.as_text().unwrap(),
            r#"{"session": "pre", "name": "c", "data": []}"#
        );
        assert_eq!(
            queued.frame().as_text().unwrap(),
            r#"{"session": "", "name": "c", "data": []}"#,
            "the outbox keeps it unstamped, for a replay on a later session"
        );
    }

    #[test]
    fn only_stamped_messages_get_the_session() {
        let mut p = Hpx::new("c").session_id("s\u{e9}");
        let text = r#"{"session": "", "name": "c", "data": 1}"#;
        let as_is = p.before_write(Frame::text(text), Outbound::Message { stamp: false });
        assert_eq!(as_is.as_text().unwrap(), text);
        let control = p.before_write(Frame::text(text), Outbound::Control);
        assert_eq!(control.as_text().unwrap(), text);
        let stamped = p.before_write(Frame::text(text), Outbound::Message { stamp: true });
        assert_eq!(
            stamped.as_text().unwrap(),
            r#"{"session": "s\u00e9", "name": "c", "data": 1}"#
        );
    }

    #[test]
    fn replies_after_ready_answer_the_oldest_request_even_when_unreadable() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&mut p, "first");
        write(&mut p, "second");
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
    fn an_undecodable_body_still_answers_its_request() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&mut p, "asked");
        write(&mut p, "next");
        let mut codec = (p.codec().unwrap())();
        let mut wire = bytes::BytesMut::from(&b"not gzip<EOF>"[..]);
        let Err(crate::CodecError::Undecodable(reason)) = codec.decode(&mut wire) else {
            panic!("a bad body is reported, not failed");
        };
        assert!(reason.contains("invalid gzip"), "{reason}");
        assert!(wire.is_empty(), "the body and its marker were consumed");
        let mut out = Output::default();
        p.on_undecodable(&reason, &mut out);
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"asked")))
        );
        assert!(matches!(
            out.inbound[0].event.message,
            Err(ParseError::Body(_))
        ));
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "", "name": "server", "data": 1}"#),
        );
        assert_eq!(
            out.inbound[0].ack,
            Some(Ack::accepted(request_key(b"next"))),
            "the next reply answers the next request"
        );
    }

    #[test]
    fn a_new_connection_forgets_what_the_old_one_wrote() {
        let mut p = Hpx::new("c");
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&mut p, "lost");
        p.on_close();
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(&mut p, "replayed");
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
    fn logs_in_after_the_greeting_with_its_credentials() {
        let creds = Credentials::User {
            user: "alice".into(),
            password: Secret::new("s3cret"),
        };
        let mut p = Hpx::new("c").login(creds);
        let status = p.status();
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(!out.ready, "not before the handshake reply");
        let login = out.control[0].clone();
        assert_eq!(
            login.as_text().unwrap(),
            r#"{"session": "", "name": "c", "data": {"user": "alice", "password": "s3cret"}}"#
        );
        p.before_write(login, Outbound::Control);
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "new", "name": "server", "data": "Authenticated"}"#),
        );
        assert!(out.ready);
        assert!(
            out.inbound[0].ack.is_none(),
            "the login reply is not a request's"
        );
        assert_eq!(status.borrow().session, "new");
    }

    #[test]
    fn relogs_in_after_a_reconnect_with_the_handshake_the_server_accepted() {
        let mut p = Hpx::new("c").relogin(true, None);
        let status = p.status();
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(out.ready, "no credentials yet: ready at the greeting");
        // Someone (the typed client) shakes hands through the outbox.
        write(
            &mut p,
            r#"{"session": "", "name": "c", "data": {"user": "bob", "password": "hunter22"}}"#,
        );
        let (_, out) = feed(
            &mut p,
            Frame::text(r#"{"session": "one", "name": "server", "data": "Authenticated"}"#),
        );
        assert!(out.inbound[0].ack.is_some(), "it answers that request");
        assert!(status.borrow().accepted);
        assert_eq!(status.borrow().session, "one");

        p.on_close();
        assert!(!status.borrow().greeted);
        p.on_open(&mut Output::default());
        let (_, out) = feed(&mut p, greeting());
        assert!(!out.ready, "the re-handshake comes first");
        assert_eq!(
            out.control[0].as_text().unwrap(),
            r#"{"session": "", "name": "c", "data": {"user": "bob", "password": "hunter22"}}"#
        );
    }

    #[test]
    fn a_requestauth_greeting_updates_the_version() {
        let mut p = Hpx::new("c");
        let status = p.status();
        p.on_open(&mut Output::default());
        let _ = feed(&mut p, greeting());
        write(
            &mut p,
            r#"{"session": "", "name": "c", "data": "requestauth"}"#,
        );
        let (_, out) = feed(
            &mut p,
            Frame::text(
                r#"{"session": "", "name": "server", "data": {"version": {"core": [9]}, "guest_allowed": false}}"#,
            ),
        );
        assert!(out.inbound[0].ack.is_some());
        assert_eq!(status.borrow().version, Some(json!({"core": [9]})));
        assert!(!status.borrow().guest_allowed);
    }

    #[test]
    fn a_refused_login_is_fatal_and_never_shows_the_password() {
        let creds = Credentials::User {
            user: "alice".into(),
            password: Secret::new("s3cret"),
        };
        assert!(!format!("{creds:?}").contains("s3cret"));
        let mut p = Hpx::new("c").login(creds);
        let status = p.status();
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
        assert!(!status.borrow().accepted);
    }

    #[test]
    fn the_credentials_of_a_handshake_message() {
        assert_eq!(
            Credentials::of_handshake(br#"{"session": "", "name": "c", "data": {}}"#),
            Some(Credentials::Guest)
        );
        assert_eq!(
            Credentials::of_handshake(
                br#"{"session": "", "name": "c", "data": {"user": "u", "password": "p"}}"#
            ),
            Some(Credentials::User {
                user: "u".into(),
                password: Secret::new("p")
            })
        );
        assert_eq!(
            Credentials::of_handshake(br#"{"session": "", "name": "c", "data": []}"#),
            None
        );
    }
}
