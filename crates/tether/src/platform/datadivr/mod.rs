//! The `datadivr` platform: JSON `WebSocketMessage`s over WebSocket, no login, no
//! application heartbeat (the engine's WebSocket pings notice a dead peer).
//!
//! - [`Message`]: the message model, shared with the hub, with the client's and the
//!   server's exact wire encodings;
//! - [`Datadivr`]: the sans-IO [`crate::Protocol`];
//! - [`DatadivrClient`]: the typed client after the Python SDK's `WebSocketClient`;
//! - [`server`]: routing and the real server's built-in handlers, for the hub.

mod client;
mod model;
mod protocol;
pub mod server;

pub use client::{DatadivrClient, DatadivrError, Handler};
pub use model::{FROM_SERVER, Message, ParseError, TO_ALL, TO_OTHERS};
pub use protocol::Datadivr;
