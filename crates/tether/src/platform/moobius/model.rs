//! The Moobius content models (the SDK's `moobius.types` dataclasses), their constants,
//! the typed-or-JSON inputs the builders take, the built message ([`Outbound`]) and
//! the server→client payload ([`Payload`]).

use std::{fmt, sync::Arc};

use crate::json::{Map, Value};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::platform::pyjson;

/// Widget types (`StyleItem.widget`).
pub mod widget {
    /// A clickable button.
    pub const BUTTON: &str = "button";
    /// The canvas.
    pub const CANVAS: &str = "canvas";
}

/// Message subtypes (`body.subtype` of `message_up` / `message_down`).
pub mod message_subtype {
    /// A simple string.
    pub const TEXT: &str = "text";
    /// An image to display.
    pub const IMAGE: &str = "image";
    /// An audio clip.
    pub const AUDIO: &str = "audio";
    /// A downloadable file.
    pub const FILE: &str = "file";
    /// A box with a button to go to a website.
    pub const CARD: &str = "card";
}

/// Update subtypes (`body.subtype` of `update`).
pub mod update_subtype {
    /// The characters the recipients see.
    pub const CHARACTERS: &str = "characters";
    /// Channel name, description, type.
    pub const CHANNEL_INFO: &str = "channel_info";
    /// The canvas.
    pub const CANVAS: &str = "canvas";
    /// The buttons.
    pub const BUTTONS: &str = "buttons";
    /// Look and feel.
    pub const STYLE: &str = "style";
    /// The right-click menu.
    pub const MENU: &str = "menu";
}

/// Input component types (`InputComponent.type`).
pub mod component {
    /// Choose one of several options.
    pub const DROPDOWN: &str = "dropdown";
    /// One line of text.
    pub const TEXT: &str = "text";
    /// Several lines of text.
    pub const TEXTBOX: &str = "textbox";
    /// A number.
    pub const NUMBER: &str = "number";
    /// A secret line.
    pub const PASSWORD: &str = "password";
    /// A component the user cannot do much with.
    pub const INVALID: &str = "invalid";
}

/// Payload types (the top-level `type`).
pub mod kind {
    /// Client → server keep-alive.
    pub const HEARTBEAT: &str = "heartbeat";
    /// A service logs in.
    pub const SERVICE_LOGIN: &str = "service_login";
    /// A user logs in.
    pub const USER_LOGIN: &str = "user_login";
    /// Joins, leaves, clicks, refreshes.
    pub const ACTION: &str = "action";
    /// A service updates what recipients see.
    pub const UPDATE: &str = "update";
    /// A user's message to the service.
    pub const MESSAGE_UP: &str = "message_up";
    /// A service's message to users.
    pub const MESSAGE_DOWN: &str = "message_down";
    /// The server's receipt of a request.
    pub const COPY: &str = "copy";
    /// Refresh everything.
    pub const REFRESH: &str = "refresh";
    /// A server error (a top-level `message`, as `"Internal server error"`), as tether
    /// names it for routing.
    pub const ERROR: &str = "error";
}

/// Action subtypes (`body.subtype` of `action`).
pub mod action {
    /// Sent by a user to join a channel.
    pub const JOIN_CHANNEL: &str = "join_channel";
    /// Sent by a user to leave a channel.
    pub const LEAVE_CHANNEL: &str = "leave_channel";
    /// Received by a service: a user joined.
    pub const JOIN: &str = "join";
    /// Received by a service: a user left.
    pub const LEAVE: &str = "leave";
    /// A button click.
    pub const BUTTON_CLICK: &str = "button_click";
    /// A menu item click.
    pub const MENU_ITEM_CLICK: &str = "menu_item_click";
    /// Refresh what the user sees.
    pub const REFRESH: &str = "refresh";
}

/// An input or model that does not fit the Moobius model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A JSON value that does not match the model (a missing or unknown field, a wrong type).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument (`button 0`, `content`, …).
        what: String,
        /// Why.
        reason: String,
    },
    /// Text that is not a Moobius message (not JSON, not an object, no `type`).
    #[error("not a Moobius message: {0}")]
    NotAMessage(String),
}

impl ModelError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// One input of a dialog (`InputComponent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputComponent {
    /// The label, also the app-specified id of the component.
    pub label: String,
    /// What the user sees: see [`component`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the user must fill it in (Python default `False`).
    #[serde(default = "some_false")]
    pub required: Option<bool>,
    /// A hint.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// The options of a dropdown.
    #[serde(default)]
    pub choices: Option<Vec<String>>,
}

