//! permessage-deflate negotiation (RFC 7692 §7.1), sans-IO: the client's offer, the
//! client's check of the server's answer, and the server's choice among a client's offers.

/// The offer tether's client sends: permessage-deflate, and that it can compress with a
/// smaller window if the server asks for one.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The largest LZ77 window (2^15 bytes), what a peer uses when nothing else was agreed.
pub const MAX_WINDOW_BITS: u8 = 15;

/// What both ends agreed on for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server starts every message it sends with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts every message it sends with an empty window.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^N bytes.
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^N bytes.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// Why the server's `Sec-WebSocket-Extensions` answer cannot be used: the connection
/// fails (RFC 6455 §9.1, RFC 7692 §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The server named an extension tether did not offer.
    #[error("the server accepted extension {0:?}, which was not offered")]
    UnofferedExtension(String),
    /// The server answered with a parameter tether did not offer or does not know.
    #[error("the server answered permessage-deflate with parameter {0:?}, which was not offered")]
    UnofferedParameter(String),
    /// A parameter's value is not allowed.
    #[error("permessage-deflate parameter {name} has an invalid value {value:?}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// Its value as received.
        value: String,
    },
    /// A parameter appeared twice in one answer.
    #[error("permessage-deflate parameter {0} appears twice")]
    Duplicate(String),
    /// The server accepted permessage-deflate more than once.
    #[error("the server accepted permessage-deflate more than once")]
    Repeated,
}

/// A parameter: its name and value (unquoted), if any.
type Param = (String, Option<String>);

/// The extensions of a header: each one's name and parameters.
fn elements(values: &[&str]) -> Vec<(String, Vec<Param>)> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|e| !e.trim().is_empty())
        .map(|element| {
            let mut parts = element.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        Some(v.trim().trim_matches('"').to_owned()),
                    ),
                    None => (p.to_ascii_lowercase(), None),
                })
                .collect();
            (name, params)
        })
        .collect()
}

fn window_bits(name: &str, value: Option<&str>) -> Result<u8, NegotiationError> {
    let invalid = || NegotiationError::InvalidValue {
        name: name.to_owned(),
        value: value.unwrap_or("").to_owned(),
    };
    let v = value.ok_or_else(invalid)?;
    // RFC 7692 §7.1.2: 1*DIGIT without leading zeros, 8 to 15.
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match v.parse::<u8>() {
        Ok(bits @ 8..=15) => Ok(bits),
        _ => Err(invalid()),
    }
}

/// Parses one permessage-deflate element's parameters; `offer` is the offer form, where `client_max_window_bits` may come without a value.
fn parse_params(params: &[Param], offer: bool) -> Result<DeflateParams, NegotiationError> {
    let mut out = DeflateParams::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in params {
        if seen.contains(&name.as_str()) {
            return Err(NegotiationError::Duplicate(name.clone()));
        }
        seen.push(name);
        let no_value = |flag: &mut bool| {
            if value.is_some() {
                return Err(NegotiationError::InvalidValue {
                    name: name.clone(),
                    value: value.clone().unwrap_or_default(),
                });
            }
            *flag = true;
            Ok(())
        };
        match name.as_str() {
            "server_no_context_takeover" => no_value(&mut out.server_no_context_takeover)?,
            "client_no_context_takeover" => no_value(&mut out.client_no_context_takeover)?,
            "server_max_window_bits" => {
                out.server_max_window_bits = window_bits(name, value.as_deref())?;
            }
            "client_max_window_bits" if offer && value.is_none() => {}
            "client_max_window_bits" => {
                out.client_max_window_bits = window_bits(name, value.as_deref())?;
            }
            _ => return Err(NegotiationError::UnofferedParameter(name.clone())),
        }
    }
    Ok(out)
}

