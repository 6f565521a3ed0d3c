//! The sans-IO contract a platform implements: frames in → events and frames out.
//!
//! A platform owns no socket and no timer. The engine calls it when a transport opens,
//! for every inbound frame, and when its heartbeat is due; the platform answers by pushing
//! into an [`Output`]: control frames to send (login, heartbeat replies), decoded inbound
//! events (with the event name used for routing and the correlation key of a reply), the
//! moment it is ready, or a fatal error.

use std::{fmt, time::Duration};

use bytes::BytesMut;

use crate::{
    error::{ConnectionError, Disposition, default_close_disposition},
    frame::Frame,
    outgoing::AckKey,
};

/// A platform's client-side state machine.
pub trait Protocol: Send + 'static {
    /// A decoded inbound message.
    type Event: Clone + fmt::Debug + Send + Sync + 'static;

    /// Short platform name for logs (`raw`, `datadivr`, …).
    fn name(&self) -> &'static str;

    /// A transport opened. Push the login sequence with [`Output::send`]; call
    /// [`Output::ready`] now if the platform has no login. Queued messages flow only
    /// once the platform is ready, and always after the frames pushed here.
    fn on_open(&mut self, out: &mut Output<Self::Event>);

    /// One inbound frame.
    ///
    /// # Errors
    /// A [`DecodeError`] for a payload that cannot be decoded; the engine counts it,
    /// reports a `decode_error` event and goes on with the next frame.
    fn on_frame(&mut self, frame: Frame, out: &mut Output<Self::Event>) -> Result<(), DecodeError>;

    /// One frame the transport received but could not decode (its codec consumed it
    /// whole, so the stream is still in step; e.g. a body that does not decompress). The
    /// engine counts it and reports a `decode_error` event with `reason`; a platform that
    /// pairs replies with requests answers the oldest one here, so later replies are not
    /// misattributed. Nothing pushed here is routed to handlers.
    fn on_undecodable(&mut self, _reason: &str, _out: &mut Output<Self::Event>) {}

    /// A frame is about to be written on the current connection. Every frame the engine
    /// writes passes here, in write order: control frames from [`Output::send`], the
    /// heartbeat, queued messages and their replays after a reconnect. Returns the frame
    /// to write; a platform can stamp it (a session id, a request number) or note what
    /// went out. The outbox keeps the frame as queued, so a replay is stamped afresh on
    /// its new connection.
    ///
    /// ```
    /// use tether::{Frame, Outbound};
    /// # struct Numbered { next: u64 }
    /// # impl Numbered {
    /// fn before_write(&mut self, frame: Frame, origin: Outbound) -> Frame {
    ///     match origin {
    ///         Outbound::Message { stamp: true } => {
    ///             self.next += 1;
    ///             Frame::text(format!("{}:{}", self.next, frame.as_text().unwrap_or("")))
    ///         }
    ///         _ => frame,
    ///     }
    /// }
    /// # }
    /// ```
    fn before_write(&mut self, frame: Frame, _origin: Outbound) -> Frame {
        frame
    }

    /// The platform's application heartbeat interval, if it has one. Read again after
    /// every inbound frame, so a server hello can set it.
    fn heartbeat_interval(&self) -> Option<Duration> {
        None
    }

    /// The application heartbeat frame, when it is due.
    fn heartbeat(&mut self) -> Option<Frame> {
        None
    }

    /// Reads a close frame (or its absence) from the peer: retry or stop.
    fn classify_close(&self, code: Option<u16>, _reason: &str) -> Disposition {
        default_close_disposition(code)
    }

    /// The connection ended; reset per-connection state (login progress, session).
    fn on_close(&mut self) {}

    /// The framing used on byte-stream transports (`tcp://`, `tls://`): a maker of one
    /// fresh codec per connection. `None`: the platform only runs over WebSocket.
    fn codec(&self) -> Option<CodecFactory> {
        None
    }
}

/// Where a frame about to be written comes from (see [`Protocol::before_write`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outbound {
    /// A control frame the platform pushed with [`Output::send`] (a login, a reply).
    Control,
    /// The platform's application heartbeat.
    Heartbeat,
    /// A message from the outbox (first written or replayed).
    Message {
        /// It was queued with [`Outgoing::stamped`](crate::Outgoing::stamped): the
        /// platform fills something in as it is written.
        stamp: bool,
    },
}

