//! Python's `json.dumps`, byte for byte: what the Python SDKs put on the wire (datadivr's
//! client and Moobius' `WSClient`: default arguments) and what Starlette's `send_json`
//! writes (compact, raw UTF-8). Keys in map order (serde_json's `preserve_order`), floats
//! as Python's `repr`.

use std::fmt::Write as _;

use serde_json::Value;

/// `json.dumps(value)` with default arguments: `", "` and `": "` separators, every
/// non-ASCII character as `\uXXXX`.
#[must_use]
#[cfg_attr(not(feature = "moobius"), allow(dead_code))]
pub(crate) fn dumps(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value, Style::PYTHON);
    out
}

/// `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` (Starlette); the
/// datadivr model writes its fields itself, so only tests compare against this.
#[cfg(test)]
#[must_use]
pub(crate) fn dumps_compact(value: &Value) -> String {
    let mut out = String::with_capacity(96);
    write_value(&mut out, value, Style::COMPACT);
    out
}

/// How `json.dumps` is called.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// Between array items and object members: `", "` or `","`.
    pub(crate) item_sep: &'static str,
    /// Between a key and its value: `": "` or `":"`.
    pub(crate) key_sep: &'static str,
    /// Whether everything outside printable ASCII is escaped as `\uXXXX`.
    pub(crate) ensure_ascii: bool,
}

impl Style {
    /// `json.dumps` with default arguments.
    pub(crate) const PYTHON: Style = Style {
        item_sep: ", ",
        key_sep: ": ",
        ensure_ascii: true,
    };
    /// Starlette's `send_json`: compact separators, raw UTF-8.
    #[cfg_attr(not(feature = "datadivr"), allow(dead_code))]
    pub(crate) const COMPACT: Style = Style {
        item_sep: ",",
        key_sep: ":",
        ensure_ascii: false,
    };
}

/// Writes `value` as Python's `json.dumps` would with `style` (keys in map order).
pub(crate) fn write_value(out: &mut String, value: &Value, style: Style) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => write_float(out, f),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => write_str(out, s, style.ensure_ascii),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_sep);
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_sep);
                }
                write_str(out, key, style.ensure_ascii);
                out.push_str(style.key_sep);
                write_value(out, item, style);
            }
            out.push('}');
        }
    }
}

/// Python's `float.__repr__`: the shortest round-trip digits, fixed notation for
/// decimal exponents -4..16 (always with a fractional part), else `1e+16` / `1e-05`.
/// Written straight into `out` (no temporary strings).
fn write_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // serde_json values cannot hold these; kept for completeness.
        out.push_str(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    let start = out.len();
    // `{:e}` gives the shortest round-trip digits: "4.2e2", "-1e-5".
    let _ = write!(out, "{f:e}");
    let Some(e_at) = out[start..].find('e').map(|i| start + i) else {
        return;
    };
    let Ok(exp) = out[e_at + 1..].parse::<i32>() else {
        return;
    };
    if (-4..16).contains(&exp) {
        out.truncate(start);
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    } else {
        out.truncate(e_at);
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    }
}

/// A JSON string as Python writes it: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// control characters as `\u00XX`; with `ensure_ascii`, everything outside
/// printable ASCII as `\uXXXX` (lower-case hex, surrogate pairs above the BMP).
///
/// Runs of characters that need no escape are copied at once.
pub(crate) fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let plain = match b {
            b'"' | b'\\' => false,
            0x20..=0x7e => true,
            0x7f.. => !ensure_ascii,
            _ => false,
        };
        if plain {
            i += 1;
            continue;
        }
        // `i` is at an ASCII byte or at the first byte of a multi-byte character, so
        // both slices below are on character boundaries.
        out.push_str(&s[run..i]);
        let c = s[i..].chars().next().unwrap_or_default();
        write_escape(out, c);
        i += c.len_utf8();
        run = i;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// The escape of one character `write_str` does not copy as it is.
fn write_escape(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float_text(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_follow_python_repr() {
        for (f, want) in [
            (420.0, "420.0"),
            (4.5, "4.5"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (1e300, "1e+300"),
            (2.5e-300, "2.5e-300"),
        ] {
            assert_eq!(float_text(f), want, "{f:?}");
        }
    }

    #[test]
    fn strings_escape_as_python_does() {
        let mut py = String::new();
        write_str(&mut py, "a\"\\\n\t\u{1}\u{7f}é😀", true);
        assert_eq!(py, r#""a\"\\\n\t\u0001\u007f\u00e9\ud83d\ude00""#);
        let mut compact = String::new();
        write_str(&mut compact, "a\"\\\n\u{1}\u{7f}é😀", false);
        assert_eq!(compact, "\"a\\\"\\\\\\n\\u0001\u{7f}é😀\"");
    }

    /// The char-by-char writer `write_str` replaced, as the reference.
    fn reference_str(s: &str, ensure_ascii: bool) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c if ensure_ascii && !(' '..='~').contains(&c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// The allocating float writer `write_float` replaced, as the reference.
    fn reference_float(f: f64) -> String {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap();
        let exp = exp.parse::<i32>().unwrap();
        if (-4..16).contains(&exp) {
            let fixed = format!("{f}");
            if fixed.contains('.') {
                fixed
            } else {
                fixed + ".0"
            }
        } else {
            format!(
                "{mantissa}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.unsigned_abs()
            )
        }
    }

    proptest::proptest! {
        #[test]
        fn write_str_matches_the_reference(s in "\\PC*|[\\x00-\\x7f\u{80}-\u{10ffff}]{0,40}") {
            for ensure_ascii in [true, false] {
                let mut got = String::from("prefix");
                write_str(&mut got, &s, ensure_ascii);
                proptest::prop_assert_eq!(&got[6..], reference_str(&s, ensure_ascii));
            }
        }

        #[test]
        fn write_float_matches_the_reference(bits in proptest::num::u64::ANY) {
            let f = f64::from_bits(bits);
            if f.is_finite() {
                let mut got = String::from("x");
                write_float(&mut got, f);
                proptest::prop_assert_eq!(&got[1..], reference_float(f));
            }
        }
    }

    #[test]
    fn writes_what_python_json_dumps_writes() {
        // Keys already sorted: the text is the same whether or not serde_json keeps
        // insertion order (a platform feature alone, e.g. `hiven`, does not).
        let value = json!({"a": "h\u{e9}llo \u{1f600}\n\"\u{1}", "b": [1, 2.0, -0.5, 1e16, 1e-5, null, true]});
        assert_eq!(
            dumps(&value),
            r#"{"a": "h\u00e9llo \ud83d\ude00\n\"\u0001", "b": [1, 2.0, -0.5, 1e+16, 1e-05, null, true]}"#
        );
        assert_eq!(
            dumps_compact(&json!({"a": [1.0, "é"]})),
            r#"{"a":[1.0,"é"]}"#
        );
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
    }
}
