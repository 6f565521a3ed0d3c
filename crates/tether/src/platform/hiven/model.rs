//! The Hiven Swarm's messages: the `{op, e, d}` envelope, the typed payloads (shared
//! with the hub), token rules and the Python clients' exact client frames.
//!
//! Every payload type keeps the fields it does not name in `extra`, so nothing the
//! server sends is lost when a model is read and written back.

use std::{collections::BTreeMap, fmt, sync::Arc};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// op 0: an event from the server (`e` names it, `d` carries it).
pub const OP_EVENT: i64 = 0;
/// op 1: the server's hello (`d: {"hbt_int": ms}`), sent as soon as the socket opens.
pub const OP_HELLO: i64 = 1;
/// op 2: the client's login (`d: {"token": T}`).
pub const OP_AUTH: i64 = 2;
/// op 3: the client's heartbeat; the server never answers it.
pub const OP_HEARTBEAT: i64 = 3;

/// Length of a user token (openhivenpy's `USER_TOKEN_LEN`).
pub const USER_TOKEN_LEN: usize = 128;
/// Length of a bot token (openhivenpy's `BOT_TOKEN_LEN`).
pub const BOT_TOKEN_LEN: usize = 132;
/// The heartbeat interval used until the server's hello says otherwise (ms).
pub const DEFAULT_HEARTBEAT_MS: u64 = 30_000;
/// The real Swarm.
pub const SWARM_URL: &str = "wss://swarm.hiven.io/socket?encoding=json&compression=text_json";
/// The real REST API base.
pub const API_URL: &str = "https://api.hiven.io/v1";
/// The prefix hiven.py puts before a bot token in its login (`"Bot " + token`).
pub const BOT_PREFIX: &str = "Bot ";

/// The event names the Swarm sends after login (openhivenpy's handlers), besides
/// `INIT_STATE`.
pub const EVENT_NAMES: [&str; 22] = [
    "USER_UPDATE",
    "HOUSE_JOIN",
    "HOUSE_UPDATE",
    "HOUSE_DOWN",
    "HOUSE_LEAVE",
    "ROOM_CREATE",
    "ROOM_UPDATE",
    "ROOM_DELETE",
    "HOUSE_MEMBER_JOIN",
    "HOUSE_MEMBER_LEAVE",
    "HOUSE_MEMBER_ENTER",
    "HOUSE_MEMBER_EXIT",
    "HOUSE_MEMBER_UPDATE",
    "HOUSE_MEMBERS_CHUNK",
    "BATCH_HOUSE_MEMBER_UPDATE",
    "HOUSE_ENTITIES_UPDATE",
    "RELATIONSHIP_UPDATE",
    "PRESENCE_UPDATE",
    "MESSAGE_CREATE",
    "MESSAGE_UPDATE",
    "MESSAGE_DELETE",
    "TYPING_START",
];

/// Whether a client logs in as a bot or as a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// A bot account (132-character token).
    Bot,
    /// A user account (128-character token).
    User,
}

impl ClientType {
    /// The token length this kind of account has.
    #[must_use]
    pub const fn token_len(self) -> usize {
        match self {
            ClientType::Bot => BOT_TOKEN_LEN,
            ClientType::User => USER_TOKEN_LEN,
        }
    }
}

impl fmt::Display for ClientType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientType::Bot => "bot",
            ClientType::User => "user",
        })
    }
}

/// Why a token cannot be used. Never shows the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// The token is empty.
    #[error("the token is empty")]
    Empty,
    /// The token has whitespace in it (a stray newline from a file, say).
    #[error("the token contains whitespace at position {0}")]
    Whitespace(usize),
    /// The token is not 128 (user) or 132 (bot) characters long.
    #[error(
        "the token has {0} characters; Hiven tokens have {USER_TOKEN_LEN} (user) or {BOT_TOKEN_LEN} (bot)"
    )]
    Length(usize),
    /// The token has a character other than ASCII letters and digits.
    #[error("the token has a character other than ASCII letters and digits at position {0}")]
    Characters(usize),
}

