//! The `moobius` endpoint: a local stand-in for the Moobius websocket server, on
//! tether's Moobius model.
//!
//! - Logins: `service_login` (a service, by `service_id`) and `user_login` (a user). Any
//!   non-empty token is accepted, or only the one given to [`Moobius::with_token`]; a
//!   refused token gets a `copy` with `status: false`, then close code 4001. An accepted
//!   login gets a `copy` with `status: true`. A later `service_login` for the same
//!   service id takes the service over.
//! - Before a login, every other message is answered with a `copy` whose `status` is
//!   false and whose `context.error` says why; nothing is routed.
//! - `heartbeat` is answered with a `copy` (`origin_type: "heartbeat"`).
//! - Users: `join_channel` / `leave_channel` track membership (by user id) and are
//!   forwarded to the channel's service as `action` `join` / `leave`; `button_click`,
//!   `menu_item_click` and `refresh` actions are forwarded too, with `body.sender`.
//! - A user's `message_up` goes to the service it names (`service_id`) if that one is
//!   logged in, else to the service bound to the channel, else to the only service logged
//!   in; `body.sender` (the user) and `body.message_id` are added. With no service, the
//!   user gets a refusal `copy`.
//! - A service's `message_down` and `update` bind the channel to that service and go to
//!   the `recipients` they name: a user id, a channel id (every member), or a list of
//!   these; `update` without recipients (`channel_info`) goes to every member of the
//!   channel. `message_down` gains `body.message_id`. Unknown recipients get nothing.
//! - A frame that is not a JSON object with a string `type` gets AWS API Gateway's
//!   `{"message": "Internal server error", ...}`, as the real server answers; the
//!   connection goes on.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use serde_json::{Map, Value, json};
use tether::{
    Frame,
    moobius::{action, kind, uuid4},
};

use crate::{
    registry::Registry,
    service::{Close, ConnInfo, Service, Session},
};

/// Default port of the `moobius` endpoint.
pub const MOOBIUS_PORT: u16 = 8785;
/// Its WebSocket path.
pub const MOOBIUS_PATH: &str = "/";

/// The close code for a refused token.
const TOKEN_REFUSED: u16 = 4001;

/// Who is logged in where, shared by the endpoint's sessions.
#[derive(Debug, Default)]
struct World {
    /// Service id → its connection.
    services: HashMap<String, u64>,
    /// User id → the connections acting as that user.
    users: HashMap<String, BTreeSet<u64>>,
    /// Channel id → its members' user ids.
    channels: HashMap<String, BTreeSet<String>>,
    /// Channel id → the service that serves it.
    bound: HashMap<String, String>,
}

/// The Moobius server.
#[derive(Debug, Default)]
pub struct Moobius {
    world: Arc<Mutex<World>>,
    token: Option<String>,
}

