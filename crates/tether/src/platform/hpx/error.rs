//! The SDK's exception hierarchy as one enum, and the server's error codes.

/// The server's error codes (`happypandax/common/exceptions.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerCode {
    /// 100.
    HappypandaError,
    /// 101.
    CoreError,
    /// 102.
    TimeoutError,
    /// 400.
    ServerError,
    /// 401.
    ClientDisconnectError,
    /// 403: the root object does not have exactly `session`, `name` and `data`.
    InvalidMessage,
    /// 404: an API function failed or does not exist.
    ApiError,
    /// 405: an API function's arguments are wrong.
    ApiRequirementError,
    /// 406.
    AuthError,
    /// 407: the request needs an authenticated session.
    AuthRequiredError,
    /// 408: the session is unknown or expired.
    SessionExpiredError,
    /// 409: an unknown server command.
    EnumError,
    /// 410: the body is not gzip.
    ParsingError,
    /// 411: wrong user or password.
    AuthWrongCredentialsError,
    /// 412: the handshake lacks `user` or `password`.
    AuthMissingCredentials,
    /// 900: the payload is not JSON.
    JsonParseError,
}

impl ServerCode {
    /// Every code, in numeric order.
    pub const ALL: [ServerCode; 16] = [
        ServerCode::HappypandaError,
        ServerCode::CoreError,
        ServerCode::TimeoutError,
        ServerCode::ServerError,
        ServerCode::ClientDisconnectError,
        ServerCode::InvalidMessage,
        ServerCode::ApiError,
        ServerCode::ApiRequirementError,
        ServerCode::AuthError,
        ServerCode::AuthRequiredError,
        ServerCode::SessionExpiredError,
        ServerCode::EnumError,
        ServerCode::ParsingError,
        ServerCode::AuthWrongCredentialsError,
        ServerCode::AuthMissingCredentials,
        ServerCode::JsonParseError,
    ];

    /// The numeric code.
    #[must_use]
    pub fn code(self) -> i64 {
        match self {
            ServerCode::HappypandaError => 100,
            ServerCode::CoreError => 101,
            ServerCode::TimeoutError => 102,
            ServerCode::ServerError => 400,
            ServerCode::ClientDisconnectError => 401,
            ServerCode::InvalidMessage => 403,
            ServerCode::ApiError => 404,
            ServerCode::ApiRequirementError => 405,
            ServerCode::AuthError => 406,
            ServerCode::AuthRequiredError => 407,
            ServerCode::SessionExpiredError => 408,
            ServerCode::EnumError => 409,
            ServerCode::ParsingError => 410,
            ServerCode::AuthWrongCredentialsError => 411,
            ServerCode::AuthMissingCredentials => 412,
            ServerCode::JsonParseError => 900,
        }
    }

    /// The code for a number, if it is one of the server's.
    #[must_use]
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Why an HPX call failed: the SDK's exception classes, each with its code and the
/// message (the server's, where the server sent one). `Display` is the SDK's text,
/// `"<client name>: <message>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HpxError {
    /// 500 `ClientError`: misuse (connect after close, not connected, bad input).
    #[error("{name}: {msg}")]
    Client {
        /// The client's name.
        name: String,
        /// What was wrong.
        msg: String,
    },
    /// 501 `ConnectionError`: the connection failed or timed out.
    #[error("{name}: {msg}")]
    Connection {
        /// The client's name.
        name: String,
        /// What happened.
        msg: String,
    },
    /// 502 `ServerDisconnectError`: the server closed the connection, or could not be
    /// reached.
    #[error("{name}: {msg}")]
    ServerDisconnect {
        /// The client's name.
        name: String,
        /// What happened.
        msg: String,
    },
    /// 406 `AuthError`: a handshake error the other variants do not name; the message is
    /// `"<server code>: <server message>"`, as in the SDK.
    #[error("{name}: {msg}")]
    Auth {
        /// The client's name.
        name: String,
        /// The server's code (e.g. 408 session expired).
        server_code: i64,
        /// `"<code>: <message>"`.
        msg: String,
    },
    /// 407 `AuthRequiredError`: not authenticated (raised before sending, or by the
    /// server).
    #[error("{name}: {msg}")]
    AuthRequired {
        /// The client's name.
        name: String,
        /// The message.
        msg: String,
    },
    /// 411 `AuthWrongCredentialsError`.
    #[error("{name}: {msg}")]
    AuthWrongCredentials {
        /// The client's name.
        name: String,
        /// The server's message.
        msg: String,
    },
    /// 412 `AuthMissingCredentials`.
    #[error("{name}: {msg}")]
    AuthMissingCredentials {
        /// The client's name.
        name: String,
        /// The server's message.
        msg: String,
    },
    /// 900 `JSONParseError`: the server's reply is not JSON.
    #[error("{name}: {msg}")]
    JsonParse {
        /// The client's name.
        name: String,
        /// The parser's message.
        msg: String,
    },
}