/// Checks a token before any I/O, as openhivenpy does: 128 (user) or 132 (bot) ASCII
/// letters and digits. Returns the account kind its length implies.
///
/// ```
/// use tether::hiven::{ClientType, InvalidToken, validate_token};
/// assert_eq!(validate_token(&"a".repeat(132)), Ok(ClientType::Bot));
/// assert_eq!(validate_token(&"a".repeat(128)), Ok(ClientType::User));
/// assert_eq!(validate_token(""), Err(InvalidToken::Empty));
/// assert_eq!(validate_token("abc"), Err(InvalidToken::Length(3)));
/// ```
///
/// # Errors
/// [`InvalidToken`] saying what is wrong (never the token itself).
pub fn validate_token(token: &str) -> Result<ClientType, InvalidToken> {
    if token.is_empty() {
        return Err(InvalidToken::Empty);
    }
    if let Some(at) = token.chars().position(char::is_whitespace) {
        return Err(InvalidToken::Whitespace(at));
    }
    if let Some(at) = token.chars().position(|c| !c.is_ascii_alphanumeric()) {
        return Err(InvalidToken::Characters(at));
    }
    match token.len() {
        USER_TOKEN_LEN => Ok(ClientType::User),
        BOT_TOKEN_LEN => Ok(ClientType::Bot),
        n => Err(InvalidToken::Length(n)),
    }
}

/// The login frame's text, `{"op": 2, "d": {"token": T}}` (Python JSON, as both
/// Python clients send it). It holds the token: never log it.
#[must_use]
pub fn auth_text(token: &str) -> String {
    format!(
        r#"{{"op": {OP_AUTH}, "d": {{"token": {}}}}}"#,
        python_string(token)
    )
}

/// The heartbeat frame's text, `{"op": 3}`.
pub const HEARTBEAT_TEXT: &str = r#"{"op": 3}"#;

/// A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii`).
fn python_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::platform::pyjson::write_str(&mut out, s, true);
    out
}

/// The Swarm envelope: `{"op": int, "e": name (op 0 only), "d": payload}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The op-code.
    pub op: i64,
    /// The event name (op 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// The payload.
    #[serde(default)]
    pub d: Value,
}

impl Envelope {
    /// An op 0 event.
    pub fn event(name: impl Into<String>, d: impl Serialize) -> Self {
        Self {
            op: OP_EVENT,
            e: Some(name.into()),
            d: serde_json::to_value(d).unwrap_or(Value::Null),
        }
    }

    /// The server's hello with its heartbeat interval in ms.
    #[must_use]
    pub fn hello(hbt_int: u64) -> Self {
        Self {
            op: OP_HELLO,
            e: None,
            d: serde_json::json!({ "hbt_int": hbt_int }),
        }
    }

