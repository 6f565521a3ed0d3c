//! # tether
//!
//! Keeps a client attached to a realtime server: connect, log in, heartbeat, notice a
//! dead peer, reconnect politely, never lose or reorder an outbound message, route
//! inbound events to handlers, pair requests with replies, dry-run any message.
//!
//! One engine (a connection actor behind a cloneable [`Client`] handle) drives any
//! platform that implements the sans-IO [`Protocol`] trait, over WebSocket or a framed
//! TCP stream (see [`transport`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tether::{Client, ClientConfig, raw::Raw};
//! use serde_json::json;
//!
//! let raw = Raw::json().ack_field("id");
//! let (client, mut events) = Client::builder(raw.clone())
//!     .url("ws://127.0.0.1:8700/")
//!     .config(ClientConfig::default())
//!     .start()?;
//! let receipt = client.send(raw.encode(&json!({"id": 1, "text": "hello"}))).await?;
//! receipt.await?; // delivered: the server acknowledged id 1
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! ## Promises
//! - **Nothing lost silently.** Every message handed to [`Client::send`] is delivered or
//!   handed back with its [`SendError`] (or, under `DropOldest`, in the
//!   [`Event::Dropped`] event). *Delivered* means acknowledged when the message has an
//!   [`AckKey`]; otherwise written and flushed. Without acknowledgements, bytes already in
//!   a socket that then dies cannot be recovered by anyone: declare acks wherever the
//!   protocol allows them. Unacknowledged messages are replayed after a reconnect, in
//!   their original order, before anything newer, after the platform's login.
//! - **Bounded memory.** The outbox has a capacity and a [`Policy`]; the event stream is
//!   bounded too (reading pauses while its consumer lags).
//! - **Dead peers are noticed** within `heartbeat + dead_after` on WebSocket, even while
//!   the writer is blocked on a full socket.
//! - **Reconnect politely**: exponential backoff with full jitter and a cap; fatal errors
//!   (refused token) stop the client instead.
//! - **One bad message never stops the client**; handler errors and panics are isolated.
//! - **Observable**: [`State`] watch, [`Event`] stream, [`StatsSnapshot`], `tracing` spans;
//!   secrets ([`Secret`]) never appear in logs, errors, events or `Debug`.
//!
//! ## Cargo features
//!
//! All are on by default; `default-features = false` plus the ones you use builds only
//! those (the engine and transports are always there).
//!
//! | feature | platform | extra dependencies |
//! |---|---|---|
//! | `raw` | JSON or text over WebSocket, JSON lines over TCP, no login | none |
//! | `datadivr` | datadivr `WebSocketMessage`s over WebSocket | none |
//! | `hiven` | the Hiven Swarm and its REST API | `reqwest` (rustls) |
//! | `moobius` | the Moobius SDK's `WSClient` messages | none |
//! | `gather` | Gather protobuf actions and batches, game-server discovery | `prost`, `prost-reflect`, `reqwest`; build: `prost-build`, `protox` |
//! | `hpx` | HappyPanda X: gzip(JSON) + `<EOF>` over TCP or TLS | `flate2` |
//! | `hpx-simd-json` | `hpx`, replies parsed with simd-json | `simd-json` |
//!
//! No feature changes how a dependency behaves for the rest of your program: the
//! platforms whose wire format keeps Python's dict key order (`datadivr`, `moobius`,
//! `hpx`) keep it in tether's own ordered [`json::Value`] (build one with [`json!`],
//! convert from and to `serde_json::Value` with `From`), not through serde_json's
//! `preserve_order`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backoff;
mod client;
mod config;
mod engine;
mod error;
mod event;
mod event_queue;
mod frame;
pub mod json;
mod outbox;
mod outgoing;
mod platform;
mod protocol;
mod receipt;
mod router;
mod secret;
mod shared;
mod state;
pub mod transport;

pub use client::{BuildError, Client, ClientBuilder, Started};
pub use config::{BackoffConfig, ClientConfig, Policy};
pub use error::{
    CloseReason, ConfigError, ConnectionError, Disposition, ErrorSource, RequestError,
    SendAllError, SendError, Transmission, default_close_disposition,
};
pub use event::{Event, Events};
pub use frame::Frame;
pub use outbox::Delivered;
pub use outgoing::{AckKey, Outgoing};
#[cfg(feature = "datadivr")]
pub use platform::datadivr;
#[cfg(feature = "gather")]
pub use platform::gather;
#[cfg(feature = "hiven")]
pub use platform::hiven;
#[cfg(feature = "hpx")]
pub use platform::hpx;
#[cfg(feature = "moobius")]
pub use platform::moobius;
#[cfg(feature = "raw")]
pub use platform::raw;
pub use protocol::{
    Ack, AckOutcome, CodecError, CodecFactory, DecodeError, FrameCodec, Inbound, Outbound, Output,
    Protocol,
};
pub use receipt::{BatchReceipt, Receipt};
pub use router::{BoxError, HandlerResult};
pub use secret::Secret;
pub use state::{State, Statistics, StatsSnapshot};
pub use transport::deflate::Compression;

/// The `tracing` target of the span each client's engine runs in (`tether`, with the
/// platform's name as a field). Logs inside it keep their own module targets
/// (`tether::engine`, …); filter this target to leave out the span itself, e.g. in a
/// `log` bridge, which records the span's creation as an INFO line.
pub const SPAN_TARGET: &str = "tether::span";
