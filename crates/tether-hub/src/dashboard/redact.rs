//! Secrets never reach the page: the values of keys that name a token, a password, a
//! secret, an API key or credentials are replaced in message excerpts.

/// What replaces a secret value.
pub(crate) const REDACTED: &str = "«redacted»";

/// Whether a key names a secret (`token`, `access_token`, `password`, `apiKey`,
/// `api-key`, `secret`, `authorization`, `credentials`, `auth`, `session`, …), case and
/// separators ignored.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const WITHIN: [&str; 9] = [
        "token",
        "password",
        "passwd",
        "secret",
        "apikey",
        "authorization",
        "credential",
        "cookie",
        "privatekey",
    ];
    const WHOLE: [&str; 9] = [
        "auth",
        "pwd",
        "pass",
        "key",
        "session",
        "sessionid",
        "sid",
        "signature",
        "sig",
    ];
    WITHIN.iter().any(|word| folded.contains(word)) || WHOLE.contains(&folded.as_str())
}

/// An excerpt as shown: lossy UTF-8, with every secret value replaced. Works on truncated
/// JSON too (a value cut off by the excerpt is redacted up to its end), and on
/// `key=value` text.
pub(crate) fn redact(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A JSON string: copy it; if it is a secret key followed by ':', redact the value.
            let end = string_end(&chars, i);
            let key: String = chars[i + 1..end.min(chars.len())].iter().collect();
            out.extend(&chars[i..(end + 1).min(chars.len())]);
            i = end + 1;
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == ':' && is_secret_key(&key) {
                out.extend(&chars[i..=j]);
                i = j + 1;
                while i < chars.len() && chars[i].is_whitespace() {
                    out.push(chars[i]);
                    i += 1;
                }
                i = skip_value(&chars, i);
                out.push('"');
                out.push_str(REDACTED);
                out.push('"');
            }
        } else if c.is_ascii_alphabetic() && (i == 0 || !is_word(chars[i - 1])) {
            // A bare word: `password=…`, `token: …`.
            let mut end = i;
            while end < chars.len() && is_word(chars[end]) {
                end += 1;
            }
            let word: String = chars[i..end].iter().collect();
            out.push_str(&word);
            i = end;
            if i < chars.len() && (chars[i] == '=' || chars[i] == ':') && is_secret_key(&word) {
                out.push(chars[i]);
                i += 1;
                while i < chars.len() && chars[i] == ' ' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() && chars[i] == '"' {
                    i = skip_value(&chars, i);
                } else {
                    while i < chars.len() && !matches!(chars[i], '&' | ' ' | ',' | ';' | '\n') {
                        i += 1;
                    }
                }
                out.push_str(REDACTED);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The index of the quote closing the string opened at `start` (or the last index).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i,
            _ => i += 1,
        }
    }
    chars.len()
}

/// Skips one JSON value (string, or anything up to `,`/`}`/`]` with nesting); returns
/// the index after it.
fn skip_value(chars: &[char], start: usize) -> usize {
    if start >= chars.len() {
        return start;
    }
    if chars[start] == '"' {
        return string_end(chars, start) + 1;
    }
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' => i = string_end(chars, i),
            '{' | '[' => depth += 1,
            '}' | ']' if depth == 0 => return i,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_passwords_and_api_keys_are_never_shown() {
        let shown = redact(
            br#"{"op":2,"d":{"token":"abc123SECRET","user":"admin","password":"hunter2","apiKey":"k-77","access_token":"tok","auth":{"x":"y"}}}"#,
        );
        for secret in ["abc123SECRET", "hunter2", "k-77", "\"tok\"", "\"y\""] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains(r#""user":"admin""#), "{shown}");
        assert!(shown.contains(r#""op":2"#), "{shown}");
        // Words that merely contain a secret's name stay.
        let shown = redact(br#"{"author":"bob","auth_origin":"x"}"#);
        assert!(shown.contains("bob") && shown.contains(r#""x""#), "{shown}");
    }

    #[test]
    fn a_secret_cut_off_by_the_excerpt_is_still_redacted() {
        let shown = redact(br#"{"type":"login","password":"hunter2hunt"#);
        assert!(!shown.contains("hunter"), "{shown}");
        let shown = redact(br#"{"type":"login","token": 123456"#);
        assert!(!shown.contains("123456"), "{shown}");
    }

    #[test]
    fn key_value_text_is_redacted_too() {
        let shown = redact(b"LOGIN user=admin password=hunter2 token: t0k&api_key=zz");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("t0k"), "{shown}");
        assert!(!shown.contains("zz"), "{shown}");
        assert!(shown.contains("user=admin"), "{shown}");
    }

    #[test]
    fn escaped_quotes_and_invalid_utf8_do_not_confuse_it() {
        let shown = redact(b"{\"text\":\"say \\\"token\\\": x\",\"secret\":\"s\\\"q\"}\xff");
        assert!(!shown.contains("s\\\"q"), "{shown}");
        assert!(shown.contains("say"), "{shown}");
    }
}
