//! The Hiven Swarm client state machine: hello → login → `INIT_STATE` → one
//! `HOUSE_JOIN` per membership → ready.

use std::{collections::HashSet, sync::Arc, time::Duration};

use crate::{
    error::{Disposition, default_close_disposition},
    frame::Frame,
    protocol::{DecodeError, Inbound, Output, Protocol},
    secret::Secret,
};

use super::model::{
    DEFAULT_HEARTBEAT_MS, HEARTBEAT_TEXT, ReadyInfo, SwarmEvent, SwarmMessage, User, auth_text,
};

/// The Hiven Swarm for the engine.
///
/// - On the server's hello (op 1) it logs in (op 2, the token as given) and sends its
///   first heartbeat (op 3) at once, as both Python clients do; then one op 3 every
///   `hbt_int` ms (the hello wins over the configured default). The Swarm never
///   answers op 3, so liveness comes from the engine's WebSocket pings and watchdog.
/// - Ready once `INIT_STATE` has arrived and every house it announces in
///   `house_memberships` has had its `HOUSE_JOIN` — at once with zero houses, and also
///   when the joins arrive in the same read burst as `INIT_STATE` (two cases where the
///   Python clients never become ready). A synthetic [`SwarmEvent::Ready`] follows the
///   frame that completed it.
/// - Close code 4001 (token refused) is fatal: no reconnect loop. Everything else
///   reconnects, logs in again and becomes ready again.
/// - A frame that does not decode is a decode error; the connection goes on.
#[derive(Clone)]
pub struct Swarm {
    token: Secret,
    default_heartbeat: Duration,
    log_ws_output: bool,
    conn: ConnState,
}

/// What one connection has seen so far.
#[derive(Clone, Default)]
struct ConnState {
    /// The hello's interval; set once the login went out.
    heartbeat: Option<Duration>,
    /// The logged-in user and the houses `INIT_STATE` announced.
    init: Option<(User, HashSet<String>)>,
    /// Houses joined, in order.
    joined: Vec<String>,
    ready: bool,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("token", &self.token)
            .field("default_heartbeat", &self.default_heartbeat)
            .field("heartbeat", &self.conn.heartbeat)
            .field("houses_joined", &self.conn.joined.len())
            .field("ready", &self.conn.ready)
            .finish_non_exhaustive()
    }
}

impl Swarm {
    /// A Swarm login with `token`, sent as it is (hiven.py prefixes bot tokens with
    /// `"Bot "`, openhivenpy sends them raw; the real Swarm takes the raw token).
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: token.into(),
            default_heartbeat: Duration::from_millis(DEFAULT_HEARTBEAT_MS),
            log_ws_output: false,
            conn: ConnState::default(),
        }
    }

    /// The heartbeat interval used when the hello carries none (default 30 s).
    #[must_use]
    pub fn default_heartbeat(mut self, every: Duration) -> Self {
        self.default_heartbeat = every;
        self
    }

    /// Logs every frame in and out at debug level (the token redacted).
    #[must_use]
    pub fn log_ws_output(mut self, on: bool) -> Self {
        self.log_ws_output = on;
        self
    }

    /// Whether this connection is ready (every announced house joined).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.conn.ready
    }

    fn log(&self, direction: &str, text: &str) {
        if self.log_ws_output {
            tracing::debug!(direction, frame = %self.token.scrub(text), "hiven ws");
        }
    }

    fn check_ready(&mut self, out: &mut Output<SwarmMessage>) {
        if self.conn.ready {
            return;
        }
        let Some((user, announced)) = &self.conn.init else {
            return;
        };
        if announced.iter().all(|h| self.conn.joined.contains(h)) {
            self.conn.ready = true;
            let info = ReadyInfo {
                user: user.clone(),
                house_ids: self.conn.joined.clone(),
            };
            tracing::debug!(houses = info.house_ids.len(), "hiven: ready");
            out.ready();
            out.deliver(
                Inbound::new(SwarmMessage {
                    event: SwarmEvent::Ready(info),
                    raw: None,
                })
                .named("READY"),
            );
        }
    }
}

impl Protocol for Swarm {
    type Event = SwarmMessage;

