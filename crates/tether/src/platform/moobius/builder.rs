//! Every `WSClient` builder, as pure functions: the exact message the SDK builds (its
//! dry run), with the request id and the clock injectable.

use std::{
    fmt,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    json,
    json::{Map, Value},
};

use crate::secret::Secret;

use super::model::{
    Button, CanvasItem, ChannelInfo, Item, Items, MenuItem, MessageBody, MessageContent,
    ModelError, Outbound, StyleItem, action, kind, update_subtype,
};

type IdSource = Arc<dyn Fn() -> String + Send + Sync>;
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The message a menu item was clicked on: its id, or the message itself (a JSON object
/// with `message_id`, `message_subtype` and `content`, as the SDK reads it).
#[derive(Debug, Clone, PartialEq)]
pub enum ClickedMessage {
    /// Only the id: the subtype is sent as `"<unknown>"` and the content as `{}`.
    Id(String),
    /// The message.
    Json(Value),
}

impl From<&str> for ClickedMessage {
    fn from(id: &str) -> Self {
        ClickedMessage::Id(id.to_owned())
    }
}

impl From<String> for ClickedMessage {
    fn from(id: String) -> Self {
        ClickedMessage::Id(id)
    }
}

/// A received message (the SDK raises `AttributeError` on its `MessageBody`; tether takes
/// its id, subtype and content, as the SDK does for a dict).
impl From<&MessageBody> for ClickedMessage {
    fn from(body: &MessageBody) -> Self {
        ClickedMessage::Json(json!({
            "message_id": body.message_id,
            "message_subtype": body.subtype,
            "content": body.content,
        }))
    }
}

impl From<Value> for ClickedMessage {
    fn from(value: Value) -> Self {
        match value {
            Value::String(id) => ClickedMessage::Id(id),
            other => ClickedMessage::Json(other),
        }
    }
}

/// Builds every message `WSClient` sends, exactly as it does (the SDK's `dry_run=True`):
/// a fresh uuid4 `request_id` per message and timestamps in Unix epoch milliseconds,
/// both injectable for tests. Builders that take `recipients` return `None` when it is
/// empty, as the SDK sends nothing then.
///
/// ```
/// use tether::moobius::Builders;
/// let b = Builders::pinned("12345678-1234-4678-9234-567812345678", 1_700_000_000_123);
/// assert_eq!(
///     b.join_channel("user-1", "ch-1").wire_text(),
///     r#"{"type": "action", "request_id": "12345678-1234-4678-9234-567812345678", "user_id": "user-1", "body": {"subtype": "join_channel", "channel_id": "ch-1", "context": {}}}"#
/// );
/// assert!(b.send_characters("chars", "svc", "ch-1", "").is_none());
/// ```
#[derive(Clone)]
pub struct Builders {
    ids: IdSource,
    clock: Clock,
}

impl fmt::Debug for Builders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builders").finish_non_exhaustive()
    }
}

impl Default for Builders {
    fn default() -> Self {
        Self::new()
    }
}

/// A random uuid4 in its usual text form (version 4, RFC 4122 variant).
#[must_use]
pub fn uuid4() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        // Every call site passes a `json!({...})` literal.
        _ => Map::new(),
    }
}

