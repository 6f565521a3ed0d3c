//! The Hiven Swarm platform: JSON `{op, e, d}` over WebSocket, a token login, op 3
//! heartbeats the server never answers (so liveness comes from WebSocket pings), and a
//! small REST API for sending.
//!
//! - [`model`]: the envelope and typed payloads (shared with the hub), token rules;
//! - [`Swarm`]: the sans-IO [`crate::Protocol`] (hello → login → `INIT_STATE` →
//!   `HOUSE_JOIN`×N → ready);
//! - [`HivenClient`] ([`BotClient`], [`UserClient`]): the typed client after
//!   openhivenpy, with an [`EventHandler`] trait;
//! - [`HivenHttp`]: `GET /users/@me` and room messages on reqwest + rustls;
//!   [`HivenClient::queue_message`]: room messages posted in order, tried again while the
//!   API's failure may pass ([`PostRetry`]).

mod client;
mod handler;
mod http;
pub mod model;
mod poster;
mod protocol;

pub use client::{
    BotClient, ConnectionStatus, HivenClient, HivenClientBuilder, HivenError, UserClient,
};
pub use handler::{EventHandler, HandlerResult};
pub use http::{HivenHttp, HttpError, HttpRequest, MAX_CONTENT_CHARS, Method as HttpMethod};
pub use model::{
    API_URL, BOT_PREFIX, ClientType, DEFAULT_HEARTBEAT_MS, Envelope, House, InitState,
    InvalidToken, Member, Message, OP_AUTH, OP_EVENT, OP_HEARTBEAT, OP_HELLO, ParseError,
    ReadyInfo, Reference, Relationship, Room, SWARM_URL, SwarmEvent, SwarmMessage, User,
    validate_token,
};
pub use poster::{PostReceipt, PostRetry};
pub use protocol::Swarm;