/// What a platform produces in answer to one call.
#[derive(Debug)]
pub struct Output<E> {
    pub(crate) control: Vec<Frame>,
    pub(crate) inbound: Vec<Inbound<E>>,
    pub(crate) ready: bool,
    pub(crate) fatal: Option<ConnectionError>,
}

impl<E> Default for Output<E> {
    fn default() -> Self {
        Self {
            control: Vec::new(),
            inbound: Vec::new(),
            ready: false,
            fatal: None,
        }
    }
}

impl<E> Output<E> {
    /// Sends a control frame (login, handshake, protocol reply) ahead of queued messages.
    pub fn send(&mut self, frame: Frame) {
        self.control.push(frame);
    }

    /// Delivers a decoded inbound message to handlers and the event stream.
    pub fn deliver(&mut self, inbound: Inbound<E>) {
        self.inbound.push(inbound);
    }

    /// The platform is ready: logged in, queued messages may flow.
    pub fn ready(&mut self) {
        self.ready = true;
    }

    /// Ends the connection with an error (e.g. [`ConnectionError::LoginRefused`]); its
    /// [`ConnectionError::disposition`] decides whether the engine reconnects.
    pub fn fail(&mut self, error: ConnectionError) {
        self.fatal = Some(error);
    }

    /// Whether nothing was produced.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.control.is_empty() && self.inbound.is_empty() && !self.ready && self.fatal.is_none()
    }
}

/// A decoded inbound message with what the engine needs to route and correlate it.
#[derive(Debug, Clone)]
pub struct Inbound<E> {
    /// The decoded message.
    pub event: E,
    /// Its event name, for handlers registered by name.
    pub name: Option<String>,
    /// The message it acknowledges or answers, if any.
    pub ack: Option<Ack>,
}

impl<E> Inbound<E> {
    /// An inbound message with no name and no correlation.
    pub fn new(event: E) -> Self {
        Self {
            event,
            name: None,
            ack: None,
        }
    }

    /// Sets the event name.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks this message as the acknowledgement / reply for `ack`'s key.
    #[must_use]
    pub fn acking(mut self, ack: Ack) -> Self {
        self.ack = Some(ack);
        self
    }
}

/// An acknowledgement carried by an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Which message it answers.
    pub key: AckKey,
    /// Accepted or refused.
    pub outcome: AckOutcome,
}

impl Ack {
    /// A positive acknowledgement.
    #[must_use]
    pub fn accepted(key: AckKey) -> Self {
        Self {
            key,
            outcome: AckOutcome::Accepted,
        }
    }

    /// A negative acknowledgement; the sender's receipt fails with the reason.
    #[must_use]
    pub fn rejected(key: AckKey, reason: impl Into<String>) -> Self {
        Self {
            key,
            outcome: AckOutcome::Rejected(reason.into()),
        }
    }
}

/// Whether the peer accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Delivered.
    Accepted,
    /// Refused, with the peer's reason.
    Rejected(String),
}

/// An inbound payload that could not be decoded. The connection goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot decode inbound message: {reason}")]
pub struct DecodeError {
    /// What was wrong.
    pub reason: String,
}

impl DecodeError {
    /// A decode error with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Makes one fresh [`FrameCodec`] per connection.
pub type CodecFactory = std::sync::Arc<dyn Fn() -> Box<dyn FrameCodec> + Send + Sync>;

/// Framing for byte-stream transports: bytes ↔ frames.
pub trait FrameCodec: Send + 'static {
    /// Takes one frame off the front of `src` if a whole one is there.
    ///
    /// # Errors
    /// [`CodecError`] when the stream cannot be framed any more (the connection is failed).
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError>;

    /// Appends one frame's bytes to `dst`.
    ///
    /// # Errors
    /// [`CodecError`] when the frame cannot be encoded.
    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError>;
}

/// The byte stream cannot be framed (an oversize or malformed frame).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A frame over the size limit.
    #[error("frame exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Malformed framing.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// One whole frame could not be decoded (a body that does not decompress, or
    /// inflates past the limit), but its bytes were consumed and the stream is still in
    /// step: the transport reports it ([`Protocol::on_undecodable`]) and reads on.
    #[error("undecodable frame: {0}")]
    Undecodable(String),
    /// A socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
