//! The Moobius client state machine: login on every connection, the 30 s heartbeat,
//! payloads routed by their `type`.

use std::{fmt, time::Duration};

use crate::{
    frame::Frame,
    protocol::{DecodeError, Inbound, Output, Protocol},
    secret::Secret,
};

use super::{builder::Builders, model::Payload};

/// The SDK's heartbeat interval (`SDK.heartbeat_interval`).
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Who the client logs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A service: `service_login` with its id.
    Service {
        /// The service id.
        service_id: String,
    },
    /// A user: `user_login`, then `join_channel` for each `(user_id, channel_id)`.
    User {
        /// The channels joined after every login.
        channels: Vec<(String, String)>,
    },
}

/// The Moobius platform for the engine.
///
/// On every (re)connect it sends the login (`service_login` or `user_login`, and in user
/// mode a `join_channel` per configured channel) ahead of any queued message, and is
/// ready at once: Moobius acknowledges no login. Its application heartbeat is the SDK's
/// `heartbeat` message every 30 s (the engine's WebSocket pings run besides). Every
/// text frame is one [`Payload`], routed by its `type`; a frame that is not one is a
/// decode error and the connection goes on.
#[derive(Clone)]
pub struct Moobius {
    mode: Mode,
    token: Secret,
    builders: Builders,
    heartbeat: Option<Duration>,
}

impl fmt::Debug for Moobius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Moobius")
            .field("mode", &self.mode)
            .field("token", &self.token)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl Moobius {
    /// Logs in as `mode` with `access_token`, heartbeat every 30 s.
    pub fn new(mode: Mode, access_token: impl Into<Secret>) -> Self {
        Self {
            mode,
            token: access_token.into(),
            builders: Builders::new(),
            heartbeat: Some(HEARTBEAT),
        }
    }

    /// Uses these builders (injected ids and clock) for the login and heartbeats.
    #[must_use]
    pub fn builders(mut self, builders: Builders) -> Self {
        self.builders = builders;
        self
    }

    /// Sets the heartbeat interval (`None`: no application heartbeat).
    #[must_use]
    pub fn heartbeat_every(mut self, every: Option<Duration>) -> Self {
        self.heartbeat = every.filter(|d| !d.is_zero());
        self
    }

    /// The login mode.
    #[must_use]
    pub fn mode(&self) -> &Mode {
        &self.mode
    }
}

impl Protocol for Moobius {
    type Event = Payload;

    fn name(&self) -> &'static str {
        "moobius"
    }

    fn on_open(&mut self, out: &mut Output<Payload>) {
        let b = &self.builders;
        match &self.mode {
            Mode::Service { service_id } => {
                out.send(Frame::text(
                    b.service_login(service_id, &self.token).wire_text(),
                ));
            }
            Mode::User { channels } => {
                out.send(Frame::text(b.user_login(&self.token).wire_text()));
                for (user_id, channel_id) in channels {
                    out.send(Frame::text(b.join_channel(user_id, channel_id).wire_text()));
                }
            }
        }
        out.ready();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<Payload>) -> Result<(), DecodeError> {
        let Some(text) = frame.as_text() else {
            return Err(DecodeError::new("binary frame: Moobius sends JSON text"));
        };
        let payload = Payload::parse(text).map_err(|e| DecodeError::new(e.to_string()))?;
        let name = payload.kind.clone();
        out.deliver(Inbound::new(payload).named(name));
        Ok(())
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat
    }

    fn heartbeat(&mut self) -> Option<Frame> {
        Some(Frame::text(self.builders.heartbeat().wire_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> Builders {
        Builders::pinned("rid", 5)
    }

    fn texts(out: &Output<Payload>) -> Vec<String> {
        out.control
            .iter()
            .map(|f| f.as_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_service_logs_in_and_is_ready_at_once() {
        let mut p = Moobius::new(
            Mode::Service {
                service_id: "svc".into(),
            },
            "tok",
        )
        .builders(pinned());
        let mut out = Output::default();
        p.on_open(&mut out);
        assert!(out.ready);
        assert_eq!(
            texts(&out),
            [
                r#"{"type": "service_login", "request_id": "rid", "auth_origin": "cognito", "access_token": "tok", "service_id": "svc"}"#
            ]
        );
        // Again on the next connection.
        p.on_close();
        let mut again = Output::default();
        p.on_open(&mut again);
        assert_eq!(texts(&again), texts(&out));
    }

    #[test]
    fn a_user_logs_in_then_joins_its_channels() {
        let mut p = Moobius::new(
            Mode::User {
                channels: vec![("u1".into(), "c1".into()), ("u1".into(), "c2".into())],
            },
            "tok",
        )
        .builders(pinned());
        let mut out = Output::default();
        p.on_open(&mut out);
        let sent = texts(&out);
        assert_eq!(sent.len(), 3);
        assert!(sent[0].contains("\"user_login\""));
        assert!(sent[1].contains("\"join_channel\", \"channel_id\": \"c1\""));
        assert!(sent[2].contains("\"channel_id\": \"c2\""));
    }

    #[test]
    fn heartbeat_is_the_sdk_message_every_30_s_by_default() {
        let mut p = Moobius::new(
            Mode::Service {
                service_id: "s".into(),
            },
            "t",
        )
        .builders(pinned());
        assert_eq!(p.heartbeat_interval(), Some(Duration::from_secs(30)));
        assert_eq!(
            p.heartbeat().unwrap().as_text(),
            Some(r#"{"type": "heartbeat", "request_id": "rid", "body": {}}"#)
        );
        let p = p.heartbeat_every(None);
        assert_eq!(p.heartbeat_interval(), None);
    }

    #[test]
    fn payloads_are_named_by_type_and_bad_frames_are_decode_errors() {
        let mut p = Moobius::new(Mode::User { channels: vec![] }, "t");
        let mut out = Output::default();
        p.on_frame(
            Frame::text(r#"{"type":"copy","request_id":"x","body":{"request_id":"r","origin_type":"heartbeat","status":true}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.inbound[0].name.as_deref(), Some("copy"));
        for bad in [
            Frame::text("nope"),
            Frame::text(r#"{"type":"message_down","body":{}}"#),
            Frame::binary(&b"{}"[..]),
        ] {
            let mut out = Output::default();
            assert!(p.on_frame(bad, &mut out).is_err());
            assert!(out.inbound.is_empty());
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let p = Moobius::new(Mode::User { channels: vec![] }, "tok-xyz");
        assert!(!format!("{p:?}").contains("tok-xyz"));
    }
}
