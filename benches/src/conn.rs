//! The one thing a baseline implements: a connection that sends and receives messages.

use std::future::Future;

/// A message to send.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// A data message received (control frames are handled by the library and skipped).
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A text frame's payload.
    Text(bytes::Bytes),
    /// A binary frame's payload.
    Binary(bytes::Bytes),
}

impl Incoming {
    /// The payload bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Incoming::Text(b) | Incoming::Binary(b) => b,
        }
    }
}

/// An open WebSocket connection, used the way the library is usually used.
pub trait Conn: Send + 'static {
    /// Writes one message and flushes it (the usual way: one flush per message).
    fn send(&mut self, msg: Outgoing) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Queues one message without flushing (the library may still flush on its own).
    fn feed(&mut self, msg: Outgoing) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Flushes what [`Conn::feed`] queued.
    fn flush(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The next data message; an error if the connection ends.
    fn recv(&mut self) -> impl Future<Output = anyhow::Result<Incoming>> + Send;
    /// A data message already readable without waiting, if any.
    fn try_recv(&mut self) -> Option<anyhow::Result<Incoming>>;
    /// Sends a close frame and waits for the server's.
    fn close(self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Opens connections of one library.
pub trait Connector: Send + Sync + 'static {
    /// The connection type.
    type Conn: Conn;
    /// Whether its writes go through `write`/`writev`, which `/proc/self/io` counts
    /// (`send`/`sendmsg` are not counted; the report then leaves `writes_per_msg` empty).
    fn counts_writes(&self) -> bool {
        true
    }
    /// Opens one connection to `url` (completes the WebSocket handshake).
    fn connect(&self, url: &str) -> impl Future<Output = anyhow::Result<Self::Conn>> + Send;
}
