//! `--profile moobius`: the typed Moobius client logs in (`--mode`, `--token`) on every
//! connect and heartbeats; lines are builder calls or full messages.

use std::time::Duration;

use tether::{
    Client, Frame, Outgoing, Secret,
    json::{Map, Value},
    moobius::{
        Body, Builders, Button, CanvasItem, Item, Items, MenuItem, MessageContent, Mode,
        MoobiusClient, Outbound, Payload, StyleItem, kind, update_subtype,
    },
};

use super::{Delivery, Profile, Started, queue};
use crate::connect::{ConnectArgs, MoobiusMode};

/// `--profile moobius`: a line is a builder call `NAME {kwargs}` (the SDK's
/// `WSClient` method and keyword arguments; `service_id`, `user_id` and `sender` default
/// to `--service-id` / `--user-id`), or a full message (a JSON object with `type`), which
/// is checked against the model and sent as it is (a missing `request_id` is added).
///
/// Login lines are refused: the profile logs in by itself on every connect, and a login
/// line would put the token where an `undelivered` event could print it. The token is
/// also scrubbed from every printed message.
pub struct MoobiusProfile {
    /// The builders (fresh uuid4 request ids, the system clock).
    pub builders: Builders,
    /// `--service-id`.
    pub service_id: Option<String>,
    /// `--user-id`.
    pub user_id: Option<String>,
    /// The access token, scrubbed from every printed message.
    pub token: Secret,
    /// Each message's deadline (`--send-timeout`).
    pub send_timeout: Option<Duration>,
}

/// The builder names a line may call.
pub const BUILDERS: &[&str] = &[
    "heartbeat",
    "join_channel",
    "leave_channel",
    "send_characters",
    "send_buttons",
    "send_menu",
    "send_style",
    "update_channel_info",
    "update_canvas",
    "update",
    "message_up",
    "message_down",
    "send_button_click",
    "send_menu_item_click",
    "refresh_as_user",
];

/// Keyword arguments of one builder call, consumed as they are read.
struct Kwargs<'p> {
    map: Map<String, Value>,
    profile: &'p MoobiusProfile,
}

impl Kwargs<'_> {
    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.shift_remove(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        let fallback = match key {
            "service_id" => self.profile.service_id.clone(),
            "user_id" => self
                .profile
                .user_id
                .clone()
                .or_else(|| self.profile.service_id.clone()),
            "sender" => self.profile.service_id.clone(),
            _ => None,
        };
        match self.take(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(format!("{key} must be a string, got {other}")),
            None => fallback.ok_or_else(|| format!("missing argument {key}")),
        }
    }

    fn value(&mut self, key: &str) -> Result<Value, String> {
        self.take(key)
            .ok_or_else(|| format!("missing argument {key}"))
    }

    fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, String> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(format!("{key} must be a JSON object, got {other}")),
        }
    }

    fn args(&mut self) -> Result<Option<Vec<Value>>, String> {
        match self.take("button_args") {
            None | Some(Value::Bool(false)) => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(other) => Err(format!("button_args must be a list, got {other}")),
        }
    }

    /// Fails on arguments the builder does not take.
    fn done(self) -> Result<(), String> {
        match self.map.keys().next() {
            Some(key) => Err(format!("unexpected argument {key}")),
            None => Ok(()),
        }
    }
}

/// Why a login line is refused.
const LOGIN_LINE: &str = "the profile logs in by itself on every connect (--mode, --token): \
                          login lines are not sent";

fn some(message: Option<Outbound>) -> Result<Outbound, String> {
    message.ok_or_else(|| "recipients is empty: nothing to send (as in the SDK)".to_owned())
}

