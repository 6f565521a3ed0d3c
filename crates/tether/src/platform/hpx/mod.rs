//! The `hpx` platform: HappyPanda X, request/reply over TCP (optionally TLS), each
//! message gzip-compressed JSON followed by `<EOF>`.
//!
//! - [`HpxCodec`]: the tokio-util codec (split markers, coalesced messages, bounded
//!   compressed and decompressed sizes);
//! - [`Message`], [`finalize`], [`to_python_json`]: the envelope and the SDK's exact text;
//! - [`Hpx`]: the sans-IO [`crate::Protocol`] (greeting, re-login, one reply per request);
//! - [`HpxClient`] (async) and [`blocking::HpxClient`]: the SDK's `Client` surface;
//! - [`HpxError`], [`ServerCode`]: the SDK's exceptions and the server's codes;
//! - [`server`]: the server's behaviour (greeting, handshake, sessions, a few API
//!   functions), for the hub.

mod client;
mod codec;
mod error;
mod json;
mod model;
mod protocol;
pub mod server;

pub use client::{DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TIMEOUT, HpxClient, blocking};
pub use codec::{EOF_MARKER, HpxCodec, LEVEL, Limits, gunzip, gzip};
pub use error::{HpxError, ServerCode};
pub use json::{PARSER as JSON_PARSER, parse_json};
pub use model::{
    AUTHENTICATED, Message, ParseError, REQUEST_AUTH, ServerError, finalize, to_python_json,
    write_python_json,
};
pub use protocol::{Credentials, Hpx, HpxStatus, Reply, request, request_key, session_request};