fn some_false() -> Option<bool> {
    Some(false)
}

impl InputComponent {
    /// A component with this label and type, not required, no placeholder, no choices.
    pub fn new(label: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            kind: kind.into(),
            required: Some(false),
            placeholder: None,
            choices: None,
        }
    }
}

/// A button at the bottom of a dialog (`BottomButton`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BottomButton {
    /// The app-specified id.
    pub id: String,
    /// The text shown.
    pub text: String,
    /// `true` submits the dialog, `false` cancels it.
    pub submit: bool,
}

/// A dialog a button or menu item opens (`Dialog`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialog {
    /// The title (Python default `"Dialog"`).
    #[serde(default = "dialog_title")]
    pub title: String,
    /// Where the user selects or enters something.
    #[serde(default)]
    pub components: Option<Vec<InputComponent>>,
    /// The bottom buttons.
    #[serde(default)]
    pub bottom_buttons: Option<Vec<BottomButton>>,
}

fn dialog_title() -> String {
    "Dialog".to_owned()
}

impl Default for Dialog {
    fn default() -> Self {
        Self {
            title: dialog_title(),
            components: None,
            bottom_buttons: None,
        }
    }
}

/// A button (`Button`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// The app-specified id.
    pub button_id: String,
    /// The text shown.
    pub button_text: String,
    /// A dialog the button opens.
    #[serde(default)]
    pub dialog: Option<Dialog>,
}

impl Button {
    /// A button without dialog.
    pub fn new(button_id: impl Into<String>, button_text: impl Into<String>) -> Self {
        Self {
            button_id: button_id.into(),
            button_text: button_text.into(),
            dialog: None,
        }
    }

    /// Sets the dialog.
    #[must_use]
    pub fn dialog(mut self, dialog: Dialog) -> Self {
        self.dialog = Some(dialog);
        self
    }
}

/// Which message subtypes open a menu item: one (`"all"`) or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageSubtypes {
    /// One string.
    One(String),
    /// A list.
    Many(Vec<String>),
}

/// A right-click menu item (`MenuItem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuItem {
    /// The app-specified id.
    pub menu_item_id: String,
    /// The text shown.
    pub menu_item_text: String,
    /// Which message subtypes open it.
    pub message_subtypes: MessageSubtypes,
    /// A dialog it opens.
    #[serde(default)]
    pub dialog: Option<Dialog>,
}

/// A look-and-feel element (`StyleItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleItem {
    /// The widget: see [`widget`].
    pub widget: String,
    /// `"invisible"`, `"visible"` or `"highlight"`.
    pub display: String,
    /// Whether the canvas is expanded.
    #[serde(default)]
    pub expand: Option<bool>,
    /// The button it applies to.
    #[serde(default)]
    pub button_id: Option<String>,
    /// The text it applies to.
    #[serde(default)]
    pub text: Option<String>,
}

/// An element on the canvas (`CanvasItem`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanvasItem {
    /// The text shown.
    #[serde(default)]
    pub text: Option<String>,
    /// The URL of an image.
    #[serde(default)]
    pub path: Option<String>,
}

/// The content of a message (`MessageContent`); `None` fields are left out on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageContent {
    /// The text (text messages, card descriptions).
    #[serde(default)]
    pub text: Option<String>,
    /// The URL (any non-text message).
    #[serde(default)]
    pub path: Option<String>,
    /// The size in bytes (files).
    #[serde(default)]
    pub size: Option<i64>,
    /// The file name (files).
    #[serde(default)]
    pub filename: Option<String>,
    /// The link (cards).
    #[serde(default)]
    pub link: Option<String>,
    /// The title (cards).
    #[serde(default)]
    pub title: Option<String>,
    /// The button text (cards).
    #[serde(default)]
    pub button: Option<String>,
}

impl MessageContent {
    /// A text message's content.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }
}

/// A channel's name and description (`ChannelInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInfo {
    /// The channel id.
    pub channel_id: String,
    /// The name in the channel list.
    pub channel_name: String,
    /// What the channel is about.
    pub channel_description: String,
    /// `"dcs"`, `"ccs"`, …
    pub channel_type: String,
}

/// A builder argument: a typed model, or JSON (the SDK's dict), which is validated
/// against the model and then sent unchanged, as the SDK does.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<T> {
    /// A typed model (sent with every field, `None` as `null`).
    Typed(T),
    /// A JSON object, sent as it is once it fits the model.
    Json(Value),
}