impl MoobiusProfile {
    /// The message a line stands for.
    ///
    /// # Errors
    /// Why the line is not a Moobius message or builder call.
    pub fn message(&self, line: &str) -> Result<Outbound, String> {
        let line = line.trim();
        let first = line.split(|c: char| c.is_whitespace() || c == '{').next();
        if matches!(first, Some("service_login" | "user_login")) {
            return Err(LOGIN_LINE.into());
        }
        if line.starts_with('{') {
            let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
            return self.full_message(value);
        }
        let (name, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(n, r)| (n, r.trim()));
        if !BUILDERS.contains(&name) {
            return Err(format!(
                "unknown builder {name:?} (one of: {}), and not a JSON message",
                BUILDERS.join(", ")
            ));
        }
        let map = if rest.is_empty() {
            Map::new()
        } else {
            match serde_json::from_str(rest) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(format!("the arguments of {name} must be a JSON object")),
                Err(e) => return Err(format!("the arguments of {name} are not JSON: {e}")),
            }
        };
        let mut kw = Kwargs { map, profile: self };
        let message = self.call(name, &mut kw)?;
        kw.done()?;
        Ok(message)
    }

    fn call(&self, name: &str, kw: &mut Kwargs<'_>) -> Result<Outbound, String> {
        let b = &self.builders;
        let e = |e: tether::moobius::ModelError| e.to_string();
        Ok(match name {
            "heartbeat" => b.heartbeat(),
            "join_channel" => b.join_channel(&kw.string("user_id")?, &kw.string("channel_id")?),
            "leave_channel" => b.leave_channel(&kw.string("user_id")?, &kw.string("channel_id")?),
            "refresh_as_user" => {
                b.refresh_as_user(&kw.string("user_id")?, &kw.string("channel_id")?)
            }
            "send_characters" => some(b.send_characters(
                &kw.string("characters")?,
                &kw.string("service_id")?,
                &kw.string("channel_id")?,
                &kw.string("recipients")?,
            ))?,
            "send_buttons" => some(
                b.send_buttons(
                    Items::<Button>::from(kw.value("buttons")?),
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    &kw.string("recipients")?,
                )
                .map_err(e)?,
            )?,
            "send_menu" => some(
                b.send_menu(
                    Items::<MenuItem>::from(kw.value("menu_items")?),
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    &kw.string("recipients")?,
                )
                .map_err(e)?,
            )?,
            "send_style" => some(
                b.send_style(
                    Items::<StyleItem>::from(kw.value("style_items")?),
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    &kw.string("recipients")?,
                )
                .map_err(e)?,
            )?,
            "update_canvas" => some(
                b.update_canvas(
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    Items::<CanvasItem>::from(kw.value("canvas_items")?),
                    &kw.string("recipients")?,
                )
                .map_err(e)?,
            )?,
            "update_channel_info" => b
                .update_channel_info(
                    kw.value("channel_info")?,
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                )
                .map_err(e)?,
            "update" => {
                let target = match kw.take("target_client_id") {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                b.update(kw.value("data")?, &target, &kw.string("service_id")?)
                    .map_err(e)?
            }
            "message_up" => some(
                b.message_up(
                    &kw.string("user_id")?,
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    &kw.string("recipients")?,
                    &kw.string("subtype")?,
                    Item::<MessageContent>::from(kw.value("content")?),
                    kw.object("context")?,
                )
                .map_err(e)?,
            )?,
            "message_down" => some(
                b.message_down(
                    &kw.string("user_id")?,
                    &kw.string("service_id")?,
                    &kw.string("channel_id")?,
                    &kw.string("recipients")?,
                    &kw.string("subtype")?,
                    Item::<MessageContent>::from(kw.value("content")?),
                    &kw.string("sender")?,
                    kw.object("context")?,
                )
                .map_err(e)?,
            )?,
            "send_button_click" => b.send_button_click(
                &kw.string("button_id")?,
                &kw.string("bottom_button_id")?,
                kw.args()?,
                &kw.string("channel_id")?,
                &kw.string("user_id")?,
            ),
            "send_menu_item_click" => b
                .send_menu_item_click(
                    &kw.string("menu_item_id")?,
                    &kw.string("bottom_button_id")?,
                    kw.args()?,
                    kw.value("the_message")?,
                    &kw.string("channel_id")?,
                    &kw.string("user_id")?,
                )
                .map_err(e)?,
            other => return Err(format!("unknown builder {other:?}")),
        })
    }

    /// A full message: checked against the model, then sent as it is.
    fn full_message(&self, value: Value) -> Result<Outbound, String> {
        let Value::Object(mut map) = value else {
            return Err("not a Moobius message: not a JSON object".into());
        };
        let kind = match map.get("type") {
            Some(Value::String(k)) => k.clone(),
            _ => return Err("not a Moobius message: no string \"type\"".into()),
        };
        match map.get("request_id") {
            None => {
                // Keep the SDK's place for it: right after `type`.
                let mut with_id = Map::new();
                for (k, v) in std::mem::take(&mut map) {
                    let is_type = k == "type";
                    with_id.insert(k, v);
                    if is_type {
                        with_id
                            .insert("request_id".into(), Value::String(tether::moobius::uuid4()));
                    }
                }
                map = with_id;
            }
            Some(Value::String(_)) => {}
            Some(other) => return Err(format!("request_id must be a string, got {other}")),
        }
        let string = |map: &Map<String, Value>, key: &str| -> Result<(), String> {
            match map.get(key) {
                Some(Value::String(_)) => Ok(()),
                _ => Err(format!("{kind}: {key} must be a string")),
            }
        };
        let body = map.get("body");
        let body_map = body.and_then(Value::as_object);
        match kind.as_str() {
            kind::SERVICE_LOGIN | kind::USER_LOGIN => return Err(LOGIN_LINE.into()),
            kind::HEARTBEAT
            | kind::ACTION
            | kind::UPDATE
            | kind::MESSAGE_UP
            | kind::MESSAGE_DOWN => {
                let Some(body) = body_map else {
                    return Err(format!("{kind}: body must be a JSON object"));
                };
                match kind.as_str() {
                    kind::ACTION => string(body, "subtype")?,
                    kind::MESSAGE_UP | kind::MESSAGE_DOWN => {
                        string(body, "subtype")?;
                        string(body, "channel_id")?;
                        string(&map, "service_id")?;
                        let content = body.get("content").cloned().unwrap_or(Value::Null);
                        Item::<MessageContent>::from(content)
                            .to_json("content")
                            .map_err(|e| format!("{kind}: {e}"))?;
                    }
                    kind::UPDATE => {
                        string(&map, "service_id")?;
                        let content = body.get("content").cloned();
                        let subtype = body.get("subtype").and_then(Value::as_str);
                        let checked = match (subtype, content) {
                            (Some(update_subtype::BUTTONS), Some(c)) => {
                                Items::<Button>::from(c).to_json("button").map(drop)
                            }
                            (Some(update_subtype::MENU), Some(c)) => {
                                Items::<MenuItem>::from(c).to_json("menu item").map(drop)
                            }
                            (Some(update_subtype::STYLE), Some(c)) => {
                                Items::<StyleItem>::from(c).to_json("style item").map(drop)
                            }
                            (Some(update_subtype::CANVAS), Some(c)) => Items::<CanvasItem>::from(c)
                                .to_json("canvas item")
                                .map(drop),
                            _ => Ok(()),
                        };
                        checked.map_err(|e| format!("{kind}: {e}"))?;
                    }
                    _ => {}
                }
            }
            other => {
                return Err(format!(
                    "unknown type {other:?}: a client sends heartbeat, service_login, \
                     user_login, action, update, message_up or message_down"
                ));
            }
        }
        Outbound::from_value(Value::Object(map)).map_err(|e| e.to_string())
    }

    fn outgoing(&self, message: &Outbound) -> Outgoing {
        let out = Outgoing::new(Frame::text(message.wire_text()));
        match self.send_timeout {
            Some(d) => out.with_deadline(d),
            None => out,
        }
    }
}

