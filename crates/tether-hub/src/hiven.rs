//! The `hiven` endpoint (the Swarm, WebSocket, path `/socket`) and the `hiven-api`
//! endpoint (its REST API under `/v1`), on tether's Hiven model.
//!
//! The Swarm, per connection:
//! - sends the hello `{"op":1,"d":{"hbt_int":N}}` at once (N ≥ 1000 ms, default 30000);
//! - takes the login `{"op":2,"d":{"token":T}}`: by default any well-formed token (128 or
//!   132 ASCII letters and digits), with or without hiven.py's `Bot ` prefix; with a
//!   required token ([`Hiven::token`], `tether serve --hiven-token`) only that one. A
//!   bad token closes with 4001;
//! - answers with `INIT_STATE` (the user the token stands for, one membership per
//!   fixture house), then one `HOUSE_JOIN` per house ~0.2 s later (hiven.py never
//!   becomes ready when they come in the same burst as `INIT_STATE`);
//! - tracks heartbeats: a client silent (no op 3, no frame at all) for 2× the interval
//!   is closed with 4000 `heartbeat timeout` (retryable);
//! - a frame that is not a JSON envelope closes with 4002.
//!
//! The REST API (`Authorization: <token>`, same rules; 401 otherwise):
//! - `GET /v1/users/@me` → `{"success":true,"data":{user}}`;
//! - `POST /v1/rooms/{room_id}/messages` with `{"content": text}` → the message, which
//!   every logged-in Swarm client also gets as `MESSAGE_CREATE`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use serde_json::{Value, json};
use tether::{
    Frame,
    hiven::{
        BOT_PREFIX, Envelope, House, InitState, MAX_CONTENT_CHARS, Member, Message, OP_AUTH,
        OP_HEARTBEAT, Room, User, validate_token,
    },
};
use tokio::{task::AbortHandle, time::Instant};

use crate::{
    registry::Registry,
    service::{Close, ConnInfo, Service, Session},
};

/// Default port of the `hiven` (Swarm) endpoint.
pub const HIVEN_PORT: u16 = 8780;
/// Its WebSocket path.
pub const HIVEN_PATH: &str = "/socket";
/// Default port of the `hiven-api` (REST) endpoint.
pub const HIVEN_API_PORT: u16 = 8781;
/// The REST API's path prefix.
pub const HIVEN_API_PREFIX: &str = "/v1";
/// Delay between `INIT_STATE` and the `HOUSE_JOIN`s.
pub const HOUSE_JOIN_DELAY: Duration = Duration::from_millis(200);
/// The smallest heartbeat interval the hub announces (hiven.py busy-loops below it).
pub const MIN_HEARTBEAT_MS: u64 = 1000;
/// Close code for a refused token.
pub const CLOSE_INVALID_TOKEN: u16 = 4001;
/// Close code for a client silent for 2× the heartbeat interval.
pub const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4000;
/// Close code for a frame that is not a JSON envelope.
pub const CLOSE_DECODE_ERROR: u16 = 4002;

/// The fixture user who owns the fixture houses and is a member of each.
pub const OWNER_ID: &str = "200000000000000001";

/// Settings of a [`Hiven`] server.
#[derive(Debug, Clone)]
struct Settings {
    token: Option<String>,
    hbt_int: u64,
    houses: Vec<House>,
}

/// Who is logged in on which connection.
#[derive(Default)]
struct Live {
    sessions: Mutex<HashMap<u64, (User, Arc<Registry>)>>,
    next_message: AtomicU64,
}

/// The hub's Hiven Swarm and REST API: one value serves both endpoints (a message posted
/// to the API reaches the Swarm's clients).
#[derive(Clone)]
pub struct Hiven {
    settings: Arc<Settings>,
    live: Arc<Live>,
}

impl std::fmt::Debug for Hiven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hiven")
            .field("token_required", &self.settings.token.is_some())
            .field("hbt_int", &self.settings.hbt_int)
            .field("houses", &self.settings.houses.len())
            .field("logged_in", &lock(&self.live.sessions).len())
            .finish()
    }
}

