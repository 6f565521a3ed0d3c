//! The `gather` endpoints: a Gather game server (protobuf over binary WebSocket frames)
//! and the HTTP API route that assigns it, on tether's Gather model.
//!
//! The engine (`gather`, WebSocket, path `/`):
//! - the first action must be `init {spaceId, apiKey | token}`: an accepted key gets
//!   `ready {id}` (a fresh user id) followed by the players already in the space
//!   (`playerJoins`, `spaceSetsIdMapping`); a refused key gets `error` and close 4001;
//! - every action gets `transactionStatus {txnId, succeeded}` (when it has a `txnId`);
//!   `clientHeartbeat` also gets `serverHeartbeat`;
//! - `chat`, `setTextStatus`, `setEmojiStatus`, `setName`, `move`, `shootConfetti` are
//!   broadcast as player events to the other clients in the space (a chat whose recipient
//!   is a user id goes to that user only); the joins and exits of players as
//!   `playerJoins` + `spaceSetsIdMapping` and `playerExits`;
//! - failures answer `succeeded: false` with a reason: an action before `init`, an empty
//!   chat, a `targetId` or chat recipient that is not in the space, an action the schema
//!   does not know;
//! - a text frame closes with 1003, a frame that is not a `ClientServerAction` with 1007.
//!
//! The API (`gather-api`, HTTP): `GET /api/v2/spaces/{space_id}/game-server-assignment`
//! with an accepted `apiKey` header answers the engine's URL as a JSON string; 401
//! otherwise.
//!
//! Accepted keys: any non-empty key that does not start with `invalid` (so tests can
//! exercise a refusal).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use tether::{
    Frame,
    gather::{
        Action, ServerEvent, decode_action, encode_batch,
        proto::{
            ErrorEvent, PlayerChats, PlayerExits, PlayerJoins, PlayerMoves, PlayerSetsEmojiStatus,
            PlayerSetsName, PlayerSetsTextStatus, PlayerShootsConfetti, Ready, ServerHeartbeat,
            SpaceSetsIdMapping, TransactionStatus, init::Auth,
        },
    },
};

use crate::{
    registry::Registry,
    service::{Close, ConnInfo, Service, Session},
};

/// Default port of the `gather` engine endpoint.
pub const GATHER_PORT: u16 = 8775;
/// Default port of the `gather-api` HTTP endpoint.
pub const GATHER_API_PORT: u16 = 8776;
/// The API root under the `gather-api` listener (what `--api` and the SDK's `api_root`
/// take).
pub const GATHER_API_ROOT: &str = "/api/v2/";
/// Close code for a refused key.
pub const REFUSED: u16 = 4001;

/// Whether the hub accepts this API key (or token): non-empty, not starting with
/// `invalid`.
#[must_use]
pub fn api_key_accepted(key: &str) -> bool {
    !key.is_empty() && !key.starts_with("invalid")
}

#[derive(Debug, Clone)]
struct Player {
    conn: u64,
    user_id: String,
    enc_id: u32,
    name: String,
}

#[derive(Debug, Default)]
struct Spaces {
    spaces: HashMap<String, Vec<Player>>,
    next_enc_id: u32,
}

/// The Gather game server: the spaces and their players, shared by the sessions.
#[derive(Debug, Default, Clone)]
pub struct Gather {
    spaces: Arc<Mutex<Spaces>>,
}

impl Gather {
    fn lock(&self) -> MutexGuard<'_, Spaces> {
        self.spaces.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The user ids in a space (tests, the demo).
    #[must_use]
    pub fn players(&self, space_id: &str) -> Vec<String> {
        self.lock()
            .spaces
            .get(space_id)
            .map(|p| p.iter().map(|p| p.user_id.clone()).collect())
            .unwrap_or_default()
    }
}

struct GatherSession {
    server: Gather,
    conn: u64,
    registry: Arc<Registry>,
    /// `(space, user id, enc id)` once `init` succeeded.
    joined: Option<(String, String, u32)>,
}

impl Service for Gather {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(GatherSession {
            server: self.clone(),
            conn: conn.id,
            registry: conn.registry.clone(),
            joined: None,
        }))
    }
}

fn status(txn_id: Option<u32>, result: Result<(), String>) -> Option<ServerEvent> {
    let txn_id = txn_id?;
    Some(ServerEvent::TransactionStatus(match result {
        Ok(()) => TransactionStatus {
            txn_id,
            succeeded: true,
            reason: None,
        },
        Err(reason) => TransactionStatus {
            txn_id,
            succeeded: false,
            reason: Some(reason),
        },
    }))
}