/// The typed moobius client and its line profile, from the flags.
fn client(args: &ConnectArgs) -> Result<(MoobiusClient, MoobiusProfile), String> {
    let token = args
        .token
        .clone()
        .ok_or("--profile moobius needs --token (the access token for the login)")?;
    let mode = match args.mode {
        MoobiusMode::Service => Mode::Service {
            service_id: args
                .service_id
                .clone()
                .ok_or("--mode service needs --service-id")?,
        },
        MoobiusMode::User => {
            if !args.channels.is_empty() && args.user_id.is_none() {
                return Err("--channel needs --user-id (who joins)".into());
            }
            let user = args.user_id.clone().unwrap_or_default();
            Mode::User {
                channels: args
                    .channels
                    .iter()
                    .map(|c| (user.clone(), c.clone()))
                    .collect(),
            }
        }
    };
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    // The token goes into the login message, not into an Authorization header.
    let mut config = args.config();
    config.token = None;
    let builders = Builders::new();
    let typed = MoobiusClient::new(&args.url, mode, token.as_str())
        .config(config)
        .builders(builders.clone())
        .heartbeat_every(nonzero(args.app_heartbeat))
        .send_timeout(nonzero(args.send_timeout));
    let profile = MoobiusProfile {
        builders,
        service_id: args.service_id.clone(),
        user_id: args.user_id.clone(),
        token: token.into(),
        send_timeout: nonzero(args.send_timeout),
    };
    Ok((typed, profile))
}