impl Default for Hiven {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn user(id: &str, username: &str, name: &str, bot: bool) -> User {
    User {
        id: id.into(),
        username: username.into(),
        name: name.into(),
        bot: Some(bot),
        ..User::default()
    }
}

fn room(id: &str, house_id: &str, name: &str, position: i64) -> Room {
    Room {
        id: id.into(),
        house_id: Some(house_id.into()),
        name: name.into(),
        room_type: Some(0),
        position: Some(position),
        ..Room::default()
    }
}

impl Hiven {
    /// The default server: any well-formed token, `hbt_int` 30000, the fixture houses.
    #[must_use]
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                token: None,
                hbt_int: tether::hiven::model::DEFAULT_HEARTBEAT_MS,
                houses: Self::fixture_houses(),
            }),
            live: Arc::default(),
        }
    }

    /// The fixture houses: "Tether Lounge" (rooms `general` 100000000000000011 and
    /// `random` 100000000000000012) and "Hub Testing" (room `faults`
    /// 100000000000000021), owned by the fixture user "Ada" ([`OWNER_ID`]).
    #[must_use]
    pub fn fixture_houses() -> Vec<House> {
        let owner = Self::owner();
        let house = |id: &str, name: &str, rooms: Vec<Room>| House {
            id: id.into(),
            name: name.into(),
            owner_id: Some(OWNER_ID.into()),
            default_permissions: Some(0),
            rooms,
            members: vec![Member {
                user_id: owner.id.clone(),
                house_id: Some(id.into()),
                user: Some(owner.clone()),
                joined_at: Some("2021-01-01T00:00:00.000Z".into()),
                ..Member::default()
            }],
            ..House::default()
        };
        vec![
            house(
                "100000000000000001",
                "Tether Lounge",
                vec![
                    room("100000000000000011", "100000000000000001", "general", 0),
                    room("100000000000000012", "100000000000000001", "random", 1),
                ],
            ),
            house(
                "100000000000000002",
                "Hub Testing",
                vec![room(
                    "100000000000000021",
                    "100000000000000002",
                    "faults",
                    0,
                )],
            ),
        ]
    }

    /// The fixture owner of the fixture houses.
    #[must_use]
    pub fn owner() -> User {
        user(OWNER_ID, "ada", "Ada", false)
    }

    /// Accepts only this token (with or without `Bot `); `None`: any well-formed token.
    #[must_use]
    pub fn token(mut self, token: Option<String>) -> Self {
        Arc::make_mut(&mut self.settings).token =
            token.map(|t| t.strip_prefix(BOT_PREFIX).unwrap_or(&t).to_owned());
        self
    }

    /// The heartbeat interval announced in the hello, in ms (at least 1000).
    #[must_use]
    pub fn heartbeat_interval(mut self, ms: u64) -> Self {
        Arc::make_mut(&mut self.settings).hbt_int = ms.max(MIN_HEARTBEAT_MS);
        self
    }

    /// The houses every logged-in user is a member of (default: the fixtures; empty:
    /// ready right at `INIT_STATE`).
    #[must_use]
    pub fn houses(mut self, houses: Vec<House>) -> Self {
        Arc::make_mut(&mut self.settings).houses = houses;
        self
    }

    /// Clients logged in now.
    #[must_use]
    pub fn logged_in(&self) -> usize {
        lock(&self.live.sessions).len()
    }

    /// The user a login token stands for, or `None` when the token is refused.
    ///
    /// Any accepted token maps to the same user every time: id from a hash of the
    /// token, a bot for a 132-character token (or hiven.py's `Bot ` prefix).
    #[must_use]
    pub fn user_for(&self, token: &str) -> Option<User> {
        let (raw, prefixed) = match token.strip_prefix(BOT_PREFIX) {
            Some(raw) => (raw, true),
            None => (token, false),
        };
        let kind = validate_token(raw).ok()?;
        if let Some(required) = &self.settings.token
            && required != raw
        {
            return None;
        }
        // FNV-1a: stable across runs and platforms.
        let hash = raw.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let id = format!("3{:017}", hash % 100_000_000_000_000_000);
        let bot = prefixed || kind == tether::hiven::ClientType::Bot;
        let short = &id[id.len() - 4..];
        Some(if bot {
            user(&id, &format!("bot{short}"), &format!("Bot {short}"), true)
        } else {
            user(
                &id,
                &format!("user{short}"),
                &format!("User {short}"),
                false,
            )
        })
    }

    fn init_state(&self, user: &User) -> InitState {
        let memberships = self
            .settings
            .houses
            .iter()
            .map(|h| {
                let member = json!({"user_id": user.id, "house_id": h.id, "roles": [],
                    "joined_at": "2021-01-01T00:00:00.000Z"});
                (h.id.clone(), member)
            })
            .collect();
        InitState {
            user: user.clone(),
            house_ids: self.settings.houses.iter().map(|h| h.id.clone()).collect(),
            house_memberships: memberships,
            settings: json!({}),
            read_state: json!({}),
            ..InitState::default()
        }
    }

    fn member(user: &User, house_id: &str) -> Member {
        Member {
            user_id: user.id.clone(),
            house_id: Some(house_id.into()),
            user: Some(user.clone()),
            joined_at: Some("2021-01-01T00:00:00.000Z".into()),
            ..Member::default()
        }
    }

    /// Each house as this user is sent it: the user among its members.
    fn houses_for(&self, user: &User) -> Vec<House> {
        self.settings
            .houses
            .iter()
            .map(|h| {
                let mut house = h.clone();
                if !house.members.iter().any(|m| m.user_id == user.id) {
                    house.members.push(Self::member(user, &h.id));
                }
                house
            })
            .collect()
    }

    /// Posts a message as `author` to a room: sends `MESSAGE_CREATE` to every logged-in
    /// client and returns the message. `None` for an unknown room.
    #[must_use]
    pub fn post(&self, author: &User, room_id: &str, content: &str) -> Option<Message> {
        let house = self
            .settings
            .houses
            .iter()
            .find(|h| h.room(room_id).is_some())?;
        let n = self.live.next_message.fetch_add(1, Ordering::Relaxed) + 1;
        let mut message = Message {
            id: format!("4{n:017}"),
            room_id: room_id.into(),
            house_id: Some(house.id.clone()),
            author_id: author.id.clone(),
            author: Some(author.clone()),
            member: Some(Self::member(author, &house.id)),
            content: content.into(),
            timestamp: Some(now_ms()),
            ..Message::default()
        };
        message.extra.insert("exploding".into(), Value::Bool(false));
        message.extra.insert("device_id".into(), Value::Null);
        let frame = Frame::text(Envelope::event("MESSAGE_CREATE", &message).to_text());
        let targets: Vec<(u64, Arc<Registry>)> = lock(&self.live.sessions)
            .iter()
            .map(|(id, (_, registry))| (*id, registry.clone()))
            .collect();
        for (conn, registry) in targets {
            // A client gone or too slow misses it.
            let _ = registry.send_to(conn, frame.clone());
        }
        Some(message)
    }

    /// The REST API (`/v1/users/@me`, `/v1/rooms/{room_id}/messages`).
    pub fn api_router(&self) -> Router {
        Router::new()
            .route("/v1/users/@me", get(me))
            .route("/v1/rooms/{room_id}/messages", post(create_message))
            .fallback(not_found)
            .with_state(self.clone())
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<User, (StatusCode, Json<Value>)> {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|t| self.user_for(t.trim()))
            .ok_or_else(|| failure(StatusCode::UNAUTHORIZED, "invalid token"))
    }
}