fn new_user_id() -> String {
    format!("user-{:016x}", fastrand::u64(..))
}

impl GatherSession {
    /// Sends a batch to the other players of our space (those `only` names, if given).
    fn broadcast(&self, events: &[ServerEvent], only: Option<&str>) {
        let Some((space, _, _)) = &self.joined else {
            return;
        };
        let frame = Frame::binary(encode_batch(events.iter().cloned()));
        let targets: Vec<u64> = self
            .server
            .lock()
            .spaces
            .get(space)
            .map(|players| {
                players
                    .iter()
                    .filter(|p| p.conn != self.conn)
                    .filter(|p| only.is_none_or(|id| p.user_id == id))
                    .map(|p| p.conn)
                    .collect()
            })
            .unwrap_or_default();
        for conn in targets {
            // A client gone or too slow misses it.
            let _ = self.registry.send_to(conn, frame.clone());
        }
    }

    fn in_space(&self, user_id: &str) -> bool {
        let Some((space, _, _)) = &self.joined else {
            return false;
        };
        self.server
            .lock()
            .spaces
            .get(space)
            .is_some_and(|players| players.iter().any(|p| p.user_id == user_id))
    }

    fn check_target(&self, target: Option<&String>) -> Result<(), String> {
        match target {
            Some(id) if !self.in_space(id) => Err(format!("no player {id:?} in this space")),
            _ => Ok(()),
        }
    }

    fn join(&mut self, space_id: String, out: &mut Vec<ServerEvent>) {
        let user_id = new_user_id();
        let (enc_id, present) = {
            let mut spaces = self.server.lock();
            spaces.next_enc_id += 1;
            let enc_id = spaces.next_enc_id;
            let players = spaces.spaces.entry(space_id.clone()).or_default();
            let present = players.clone();
            players.push(Player {
                conn: self.conn,
                user_id: user_id.clone(),
                enc_id,
                name: String::new(),
            });
            (enc_id, present)
        };
        out.push(ServerEvent::Ready(Ready {
            id: user_id.clone(),
        }));
        for p in present {
            out.push(ServerEvent::PlayerJoins(PlayerJoins { enc_id: p.enc_id }));
            out.push(ServerEvent::SpaceSetsIdMapping(SpaceSetsIdMapping {
                uid: p.user_id.clone(),
                enc_id: p.enc_id,
            }));
            if !p.name.is_empty() {
                out.push(ServerEvent::PlayerSetsName(PlayerSetsName {
                    enc_id: p.enc_id,
                    name: p.name,
                }));
            }
        }
        self.joined = Some((space_id, user_id.clone(), enc_id));
        self.broadcast(
            &[
                ServerEvent::PlayerJoins(PlayerJoins { enc_id }),
                ServerEvent::SpaceSetsIdMapping(SpaceSetsIdMapping {
                    uid: user_id,
                    enc_id,
                }),
            ],
            None,
        );
    }

    fn leave(&mut self) {
        let Some((space, _, enc_id)) = self.joined.clone() else {
            return;
        };
        self.broadcast(&[ServerEvent::PlayerExits(PlayerExits { enc_id })], None);
        let mut spaces = self.server.lock();
        if let Some(players) = spaces.spaces.get_mut(&space) {
            players.retain(|p| p.conn != self.conn);
            if players.is_empty() {
                spaces.spaces.remove(&space);
            }
        }
        drop(spaces);
        self.joined = None;
    }