    fn name(&self) -> &'static str {
        "hiven"
    }

    fn on_open(&mut self, _out: &mut Output<SwarmMessage>) {
        // The Swarm speaks first (op 1); the login answers it.
        self.conn = ConnState::default();
    }

    fn on_frame(
        &mut self,
        frame: Frame,
        out: &mut Output<SwarmMessage>,
    ) -> Result<(), DecodeError> {
        let Some(text) = frame.as_text() else {
            return Err(DecodeError::new("binary frame: the Swarm sends JSON text"));
        };
        self.log("in", text);
        let event = SwarmEvent::parse(text).map_err(|e| DecodeError::new(e.to_string()))?;
        match &event {
            SwarmEvent::Hello { hbt_int } => {
                let every = Duration::from_millis(*hbt_int);
                if self.conn.heartbeat.is_none() {
                    let login = auth_text(self.token.expose());
                    self.log("out", &login);
                    self.log("out", HEARTBEAT_TEXT);
                    out.send(Frame::text(login));
                    out.send(Frame::text(HEARTBEAT_TEXT));
                }
                self.conn.heartbeat = Some(every);
            }
            SwarmEvent::InitState(init) => {
                let announced: HashSet<String> = init.house_memberships.keys().cloned().collect();
                self.conn.init = Some((init.user.clone(), announced));
            }
            SwarmEvent::HouseJoin(house) if !self.conn.joined.contains(&house.id) => {
                self.conn.joined.push(house.id.clone());
            }
            // A house announced but left (or gone) before its join is not waited for.
            SwarmEvent::HouseLeave(r) | SwarmEvent::HouseDown(r) if !self.conn.ready => {
                if let (Some((_, announced)), Some(id)) = (&mut self.conn.init, &r.house_id) {
                    announced.remove(id);
                }
            }
            SwarmEvent::Unknown { op, name, .. } => {
                tracing::warn!(op, name = ?name, "hiven: unknown Swarm event");
            }
            _ => {}
        }
        let name = event.name().map(str::to_owned);
        let message = SwarmMessage {
            event,
            raw: Some(Arc::from(text)),
        };
        let inbound = Inbound::new(message);
        out.deliver(match name {
            Some(name) => inbound.named(name),
            None => inbound,
        });
        self.check_ready(out);
        Ok(())
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        // No op 3 before the login (the hello) went out.
        self.conn.heartbeat.map(|d| {
            if d.is_zero() {
                self.default_heartbeat
            } else {
                d
            }
        })
    }

    fn heartbeat(&mut self) -> Option<Frame> {
        self.log("out", HEARTBEAT_TEXT);
        Some(Frame::text(HEARTBEAT_TEXT))
    }

    fn classify_close(&self, code: Option<u16>, _reason: &str) -> Disposition {
        match code {
            // The Swarm's (and the hub's) "token refused".
            Some(4001) => Disposition::Fatal,
            other => default_close_disposition(other),
        }
    }

    fn on_close(&mut self) {
        self.conn = ConnState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hiven::Envelope;
    use serde_json::json;

    const TOKEN: &str = "tok3n";

    fn swarm() -> Swarm {
        Swarm::new(TOKEN)
    }

    fn feed(swarm: &mut Swarm, text: &str) -> Output<SwarmMessage> {
        let mut out = Output::default();
        swarm.on_frame(Frame::text(text), &mut out).unwrap();
        out
    }

    fn init_state(houses: &[&str]) -> String {
        let memberships: serde_json::Map<String, serde_json::Value> = houses
            .iter()
            .map(|h| ((*h).to_owned(), json!({"house_id": h})))
            .collect();
        Envelope::event(
            "INIT_STATE",
            json!({"user": {"id": "7", "username": "bot", "name": "Bot"},
                   "house_memberships": memberships, "relationships": {}}),
        )
        .to_text()
    }

    fn house_join(id: &str) -> String {
        Envelope::event(
            "HOUSE_JOIN",
            json!({"id": id, "name": id, "rooms": [], "members": []}),
        )
        .to_text()
    }

    fn names(out: &Output<SwarmMessage>) -> Vec<&str> {
        out.inbound
            .iter()
            .map(|i| i.name.as_deref().unwrap_or("?"))
            .collect()
    }

    /// Connects and logs in: on_open, then the hello.
    fn logged_in(swarm: &mut Swarm, hbt: u64) -> Output<SwarmMessage> {
        let mut out = Output::default();
        swarm.on_open(&mut out);
        assert!(out.is_empty(), "nothing before the hello");
        feed(swarm, &Envelope::hello(hbt).to_text())
    }

    #[test]
    fn hello_login_init_state_house_joins_then_ready() {
        let mut s = swarm();
        assert_eq!(s.heartbeat_interval(), None, "no heartbeat before login");
        let out = logged_in(&mut s, 30000);
        let sent: Vec<_> = out.control.iter().map(|f| f.as_text().unwrap()).collect();
        assert_eq!(
            sent,
            [r#"{"op": 2, "d": {"token": "tok3n"}}"#, r#"{"op": 3}"#],
            "login then an immediate heartbeat"
        );
        assert!(!out.ready);

        let out = feed(&mut s, &init_state(&["h1", "h2", "h3"]));
        assert!(!out.ready, "houses announced, none joined");
        assert_eq!(names(&out), ["INIT_STATE"]);
        for h in ["h1", "h2"] {
            let out = feed(&mut s, &house_join(h));
            assert!(!out.ready, "{h} is not the last house");
        }
        // A duplicate join does not count twice.
        assert!(!feed(&mut s, &house_join("h2")).ready);
        let out = feed(&mut s, &house_join("h3"));
        assert!(out.ready);
        assert_eq!(
            names(&out),
            ["HOUSE_JOIN", "READY"],
            "ready after the last join"
        );
        let SwarmEvent::Ready(info) = &out.inbound[1].event.event else {
            panic!()
        };
        assert_eq!(info.house_ids, ["h1", "h2", "h3"]);
        assert_eq!(info.user.id, "7");
        assert!(out.inbound[1].event.raw.is_none(), "synthetic: no frame");
        // Later joins do not fire ready again.
        assert!(!feed(&mut s, &house_join("h4")).ready);
    }

    #[test]
    fn zero_houses_is_ready_at_init_state() {
        let mut s = swarm();
        logged_in(&mut s, 30000);
        let out = feed(&mut s, &init_state(&[]));
        assert!(out.ready, "hiven.py never fires ready here; we do");
        assert_eq!(names(&out), ["INIT_STATE", "READY"]);
    }

    #[test]
    fn house_joins_in_the_same_burst_as_init_state_make_it_ready() {
        // One read with all frames back to back: no task switch between them.
        let mut s = swarm();
        logged_in(&mut s, 30000);
        let mut out = Output::default();
        for text in [init_state(&["a", "b"]), house_join("a"), house_join("b")] {
            s.on_frame(Frame::text(text), &mut out).unwrap();
        }
        assert!(out.ready);
        assert_eq!(
            names(&out),
            ["INIT_STATE", "HOUSE_JOIN", "HOUSE_JOIN", "READY"]
        );
        // Even a join that overtakes INIT_STATE counts.
        let mut s = swarm();
        logged_in(&mut s, 30000);
        assert!(!feed(&mut s, &house_join("a")).ready);
        assert!(feed(&mut s, &init_state(&["a"])).ready);
    }

    #[test]
    fn a_house_left_before_its_join_is_not_waited_for() {
        let mut s = swarm();
        logged_in(&mut s, 30000);
        feed(&mut s, &init_state(&["a", "b"]));
        feed(&mut s, &house_join("a"));
        let out = feed(
            &mut s,
            &Envelope::event("HOUSE_LEAVE", json!({"house_id": "b"})).to_text(),
        );
        assert!(out.ready);
    }

    #[test]
    fn heartbeat_interval_comes_from_the_hello() {
        let mut s = swarm().default_heartbeat(Duration::from_secs(5));
        logged_in(&mut s, 1500);
        assert_eq!(s.heartbeat_interval(), Some(Duration::from_millis(1500)));
        assert_eq!(
            Protocol::heartbeat(&mut s).unwrap().as_text(),
            Some(r#"{"op": 3}"#),
            "op 3 as the Python clients send it"
        );
        // A second hello changes the interval but does not log in twice.
        let out = feed(&mut s, &Envelope::hello(2500).to_text());
        assert!(out.control.is_empty());
        assert_eq!(s.heartbeat_interval(), Some(Duration::from_millis(2500)));
        // A hello without a usable hbt_int is a decode error; nothing is sent.
        let mut s = swarm();
        let mut out = Output::default();
        assert!(
            s.on_frame(Frame::text(r#"{"op":1,"d":{}}"#), &mut out)
                .is_err()
        );
        assert!(out.control.is_empty());
        assert_eq!(s.heartbeat_interval(), None);
    }

    #[test]
    fn a_refused_token_is_fatal_and_other_closes_retry() {
        let s = swarm();
        assert_eq!(
            s.classify_close(Some(4001), "invalid token"),
            Disposition::Fatal
        );
        for code in [
            Some(1000),
            Some(1001),
            Some(1006),
            Some(1011),
            Some(4000),
            None,
        ] {
            assert_eq!(
                s.classify_close(code, ""),
                Disposition::Retryable,
                "{code:?}"
            );
        }
    }

    #[test]
    fn reconnect_logs_in_again_and_fires_ready_again() {
        let mut s = swarm();
        logged_in(&mut s, 30000);
        feed(&mut s, &init_state(&["a"]));
        assert!(feed(&mut s, &house_join("a")).ready);
        assert!(s.is_ready());

        s.on_close();
        assert!(!s.is_ready());
        assert_eq!(
            s.heartbeat_interval(),
            None,
            "no heartbeat until logged in again"
        );
        let out = logged_in(&mut s, 20000);
        assert_eq!(out.control.len(), 2, "login and heartbeat again");
        assert!(out.control[0].as_text().unwrap().contains(TOKEN));
        assert!(
            !feed(&mut s, &init_state(&["a"])).ready,
            "waits for the join again"
        );
        let out = feed(&mut s, &house_join("a"));
        assert!(out.ready);
        assert_eq!(names(&out), ["HOUSE_JOIN", "READY"]);
    }

    #[test]
    fn bad_frames_are_decode_errors_and_change_nothing() {
        let mut s = swarm();
        logged_in(&mut s, 30000);
        for frame in [
            Frame::text("{"),
            Frame::binary(&b"{\"op\":1}"[..]),
            Frame::text(r#"{"op":0,"e":"INIT_STATE","d":{"user":"nope"}}"#),
        ] {
            let mut out = Output::default();
            assert!(s.on_frame(frame, &mut out).is_err());
            assert!(out.is_empty());
        }
        assert!(!s.is_ready());
        assert!(feed(&mut s, &init_state(&[])).ready);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let s = swarm();
        assert!(!format!("{s:?}").contains(TOKEN));
    }
}
