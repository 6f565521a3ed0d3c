//! The `moobius` platform: JSON `{type, request_id, ...}` over WebSocket, after the
//! SDK's `moobius.network.ws_client.WSClient` (moobius 1.8.0).
//!
//! - the models: the content dataclasses ([`Button`], [`Dialog`],
//!   [`MenuItem`], [`StyleItem`], [`CanvasItem`], [`MessageContent`], [`ChannelInfo`], …),
//!   the constants ([`widget`], [`message_subtype`], [`update_subtype`], [`component`],
//!   [`kind`], [`action`]), inbound [`Payload`]s;
//! - [`Builders`]: every `WSClient` builder as a dry run returning the exact message
//!   ([`Outbound`], whose [`Outbound::wire_text`] is the SDK's Python JSON);
//! - [`Moobius`]: the sans-IO [`crate::Protocol`] (login on every connect, 30 s heartbeat);
//! - [`MoobiusClient`]: the typed client, service or user mode.
//!
//! Moobius has no acknowledgements: a message is delivered once written and flushed.

mod builder;
mod client;
mod model;
mod protocol;

pub use builder::{Builders, ClickedMessage, uuid4};
pub use client::{Handler, MoobiusClient, MoobiusError, SEND_TIMEOUT};
pub use model::{
    ActionBody, Body, BottomButton, Button, CanvasItem, ChannelInfo, CopyBody, Dialog,
    InputComponent, Item, Items, MenuItem, MessageBody, MessageContent, MessageSubtypes,
    ModelError, Outbound, Payload, StyleItem, UpdateBody, action, component, kind, message_subtype,
    update_subtype, widget,
};
pub use protocol::{HEARTBEAT, Mode, Moobius};
