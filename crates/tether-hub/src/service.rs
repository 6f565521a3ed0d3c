//! What an endpoint does with a connection: the seam platforms plug into.

use std::{net::SocketAddr, sync::Arc};

use tether::Frame;

use crate::registry::Registry;

/// What is known about a new connection when its session opens.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The connection's id within its endpoint (also its registry key).
    pub id: u64,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The request path (WebSocket endpoints), e.g. `/ws`.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// Request headers, lower-case names (WebSocket endpoints).
    pub headers: Vec<(String, String)>,
    /// The endpoint's connections, for routing and broadcast.
    pub registry: Arc<Registry>,
}

impl ConnInfo {
    /// A query parameter's value.
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// A header's value (name in lower case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Ends a connection with a close frame, or (code 1006, see [`Close::abort`]) without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Close code (e.g. 4001 for a refused token). 1006 means no close frame.
    pub code: u16,
    /// Close reason.
    pub reason: String,
}

impl Close {
    /// A close with code and reason.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// Drops the connection without a close frame, as a server whose handler crashed
    /// does: what is already due is flushed, then the TCP connection is closed and the
    /// client sees 1006 (abnormal closure). RFC 6455 reserves 1006 for exactly this and
    /// forbids sending it in a frame, so a `Close` with code 1006 always means this.
    pub fn abort(reason: impl Into<String>) -> Self {
        Self::new(Self::ABNORMAL, reason)
    }

    /// Whether this drops the connection without a close frame (code 1006).
    #[must_use]
    pub fn is_abort(&self) -> bool {
        self.code == Self::ABNORMAL
    }

    const ABNORMAL: u16 = 1006;
}

/// The server side of one connection: frames in, frames out. No I/O of its own.
pub trait Session: Send + 'static {
    /// The connection opened: push greetings.
    fn on_open(&mut self, _out: &mut Vec<Frame>) {}

    /// One inbound frame; push replies.
    ///
    /// # Errors
    /// A [`Close`] ends the connection with that close frame (after `out` is sent), or
    /// without one for [`Close::abort`].
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close>;

    /// A frame the endpoint's codec consumed but could not decode (the stream is still
    /// in step); push replies. By default it is ignored.
    ///
    /// # Errors
    /// As [`Session::on_frame`].
    fn on_undecodable(&mut self, reason: &str, _out: &mut Vec<Frame>) -> Result<(), Close> {
        tracing::debug!(reason, "undecodable frame ignored");
        Ok(())
    }

    /// The connection ended.
    fn on_close(&mut self) {}
}

/// Makes a session per connection.
pub trait Service: Send + Sync + 'static {
    /// Opens a session, or refuses the connection with a close frame.
    ///
    /// # Errors
    /// A [`Close`] refuses the connection (with no frame for [`Close::abort`]).
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close>;
}