    /// One action of a joined player: its effect, and the result for its status.
    fn act(&mut self, action: Action, out: &mut Vec<ServerEvent>) -> Result<(), String> {
        let Some((_, user_id, enc_id)) = self.joined.clone() else {
            return Err("not initialised: send init first".into());
        };
        match action {
            Action::Init(_) => Err("already initialised".into()),
            Action::ClientHeartbeat(_) => {
                out.push(ServerEvent::ServerHeartbeat(ServerHeartbeat {
                    last_rtt: 0,
                }));
                Ok(())
            }
            Action::Chat(chat) => {
                if chat.contents.is_empty() {
                    return Err("empty chat".into());
                }
                let only = match chat.chat_recipient.as_str() {
                    "" | "GLOBAL_CHAT" | "LOCAL_CHAT" => None,
                    id => {
                        self.check_target(Some(&id.to_owned()))?;
                        Some(id.to_owned())
                    }
                };
                let name = self.name();
                let unix_time = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                let event = ServerEvent::PlayerChats(PlayerChats {
                    sender_id: user_id,
                    recipient: chat.chat_recipient,
                    contents: chat.contents,
                    sender_name: name,
                    message_type: if only.is_some() { "DM" } else { "ROOM" }.into(),
                    unix_time,
                    id: Some(
                        chat.id
                            .unwrap_or_else(|| format!("c-{:x}", fastrand::u64(..))),
                    ),
                    ..PlayerChats::default()
                });
                self.broadcast(&[event], only.as_deref());
                Ok(())
            }
            Action::SetTextStatus(s) => {
                self.check_target(s.target_id.as_ref())?;
                self.broadcast(
                    &[ServerEvent::PlayerSetsTextStatus(PlayerSetsTextStatus {
                        enc_id,
                        text_status: s.text_status,
                    })],
                    None,
                );
                Ok(())
            }
            Action::SetEmojiStatus(s) => {
                self.check_target(s.target_id.as_ref())?;
                self.broadcast(
                    &[ServerEvent::PlayerSetsEmojiStatus(PlayerSetsEmojiStatus {
                        enc_id,
                        emoji_status: s.emoji_status,
                    })],
                    None,
                );
                Ok(())
            }
            Action::SetName(s) => {
                self.check_target(s.target_id.as_ref())?;
                self.set_name(&s.name);
                self.broadcast(
                    &[ServerEvent::PlayerSetsName(PlayerSetsName {
                        enc_id,
                        name: s.name,
                    })],
                    None,
                );
                Ok(())
            }
            Action::Move(m) => {
                self.check_target(m.target_id.as_ref())?;
                self.broadcast(
                    &[ServerEvent::PlayerMoves(PlayerMoves {
                        enc_id,
                        last_input_id: m.input_id,
                        ..PlayerMoves::default()
                    })],
                    None,
                );
                Ok(())
            }
            Action::ShootConfetti(s) => {
                self.check_target(s.target_id.as_ref())?;
                self.broadcast(
                    &[ServerEvent::PlayerShootsConfetti(PlayerShootsConfetti {
                        enc_id,
                    })],
                    None,
                );
                Ok(())
            }
            // Accepted without an effect the hub models.
            _ => Ok(()),
        }
    }

    fn name(&self) -> String {
        let Some((space, _, _)) = &self.joined else {
            return String::new();
        };
        self.server
            .lock()
            .spaces
            .get(space)
            .and_then(|ps| ps.iter().find(|p| p.conn == self.conn))
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    fn set_name(&self, name: &str) {
        let Some((space, _, _)) = &self.joined else {
            return;
        };
        if let Some(p) = self
            .server
            .lock()
            .spaces
            .get_mut(space)
            .and_then(|ps| ps.iter_mut().find(|p| p.conn == self.conn))
        {
            name.clone_into(&mut p.name);
        }
    }
}

impl Session for GatherSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        let Frame::Binary(bytes) = frame else {
            return Err(Close::new(1003, "binary protobuf frames only"));
        };
        let message =
            decode_action(&bytes).map_err(|_| Close::new(1007, "not a ClientServerAction"))?;
        let txn_id = message.txn_id;
        let mut events = Vec::new();
        let result = match message.action {
            None => Err("unknown action".to_owned()),
            Some(Action::Init(init)) if self.joined.is_none() => {
                let key = match &init.auth {
                    Some(Auth::ApiKey(k) | Auth::Token(k)) => k.as_str(),
                    None => "",
                };
                if !api_key_accepted(key) {
                    events.push(ServerEvent::Error(ErrorEvent {
                        message: "invalid api key".into(),
                        code: REFUSED.into(),
                    }));
                    out.push(Frame::binary(encode_batch(events)));
                    return Err(Close::new(REFUSED, "invalid api key"));
                }
                if init.space_id.is_empty() {
                    events.push(ServerEvent::Error(ErrorEvent {
                        message: "no space id".into(),
                        code: 404,
                    }));
                    out.push(Frame::binary(encode_batch(events)));
                    return Err(Close::new(4004, "no space id"));
                }
                self.join(init.space_id, &mut events);
                Ok(())
            }
            Some(action) => self.act(action, &mut events),
        };
        events.extend(status(txn_id, result));
        if !events.is_empty() {
            out.push(Frame::binary(encode_batch(events)));
        }
        Ok(())
    }

    fn on_close(&mut self) {
        self.leave();
    }
}

