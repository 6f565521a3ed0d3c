//! Python's `json.dumps`, byte for byte, the one writer every platform uses: what the
//! Python SDKs put on the wire (datadivr's client, Moobius' `WSClient`, the HappyPanda X
//! client and server, Hiven's login: default arguments) and what Starlette's `send_json`
//! writes (compact, raw UTF-8). Keys in map order (tether's ordered [`Value`]), floats as
//! Python's `repr`.

use std::fmt::Write as _;

use crate::json::Value;

/// `json.dumps(value)` with default arguments: `", "` and `": "` separators, every
/// non-ASCII character as `\uXXXX`.
#[must_use]
#[cfg_attr(not(any(feature = "moobius", feature = "hpx")), allow(dead_code))]
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

/// Python's `float.__repr__`: the shortest digits that round-trip, correctly rounded (an
/// exact tie goes to the even digit, as Python's `repr` does: `98309945714536.625` is
/// `98309945714536.62`), fixed notation for decimal exponents -4..16 (always with a
/// fractional part), else `1e+16` / `1e-05`. The digits are serde_json's (correctly
/// rounded shortest); only the layout is Python's. Written straight into `out` (no heap
/// allocation).
fn write_float(out: &mut String, f: f64) {
    let Some(number) = serde_json::Number::from_f64(f) else {
        // serde_json values cannot hold these; kept for completeness.
        out.push_str(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    };
    let start = out.len();
    let _ = write!(out, "{number}");
    // serde_json's text ("-1.5e-7", "420.0", "1e16", "0.0001") as digits and a point.
    let mut text = [0u8; 40];
    let len = out.len() - start;
    if len > text.len() {
        return; // never: a shortest f64 has at most 17 digits and a 3-digit exponent
    }
    text[..len].copy_from_slice(&out.as_bytes()[start..]);
    out.truncate(start);
    let text = &text[..len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.iter().position(|b| *b == b'e' || *b == b'E') {
        Some(i) => (
            &text[..i],
            std::str::from_utf8(&text[i + 1..])
                .ok()
                .and_then(|e| e.trim_start_matches('+').parse::<i32>().ok())
                .unwrap_or(0),
        ),
        None => (text, 0),
    };
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut point = exp; // the decimal point sits after `point` of `digits`
    let mut seen_point = false;
    for &b in mantissa {
        match b {
            b'.' => seen_point = true,
            b'0'..=b'9' => {
                if n == 0 && b == b'0' {
                    // a leading zero: before the point it moves nothing, after it moves the
                    // point left
                    if seen_point {
                        point -= 1;
                    }
                    continue;
                }
                digits[n] = b;
                n += 1;
                if !seen_point {
                    point += 1;
                }
            }
            _ => {}
        }
    }
    while n > 0 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if negative {
        out.push('-');
    }
    if n == 0 {
        out.push_str("0.0");
        return;
    }
    let digit = |i: usize| char::from(digits[i]);
    let sci_exp = point - 1;
    if (-4..16).contains(&sci_exp) {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.extend((0..n).map(digit));
        } else {
            let whole = point as usize;
            out.extend((0..n.min(whole)).map(digit));
            if whole >= n {
                out.extend(std::iter::repeat_n('0', whole - n));
                out.push_str(".0");
            } else {
                out.push('.');
                out.extend((whole..n).map(digit));
            }
        }
    } else {
        out.push(digit(0));
        if n > 1 {
            out.push('.');
            out.extend((1..n).map(digit));
        }
        out.push('e');
        out.push(if sci_exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", sci_exp.unsigned_abs());
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
    use crate::json;

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
            (0.000_123, "0.000123"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123.0, "123.0"),
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

    /// `repr(x)` of doubles, printed by CPython 3.11: exact ties, both notations, subnormals,
    /// random bit patterns. Each parses to its double; `write_float` must give it back.
    const PYTHON_REPRS: &[&str] = &[
        "-98309945714536.62",
        "924402250361636.2",
        "622278123901035.2",
        "-219878922461380.62",
        "0.3",
        "0.6666666666666666",
        "1e+22",
        "1e+23",
        "9007199254740992.0",
        "4.35",
        "0.30000000000000004",
        "1.5e-310",
        "2.2250738585072014e-308",
        "-1.0539756485530688e+143",
        "-1.2143721666352482e+132",
        "-6.360375184993316e+38",
        "1.526087629730313e+249",
        "-7.02551513787579e+129",
        "1.6260771785726701e-74",
        "-5.984009685093657e+66",
        "4.8959585264576934e+278",
        "-3.7634144828029947e-168",
        "4.2301541954837196e-79",
        "5.315422088462547e+242",
        "7.893354548061464e-134",
        "-6.0511296129096725e-261",
        "-2.471417988383651e+173",
        "-7.046717376279707e-143",
        "-5.352667702512672e-191",
        "3.467443581611296e+180",
        "4.201212419249933e+250",
        "-4.545896140860994e-14",
        "-1.278808376866442e-123",
        "-7.773821756658801e-157",
        "-1.1547680013076696e+101",
        "8.88116792998917e-231",
        "1.0259476444142278e-264",
        "-1.1937126864956989e+160",
        "-7.616900394922395e-186",
        "-9.404446511312006e+34",
    ];

    #[test]
    fn floats_are_written_as_cpython_writes_them() {
        for want in PYTHON_REPRS {
            let f: f64 = want.parse().unwrap();
            assert_eq!(&float_text(f), want);
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
        fn write_float_round_trips_with_the_shortest_digits_in_pythons_layout(bits in proptest::num::u64::ANY) {
            let f = f64::from_bits(bits);
            if f.is_finite() {
                let mut got = String::from("x");
                write_float(&mut got, f);
                let got = &got[1..];
                proptest::prop_assert_eq!(got.parse::<f64>().unwrap().to_bits(), f.to_bits());
                // As many significant digits as Rust's shortest form (which differs from
                // Python's only in the last digit of an exact tie).
                let sci = format!("{f:e}");
                let (mantissa, exp) = sci.split_once('e').unwrap();
                let count = |s: &str| s.trim_start_matches(['-', '0', '.']).chars().filter(char::is_ascii_digit).count();
                let (got_mantissa, _) = got.split_once('e').unwrap_or((got, ""));
                let got_digits = got_mantissa.trim_end_matches(".0").trim_end_matches('0');
                proptest::prop_assert_eq!(count(got_digits).max(1), count(mantissa).max(1));
                let exp: i32 = exp.parse().unwrap();
                if (-4..16).contains(&exp) {
                    proptest::prop_assert!(got.contains('.') && !got.contains('e'), "{}", got);
                } else {
                    proptest::prop_assert!(got.contains("e+") || got.contains("e-"), "{}", got);
                }
            }
        }
    }

    #[test]
    fn writes_what_python_json_dumps_writes() {
        let value = json!({"b": [1, 2.0, -0.5, 1e16, 1e-5, null, true], "a": "h\u{e9}llo \u{1f600}\n\"\u{1}"});
        assert_eq!(
            dumps(&value),
            r#"{"b": [1, 2.0, -0.5, 1e+16, 1e-05, null, true], "a": "h\u00e9llo \ud83d\ude00\n\"\u0001"}"#
        );
        assert_eq!(
            dumps_compact(&json!({"a": [1.0, "é"]})),
            r#"{"a":[1.0,"é"]}"#
        );
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
    }
}
