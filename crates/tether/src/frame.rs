//! The unit the engine moves: one WebSocket message, or one codec frame on TCP.

use std::fmt;

use bytes::Bytes;

/// One message on the wire: UTF-8 text or binary.
///
/// Cloning is cheap (the payload is reference counted), so a frame can sit in the outbox
/// for replay and be handed back in an error at the same time.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text message. Frames tether builds or receives are valid UTF-8; one built by
    /// hand from arbitrary bytes (a test server injecting garbage) is sent as it is.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Frame {
    /// A text frame.
    pub fn text(text: impl Into<String>) -> Self {
        Frame::Text(Bytes::from(text.into()))
    }

    /// A binary frame.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Frame::Binary(data.into())
    }

    /// A text frame from bytes, if they are valid UTF-8.
    ///
    /// # Errors
    /// The bytes back, when they are not UTF-8.
    pub fn text_from_bytes(data: Bytes) -> Result<Self, Bytes> {
        if std::str::from_utf8(&data).is_ok() {
            Ok(Frame::Text(data))
        } else {
            Err(data)
        }
    }

    /// The text of a text frame.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Frame::Text(b) => std::str::from_utf8(b).ok(),
            Frame::Binary(_) => None,
        }
    }

    /// The payload bytes, whatever the kind.
    #[must_use]
    pub fn payload(&self) -> &Bytes {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b,
        }
    }

    /// Payload length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// Whether the payload is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.payload().is_empty()
    }

    /// Whether this is a text frame.
    #[must_use]
    pub fn is_text(&self) -> bool {
        matches!(self, Frame::Text(_))
    }

    /// A short, printable excerpt of the payload for logs and events (at most `max` bytes).
    #[must_use]
    pub fn excerpt(&self, max: usize) -> String {
        let bytes = self.payload();
        let cut = &bytes[..bytes.len().min(max)];
        let mut s = String::from_utf8_lossy(cut).into_owned();
        if bytes.len() > max {
            s.push('…');
        }
        s
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads may carry secrets (a login frame); show the size only.
        match self {
            Frame::Text(b) => write!(f, "Text({} bytes)", b.len()),
            Frame::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl From<String> for Frame {
    fn from(value: String) -> Self {
        Frame::text(value)
    }
}

impl From<&str> for Frame {
    fn from(value: &str) -> Self {
        Frame::text(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_payload() {
        let f = Frame::text("{\"token\":\"secret\"}");
        assert_eq!(format!("{f:?}"), "Text(18 bytes)");
    }

    #[test]
    fn text_from_bytes_rejects_invalid_utf8() {
        assert!(Frame::text_from_bytes(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(
            Frame::text_from_bytes(Bytes::from_static(b"ok"))
                .unwrap()
                .as_text(),
            Some("ok")
        );
    }

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(Frame::text("abcdef").excerpt(3), "abc…");
    }
}