#[derive(Clone)]
struct ApiState {
    engine_url: String,
}

/// The HTTP API: the game-server assignment route, answering `engine_url`.
pub(crate) fn api_router(engine_url: String) -> Router {
    Router::new()
        .route(
            "/api/v2/spaces/{space_id}/game-server-assignment",
            get(assignment),
        )
        .with_state(ApiState { engine_url })
}

async fn assignment(
    State(state): State<ApiState>,
    Path(space_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<String>, (StatusCode, &'static str)> {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !api_key_accepted(key) {
        return Err((StatusCode::UNAUTHORIZED, "invalid api key"));
    }
    tracing::debug!(space = %space_id, "gather-api: game server assigned");
    Ok(Json(state.engine_url))
}

#[cfg(test)]
mod tests {
    use tether::gather::{decode_batch, encode_action};

    use super::*;

    fn conn(id: u64, registry: &Arc<Registry>) -> ConnInfo {
        ConnInfo {
            id,
            peer: ([127, 0, 0, 1], 1).into(),
            path: "/".into(),
            query: None,
            headers: Vec::new(),
            registry: registry.clone(),
        }
    }

    fn send(session: &mut dyn Session, action: Action, txn: u32) -> Vec<ServerEvent> {
        let mut out = Vec::new();
        session
            .on_frame(Frame::binary(encode_action(&action, Some(txn))), &mut out)
            .unwrap();
        out.iter()
            .flat_map(|f| decode_batch(f.payload()).unwrap().events)
            .filter_map(|e| e.event)
            .collect()
    }

    fn init(key: &str) -> Action {
        Action::init("space", Some(Auth::ApiKey(key.into())))
    }

    #[test]
    fn init_gets_ready_then_every_action_its_transaction_status() {
        let server = Gather::default();
        let registry = Arc::default();
        let mut s = server.open(&conn(1, &registry)).unwrap();
        let events = send(&mut *s, init("k"), 1);
        let ServerEvent::Ready(ready) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(server.players("space"), vec![ready.id.clone()]);
        assert!(
            matches!(&events[1], ServerEvent::TransactionStatus(t) if t.txn_id == 1 && t.succeeded)
        );
        let events = send(&mut *s, Action::client_heartbeat(), 2);
        assert!(matches!(events[0], ServerEvent::ServerHeartbeat(_)));
        let events = send(
            &mut *s,
            Action::chat("GLOBAL_CHAT", "", vec![], "", None, None),
            3,
        );
        assert!(matches!(&events[0], ServerEvent::TransactionStatus(t)
            if !t.succeeded && t.reason.as_deref() == Some("empty chat")));
        let events = send(
            &mut *s,
            Action::set_text_status("x", Some("nobody".into())),
            4,
        );
        assert!(matches!(&events[0], ServerEvent::TransactionStatus(t) if !t.succeeded));
        s.on_close();
        assert!(server.players("space").is_empty());
    }

    #[test]
    fn actions_before_init_fail_and_refused_keys_close_with_4001() {
        let server = Gather::default();
        let registry = Arc::default();
        let mut s = server.open(&conn(1, &registry)).unwrap();
        let events = send(&mut *s, Action::shoot_confetti(None), 9);
        assert!(matches!(&events[0], ServerEvent::TransactionStatus(t) if !t.succeeded));
        let mut out = Vec::new();
        let close = s
            .on_frame(
                Frame::binary(encode_action(&init("invalid-key"), Some(1))),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(close.code, REFUSED);
        let batch = decode_batch(out[0].payload()).unwrap();
        assert!(matches!(batch.events[0].event, Some(ServerEvent::Error(_))));
        let close = s.on_frame(Frame::text("{}"), &mut out).unwrap_err();
        assert_eq!(close.code, 1003);
        let close = s
            .on_frame(Frame::binary(&b"\xff\xff\xff"[..]), &mut out)
            .unwrap_err();
        assert_eq!(close.code, 1007);
    }

    #[test]
    fn keys_are_accepted_unless_empty_or_invalid() {
        assert!(api_key_accepted("test-api-key"));
        assert!(!api_key_accepted(""));
        assert!(!api_key_accepted("invalid-key"));
    }
}