    /// Compact JSON text (what the hub sends).
    #[must_use]
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

macro_rules! model {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Fields this model does not name, kept as they came.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

model! {
    /// A Hiven user.
    User {
        /// Its id (a snowflake as a string).
        id: String,
        /// The unique handle.
        #[serde(default)]
        username: String,
        /// The display name.
        #[serde(default)]
        name: String,
        /// Whether this is a bot account.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot: Option<bool>,
        /// Icon resource.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
        /// Header resource.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// Bio text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bio: Option<String>,
        /// Presence (`online`, …), in presence updates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        presence: Option<String>,
    }
}

model! {
    /// A user's membership of a house.
    Member {
        /// The member's user id.
        #[serde(default)]
        user_id: String,
        /// The house.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        house_id: Option<String>,
        /// The user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<User>,
        /// Role ids.
        #[serde(default)]
        roles: Vec<Value>,
        /// When the user joined (ISO 8601).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        joined_at: Option<String>,
    }
}

model! {
    /// A room (channel) of a house, or a private room.
    Room {
        /// Its id.
        id: String,
        /// The house it belongs to (none for private rooms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        house_id: Option<String>,
        /// Its name.
        #[serde(default)]
        name: String,
        /// Room type (0: text).
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        room_type: Option<i64>,
        /// Position in the house's list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<i64>,
        /// Description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// The latest message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_message_id: Option<String>,
    }
}

model! {
    /// A house (server) with its rooms and members.
    House {
        /// Its id.
        id: String,
        /// Its name.
        #[serde(default)]
        name: String,
        /// The owner's user id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner_id: Option<String>,
        /// Icon resource.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
        /// Banner resource.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        banner: Option<String>,
        /// Default permission bits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default_permissions: Option<i64>,
        /// Rooms.
        #[serde(default)]
        rooms: Vec<Room>,
        /// Members.
        #[serde(default)]
        members: Vec<Member>,
        /// Roles.
        #[serde(default)]
        roles: Vec<Value>,
        /// Entities (room groups).
        #[serde(default)]
        entities: Vec<Value>,
    }
}

impl House {
    /// A room of this house by id.
    #[must_use]
    pub fn room(&self, id: &str) -> Option<&Room> {
        self.rooms.iter().find(|r| r.id == id)
    }
}

model! {
    /// A message in a room.
    Message {
        /// Its id.
        id: String,
        /// The room.
        #[serde(default)]
        room_id: String,
        /// The house (none in private rooms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        house_id: Option<String>,
        /// The author's user id.
        #[serde(default)]
        author_id: String,
        /// The author.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<User>,
        /// The author's membership of the house.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member: Option<Member>,
        /// The text.
        #[serde(default)]
        content: String,
        /// Unix epoch milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<i64>,
        /// Mentioned users.
        #[serde(default)]
        mentions: Vec<Value>,
    }
}

model! {
    /// A relationship with another user (friend, request, block).
    Relationship {
        /// The other user's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// The other user's id, as some events name it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient_id: Option<String>,
        /// Relationship type (0 none, 1 outgoing request, 2 incoming, 3 friends, 4 blocked).
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        kind: Option<i64>,
        /// The other user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<User>,
    }
}

model! {
    /// The small payloads that point at things rather than carry them (`HOUSE_DOWN`,
    /// `HOUSE_LEAVE`, `HOUSE_MEMBER_ENTER`/`EXIT`, `HOUSE_MEMBERS_CHUNK`,
    /// `BATCH_HOUSE_MEMBER_UPDATE`, `HOUSE_ENTITIES_UPDATE`, `MESSAGE_DELETE`,
    /// `TYPING_START`): the ids they name, everything else in `extra`.
    Reference {
        /// The house concerned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        house_id: Option<String>,
        /// The room concerned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_id: Option<String>,
        /// The user concerned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// The author (`TYPING_START`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author_id: Option<String>,
        /// The message (`MESSAGE_DELETE`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    }
}

model! {
    /// The state the Swarm sends once a login is accepted.
    InitState {
        /// The logged-in user.
        user: User,
        /// The houses the user is a member of, keyed by house id: one `HOUSE_JOIN`
        /// follows for each.
        #[serde(default)]
        house_memberships: BTreeMap<String, Value>,
        /// House ids.
        #[serde(default)]
        house_ids: Vec<String>,
        /// Private rooms.
        #[serde(default)]
        private_rooms: Vec<Room>,
        /// Relationships keyed by user id.
        #[serde(default)]
        relationships: BTreeMap<String, Relationship>,
        /// User settings.
        #[serde(default)]
        settings: Value,
        /// Read state.
        #[serde(default)]
        read_state: Value,
    }
}

/// Every house of the account joined: the moment [`crate::State::Ready`] is reached.
/// Synthetic (the Swarm sends no such frame); delivered right after the frame that
/// completed it, so handlers see `on_init` and every `on_house_join` first.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyInfo {
    /// The logged-in user (from `INIT_STATE`).
    pub user: User,
    /// The ids of the houses joined, in the order they came.
    pub house_ids: Vec<String>,
}

/// One thing the Swarm said, decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SwarmEvent {
    /// op 1: the hello, with the heartbeat interval in ms.
    Hello {
        /// `hbt_int`.
        hbt_int: u64,
    },
    /// `INIT_STATE`.
    InitState(Box<InitState>),
    /// Synthetic: every announced house joined (see [`ReadyInfo`]).
    Ready(ReadyInfo),
    /// `USER_UPDATE`.
    UserUpdate(User),
    /// `HOUSE_JOIN`.
    HouseJoin(Box<House>),
    /// `HOUSE_UPDATE`.
    HouseUpdate(Box<House>),
    /// `HOUSE_DOWN`.
    HouseDown(Reference),
    /// `HOUSE_LEAVE`.
    HouseLeave(Reference),
    /// `ROOM_CREATE`.
    RoomCreate(Room),
    /// `ROOM_UPDATE`.
    RoomUpdate(Room),
    /// `ROOM_DELETE`.
    RoomDelete(Room),
    /// `HOUSE_MEMBER_JOIN`.
    HouseMemberJoin(Member),
    /// `HOUSE_MEMBER_LEAVE`.
    HouseMemberLeave(Member),
    /// `HOUSE_MEMBER_ENTER` (came online in the house).
    HouseMemberEnter(Reference),
    /// `HOUSE_MEMBER_EXIT` (went offline in the house).
    HouseMemberExit(Reference),
    /// `HOUSE_MEMBER_UPDATE`.
    HouseMemberUpdate(Member),
    /// `HOUSE_MEMBERS_CHUNK`.
    HouseMembersChunk(Reference),
    /// `BATCH_HOUSE_MEMBER_UPDATE`.
    BatchHouseMemberUpdate(Reference),
    /// `HOUSE_ENTITIES_UPDATE`.
    HouseEntitiesUpdate(Reference),
    /// `RELATIONSHIP_UPDATE`.
    RelationshipUpdate(Relationship),
    /// `PRESENCE_UPDATE`.
    PresenceUpdate(User),
    /// `MESSAGE_CREATE`.
    MessageCreate(Box<Message>),
    /// `MESSAGE_UPDATE`.
    MessageUpdate(Box<Message>),
    /// `MESSAGE_DELETE`.
    MessageDelete(Reference),
    /// `TYPING_START`.
    TypingStart(Reference),
    /// An event name or op-code this model does not know; kept whole.
    Unknown {
        /// The op-code.
        op: i64,
        /// The event name, for op 0.
        name: Option<String>,
        /// The payload.
        data: Value,
    },
}

/// Why a Swarm frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not a JSON envelope with an integer `op`.
    #[error("not a Swarm envelope: {0}")]
    Envelope(String),
    /// op 0 without an event name.
    #[error("op 0 without an event name `e`")]
    NoName,
    /// A hello without a usable `hbt_int`.
    #[error("hello without a positive integer hbt_int: {0}")]
    Hello(String),
    /// A known event whose payload does not fit its model.
    #[error("{name} payload does not fit: {reason}")]
    Payload {
        /// The event name.
        name: String,
        /// What did not fit.
        reason: String,
    },
}

