//! What the event stream reports.

use tokio::sync::mpsc;

use crate::{outgoing::AckKey, outgoing::Outgoing, protocol::AckOutcome, state::State};

/// One thing that happened to a client, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<E> {
    /// The state changed.
    State(State),
    /// A connection was lost (or an attempt failed); a `State(Reconnecting)` or
    /// `State(Closed)` follows.
    Disconnected {
        /// What happened, with secrets scrubbed.
        error: String,
        /// Whether the error stops the client.
        fatal: bool,
    },
    /// An inbound message, after handlers ran.
    Message(E),
    /// A message was acknowledged (or refused) by the peer.
    Ack {
        /// The key of the acknowledged message.
        key: AckKey,
        /// Accepted or refused.
        outcome: AckOutcome,
    },
    /// A message was dropped from a full outbox under the `DropOldest` policy.
    Dropped(Outgoing),
    /// An inbound payload could not be decoded; the connection goes on.
    DecodeError {
        /// Why.
        reason: String,
        /// The start of the payload (secrets scrubbed).
        excerpt: String,
    },
    /// A handler returned an error or panicked; the client goes on.
    HandlerError {
        /// The event name the handler was registered for (`None`: catch-all).
        event: Option<String>,
        /// The error, or the panic message.
        error: String,
    },
    /// A message left the outbox without being delivered (deadline, close, fatal error).
    Undelivered {
        /// The message.
        message: Outgoing,
        /// Why (`deadline`, `closed`, `fatal`, `rejected`…).
        reason: String,
    },
}

/// The receiving end of a client's events.
///
/// It is bounded: if it is not read, the client stops reading from the socket once
/// it is full (nothing is dropped). Drop it if you only use handlers.
#[derive(Debug)]
pub struct Events<E> {
    pub(crate) rx: mpsc::Receiver<Event<E>>,
}

impl<E> Events<E> {
    /// The next event; `None` once the client has closed and every event was read.
    pub async fn recv(&mut self) -> Option<Event<E>> {
        self.rx.recv().await
    }

    /// The next event if one is ready now.
    pub fn try_recv(&mut self) -> Option<Event<E>> {
        self.rx.try_recv().ok()
    }
}
