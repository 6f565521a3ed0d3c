//! The JSON parser for inbound messages, chosen at build time, as the SDK lets one swap
//! its `json` module: serde_json by default; simd-json with the `hpx-simd-json` feature
//! (see `benches/hpx.rs` for when that pays).

use crate::json::Value;

/// The parser in use: `"serde_json"` or `"simd-json"`.
pub const PARSER: &str = if cfg!(feature = "hpx-simd-json") {
    "simd-json"
} else {
    "serde_json"
};

/// Parses JSON text into a value (object keys in document order).
///
/// # Errors
/// The parser's message for invalid JSON.
///
/// ```
/// let v = tether::hpx::parse_json(br#"{"b": 1, "a": [true]}"#).unwrap();
/// assert_eq!(v.to_string(), r#"{"b":1,"a":[true]}"#);
/// ```
pub fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    #[cfg(feature = "hpx-simd-json")]
    {
        // simd-json parses in place.
        let mut owned = bytes.to_vec();
        simd_json::serde::from_slice::<Value>(&mut owned).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "hpx-simd-json"))]
    {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_keeping_key_order_and_number_kinds() {
        for text in [
            r#"{"session": "", "name": "s", "data": [{"fname": "x", "data": 420.0}], "z": 1, "a": -2}"#,
            r#"[1, 2.5, "\u00e9\ud83d\ude00", null, true, {"k": {}}]"#,
            "18446744073709551615",
        ] {
            let ours = parse_json(text.as_bytes()).unwrap();
            let reference: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, reference, "{text}");
            assert_eq!(ours.to_string(), reference.to_string(), "{text}");
        }
        assert!(parse_json(b"{nope").is_err());
        assert!(parse_json(b"").is_err());
    }
}