/// Checks the server's `Sec-WebSocket-Extensions` values against [`CLIENT_OFFER`]:
/// `Ok(None)` when the server declined compression, the agreed parameters when it
/// accepted, an error when the answer is not one the offer allows.
///
/// ```
/// use tether::transport::deflate::{parse_response, DeflateParams};
/// let p = parse_response(&["permessage-deflate; client_max_window_bits=12"]).unwrap().unwrap();
/// assert_eq!(p.client_max_window_bits, 12);
/// assert!(parse_response(&["permessage-deflate; mystery"]).is_err());
/// assert_eq!(parse_response(&[]).unwrap(), None);
/// ```
///
/// # Errors
/// A [`NegotiationError`] naming what was not offered or not valid.
pub fn parse_response(values: &[&str]) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut agreed = None;
    for (name, params) in elements(values) {
        if name != "permessage-deflate" {
            return Err(NegotiationError::UnofferedExtension(name));
        }
        if agreed.is_some() {
            return Err(NegotiationError::Repeated);
        }
        agreed = Some(parse_params(&params, false)?);
    }
    Ok(agreed)
}

/// The server's side: the first of the client's permessage-deflate offers it can
/// accept, with the `Sec-WebSocket-Extensions` value to answer with. Offers with
/// unknown or invalid parameters are skipped, as RFC 7692 §5 allows.
///
/// ```
/// use tether::transport::deflate::accept_offer;
/// let (params, answer) = accept_offer(&["permessage-deflate; client_max_window_bits"]).unwrap();
/// assert_eq!(answer, "permessage-deflate");
/// assert!(!params.server_no_context_takeover);
/// assert!(accept_offer(&["x-webkit-deflate-frame"]).is_none());
/// ```
#[must_use]
pub fn accept_offer(values: &[&str]) -> Option<(DeflateParams, String)> {
    elements(values)
        .into_iter()
        .filter(|(name, _)| name == "permessage-deflate")
        .find_map(|(_, params)| {
            let offered = parse_params(&params, true).ok()?;
            let mut answer = String::from("permessage-deflate");
            let mut agreed = DeflateParams::default();
            if offered.server_no_context_takeover {
                answer.push_str("; server_no_context_takeover");
                agreed.server_no_context_takeover = true;
            }
            if offered.client_no_context_takeover {
                answer.push_str("; client_no_context_takeover");
                agreed.client_no_context_takeover = true;
            }
            if offered.server_max_window_bits < MAX_WINDOW_BITS {
                answer.push_str(&format!(
                    "; server_max_window_bits={}",
                    offered.server_max_window_bits
                ));
                agreed.server_max_window_bits = offered.server_max_window_bits;
            }
            Some((agreed, answer))
        })
}

/// The values of every `Sec-WebSocket-Extensions` header in an HTTP head (a server
/// reads a client's offers from the request it buffered this way).
#[must_use]
pub fn extension_values(head: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-extensions"))
        .map(|(_, value)| value.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_read_from_every_extensions_header_of_a_request() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Extensions: a\r\nsec-websocket-extensions:  permessage-deflate \r\n\r\n";
        assert_eq!(extension_values(head), ["a", "permessage-deflate"]);
    }

    #[test]
    fn a_bare_acceptance_agrees_on_full_windows_with_context_takeover() {
        let p = parse_response(&["permessage-deflate"]).unwrap().unwrap();
        assert_eq!(p, DeflateParams::default());
    }

    #[test]
    fn the_servers_window_bits_and_no_context_takeover_are_taken() {
        let p = parse_response(&[
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=\"9\"",
        ])
        .unwrap()
        .unwrap();
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (10, 9)
        );
    }

    #[test]
    fn answers_the_offer_does_not_allow_fail_the_connection() {
        for bad in [
            "permessage-deflate; unknown",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate, permessage-deflate",
            "x-webkit-deflate-frame",
        ] {
            assert!(parse_response(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_server_takes_the_first_offer_it_understands() {
        let (p, answer) = accept_offer(&[
            "permessage-deflate; bogus, permessage-deflate; server_no_context_takeover; \
             server_max_window_bits=11",
        ])
        .unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
        );
        assert!(p.server_no_context_takeover);
        assert_eq!(p.server_max_window_bits, 11);
        assert_eq!(parse_response(&[&answer]).unwrap(), Some(p));
    }
}
