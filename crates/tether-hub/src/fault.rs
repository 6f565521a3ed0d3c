//! Faults the hub can inject, in-process or through the control API.

use serde::{Deserialize, Serialize};

/// One fault, applied to one endpoint.
///
/// JSON form (control API): `{"kind": "drop", "code": 1011}`, `{"kind": "stall", "secs": 5}`,
/// `{"kind": "delay", "ms": 200}`, `{"kind": "garbage", "garbage": "invalid-utf8"}`,
/// `{"kind": "refuse", "secs": 2}`, `{"kind": "restart"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Drop every live connection: with a close frame carrying `code`, or, without a
    /// code, a TCP reset (no close frame at all).
    Drop {
        /// Close code; `None` resets the TCP connection instead.
        #[serde(default)]
        code: Option<u16>,
    },
    /// Keep sockets open but stop reading and writing (a half-open peer), for `secs`
    /// or until resumed. Applies to connections made while stalled too.
    Stall {
        /// Auto-resume after this many seconds.
        #[serde(default)]
        secs: Option<f64>,
    },
    /// Delay every message the endpoint sends by `ms` milliseconds (0 clears it).
    Delay {
        /// The delay.
        ms: u64,
    },
    /// Send one bad frame on every live connection.
    Garbage {
        /// Which kind of bad frame.
        #[serde(default)]
        garbage: Garbage,
        /// Size of an oversize frame (default 16 MiB + 1).
        #[serde(default)]
        bytes: Option<usize>,
    },
    /// Refuse new connections (the listener closes) for `secs` seconds.
    Refuse {
        /// How long.
        secs: f64,
    },
    /// Crash and restart: every socket and the listener drop without close frames; the
    /// listener comes back on the same port at once.
    Restart,
}

/// A kind of bad frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Garbage {
    /// A text frame that is not JSON.
    #[default]
    InvalidJson,
    /// A text frame whose bytes are not UTF-8 (clients must fail the connection, 1007).
    InvalidUtf8,
    /// A binary frame larger than clients accept by default (1009).
    Oversize,
}

/// Default size of an oversize frame: one byte over tether's default limit.
pub const DEFAULT_OVERSIZE: usize = 16 * 1024 * 1024 + 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_from_the_control_api_json() {
        let f: Fault = serde_json::from_str(r#"{"kind":"drop","code":1011}"#).unwrap();
        assert_eq!(f, Fault::Drop { code: Some(1011) });
        let f: Fault = serde_json::from_str(r#"{"kind":"drop"}"#).unwrap();
        assert_eq!(f, Fault::Drop { code: None });
        let f: Fault =
            serde_json::from_str(r#"{"kind":"garbage","garbage":"invalid-utf8"}"#).unwrap();
        assert_eq!(
            f,
            Fault::Garbage {
                garbage: Garbage::InvalidUtf8,
                bytes: None
            }
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"stall"}"#).unwrap();
        assert_eq!(f, Fault::Stall { secs: None });
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"explode"}"#).is_err());
    }
}
