//! What a caller hands to `send`: a frame plus how its delivery is judged.

use std::{fmt, sync::Arc, time::Duration};

use crate::frame::Frame;

/// A correlation key: the value an acknowledgement or reply carries to say which
/// message it answers (a JSON field's value, Gather's `txnId`, …).
///
/// Keys compare by their canonical text, so a JSON value is keyed by its compact
/// serialization (`"abc"` and `abc` differ, as they do in JSON).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AckKey(Arc<str>);

impl AckKey {
    /// A key from its canonical text.
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The key of a JSON value: its compact serialization.
    #[must_use]
    pub fn from_json(value: &serde_json::Value) -> Self {
        Self(Arc::from(value.to_string()))
    }

    /// The canonical text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AckKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AckKey({})", self.0)
    }
}

impl fmt::Display for AckKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message for the outbox.
///
/// Without an ack key, the message is *delivered* once it is written and flushed.
/// With one, it stays pending until an inbound message carrying the same key arrives
/// (its acknowledgement or reply), and it is replayed after a reconnect until then.
///
/// ```
/// use tether::{AckKey, Frame, Outgoing};
/// use std::time::Duration;
/// let msg = Outgoing::new(Frame::text(r#"{"id":7}"#))
///     .with_ack(AckKey::new("7"))
///     .with_deadline(Duration::from_secs(16));
/// assert_eq!(msg.ack().unwrap().as_str(), "7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    frame: Frame,
    ack: Option<AckKey>,
    deadline: Option<Duration>,
    stamp: bool,
}

impl Outgoing {
    /// A message that is delivered once flushed.
    #[must_use]
    pub fn new(frame: Frame) -> Self {
        Self {
            frame,
            ack: None,
            deadline: None,
            stamp: false,
        }
    }

    /// Declares the key an acknowledgement will carry.
    #[must_use]
    pub fn with_ack(mut self, key: AckKey) -> Self {
        self.ack = Some(key);
        self
    }

    /// Gives up (handing the message back in the error) if it is not delivered within
    /// `deadline` of being queued.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Asks the platform to stamp the frame each time it is written (a session id
    /// current at that moment, say): [`Protocol::before_write`](crate::Protocol::before_write)
    /// sees it as [`Outbound::Message { stamp: true }`](crate::Outbound::Message). The
    /// outbox keeps the frame unstamped, so a replay after a reconnect is stamped anew.
    #[must_use]
    pub fn stamped(mut self) -> Self {
        self.stamp = true;
        self
    }

    /// Whether the platform stamps the frame as it is written ([`Outgoing::stamped`]).
    #[must_use]
    pub fn is_stamped(&self) -> bool {
        self.stamp
    }

    /// The frame that goes on the wire (before the platform stamps it, if it does).
    #[must_use]
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Takes the frame.
    #[must_use]
    pub fn into_frame(self) -> Frame {
        self.frame
    }

    /// The ack key, if acknowledgements are expected.
    #[must_use]
    pub fn ack(&self) -> Option<&AckKey> {
        self.ack.as_ref()
    }

    /// The delivery deadline, if any.
    #[must_use]
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

impl From<Frame> for Outgoing {
    fn from(frame: Frame) -> Self {
        Outgoing::new(frame)
    }
}