impl Moobius {
    /// A server that accepts only this access token (default: any non-empty one).
    #[must_use]
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            world: Arc::default(),
            token: Some(token.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Login {
    Service(String),
    User,
}

struct MoobiusSession {
    conn: u64,
    registry: Arc<Registry>,
    world: Arc<Mutex<World>>,
    token: Option<String>,
    login: Option<Login>,
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

fn text(value: &Value) -> Frame {
    Frame::text(value.to_string())
}

/// The server's receipt of request `request_id` of type `origin_type`.
fn copy(request_id: &Value, origin_type: &str, error: Option<&str>) -> Frame {
    let context = match error {
        Some(error) => json!({"error": error}),
        None => json!({}),
    };
    text(&json!({
        "type": kind::COPY,
        "request_id": uuid4(),
        "body": {
            "request_id": request_id,
            "origin_type": origin_type,
            "status": error.is_none(),
            "context": context,
        },
    }))
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

impl Service for Moobius {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(MoobiusSession {
            conn: conn.id,
            registry: conn.registry.clone(),
            world: self.world.clone(),
            token: self.token.clone(),
            login: None,
        }))
    }
}

impl MoobiusSession {
    /// Sends `frame` to each connection, ours through `out` (keeping its place among our
    /// replies). A connection gone or too slow misses it.
    fn deliver(&self, conns: impl IntoIterator<Item = u64>, frame: &Frame, out: &mut Vec<Frame>) {
        for conn in conns {
            if conn == self.conn {
                out.push(frame.clone());
            } else {
                let _ = self.registry.send_to(conn, frame.clone());
            }
        }
    }

    fn login(
        &mut self,
        message: &Map<String, Value>,
        kind: &str,
        request_id: &Value,
        out: &mut Vec<Frame>,
    ) -> Result<(), Close> {
        let token = str_of(message, "access_token").unwrap_or("");
        let accepted = !token.is_empty() && self.token.as_deref().is_none_or(|t| t == token);
        if !accepted {
            out.push(copy(request_id, kind, Some("token refused")));
            return Err(Close::new(TOKEN_REFUSED, "token refused"));
        }
        if kind == kind::SERVICE_LOGIN {
            let Some(service_id) = str_of(message, "service_id").filter(|s| !s.is_empty()) else {
                out.push(copy(
                    request_id,
                    kind,
                    Some("service_login without service_id"),
                ));
                return Ok(());
            };
            self.logout();
            lock(&self.world)
                .services
                .insert(service_id.to_owned(), self.conn);
            self.login = Some(Login::Service(service_id.to_owned()));
        } else if self.login.is_none() {
            self.login = Some(Login::User);
        }
        out.push(copy(request_id, kind, None));
        Ok(())
    }

    fn logout(&mut self) {
        let mut world = lock(&self.world);
        if let Some(Login::Service(id)) = self.login.take()
            && world.services.get(&id) == Some(&self.conn)
        {
            world.services.remove(&id);
        }
        for conns in world.users.values_mut() {
            conns.remove(&self.conn);
        }
        world.users.retain(|_, conns| !conns.is_empty());
    }

    /// A user's action: membership, then forwarded to the channel's service.
    fn user_action(&mut self, mut message: Map<String, Value>, out: &mut Vec<Frame>) {
        let user_id = str_of(&message, "user_id").unwrap_or("").to_owned();
        let Some(Value::Object(body)) = message.get_mut("body") else {
            return;
        };
        let subtype = str_of(body, "subtype").unwrap_or("").to_owned();
        let channel_id = str_of(body, "channel_id").unwrap_or("").to_owned();
        let service_conn = {
            let mut world = lock(&self.world);
            if !user_id.is_empty() {
                world
                    .users
                    .entry(user_id.clone())
                    .or_default()
                    .insert(self.conn);
            }
            match subtype.as_str() {
                action::JOIN_CHANNEL => {
                    world
                        .channels
                        .entry(channel_id.clone())
                        .or_default()
                        .insert(user_id.clone());
                }
                action::LEAVE_CHANNEL => {
                    if let Some(members) = world.channels.get_mut(&channel_id) {
                        members.remove(&user_id);
                    }
                }
                _ => {}
            }
            service_for(&world, None, &channel_id)
        };
        let subtype = match subtype.as_str() {
            action::JOIN_CHANNEL => action::JOIN.to_owned(),
            action::LEAVE_CHANNEL => action::LEAVE.to_owned(),
            other => other.to_owned(),
        };
        body.insert("subtype".into(), json!(subtype));
        body.insert("sender".into(), json!(user_id));
        if let Some(conn) = service_conn {
            self.deliver([conn], &text(&Value::Object(message)), out);
        }
    }

    /// A user's message: to its service.
    fn message_up(&mut self, mut message: Map<String, Value>, out: &mut Vec<Frame>) {
        let request_id = message.get("request_id").cloned().unwrap_or(Value::Null);
        let user_id = str_of(&message, "user_id").unwrap_or("").to_owned();
        let named = str_of(&message, "service_id").map(str::to_owned);
        let Some(Value::Object(body)) = message.get_mut("body") else {
            out.push(copy(
                &request_id,
                kind::MESSAGE_UP,
                Some("message_up without body"),
            ));
            return;
        };
        let channel_id = str_of(body, "channel_id").unwrap_or("").to_owned();
        body.entry("sender").or_insert_with(|| json!(user_id));
        body.entry("message_id").or_insert_with(|| json!(uuid4()));
        let target = {
            let mut world = lock(&self.world);
            if !user_id.is_empty() {
                world.users.entry(user_id).or_default().insert(self.conn);
            }
            service_for(&world, named.as_deref(), &channel_id)
        };
        match target {
            Some(conn) => self.deliver([conn], &text(&Value::Object(message)), out),
            None => out.push(copy(
                &request_id,
                kind::MESSAGE_UP,
                Some("no service serves this channel"),
            )),
        }
    }

    /// A service's `message_down` or `update`: to the recipients it names.
    fn service_push(&mut self, mut message: Map<String, Value>, out: &mut Vec<Frame>) {
        let Some(Login::Service(service_id)) = self.login.clone() else {
            let request_id = message.get("request_id").cloned().unwrap_or(Value::Null);
            let kind = str_of(&message, "type").unwrap_or("").to_owned();
            out.push(copy(
                &request_id,
                &kind,
                Some("only a service (service_login) can send this"),
            ));
            return;
        };
        let is_down = str_of(&message, "type") == Some(kind::MESSAGE_DOWN);
        let top_channel = str_of(&message, "channel_id").map(str::to_owned);
        let (channel_id, recipients) = match message.get_mut("body") {
            Some(Value::Object(body)) => {
                if is_down {
                    body.entry("message_id").or_insert_with(|| json!(uuid4()));
                }
                (
                    str_of(body, "channel_id")
                        .map(str::to_owned)
                        .or(top_channel),
                    body.get("recipients").cloned(),
                )
            }
            _ => (top_channel, None),
        };
        let conns: BTreeSet<u64> = {
            let mut world = lock(&self.world);
            if let Some(channel) = &channel_id {
                world.bound.insert(channel.clone(), service_id);
            }
            let mut ids: Vec<String> = match &recipients {
                Some(Value::String(group)) => vec![group.clone()],
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => channel_id.iter().cloned().collect(),
            };
            // A channel id stands for its members.
            ids = ids
                .into_iter()
                .flat_map(|id| match world.channels.get(&id) {
                    Some(members) => members.iter().cloned().collect(),
                    None => vec![id],
                })
                .collect();
            ids.iter()
                .filter_map(|id| world.users.get(id))
                .flatten()
                .copied()
                .collect()
        };
        self.deliver(conns, &text(&Value::Object(message)), out);
    }
}

/// The connection of the service for a message: the named one if logged in, else the
/// channel's, else the only one.
fn service_for(world: &World, named: Option<&str>, channel_id: &str) -> Option<u64> {
    if let Some(conn) = named.and_then(|id| world.services.get(id)) {
        return Some(*conn);
    }
    if let Some(conn) = world
        .bound
        .get(channel_id)
        .and_then(|id| world.services.get(id))
    {
        return Some(*conn);
    }
    let mut all = world.services.values();
    match (all.next(), all.next()) {
        (Some(conn), None) => Some(*conn),
        _ => None,
    }
}

impl Session for MoobiusSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        let parsed = frame
            .as_text()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        let Some(Value::Object(message)) = parsed.filter(|v| v["type"].is_string()) else {
            out.push(text(&json!({
                "message": "Internal server error",
                "connectionId": format!("conn-{}", self.conn),
                "requestId": uuid4(),
            })));
            return Ok(());
        };
        let kind = str_of(&message, "type").unwrap_or("").to_owned();
        let request_id = message.get("request_id").cloned().unwrap_or(Value::Null);
        match kind.as_str() {
            kind::SERVICE_LOGIN | kind::USER_LOGIN => {
                return self.login(&message, &kind, &request_id, out);
            }
            _ if self.login.is_none() => out.push(copy(
                &request_id,
                &kind,
                Some("not logged in: send service_login or user_login first"),
            )),
            kind::HEARTBEAT => out.push(copy(&request_id, &kind, None)),
            kind::ACTION => self.user_action(message, out),
            kind::MESSAGE_UP => self.message_up(message, out),
            kind::MESSAGE_DOWN | kind::UPDATE => self.service_push(message, out),
            _ => out.push(copy(&request_id, &kind, Some("unknown message type"))),
        }
        Ok(())
    }

