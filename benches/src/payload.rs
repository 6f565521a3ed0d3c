//! The messages: `{"seq":N,"pad":"xxx…"}` JSON texts padded to a size, or binary
//! frames starting with the sequence number (8 bytes, little endian).

use anyhow::{Context, bail};

use crate::conn::Outgoing;

const TEXT_HEAD: &str = "{\"seq\":";

/// Builds message `seq` of about `size` bytes (exactly `size` when it fits).
pub fn message(seq: u64, size: usize, binary: bool) -> Outgoing {
    if binary {
        let mut data = vec![0u8; size.max(8)];
        data[..8].copy_from_slice(&seq.to_le_bytes());
        Outgoing::Binary(data)
    } else {
        let mut text = String::with_capacity(size.max(32));
        text.push_str(TEXT_HEAD);
        text.push_str(&seq.to_string());
        text.push_str(",\"pad\":\"");
        let pad = size.saturating_sub(text.len() + 2);
        text.extend(std::iter::repeat_n('x', pad));
        text.push_str("\"}");
        Outgoing::Text(text)
    }
}

/// The sequence number an echoed message carries.
pub fn seq_of(payload: &[u8], binary: bool) -> anyhow::Result<u64> {
    if binary {
        let head: [u8; 8] = payload
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .context("binary echo shorter than 8 bytes")?;
        return Ok(u64::from_le_bytes(head));
    }
    let Some(rest) = payload.strip_prefix(TEXT_HEAD.as_bytes()) else {
        bail!("echo does not start with {TEXT_HEAD}");
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits])?
        .parse()
        .context("echo has no sequence number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_padded_json_of_the_size() {
        let Outgoing::Text(t) = message(42, 100, false) else {
            panic!("text expected")
        };
        assert_eq!(t.len(), 100);
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["seq"], 42);
        assert_eq!(seq_of(t.as_bytes(), false).unwrap(), 42);
    }

    #[test]
    fn binaries_carry_the_sequence_first() {
        let Outgoing::Binary(b) = message(7, 65536, true) else {
            panic!("binary expected")
        };
        assert_eq!(b.len(), 65536);
        assert_eq!(seq_of(&b, true).unwrap(), 7);
    }
}
