//! permessage-deflate (RFC 7692) for tether's WebSocket client and the hub, on top of
//! tokio-websockets (which has no extensions and rejects RSV1 frames):
//!
//! - [`negotiate`](self#functions): the client's offer ([`CLIENT_OFFER`]), the check of
//!   the server's answer ([`parse_response`]), a server's choice ([`accept_offer`]);
//! - [`InboundFrames`]: a sans-IO layer under tokio-websockets that inflates the peer's
//!   compressed messages into plain frames (size limit on the *inflated* size, 1009;
//!   invalid data 1002; RSV1 on control and continuation frames left for
//!   tokio-websockets to fail with 1002);
//! - [`OutboundFrames`]: a server's compression of what tokio-websockets writes (the
//!   client compresses in its direct frame encoder instead);
//! - [`WireStream`]: the byte stream that runs those layers and counts wire bytes.
//!
//! Contexts are created on the first compressed message of their direction: an idle
//! connection holds none.

mod context;
mod frames;
mod negotiate;
mod stream;

pub use context::DeflateError;
pub(crate) use context::Deflater;
pub use frames::{InboundFrames, OutboundFrames};
pub use negotiate::{
    CLIENT_OFFER, DeflateParams, MAX_WINDOW_BITS, NegotiationError, accept_offer, extension_values,
    parse_response,
};
pub use stream::{WireCounters, WireStream};

/// Whether and when tether compresses ([`ClientConfig::compression`](crate::ClientConfig)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Offer permessage-deflate on WebSocket upgrades.
    pub enabled: bool,
    /// Messages shorter than this many bytes are sent uncompressed (compressing them
    /// costs more CPU than it saves bytes).
    pub threshold: usize,
}

/// The default threshold: 1 KiB, as Node's `ws`.
pub const DEFAULT_THRESHOLD: usize = 1024;

impl Default for Compression {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

impl Compression {
    /// No compression: permessage-deflate is not offered.
    #[must_use]
    pub const fn off() -> Self {
        Self {
            enabled: false,
            threshold: DEFAULT_THRESHOLD,
        }
    }

    /// permessage-deflate offered, messages of at least `threshold` bytes compressed.
    #[must_use]
    pub const fn on(threshold: usize) -> Self {
        Self {
            enabled: true,
            threshold,
        }
    }
}