    fn on_close(&mut self) {
        self.logout();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(service: &Moobius, id: u64, registry: &Arc<Registry>) -> Box<dyn Session> {
        let conn = ConnInfo {
            id,
            peer: ([127, 0, 0, 1], 1).into(),
            path: MOOBIUS_PATH.into(),
            query: None,
            headers: Vec::new(),
            registry: registry.clone(),
        };
        service.open(&conn).unwrap()
    }

    fn send(session: &mut Box<dyn Session>, value: Value) -> (Result<(), Close>, Vec<Value>) {
        let mut out = Vec::new();
        let result = session.on_frame(text(&value), &mut out);
        let replies = out
            .iter()
            .map(|f| serde_json::from_str(f.as_text().unwrap()).unwrap())
            .collect();
        (result, replies)
    }

    #[test]
    fn messages_before_login_are_refused_with_a_copy() {
        let service = Moobius::default();
        let registry = Arc::default();
        let mut s = session(&service, 1, &registry);
        let (result, replies) = send(
            &mut s,
            json!({"type": "message_up", "request_id": "r1", "body": {}}),
        );
        assert!(result.is_ok());
        assert_eq!(replies[0]["type"], "copy");
        assert_eq!(replies[0]["body"]["request_id"], "r1");
        assert_eq!(replies[0]["body"]["status"], false);
        assert!(
            replies[0]["body"]["context"]["error"]
                .as_str()
                .unwrap()
                .contains("not logged in")
        );
        let mut out = Vec::new();
        s.on_frame(Frame::text("nope"), &mut out).unwrap();
        assert!(out[0].as_text().unwrap().contains("Internal server error"));
    }

    #[test]
    fn a_wrong_token_is_refused_with_4001() {
        let service = Moobius::with_token("good");
        let registry = Arc::default();
        let mut s = session(&service, 1, &registry);
        let (result, replies) = send(
            &mut s,
            json!({"type": "user_login", "request_id": "r", "access_token": "bad"}),
        );
        assert_eq!(result.unwrap_err().code, 4001);
        assert_eq!(replies[0]["body"]["status"], false);
        let (result, replies) = send(
            &mut s,
            json!({"type": "user_login", "request_id": "r", "access_token": "good"}),
        );
        assert!(result.is_ok());
        assert_eq!(replies[0]["body"]["status"], true);
        let (_, replies) = send(
            &mut s,
            json!({"type": "heartbeat", "request_id": "h", "body": {}}),
        );
        assert_eq!(replies[0]["body"]["origin_type"], "heartbeat");
        assert_eq!(replies[0]["body"]["status"], true);
    }
}