/// One or several builder arguments (the SDK wraps a single item in a list for most
/// builders).
#[derive(Debug, Clone, PartialEq)]
pub struct Items<T> {
    pub(crate) items: Vec<Item<T>>,
    /// Whether the argument was a list.
    pub(crate) listed: bool,
}

macro_rules! item_conversions {
    ($($t:ty),*) => {$(
        impl From<$t> for Item<$t> {
            fn from(value: $t) -> Self {
                Item::Typed(value)
            }
        }
        impl From<Value> for Item<$t> {
            fn from(value: Value) -> Self {
                Item::Json(value)
            }
        }
        impl From<$t> for Items<$t> {
            fn from(value: $t) -> Self {
                Items { items: vec![Item::Typed(value)], listed: false }
            }
        }
        impl From<Vec<$t>> for Items<$t> {
            fn from(values: Vec<$t>) -> Self {
                Items { items: values.into_iter().map(Item::Typed).collect(), listed: true }
            }
        }
        impl From<Vec<Item<$t>>> for Items<$t> {
            fn from(items: Vec<Item<$t>>) -> Self {
                Items { items, listed: true }
            }
        }
        /// A JSON array is a list of items; any other value is one item.
        impl From<Value> for Items<$t> {
            fn from(value: Value) -> Self {
                match value {
                    Value::Array(values) => Items {
                        items: values.into_iter().map(Item::Json).collect(),
                        listed: true,
                    },
                    other => Items { items: vec![Item::Json(other)], listed: false },
                }
            }
        }
    )*};
}

item_conversions!(
    Button,
    MenuItem,
    StyleItem,
    CanvasItem,
    MessageContent,
    ChannelInfo
);

impl<T: Serialize + DeserializeOwned> Item<T> {
    /// The JSON the SDK sends for this item: a typed model with every field; JSON
    /// unchanged, once it is an object that fits the model.
    ///
    /// # Errors
    /// [`ModelError::Invalid`] naming `what` when the JSON does not fit.
    pub fn to_json(&self, what: &str) -> Result<Map<String, Value>, ModelError> {
        match self {
            Item::Typed(model) => match crate::json::to_value(model) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(ModelError::invalid(what, "not an object")),
                Err(e) => Err(ModelError::invalid(what, e)),
            },
            Item::Json(Value::Object(map)) => {
                T::deserialize(Value::Object(map.clone()))
                    .map_err(|e| ModelError::invalid(what, e))?;
                Ok(map.clone())
            }
            Item::Json(other) => Err(ModelError::invalid(
                what,
                format!("expected a JSON object, got {other}"),
            )),
        }
    }
}

impl<T: Serialize + DeserializeOwned> Items<T> {
    /// Every item as JSON (see [`Item::to_json`]), named `what 0`, `what 1`, …
    ///
    /// # Errors
    /// The first item that does not fit.
    pub fn to_json(&self, what: &str) -> Result<Vec<Value>, ModelError> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, item)| item.to_json(&format!("{what} {i}")).map(Value::Object))
            .collect()
    }
}

/// A message built by a builder: the exact JSON the SDK would send, keys in its order.
///
/// Its `Debug` hides the `access_token` of a login.
#[derive(Clone, PartialEq)]
pub struct Outbound {
    value: Map<String, Value>,
}

impl Outbound {
    pub(crate) fn new(value: Map<String, Value>) -> Self {
        Self { value }
    }

    /// Reads a full message (a JSON object with a string `type`), kept as it is.
    ///
    /// # Errors
    /// [`ModelError::NotAMessage`].
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        let Value::Object(map) = value else {
            return Err(ModelError::NotAMessage("not a JSON object".into()));
        };
        if !map.get("type").is_some_and(Value::is_string) {
            return Err(ModelError::NotAMessage("no string \"type\"".into()));
        }
        Ok(Self { value: map })
    }

    /// The message as a JSON object.
    #[must_use]
    pub fn value(&self) -> &Map<String, Value> {
        &self.value
    }

    /// Takes the JSON object.
    #[must_use]
    pub fn into_value(self) -> Value {
        Value::Object(self.value)
    }

    /// The `type`.
    #[must_use]
    pub fn kind(&self) -> &str {
        self.value.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The `request_id`, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.value.get("request_id").and_then(Value::as_str)
    }

    /// The text the SDK puts on the wire: Python `json.dumps` with default arguments.
    #[must_use]
    pub fn wire_text(&self) -> String {
        pyjson::dumps(&Value::Object(self.value.clone()))
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.value.clone();
        if let Some(token) = shown.get_mut("access_token") {
            *token = Value::String("<redacted>".into());
        }
        write!(f, "Outbound({})", Value::Object(shown))
    }
}

