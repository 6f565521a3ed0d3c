//! What the event stream reports.

use std::sync::Arc;

use crate::{
    error::{ConnectionError, SendError, Transmission},
    event_queue::EventQueue,
    outgoing::AckKey,
    outgoing::Outgoing,
    protocol::AckOutcome,
    state::State,
};

/// One thing that happened to a client, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<E> {
    /// The state changed.
    State(State),
    /// A connection was lost (or an attempt failed); a `State(Reconnecting)` or
    /// `State(Closed)` follows.
    Disconnected {
        /// What happened, with secrets scrubbed from its texts.
        error: ConnectionError,
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
    /// A message was dropped from a full outbox under the `DropOldest` policy (its
    /// sender's receipt fails with [`SendError::Dropped`] too).
    Dropped {
        /// The message.
        message: Outgoing,
        /// Whether it may have arrived: a queued message is dropped before a written one.
        transmission: Transmission,
    },
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
    /// A message left the outbox without being delivered (refused at `send`, deadline,
    /// close, fatal error, refused by the peer, a handler's reply with no room): the same
    /// error its sender's receipt gets, carrying the message and whether it may have
    /// arrived ([`SendError::transmission`]).
    Undelivered(SendError),
}

/// The receiving end of a client's events.
///
/// It is bounded: if it is not read, the client stops reading from the socket once
/// it is full (nothing is dropped). Drop it if you only use handlers.
pub struct Events<E> {
    pub(crate) queue: Arc<EventQueue<E>>,
}

impl<E> std::fmt::Debug for Events<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl<E> Drop for Events<E> {
    fn drop(&mut self) {
        self.queue.close_consumer();
    }
}

impl<E> Events<E> {
    /// The next event; `None` once the client has closed and every event was read.
    ///
    /// # Cancel safety
    /// Cancel safe: an event is taken only when this returns it.
    pub async fn recv(&mut self) -> Option<Event<E>> {
        std::future::poll_fn(|cx| self.queue.poll_recv(cx)).await
    }

    /// Waits for at least one event, then moves up to `limit` ready events into `buffer`
    /// (appended, in order); returns how many. `0` once the client has closed and every
    /// event was read (or when `limit` is 0). Cheaper per event than [`Events::recv`] for a
    /// consumer that takes events in bursts.
    ///
    /// # Cancel safety
    /// Cancel safe: events are taken only when this returns them.
    pub async fn recv_many(&mut self, buffer: &mut Vec<Event<E>>, limit: usize) -> usize {
        std::future::poll_fn(|cx| self.queue.poll_recv_many(cx, buffer, limit)).await
    }

    /// The next event if one is ready now.
    pub fn try_recv(&mut self) -> Option<Event<E>> {
        self.queue.try_recv()
    }
}