impl SwarmEvent {
    /// Decodes one Swarm frame.
    ///
    /// # Errors
    /// [`ParseError`] for text that is not an envelope, or a known event whose payload
    /// does not fit its model. Unknown names and op-codes decode to
    /// [`SwarmEvent::Unknown`].
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|e| ParseError::Envelope(e.to_string()))?;
        Self::from_envelope(envelope)
    }

    /// Decodes an envelope.
    ///
    /// # Errors
    /// As [`SwarmEvent::parse`].
    pub fn from_envelope(envelope: Envelope) -> Result<Self, ParseError> {
        match envelope.op {
            OP_HELLO => {
                let hbt = envelope
                    .d
                    .get("hbt_int")
                    .and_then(Value::as_u64)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| ParseError::Hello(envelope.d.to_string()))?;
                Ok(SwarmEvent::Hello { hbt_int: hbt })
            }
            OP_EVENT => {
                let name = envelope.e.ok_or(ParseError::NoName)?;
                Self::event(name, envelope.d)
            }
            op => Ok(SwarmEvent::Unknown {
                op,
                name: envelope.e,
                data: envelope.d,
            }),
        }
    }

    fn event(name: String, d: Value) -> Result<Self, ParseError> {
        fn typed<T: serde::de::DeserializeOwned>(name: &str, d: Value) -> Result<T, ParseError> {
            serde_json::from_value(d).map_err(|e| ParseError::Payload {
                name: name.to_owned(),
                reason: e.to_string(),
            })
        }
        let n = name.as_str();
        Ok(match n {
            "INIT_STATE" => SwarmEvent::InitState(Box::new(typed(n, d)?)),
            "USER_UPDATE" => SwarmEvent::UserUpdate(typed(n, d)?),
            "HOUSE_JOIN" => SwarmEvent::HouseJoin(Box::new(typed(n, d)?)),
            "HOUSE_UPDATE" => SwarmEvent::HouseUpdate(Box::new(typed(n, d)?)),
            "HOUSE_DOWN" => SwarmEvent::HouseDown(typed(n, d)?),
            "HOUSE_LEAVE" => SwarmEvent::HouseLeave(typed(n, d)?),
            "ROOM_CREATE" => SwarmEvent::RoomCreate(typed(n, d)?),
            "ROOM_UPDATE" => SwarmEvent::RoomUpdate(typed(n, d)?),
            "ROOM_DELETE" => SwarmEvent::RoomDelete(typed(n, d)?),
            "HOUSE_MEMBER_JOIN" => SwarmEvent::HouseMemberJoin(typed(n, d)?),
            "HOUSE_MEMBER_LEAVE" => SwarmEvent::HouseMemberLeave(typed(n, d)?),
            "HOUSE_MEMBER_ENTER" => SwarmEvent::HouseMemberEnter(typed(n, d)?),
            "HOUSE_MEMBER_EXIT" => SwarmEvent::HouseMemberExit(typed(n, d)?),
            "HOUSE_MEMBER_UPDATE" => SwarmEvent::HouseMemberUpdate(typed(n, d)?),
            "HOUSE_MEMBERS_CHUNK" => SwarmEvent::HouseMembersChunk(typed(n, d)?),
            "BATCH_HOUSE_MEMBER_UPDATE" => SwarmEvent::BatchHouseMemberUpdate(typed(n, d)?),
            "HOUSE_ENTITIES_UPDATE" => SwarmEvent::HouseEntitiesUpdate(typed(n, d)?),
            "RELATIONSHIP_UPDATE" => SwarmEvent::RelationshipUpdate(typed(n, d)?),
            "PRESENCE_UPDATE" => SwarmEvent::PresenceUpdate(typed(n, d)?),
            "MESSAGE_CREATE" => SwarmEvent::MessageCreate(Box::new(typed(n, d)?)),
            "MESSAGE_UPDATE" => SwarmEvent::MessageUpdate(Box::new(typed(n, d)?)),
            "MESSAGE_DELETE" => SwarmEvent::MessageDelete(typed(n, d)?),
            "TYPING_START" => SwarmEvent::TypingStart(typed(n, d)?),
            _ => SwarmEvent::Unknown {
                op: OP_EVENT,
                name: Some(name),
                data: d,
            },
        })
    }

    /// The event name (`MESSAGE_CREATE`, …; `HELLO` for op 1, `READY` for the synthetic
    /// ready), used to route to handlers registered by name.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        Some(match self {
            SwarmEvent::Hello { .. } => "HELLO",
            SwarmEvent::InitState(_) => "INIT_STATE",
            SwarmEvent::Ready(_) => "READY",
            SwarmEvent::UserUpdate(_) => "USER_UPDATE",
            SwarmEvent::HouseJoin(_) => "HOUSE_JOIN",
            SwarmEvent::HouseUpdate(_) => "HOUSE_UPDATE",
            SwarmEvent::HouseDown(_) => "HOUSE_DOWN",
            SwarmEvent::HouseLeave(_) => "HOUSE_LEAVE",
            SwarmEvent::RoomCreate(_) => "ROOM_CREATE",
            SwarmEvent::RoomUpdate(_) => "ROOM_UPDATE",
            SwarmEvent::RoomDelete(_) => "ROOM_DELETE",
            SwarmEvent::HouseMemberJoin(_) => "HOUSE_MEMBER_JOIN",
            SwarmEvent::HouseMemberLeave(_) => "HOUSE_MEMBER_LEAVE",
            SwarmEvent::HouseMemberEnter(_) => "HOUSE_MEMBER_ENTER",
            SwarmEvent::HouseMemberExit(_) => "HOUSE_MEMBER_EXIT",
            SwarmEvent::HouseMemberUpdate(_) => "HOUSE_MEMBER_UPDATE",
            SwarmEvent::HouseMembersChunk(_) => "HOUSE_MEMBERS_CHUNK",
            SwarmEvent::BatchHouseMemberUpdate(_) => "BATCH_HOUSE_MEMBER_UPDATE",
            SwarmEvent::HouseEntitiesUpdate(_) => "HOUSE_ENTITIES_UPDATE",
            SwarmEvent::RelationshipUpdate(_) => "RELATIONSHIP_UPDATE",
            SwarmEvent::PresenceUpdate(_) => "PRESENCE_UPDATE",
            SwarmEvent::MessageCreate(_) => "MESSAGE_CREATE",
            SwarmEvent::MessageUpdate(_) => "MESSAGE_UPDATE",
            SwarmEvent::MessageDelete(_) => "MESSAGE_DELETE",
            SwarmEvent::TypingStart(_) => "TYPING_START",
            SwarmEvent::Unknown { name, .. } => return name.as_deref(),
        })
    }
}