impl Profile for MoobiusProfile {
    type Event = Payload;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        let (typed, profile) = client(args)?;
        let events = typed.connect().map_err(|e| e.to_string())?;
        let client = typed.engine().ok_or("the moobius client did not start")?;
        Ok(Started {
            client,
            events,
            profile,
        })
    }

    async fn deliver(&self, client: &Client<Payload>, line: &str) -> Delivery {
        queue(client, self.message(line).map(|m| self.outgoing(&m))).await
    }

    fn push_data(&self, event: &Payload, line: &mut String) {
        line.push_str(",\"data\":");
        line.push_str(&self.token.scrub(event.text().trim()));
    }

    fn pretty(&self, event: &Payload) -> String {
        let text = match &event.body {
            Body::MessageDown(m) | Body::MessageUp(m) => format!(
                "{} from {} in {}: {}",
                event.kind,
                m.sender.as_deref().unwrap_or("?"),
                m.channel_id,
                m.text()
                    .map_or_else(|| m.content.to_string(), str::to_owned)
            ),
            Body::Copy(c) => match c.error() {
                Some(error) => format!("{} refused: {error}", c.origin_type),
                None => format!("{} ok", c.origin_type),
            },
            Body::Error(message) => format!("server error: {message}"),
            _ => serde_json::from_str::<Value>(event.text())
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| event.text().to_owned()),
        };
        self.token.scrub(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether::json;

    fn service() -> MoobiusProfile {
        MoobiusProfile {
            builders: Builders::pinned("rid", 7),
            service_id: Some("svc".into()),
            user_id: None,
            token: Secret::new("tok"),
            send_timeout: None,
        }
    }

    fn json_of(m: &Outbound) -> Value {
        m.clone().into_value()
    }

    #[test]
    fn builder_calls_take_the_sdks_keyword_arguments_with_defaults() {
        let p = service();
        let m = p
            .message(r#"message_down {"channel_id": "c", "recipients": "u", "subtype": "text", "content": {"text": "hi"}}"#)
            .unwrap();
        assert_eq!(
            m.wire_text(),
            r#"{"type": "message_down", "request_id": "rid", "service_id": "svc", "body": {"subtype": "text", "channel_id": "c", "content": {"text": "hi"}, "recipients": "u", "timestamp": 7, "context": {}, "sender": "svc"}}"#
        );
        let m = p.message("heartbeat").unwrap();
        assert_eq!(json_of(&m)["type"], "heartbeat");
        let m = p
            .message(r#"send_buttons {"buttons": {"button_id": "b", "button_text": "B"}, "channel_id": "c", "recipients": "g"}"#)
            .unwrap();
        assert_eq!(
            json_of(&m)["body"]["content"],
            json!([{"button_id": "b", "button_text": "B"}])
        );
        let m = p
            .message(r#"join_channel {"user_id": "u", "channel_id": "c"}"#)
            .unwrap();
        assert_eq!(json_of(&m)["body"]["subtype"], "join_channel");
    }

    #[test]
    fn lines_the_builders_reject_are_rejected() {
        let p = service();
        for (line, why) in [
            ("shout {}", "unknown builder"),
            ("message_down {\"channel_id\": \"c\"}", "missing argument"),
            (
                r#"send_buttons {"buttons": [{"button_id": "b"}], "channel_id": "c", "recipients": "g"}"#,
                "missing field `button_text`",
            ),
            (
                r#"send_characters {"characters": "x", "channel_id": "c", "recipients": ""}"#,
                "nothing to send",
            ),
            (
                r#"join_channel {"user_id": "u", "channel_id": "c", "colour": 1}"#,
                "unexpected argument colour",
            ),
            (
                r#"join_channel {"user_id": 5, "channel_id": "c"}"#,
                "must be a string",
            ),
            ("update [1]", "must be a JSON object"),
            (
                r#"{"type": "message_up", "service_id": "s", "body": {"subtype": "text", "channel_id": "c", "content": {"txt": 1}}}"#,
                "unknown field `txt`",
            ),
            (
                r#"{"type": "update", "service_id": "s", "body": {"subtype": "buttons", "content": [{"x": 1}]}}"#,
                "invalid button 0",
            ),
            (
                r#"{"type": "message_down", "body": 1}"#,
                "body must be a JSON object",
            ),
            (r#"{"body": {}}"#, "no string \"type\""),
            ("[1]", "unknown builder"),
            ("{nope", "not JSON"),
            ("user_login", "logs in by itself"),
            (r#"service_login {"service_id": "s"}"#, "logs in by itself"),
            (
                r#"{"type": "user_login", "access_token": "t"}"#,
                "logs in by itself",
            ),
            (r#"{"type": "copy", "body": {}}"#, "unknown type"),
        ] {
            let err = p.message(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }

    #[test]
    fn full_messages_are_sent_as_they_are_with_a_request_id() {
        let p = service();
        let m = p
            .message(r#"{"type": "message_up", "user_id": "u", "service_id": "s", "body": {"subtype": "text", "channel_id": "c", "content": {"text": "x"}, "recipients": "g"}}"#)
            .unwrap();
        let keys: Vec<String> = m.value().keys().cloned().collect();
        assert_eq!(
            keys,
            ["type", "request_id", "user_id", "service_id", "body"]
        );
        let m = p
            .message(r#"{"type": "heartbeat", "request_id": "mine", "body": {}}"#)
            .unwrap();
        assert_eq!(m.request_id(), Some("mine"));
    }
}

#[cfg(test)]
mod redaction {
    use super::*;

    #[test]
    fn a_message_echoing_the_token_prints_without_it() {
        let p = MoobiusProfile {
            builders: Builders::new(),
            service_id: Some("svc".into()),
            user_id: None,
            token: Secret::new("tok-999"),
            send_timeout: None,
        };
        let payload = Payload::parse(
            r#"{"type":"copy","request_id":"r","body":{"request_id":"x","origin_type":"tok-999","status":false,"context":{"error":"bad tok-999"}}}"#,
        )
        .unwrap();
        let mut line = String::from("{\"type\":\"message\"");
        p.push_data(&payload, &mut line);
        assert!(!line.contains("tok-999"), "{line}");
        assert!(line.contains("<redacted>"));
        assert!(!p.pretty(&payload).contains("tok-999"));
    }
}
