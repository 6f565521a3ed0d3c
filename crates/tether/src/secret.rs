//! A string that never shows itself in `Debug`, `Display`, logs or errors.

use std::fmt;

/// A secret value (token, password, API key).
///
/// Its `Debug` and `Display` print `<redacted>`; the value is only reachable through
/// [`Secret::expose`], which call sites use at the last moment (building a header or a
/// login frame).
///
/// ```
/// use tether::Secret;
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?}"), "<redacted>");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret itself. Never log the result.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of this secret in `text` with `<redacted>`.
    ///
    /// Used where text that may echo a secret (a server's error message, a frame excerpt)
    /// is about to reach a log, an error or an event.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_owned();
        }
        text.replace(&*self.0, "<redacted>")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("abc");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let s = Secret::new("tok");
        assert_eq!(s.scrub("a tok b tok"), "a <redacted> b <redacted>");
        assert_eq!(Secret::new("").scrub("x"), "x");
    }
}