impl From<Outbound> for Value {
    fn from(message: Outbound) -> Self {
        message.into_value()
    }
}

/// The body of a `message_up` / `message_down` (`MessageBody`). Unknown fields are kept
/// in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// `text`, `image`, `audio`, `file`, `card`, …
    pub subtype: String,
    /// The channel.
    pub channel_id: String,
    /// The content (see [`MessageContent`]).
    #[serde(default)]
    pub content: Value,
    /// The recipients' group id (or a list of ids).
    #[serde(default)]
    pub recipients: Value,
    /// When it was sent, in Unix epoch milliseconds.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Who the message shows as sent by.
    #[serde(default)]
    pub sender: Option<String>,
    /// The platform's id of the message.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub context: Option<Value>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessageBody {
    /// `content.text`, if the content has one.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        self.content.get("text").and_then(Value::as_str)
    }
}

/// The body of an `update`. For `channel_info` the subtype sits at the top level of the
/// payload, not here. Unknown fields are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateBody {
    /// `characters`, `buttons`, `canvas`, `style`, `menu`, …
    #[serde(default)]
    pub subtype: Option<String>,
    /// The channel.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The recipients' group id.
    #[serde(default)]
    pub recipients: Option<Value>,
    /// The content, per subtype.
    #[serde(default)]
    pub content: Option<Value>,
    /// Fields this model does not know (`group_id`, `context`, channel info fields…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of an `action` (joins, leaves, clicks, refreshes). Unknown fields are kept
/// in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionBody {
    /// See [`action`].
    pub subtype: String,
    /// The channel.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Who acted.
    #[serde(default)]
    pub sender: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub context: Option<Value>,
    /// Fields this model does not know (`button_id`, `arguments`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of a `copy`: the server's receipt of a request (`CopyBody`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyBody {
    /// The request it answers.
    pub request_id: String,
    /// The type of that request.
    pub origin_type: String,
    /// Whether it was accepted.
    pub status: bool,
    /// Metadata (the hub puts an `error` here when `status` is false).
    #[serde(default)]
    pub context: Option<Value>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CopyBody {
    /// `context.error`, the reason of a refusal.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.context.as_ref()?.get("error")?.as_str()
    }
}

/// A payload's body, typed by the payload's `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `message_down`.
    MessageDown(MessageBody),
    /// `message_up`.
    MessageUp(MessageBody),
    /// `update`.
    Update(UpdateBody),
    /// `action`.
    Action(ActionBody),
    /// `copy`.
    Copy(CopyBody),
    /// `refresh`.
    Refresh(Map<String, Value>),
    /// A server error: a top-level `message` such as `"Internal server error"`.
    Error(String),
    /// Another type: the body as it came.
    Other(Value),
}

/// One server→client payload: `{"type", "request_id", "user_id"?, "body"}`.
#[derive(Clone, PartialEq)]
pub struct Payload {
    /// The `type` (see [`kind`]; `error` for a server error without one).
    pub kind: String,
    /// The `request_id`.
    pub request_id: Option<String>,
    /// The `user_id`, when present.
    pub user_id: Option<String>,
    /// The typed body.
    pub body: Body,
    text: Arc<str>,
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("kind", &self.kind)
            .field("request_id", &self.request_id)
            .field("user_id", &self.user_id)
            .field("body", &self.body)
            .finish()
    }
}