type Reply = (StatusCode, Json<Value>);

fn failure(status: StatusCode, message: &str) -> Reply {
    (
        status,
        Json(json!({"success": false, "error": {"code": status.as_u16(), "message": message}})),
    )
}

fn success(data: impl serde::Serialize) -> Reply {
    (StatusCode::OK, Json(json!({"success": true, "data": data})))
}

async fn me(State(hiven): State<Hiven>, headers: HeaderMap) -> Reply {
    match hiven.authorized(&headers) {
        Ok(user) => success(user),
        Err(e) => e,
    }
}

async fn create_message(
    State(hiven): State<Hiven>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Reply {
    let author = match hiven.authorized(&headers) {
        Ok(user) => user,
        Err(e) => return e,
    };
    let content = body
        .as_ref()
        .and_then(|Json(b)| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if content.trim().is_empty() {
        return failure(
            StatusCode::BAD_REQUEST,
            "content must be a non-empty string",
        );
    }
    if content.chars().count() > MAX_CONTENT_CHARS {
        return failure(StatusCode::BAD_REQUEST, "content is too long");
    }
    match hiven.post(&author, &room_id, content) {
        Some(message) => success(message),
        None => failure(StatusCode::NOT_FOUND, "unknown room"),
    }
}

async fn not_found() -> Reply {
    failure(StatusCode::NOT_FOUND, "no such route")
}

impl Service for Hiven {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        let last_heard = Arc::new(Mutex::new(Instant::now()));
        let mut session = HivenSession {
            hiven: self.clone(),
            conn: conn.id,
            registry: conn.registry.clone(),
            user: None,
            last_heard: last_heard.clone(),
            tasks: Vec::new(),
        };
        // The heartbeat watchdog: closes a client silent for 2× the interval.
        let limit = Duration::from_millis(self.settings.hbt_int.saturating_mul(2));
        let (registry, id) = (conn.registry.clone(), conn.id);
        let watchdog = tokio::spawn(async move {
            loop {
                let deadline = *lock(&last_heard) + limit;
                if Instant::now() >= deadline {
                    tracing::info!(conn = id, ?limit, "hiven: heartbeat timeout");
                    registry.close(id, CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout");
                    break;
                }
                tokio::time::sleep_until(deadline).await;
            }
        });
        session.tasks.push(watchdog.abort_handle());
        Ok(Box::new(session))
    }
}

struct HivenSession {
    hiven: Hiven,
    conn: u64,
    registry: Arc<Registry>,
    user: Option<User>,
    last_heard: Arc<Mutex<Instant>>,
    tasks: Vec<AbortHandle>,
}

impl HivenSession {
    fn login(&mut self, d: &Value, out: &mut Vec<Frame>) -> Result<(), Close> {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default();
        let Some(user) = self.hiven.user_for(token) else {
            tracing::info!(conn = self.conn, "hiven: token refused");
            return Err(Close::new(CLOSE_INVALID_TOKEN, "invalid token"));
        };
        tracing::debug!(conn = self.conn, user = %user.id, "hiven: logged in");
        let init = self.hiven.init_state(&user);
        out.push(Frame::text(Envelope::event("INIT_STATE", &init).to_text()));
        let joins: Vec<Frame> = self
            .hiven
            .houses_for(&user)
            .iter()
            .map(|h| Frame::text(Envelope::event("HOUSE_JOIN", h).to_text()))
            .collect();
        if !joins.is_empty() {
            let (registry, id) = (self.registry.clone(), self.conn);
            let task = tokio::spawn(async move {
                tokio::time::sleep(HOUSE_JOIN_DELAY).await;
                for frame in joins {
                    if registry.send_to(id, frame).is_err() {
                        break;
                    }
                }
            });
            self.tasks.push(task.abort_handle());
        }
        lock(&self.hiven.live.sessions).insert(self.conn, (user.clone(), self.registry.clone()));
        self.user = Some(user);
        Ok(())
    }
}

impl Session for HivenSession {
    fn on_open(&mut self, out: &mut Vec<Frame>) {
        out.push(Frame::text(
            Envelope::hello(self.hiven.settings.hbt_int).to_text(),
        ));
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        *lock(&self.last_heard) = Instant::now();
        let envelope = frame
            .as_text()
            .and_then(|t| serde_json::from_str::<Envelope>(t).ok())
            .ok_or_else(|| Close::new(CLOSE_DECODE_ERROR, "invalid payload"))?;
        match envelope.op {
            OP_AUTH if self.user.is_none() => self.login(&envelope.d, out)?,
            OP_AUTH => tracing::debug!(conn = self.conn, "hiven: second login ignored"),
            OP_HEARTBEAT => {}
            op => tracing::debug!(conn = self.conn, op, "hiven: op ignored"),
        }
        Ok(())
    }

    fn on_close(&mut self) {
        lock(&self.hiven.live.sessions).remove(&self.conn);
    }
}

impl Drop for HivenSession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        lock(&self.hiven.live.sessions).remove(&self.conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: usize) -> String {
        "k".repeat(n)
    }

    #[test]
    fn tokens_map_to_stable_users_and_bad_ones_are_refused() {
        let hiven = Hiven::new();
        let bot = hiven.user_for(&token(132)).unwrap();
        assert_eq!(bot.bot, Some(true));
        assert_eq!(hiven.user_for(&token(132)), Some(bot.clone()), "stable");
        let prefixed = hiven.user_for(&format!("Bot {}", token(132))).unwrap();
        assert_eq!(prefixed.id, bot.id, "hiven.py's prefix names the same user");
        let user = hiven.user_for(&token(128)).unwrap();
        assert_eq!(user.bot, Some(false));
        assert_ne!(user.id, bot.id);
        assert_eq!(user.id.len(), 18);
        for bad in ["", "short", &format!("{} ", token(131)), &token(130)] {
            assert!(hiven.user_for(bad).is_none(), "{bad:?}");
        }
        let strict = Hiven::new().token(Some(format!("Bot {}", token(132))));
        assert!(strict.user_for(&token(132)).is_some());
        assert!(strict.user_for(&"j".repeat(132)).is_none());
        assert!(!format!("{strict:?}").contains(&token(132)));
    }

    #[test]
    fn the_announced_heartbeat_is_at_least_one_second() {
        assert_eq!(Hiven::new().heartbeat_interval(10).settings.hbt_int, 1000);
        assert_eq!(Hiven::new().heartbeat_interval(2500).settings.hbt_int, 2500);
    }

    #[tokio::test]
    async fn login_sends_init_state_with_one_membership_per_house() {
        let hiven = Hiven::new();
        let conn = ConnInfo {
            id: 1,
            peer: ([127, 0, 0, 1], 1).into(),
            path: HIVEN_PATH.into(),
            query: None,
            headers: Vec::new(),
            registry: Arc::default(),
        };
        let mut session = hiven.open(&conn).unwrap();
        let mut out = Vec::new();
        session.on_open(&mut out);
        assert_eq!(out[0].as_text(), Some(r#"{"op":1,"d":{"hbt_int":30000}}"#));
        out.clear();
        let login = format!(r#"{{"op": 2, "d": {{"token": "Bot {}"}}}}"#, token(132));
        session.on_frame(Frame::text(login), &mut out).unwrap();
        let init: Envelope = serde_json::from_str(out[0].as_text().unwrap()).unwrap();
        assert_eq!(init.e.as_deref(), Some("INIT_STATE"));
        assert_eq!(init.d["house_memberships"].as_object().unwrap().len(), 2);
        assert!(init.d["relationships"].is_object());
        assert_eq!(hiven.logged_in(), 1);
        session
            .on_frame(Frame::text(r#"{"op": 3}"#), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1, "heartbeats get no reply");
        let close = session.on_frame(Frame::text("nope"), &mut out).unwrap_err();
        assert_eq!(close.code, CLOSE_DECODE_ERROR);
        session.on_close();
        assert_eq!(hiven.logged_in(), 0);

        let mut refused = hiven.open(&conn).unwrap();
        let close = refused
            .on_frame(Frame::text(r#"{"op":2,"d":{"token":"x"}}"#), &mut out)
            .unwrap_err();
        assert_eq!(close.code, CLOSE_INVALID_TOKEN);
    }
}