impl Builders {
    /// Random uuid4 request ids, the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self {
            ids: Arc::new(uuid4),
            clock: Arc::new(now_ms),
        }
    }

    /// Every request id is `request_id` and the clock stands at `ms` (golden vectors).
    #[must_use]
    pub fn pinned(request_id: impl Into<String>, ms: u64) -> Self {
        let id: String = request_id.into();
        Self {
            ids: Arc::new(move || id.clone()),
            clock: Arc::new(move || ms),
        }
    }

    /// Request ids from `ids`.
    #[must_use]
    pub fn with_ids(mut self, ids: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// Timestamps (Unix epoch milliseconds) from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn id(&self) -> Value {
        Value::String((self.ids)())
    }

    /// `{"type": "heartbeat", "request_id", "body": {}}`.
    #[must_use]
    pub fn heartbeat(&self) -> Outbound {
        Outbound::new(object(
            json!({"type": kind::HEARTBEAT, "request_id": self.id(), "body": {}}),
        ))
    }

    /// A service's login (the token is only exposed into the message).
    #[must_use]
    pub fn service_login(&self, service_id: &str, access_token: &Secret) -> Outbound {
        Outbound::new(object(json!({
            "type": kind::SERVICE_LOGIN,
            "request_id": self.id(),
            "auth_origin": "cognito",
            "access_token": access_token.expose(),
            "service_id": service_id,
        })))
    }

    /// A user's login.
    #[must_use]
    pub fn user_login(&self, access_token: &Secret) -> Outbound {
        Outbound::new(object(json!({
            "type": kind::USER_LOGIN,
            "request_id": self.id(),
            "auth_origin": "cognito",
            "access_token": access_token.expose(),
        })))
    }

    fn channel_action(&self, subtype: &str, user_id: &str, channel_id: &str) -> Outbound {
        Outbound::new(object(json!({
            "type": kind::ACTION,
            "request_id": self.id(),
            "user_id": user_id,
            "body": {"subtype": subtype, "channel_id": channel_id, "context": {}},
        })))
    }

    /// A user joins a channel.
    #[must_use]
    pub fn join_channel(&self, user_id: &str, channel_id: &str) -> Outbound {
        self.channel_action(action::JOIN_CHANNEL, user_id, channel_id)
    }

    /// A user leaves a channel.
    #[must_use]
    pub fn leave_channel(&self, user_id: &str, channel_id: &str) -> Outbound {
        self.channel_action(action::LEAVE_CHANNEL, user_id, channel_id)
    }

    /// A user asks for everything it sees again.
    #[must_use]
    pub fn refresh_as_user(&self, user_id: &str, channel_id: &str) -> Outbound {
        self.channel_action(action::REFRESH, user_id, channel_id)
    }

    /// Updates the characters the recipients see (`characters` is a group id).
    #[must_use]
    pub fn send_characters(
        &self,
        characters: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Option<Outbound> {
        if recipients.is_empty() {
            return None;
        }
        Some(Outbound::new(object(json!({
            "type": kind::UPDATE,
            "request_id": self.id(),
            "service_id": service_id,
            "body": {
                "subtype": update_subtype::CHARACTERS,
                "channel_id": channel_id,
                "recipients": recipients,
                "content": {"characters": characters},
            },
        }))))
    }

    fn update_list(
        &self,
        subtype: &str,
        content: Vec<Value>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
        group: bool,
    ) -> Outbound {
        let mut body = object(json!({
            "subtype": subtype,
            "channel_id": channel_id,
            "recipients": recipients,
            "content": content,
        }));
        if group {
            body.insert("group_id".into(), json!("temp"));
        }
        body.insert("context".into(), json!({}));
        Outbound::new(object(json!({
            "type": kind::UPDATE,
            "request_id": self.id(),
            "service_id": service_id,
            "body": body,
        })))
    }

    /// Updates the buttons the recipients see (one button or a list).
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for JSON that does not fit [`Button`].
    pub fn send_buttons(
        &self,
        buttons: impl Into<Items<Button>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Outbound>, ModelError> {
        if recipients.is_empty() {
            return Ok(None);
        }
        let mut content = buttons.into().to_json("button")?;
        for button in &mut content {
            // The SDK drops falsy `bottom_buttons` keys (a Button never has one).
            if let Some(map) = button.as_object_mut()
                && map.get("bottom_buttons").is_some_and(falsy)
            {
                map.shift_remove("bottom_buttons");
            }
        }
        Ok(Some(self.update_list(
            update_subtype::BUTTONS,
            content,
            service_id,
            channel_id,
            recipients,
            true,
        )))
    }

    /// Updates the right-click menu (a list of items: the SDK takes no single item here).
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for a single item or JSON that does not fit [`MenuItem`].
    pub fn send_menu(
        &self,
        menu_items: impl Into<Items<MenuItem>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Outbound>, ModelError> {
        if recipients.is_empty() {
            return Ok(None);
        }
        let items = menu_items.into();
        if !items.listed {
            return Err(ModelError::invalid(
                "menu items",
                "expected a list of menu items (send_menu does not wrap a single item)",
            ));
        }
        let content = items.to_json("menu item")?;
        Ok(Some(self.update_list(
            update_subtype::MENU,
            content,
            service_id,
            channel_id,
            recipients,
            false,
        )))
    }

    /// Updates the look and feel (one item or a list).
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for JSON that does not fit [`StyleItem`].
    pub fn send_style(
        &self,
        style_items: impl Into<Items<StyleItem>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Outbound>, ModelError> {
        if recipients.is_empty() {
            return Ok(None);
        }
        let content = style_items.into().to_json("style item")?;
        Ok(Some(self.update_list(
            update_subtype::STYLE,
            content,
            service_id,
            channel_id,
            recipients,
            true,
        )))
    }

    /// Updates the canvas (one item or a list). Note the SDK's argument order.
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for JSON that does not fit [`CanvasItem`].
    pub fn update_canvas(
        &self,
        service_id: &str,
        channel_id: &str,
        canvas_items: impl Into<Items<CanvasItem>>,
        recipients: &str,
    ) -> Result<Option<Outbound>, ModelError> {
        if recipients.is_empty() {
            return Ok(None);
        }
        let content = canvas_items.into().to_json("canvas item")?;
        Ok(Some(self.update_list(
            update_subtype::CANVAS,
            content,
            service_id,
            channel_id,
            recipients,
            true,
        )))
    }

    /// Updates a channel's name and description. As in the SDK, `subtype` and
    /// `channel_id` sit at the top level and the body gains a `context` with the
    /// description and type.
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for JSON that does not fit [`ChannelInfo`].
    pub fn update_channel_info(
        &self,
        channel_info: impl Into<Item<ChannelInfo>>,
        service_id: &str,
        channel_id: &str,
    ) -> Result<Outbound, ModelError> {
        let mut body = channel_info.into().to_json("channel info")?;
        let context = json!({
            "channel_description": body.get("channel_description").cloned().unwrap_or(Value::Null),
            "channel_type": body.get("channel_type").cloned().unwrap_or(Value::Null),
        });
        body.insert("context".into(), context);
        Ok(Outbound::new(object(json!({
            "type": kind::UPDATE,
            "subtype": update_subtype::CHANNEL_INFO,
            "channel_id": channel_id,
            "request_id": self.id(),
            "service_id": service_id,
            "body": body,
        }))))
    }

    /// A generic update whose body is `data` (`target_client_id` is not sent, as in the
    /// SDK).
    ///
    /// # Errors
    /// [`ModelError::Invalid`] when `data` is not a JSON object.
    pub fn update(
        &self,
        data: Value,
        _target_client_id: &str,
        service_id: &str,
    ) -> Result<Outbound, ModelError> {
        if !data.is_object() {
            return Err(ModelError::invalid("update data", "expected a JSON object"));
        }
        Ok(Outbound::new(object(json!({
            "type": kind::UPDATE,
            "request_id": self.id(),
            "service_id": service_id,
            "body": data,
        }))))
    }

    /// A user's message to the service. `None` fields of the content are left out; a
    /// missing or empty context is sent as `{}`.
    ///
    /// # Errors
    /// [`ModelError::Invalid`] for JSON content that does not fit [`MessageContent`].
    #[allow(clippy::too_many_arguments)] // the SDK's signature
    pub fn message_up(
        &self,
        user_id: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: impl Into<Item<MessageContent>>,
        context: Option<Map<String, Value>>,
    ) -> Result<Option<Outbound>, ModelError> {
        if recipients.is_empty() {
            return Ok(None);
        }
        let mut content = content.into().to_json("content")?;
        content.retain(|_, v| !v.is_null());
        let timestamp = (self.clock)();
        Ok(Some(Outbound::new(object(json!({
            "type": kind::MESSAGE_UP,
            "request_id": self.id(),
            "user_id": user_id,
            "service_id": service_id,
            "body": {
                "subtype": subtype,
                "channel_id": channel_id,
                "content": content,
                "recipients": recipients,
                "timestamp": timestamp,
                "context": context.unwrap_or_default(),
            },
        })))))
    }

    /// A service's message to the recipients, shown as sent by `sender`: built as
    /// [`Builders::message_up`], then `type` becomes `message_down`, `body.sender` is
    /// appended and `user_id` removed.
    ///
    /// # Errors
    /// As [`Builders::message_up`].
    #[allow(clippy::too_many_arguments)] // the SDK's signature
    pub fn message_down(
        &self,
        user_id: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: impl Into<Item<MessageContent>>,
        sender: &str,
        context: Option<Map<String, Value>>,
    ) -> Result<Option<Outbound>, ModelError> {
        let Some(up) = self.message_up(
            user_id, service_id, channel_id, recipients, subtype, content, context,
        )?
        else {
            return Ok(None);
        };
        let Value::Object(mut message) = up.into_value() else {
            return Ok(None);
        };
        message.insert("type".into(), json!(kind::MESSAGE_DOWN));
        if let Some(Value::Object(body)) = message.get_mut("body") {
            body.insert("sender".into(), json!(sender));
        }
        message.shift_remove("user_id");
        Ok(Some(Outbound::new(message)))
    }

    /// A user's button click; `arguments` is the SDK's `[button_args]` (`None` sends
    /// `[[]]`).
    #[must_use]
    pub fn send_button_click(
        &self,
        button_id: &str,
        bottom_button_id: &str,
        button_args: Option<Vec<Value>>,
        channel_id: &str,
        user_id: &str,
    ) -> Outbound {
        Outbound::new(object(json!({
            "user_id": user_id,
            "type": kind::ACTION,
            "request_id": self.id(),
            "body": {
                "subtype": action::BUTTON_CLICK,
                "button_id": button_id,
                "channel_id": channel_id,
                "arguments": [button_args.unwrap_or_default()],
                "bottom_button_id": bottom_button_id,
                "context": {},
            },
        })))
    }

    /// A user's click on a menu item of a message.
    ///
    /// # Errors
    /// [`ModelError::Invalid`] when a JSON message lacks `message_id`,
    /// `message_subtype` or `content` (the SDK raises `KeyError`).
    pub fn send_menu_item_click(
        &self,
        menu_item_id: &str,
        bottom_button_id: &str,
        button_args: Option<Vec<Value>>,
        the_message: impl Into<ClickedMessage>,
        channel_id: &str,
        user_id: &str,
    ) -> Result<Outbound, ModelError> {
        let (id, subtype, content) = match the_message.into() {
            ClickedMessage::Id(id) => (json!(id), json!("<unknown>"), json!({})),
            ClickedMessage::Json(Value::Object(m)) => {
                let field = |key: &str| {
                    m.get(key).cloned().ok_or_else(|| {
                        ModelError::invalid("clicked message", format!("missing field `{key}`"))
                    })
                };
                (
                    field("message_id")?,
                    field("message_subtype")?,
                    field("content")?,
                )
            }
            ClickedMessage::Json(other) => {
                return Err(ModelError::invalid(
                    "clicked message",
                    format!("expected a message id or a JSON object, got {other}"),
                ));
            }
        };
        Ok(Outbound::new(object(json!({
            "user_id": user_id,
            "type": kind::ACTION,
            "request_id": self.id(),
            "body": {
                "subtype": action::MENU_ITEM_CLICK,
                "menu_item_id": menu_item_id,
                "channel_id": channel_id,
                "message_id": id,
                "message_subtype": subtype,
                "message_content": content,
                "arguments": [button_args.unwrap_or_default()],
                "bottom_button_id": bottom_button_id,
                "context": {},
            },
        }))))
    }
}

/// Python truthiness of a JSON value.
fn falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_fresh_uuid4s() {
        let b = Builders::new();
        let (x, y) = (b.heartbeat(), b.heartbeat());
        let id = x.request_id().unwrap();
        assert_ne!(Some(id), y.request_id());
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn timestamps_are_milliseconds_from_the_clock() {
        let b = Builders::new().with_clock(|| 42);
        let m = b
            .message_up("u", "s", "c", "g", "text", MessageContent::text("x"), None)
            .unwrap()
            .unwrap();
        assert_eq!(m.value()["body"]["timestamp"], json!(42));
        let real = Builders::new()
            .message_up("u", "s", "c", "g", "text", MessageContent::text("x"), None)
            .unwrap()
            .unwrap();
        let ms = real.value()["body"]["timestamp"].as_u64().unwrap();
        assert!(ms > 1_700_000_000_000, "milliseconds since the epoch: {ms}");
    }

    #[test]
    fn empty_recipients_build_nothing() {
        let b = Builders::new();
        assert!(b.send_characters("c", "s", "ch", "").is_none());
        assert!(
            b.send_buttons(Button::new("b", "t"), "s", "ch", "")
                .unwrap()
                .is_none()
        );
        assert!(
            b.send_menu(Vec::<MenuItem>::new(), "s", "ch", "")
                .unwrap()
                .is_none()
        );
        assert!(
            b.update_canvas("s", "ch", CanvasItem::default(), "")
                .unwrap()
                .is_none()
        );
        assert!(
            b.message_down(
                "s",
                "s",
                "ch",
                "",
                "text",
                MessageContent::text("x"),
                "a",
                None
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let b = Builders::new();
        let err = b
            .send_buttons(json!([{"button_id": "b"}]), "s", "c", "g")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid button 0: missing field `button_text`"
        );
        assert!(
            b.send_menu(
                json!({"menu_item_id": "m", "menu_item_text": "t", "message_subtypes": "all"}),
                "s",
                "c",
                "g"
            )
            .unwrap_err()
            .to_string()
            .contains("expected a list")
        );
        assert!(b.update(json!([1]), "t", "s").is_err());
        assert!(
            b.send_menu_item_click("m", "ok", None, json!({"message_id": "x"}), "c", "u")
                .unwrap_err()
                .to_string()
                .contains("message_subtype")
        );
        assert!(
            b.message_up("u", "s", "c", "g", "text", json!({"txt": "typo"}), None)
                .unwrap_err()
                .to_string()
                .contains("unknown field `txt`")
        );
    }

    #[test]
    fn a_menu_click_on_a_received_message_takes_its_id_subtype_and_content() {
        let payload = super::super::model::Payload::parse(
            r#"{"type":"message_down","body":{"subtype":"text","channel_id":"c","content":{"text":"buy"},"message_id":"m-9"}}"#,
        )
        .unwrap();
        let click = Builders::pinned("r", 0)
            .send_menu_item_click("m1", "ok", None, payload.message().unwrap(), "c", "u")
            .unwrap();
        let body = &click.value()["body"];
        assert_eq!(body["message_id"], json!("m-9"));
        assert_eq!(body["message_subtype"], json!("text"));
        assert_eq!(body["message_content"], json!({"text": "buy"}));
    }

    #[test]
    fn the_login_token_is_only_in_the_message() {
        let login = Builders::new().user_login(&Secret::new("tok-123"));
        assert_eq!(login.value()["access_token"], json!("tok-123"));
        assert!(!format!("{login:?}").contains("tok-123"));
    }
}