/// What the engine delivers for Hiven: the decoded event and the frame's text as it came
/// (none for the synthetic ready).
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmMessage {
    /// The decoded event.
    pub event: SwarmEvent,
    /// The frame's text, verbatim.
    pub raw: Option<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_for_emptiness_whitespace_characters_and_length() {
        assert_eq!(validate_token(&"A1".repeat(66)), Ok(ClientType::Bot));
        assert_eq!(validate_token(&"z9".repeat(64)), Ok(ClientType::User));
        assert_eq!(validate_token(""), Err(InvalidToken::Empty));
        let mut spaced = "a".repeat(132);
        spaced.replace_range(5..6, " ");
        assert_eq!(validate_token(&spaced), Err(InvalidToken::Whitespace(5)));
        assert_eq!(
            validate_token(&format!("{}\n", "a".repeat(128))),
            Err(InvalidToken::Whitespace(128))
        );
        let mut odd = "a".repeat(128);
        odd.replace_range(3..4, "-");
        assert_eq!(validate_token(&odd), Err(InvalidToken::Characters(3)));
        assert_eq!(
            validate_token(&"a".repeat(130)),
            Err(InvalidToken::Length(130))
        );
        assert_eq!(
            validate_token(&"é".repeat(64)),
            Err(InvalidToken::Characters(0))
        );
        // The error text never carries the token.
        let secret = "s".repeat(131);
        let err = validate_token(&secret).unwrap_err();
        assert!(!err.to_string().contains(&secret));
    }

    #[test]
    fn client_frames_are_the_python_clients_text() {
        assert_eq!(auth_text("abc"), r#"{"op": 2, "d": {"token": "abc"}}"#);
        assert_eq!(
            auth_text("Bot x\"y"),
            r#"{"op": 2, "d": {"token": "Bot x\"y"}}"#
        );
        assert_eq!(HEARTBEAT_TEXT, r#"{"op": 3}"#);
        assert_eq!(python_string("é😀"), r#""\u00e9\ud83d\ude00""#);
    }

    #[test]
    fn events_decode_to_their_models_and_keep_unknown_fields() {
        let text = r#"{"op":0,"e":"MESSAGE_CREATE","d":{"id":"1","room_id":"2","author_id":"3","content":"hi","exploding":false,"device_id":"d"}}"#;
        let SwarmEvent::MessageCreate(m) = SwarmEvent::parse(text).unwrap() else {
            panic!()
        };
        assert_eq!((m.id.as_str(), m.content.as_str()), ("1", "hi"));
        assert_eq!(m.extra["device_id"], "d");
        let back = serde_json::to_value(&*m).unwrap();
        assert_eq!(
            back["exploding"], false,
            "unknown fields survive a round trip"
        );

        assert_eq!(
            SwarmEvent::parse(r#"{"op":1,"d":{"hbt_int":30000}}"#).unwrap(),
            SwarmEvent::Hello { hbt_int: 30000 }
        );
        let unknown = SwarmEvent::parse(r#"{"op":0,"e":"CALL_START","d":{"x":1}}"#).unwrap();
        assert_eq!(unknown.name(), Some("CALL_START"));
        assert!(matches!(unknown, SwarmEvent::Unknown { op: 0, .. }));
        assert!(matches!(
            SwarmEvent::parse(r#"{"op":9,"d":null}"#).unwrap(),
            SwarmEvent::Unknown { op: 9, .. }
        ));
    }

    #[test]
    fn every_event_name_decodes_to_its_own_variant() {
        for name in EVENT_NAMES {
            let text = format!(r#"{{"op":0,"e":"{name}","d":{{"id":"1","user":{{"id":"2"}}}}}}"#);
            let event = SwarmEvent::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(event.name(), Some(name));
            assert!(!matches!(event, SwarmEvent::Unknown { .. }), "{name}");
        }
    }

    #[test]
    fn malformed_frames_are_parse_errors() {
        for bad in [
            "not json",
            "[1]",
            r#"{"d":{}}"#,
            r#"{"op":"0"}"#,
            r#"{"op":0,"d":{}}"#,
            r#"{"op":1,"d":{}}"#,
            r#"{"op":1,"d":{"hbt_int":0}}"#,
            r#"{"op":0,"e":"MESSAGE_CREATE","d":{"content":"no id"}}"#,
            r#"{"op":0,"e":"INIT_STATE","d":{"house_memberships":{}}}"#,
        ] {
            assert!(SwarmEvent::parse(bad).is_err(), "{bad} should not decode");
        }
    }
}
