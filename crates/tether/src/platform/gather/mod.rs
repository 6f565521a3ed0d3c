//! The `gather` platform: protobuf over binary WebSocket frames, after the Python SDK
//! `gather-client-ws` 0.0.4 (`GatherClient`).
//!
//! - [`proto`]: the Rust types of the vendored schema `gather_events.proto`, generated at
//!   build time (prost + protox, no `protoc`);
//! - [`Action`]: one constructor per action (129, snake_case like the SDK:
//!   [`Action::set_text_status`], [`Action::shoot_confetti`], …), generated from the schema;
//!   [`available_actions`] lists them with their arguments; [`Action::from_json`] builds one
//!   from JSON arguments, validated against the action's fields ([`Action::from_scalars`]
//!   the same from scalar ones, without JSON);
//! - [`Gather`]: the sans-IO [`crate::Protocol`]: `init` → `ready{id}` on every connection,
//!   the `clientHeartbeat`, `transactionStatus` events acknowledging actions by `txnId`;
//! - [`GatherClient`]: the typed client: discovery over HTTP (`game-server-assignment`)
//!   or a direct engine URL, `run(producer)` like the SDK or a long-lived connection with
//!   reconnect, one method per action;
//! - [`discovery`]: the HTTP game-server assignment.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tether::gather::GatherClient;
//!
//! let client = GatherClient::builder("my-api-key", "AbCdEf/My Space")
//!     .api_root("http://127.0.0.1:8776/api/v2/")
//!     .callback(|_client, event| println!("{}: {event:?}", event.name()))
//!     .build();
//! client
//!     .run(|client| async move {
//!         println!("connected as {:?}", client.user_id());
//!         client.set_text_status("hello from tether", None).await?.await?;
//!         Ok(())
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod actions;
mod client;
pub mod discovery;
mod json;
mod model;
mod protocol;
mod scalars;
mod txn;

/// The types generated from `gather_events.proto` (prost). Field and type names follow
/// prost's conventions (`textStatus` → `text_status`, `DBOutfit` → `DbOutfit`); maps are
/// `BTreeMap`s so encodings are deterministic.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links
)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

pub use actions::{
    ACTION_COUNT, ActionInfo, ArgInfo, EventInfo, available_actions, find_action, server_events,
};
pub use client::{ActionReceipt, Callback, GatherClient, GatherClientBuilder, GatherError};
pub use json::{ActionError, DESCRIPTOR_SET, action_to_json, batch_to_json, event_to_json};
pub use model::{
    Action, ServerEvent, ack_key, decode_action, decode_batch, encode_action, encode_action_to,
    encode_batch, encoded_action_len, space_id,
};
pub use protocol::Gather;
pub use scalars::Scalar;
pub use txn::TxnIds;