impl HpxError {
    /// The SDK exception's `code` (406 for every `AuthError` that is not 407/411/412).
    #[must_use]
    pub fn code(&self) -> i64 {
        match self {
            HpxError::Client { .. } => 500,
            HpxError::Connection { .. } => 501,
            HpxError::ServerDisconnect { .. } => 502,
            HpxError::Auth { .. } => 406,
            HpxError::AuthRequired { .. } => 407,
            HpxError::AuthWrongCredentials { .. } => 411,
            HpxError::AuthMissingCredentials { .. } => 412,
            HpxError::JsonParse { .. } => 900,
        }
    }

    /// The SDK exception's class name (`AuthWrongCredentialsError`, …).
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            HpxError::Client { .. } => "ClientError",
            HpxError::Connection { .. } => "ConnectionError",
            HpxError::ServerDisconnect { .. } => "ServerDisconnectError",
            HpxError::Auth { .. } => "AuthError",
            HpxError::AuthRequired { .. } => "AuthRequiredError",
            HpxError::AuthWrongCredentials { .. } => "AuthWrongCredentialsError",
            HpxError::AuthMissingCredentials { .. } => "AuthMissingCredentials",
            HpxError::JsonParse { .. } => "JSONParseError",
        }
    }

    /// Whether the SDK class derives from `AuthError` (406, 407, 411, 412).
    #[must_use]
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            HpxError::Auth { .. }
                | HpxError::AuthRequired { .. }
                | HpxError::AuthWrongCredentials { .. }
                | HpxError::AuthMissingCredentials { .. }
        )
    }

    /// Whether trying again (after reconnecting) may succeed: connection failures are
    /// retryable; refused credentials, misuse and unparsable replies are not.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HpxError::Connection { .. } | HpxError::ServerDisconnect { .. }
        )
    }

    /// The message without the client name.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            HpxError::Client { msg, .. }
            | HpxError::Connection { msg, .. }
            | HpxError::ServerDisconnect { msg, .. }
            | HpxError::Auth { msg, .. }
            | HpxError::AuthRequired { msg, .. }
            | HpxError::AuthWrongCredentials { msg, .. }
            | HpxError::AuthMissingCredentials { msg, .. }
            | HpxError::JsonParse { msg, .. } => msg,
        }
    }

    /// The error the SDK's `handshake` raises for a server error `code` with `msg`.
    #[must_use]
    pub fn from_handshake(name: &str, code: i64, msg: &str) -> Self {
        let name = name.to_owned();
        let msg = msg.to_owned();
        match code {
            411 => HpxError::AuthWrongCredentials { name, msg },
            407 => HpxError::AuthRequired { name, msg },
            412 => HpxError::AuthMissingCredentials { name, msg },
            _ => HpxError::Auth {
                name,
                server_code: code,
                msg: format!("{code}: {msg}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_sdk_and_the_server() {
        let e = HpxError::from_handshake("c", 408, "Session expired");
        assert_eq!(e.code(), 406);
        assert_eq!(e.to_string(), "c: 408: Session expired");
        assert!(matches!(
            e,
            HpxError::Auth {
                server_code: 408,
                ..
            }
        ));
        assert_eq!(HpxError::from_handshake("c", 411, "Wrong").code(), 411);
        assert_eq!(
            HpxError::from_handshake("c", 412, "x").class(),
            "AuthMissingCredentials"
        );
        assert!(HpxError::from_handshake("c", 407, "x").is_auth());
        assert_eq!(ServerCode::from_code(410), Some(ServerCode::ParsingError));
        assert_eq!(ServerCode::from_code(999), None);
        for c in ServerCode::ALL {
            assert_eq!(ServerCode::from_code(c.code()), Some(c));
        }
    }

    #[test]
    fn only_connection_failures_are_retryable() {
        let name = String::from("c");
        assert!(
            HpxError::Connection {
                name: name.clone(),
                msg: "t".into()
            }
            .is_retryable()
        );
        assert!(!HpxError::from_handshake("c", 411, "Wrong").is_retryable());
        assert!(
            !HpxError::Client {
                name,
                msg: "closed".into()
            }
            .is_retryable()
        );
    }
}