impl Payload {
    /// Parses one text frame as the SDK's `handle_received_payload` reads it: a JSON
    /// object with `type` and `body`; a top-level `message` (the server's
    /// `"Internal server error"`) is a [`Body::Error`]. Unknown types keep their body.
    ///
    /// # Errors
    /// [`ModelError`] for invalid JSON, a non-object, a missing `type` or `body`, or a
    /// body that does not fit its type.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ModelError::NotAMessage(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(ModelError::NotAMessage("not a JSON object".into()));
        };
        let text: Arc<str> = Arc::from(text);
        let string = |map: &Map<String, Value>, key: &str| {
            map.get(key).and_then(Value::as_str).map(str::to_owned)
        };
        let request_id = string(&map, "request_id");
        let user_id = string(&map, "user_id");
        if !map.contains_key("body")
            && let Some(Value::String(message)) = map.get("message")
        {
            return Ok(Self {
                kind: string(&map, "type").unwrap_or_else(|| kind::ERROR.to_owned()),
                request_id,
                user_id,
                body: Body::Error(message.clone()),
                text,
            });
        }
        let kind = string(&map, "type")
            .ok_or_else(|| ModelError::NotAMessage("no string \"type\"".into()))?;
        let body = map
            .swap_remove("body")
            .ok_or_else(|| ModelError::NotAMessage("no \"body\"".into()))?;
        fn typed<T: DeserializeOwned>(kind: &str, body: Value) -> Result<T, ModelError> {
            crate::json::from_value(body)
                .map_err(|e| ModelError::invalid(format!("{kind} body"), e))
        }
        let body = match kind.as_str() {
            kind::MESSAGE_DOWN => Body::MessageDown(typed(&kind, body)?),
            kind::MESSAGE_UP => Body::MessageUp(typed(&kind, body)?),
            kind::UPDATE => Body::Update(typed(&kind, body)?),
            kind::ACTION => Body::Action(typed(&kind, body)?),
            kind::COPY => Body::Copy(typed(&kind, body)?),
            kind::REFRESH => Body::Refresh(typed(&kind, body)?),
            _ => Body::Other(body),
        };
        Ok(Self {
            kind,
            request_id,
            user_id,
            body,
            text,
        })
    }

    /// The frame's text as received (for printing it verbatim).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The message body of a `message_down` / `message_up`.
    #[must_use]
    pub fn message(&self) -> Option<&MessageBody> {
        match &self.body {
            Body::MessageDown(m) | Body::MessageUp(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn json_items_are_validated_against_the_model_and_sent_unchanged() {
        let ok: Item<Button> = json!({"button_id": "b", "button_text": "t"}).into();
        assert_eq!(
            Value::Object(ok.to_json("button").unwrap()),
            json!({"button_id": "b", "button_text": "t"})
        );
        let unknown: Item<Button> = json!({"button_id": "b", "button_text": "t", "x": 1}).into();
        let err = unknown.to_json("button 0").unwrap_err();
        assert!(err.to_string().contains("invalid button 0"), "{err}");
        assert!(err.to_string().contains("unknown field `x`"), "{err}");
        let missing: Item<Button> = json!({"button_id": "b"}).into();
        assert!(
            missing
                .to_json("button")
                .unwrap_err()
                .to_string()
                .contains("missing field `button_text`")
        );
        let not_object: Item<CanvasItem> = json!("text").into();
        assert!(not_object.to_json("canvas item").is_err());
    }

    #[test]
    fn typed_items_keep_every_field_in_the_dataclass_order() {
        let item = Item::Typed(StyleItem {
            widget: widget::CANVAS.into(),
            display: "visible".into(),
            expand: Some(true),
            button_id: None,
            text: None,
        });
        let keys: Vec<String> = item.to_json("style").unwrap().keys().cloned().collect();
        assert_eq!(keys, ["widget", "display", "expand", "button_id", "text"]);
    }

    #[test]
    fn payloads_are_typed_by_type_and_keep_unknown_fields() {
        let p = Payload::parse(
            r#"{"type":"message_down","request_id":"r","body":{"subtype":"text","channel_id":"c","content":{"text":"hi"},"recipients":"g","timestamp":1,"sender":"s","message_id":"m","context":{},"new":1}}"#,
        )
        .unwrap();
        assert_eq!(p.kind, "message_down");
        let body = p.message().unwrap();
        assert_eq!(body.text(), Some("hi"));
        assert_eq!(body.extra["new"], json!(1));
        let err = Payload::parse(r#"{"message": "Internal server error"}"#).unwrap();
        assert_eq!(err.body, Body::Error("Internal server error".into()));
        assert_eq!(err.kind, "error");
        let other = Payload::parse(r#"{"type":"roger","body":[1]}"#).unwrap();
        assert_eq!(other.body, Body::Other(json!([1])));
        for bad in [
            "nope",
            "[1]",
            r#"{"body":{}}"#,
            r#"{"type":"copy"}"#,
            r#"{"type":"copy","body":{"status":true}}"#,
        ] {
            assert!(Payload::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_access_token() {
        let mut map = Map::new();
        map.insert("type".into(), json!("user_login"));
        map.insert("access_token".into(), json!("sekrit"));
        let shown = format!("{:?}", Outbound::new(map));
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
