//! The compression contexts of one direction: raw DEFLATE with a sync flush per message
//! (RFC 7692 §7.2), created on first use and reset between messages when the sender
//! agreed to no context takeover.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The four bytes a sync flush ends with, removed from every compressed message and
/// appended again before inflating (RFC 7692 §7.2.1, §7.2.2).
pub(crate) const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a message could not be compressed or inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError {
    /// The compressed data is not valid DEFLATE.
    #[error("invalid compressed data: {0}")]
    Corrupt(String),
    /// The message inflates to more than the size limit.
    #[error("message inflates to more than the limit of {limit} bytes")]
    TooBig {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The compressor failed (not expected; the connection cannot go on).
    #[error("compression failed: {0}")]
    Compress(String),
}

/// Compresses the messages one side sends.
pub(crate) struct Deflater {
    context: Option<Compress>,
    window_bits: u8,
    no_context_takeover: bool,
    level: Compression,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.context.is_some())
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

impl Deflater {
    /// A compressor for a window of 2^`window_bits` bytes (9..=15; zlib cannot make
    /// 256-byte windows, see [`Deflater::can_compress`]).
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            context: None,
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            level: Compression::default(),
        }
    }

    /// Whether a window of 2^`window_bits` can be honoured: zlib's smallest raw-deflate
    /// window is 2^9, so a peer that asks for 2^8 gets every message uncompressed (as
    /// RFC 7692 allows any message to be).
    pub(crate) fn can_compress(window_bits: u8) -> bool {
        (9..=15).contains(&window_bits)
    }

    /// Whether the context is allocated (it is from the first compressed message on).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.context.is_some()
    }

    /// Frees the context (window and hash tables: ~256 KiB at a 2^15 window); the next
    /// message starts a fresh DEFLATE stream, at its first use.
    ///
    /// Valid under context takeover too: every message ends on a sync flush (a block
    /// boundary, no final block), so the peer's inflater reads the fresh stream's first
    /// block as the next block of the stream it knows, and keeps its window, which the
    /// fresh stream simply never refers to (the window parameters of RFC 7692 §7.1.2 are
    /// maximums: a compressor may always refer to less). What it costs is ratio: the first
    /// message after a release cannot refer to the ones before it.
    pub(crate) fn release(&mut self) {
        self.context = None;
    }

    /// Appends `payload`, compressed and without the trailing [`TRAILER`], to `out`.
    pub(crate) fn compress(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DeflateError> {
        let (level, bits) = (self.level, self.window_bits);
        let context = self
            .context
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits));
        let start = out.len();
        let mut consumed = 0;
        loop {
            out.reserve((payload.len() - consumed) / 2 + 64);
            let before = context.total_in();
            context
                .compress_vec(&payload[consumed..], out, FlushCompress::Sync)
                .map_err(|e| DeflateError::Compress(e.to_string()))?;
            consumed += usize::try_from(context.total_in() - before).unwrap_or(usize::MAX);
            // Spare room left after a sync flush means the flush is complete.
            if consumed >= payload.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.len() - start >= 4 && out.ends_with(&TRAILER) {
            out.truncate(out.len() - 4);
        }
        if self.no_context_takeover {
            context.reset();
        }
        Ok(())
    }
}

/// What one call to [`Inflater::inflate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inflated {
    /// Input bytes consumed.
    pub(crate) consumed: usize,
    /// Output bytes appended.
    pub(crate) produced: usize,
}

/// Inflates the messages the peer sends.
pub(crate) struct Inflater {
    context: Option<Decompress>,
    no_context_takeover: bool,
    /// The peer ended the DEFLATE stream (a final block) inside the current message.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.context.is_some())
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

/// Output is produced in pieces of at most this many bytes.
const CHUNK: usize = 16 * 1024;

impl Inflater {
    /// An inflater (window 2^15, which reads every smaller window too).
    pub(crate) fn new(no_context_takeover: bool) -> Self {
        Self {
            context: None,
            no_context_takeover,
            ended: false,
        }
    }

    /// Whether the context is allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.context.is_some()
    }

    /// Inflates `input`, appending to `out` at most `room` bytes (so that a message can
    /// be cut off at its limit without anything past it allocated). Stops when all input
    /// was consumed and no output is pending, or `room` is used up.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Inflated, DeflateError> {
        let context = self.context.get_or_insert_with(|| Decompress::new(false));
        let mut done = Inflated {
            consumed: 0,
            produced: 0,
        };
        let mut scratch = [0u8; 4096];
        loop {
            if self.ended {
                // Bytes after a final block are ignored (nothing more can be inflated).
                done.consumed = input.len();
                return Ok(done);
            }
            let want = (room - done.produced).min(CHUNK).min(scratch.len());
            if want == 0 {
                return Ok(done);
            }
            let (in_before, out_before) = (context.total_in(), context.total_out());
            let status = context
                .decompress(
                    &input[done.consumed..],
                    &mut scratch[..want],
                    FlushDecompress::Sync,
                )
                .map_err(|e| DeflateError::Corrupt(e.to_string()))?;
            let consumed = usize::try_from(context.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(context.total_out() - out_before).unwrap_or(0);
            out.extend_from_slice(&scratch[..produced]);
            done.consumed += consumed;
            done.produced += produced;
            if status == Status::StreamEnd {
                self.ended = true;
                continue;
            }
            // More output may be pending while the piece was filled to the brim.
            if produced < want {
                if done.consumed == input.len() {
                    return Ok(done);
                }
                if consumed + produced == 0 {
                    return Err(DeflateError::Corrupt("inflating made no progress".into()));
                }
            }
        }
    }

    /// The message ended: start the next one afresh when the peer agreed to no context
    /// takeover (or ended its stream).
    pub(crate) fn end_message(&mut self) {
        if (self.no_context_takeover || self.ended)
            && let Some(context) = &mut self.context
        {
            context.reset(false);
        }
        self.ended = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(
        inflater: &mut Inflater,
        compressed: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, DeflateError> {
        let mut data = compressed.to_vec();
        data.extend_from_slice(&TRAILER);
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let room = limit + 1 - out.len();
            let step = inflater.inflate(&data[pos..], &mut out, room)?;
            pos += step.consumed;
            if out.len() > limit {
                return Err(DeflateError::TooBig { limit });
            }
            if pos == data.len() && step.produced < room {
                inflater.end_message();
                return Ok(out);
            }
        }
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        for no_takeover in [false, true] {
            for bits in 9..=15 {
                let mut deflater = Deflater::new(bits, no_takeover);
                let mut inflater = Inflater::new(no_takeover);
                assert!(!deflater.is_allocated() && !inflater.is_allocated());
                for i in 0..5 {
                    let msg = format!("{{\"id\":{i},\"text\":\"{}\"}}", "hello ".repeat(200 * i));
                    let mut wire = Vec::new();
                    deflater.compress(msg.as_bytes(), &mut wire).unwrap();
                    assert!(!wire.ends_with(&TRAILER) || wire.len() < 4);
                    assert_eq!(
                        inflate_all(&mut inflater, &wire, 1 << 20).unwrap(),
                        msg.as_bytes()
                    );
                }
            }
        }
    }

    #[test]
    fn a_released_compressor_keeps_a_context_takeover_inflater_in_step() {
        // The peer's inflater keeps its window across the release; the messages after
        // it (fresh DEFLATE streams) inflate as sent, and refer to each other again.
        let mut deflater = Deflater::new(15, false);
        let mut inflater = Inflater::new(false);
        let msg = |i: usize| format!("{{\"id\":{i},\"text\":\"{}\"}}", "tether ".repeat(300));
        let mut sizes = Vec::new();
        for i in 0..6 {
            if i == 3 {
                deflater.release();
                assert!(!deflater.is_allocated());
            }
            let mut wire = Vec::new();
            deflater.compress(msg(i).as_bytes(), &mut wire).unwrap();
            assert_eq!(
                inflate_all(&mut inflater, &wire, 1 << 20).unwrap(),
                msg(i).as_bytes()
            );
            sizes.push(wire.len());
        }
        assert!(deflater.is_allocated());
        // The first message after the release is as large as the very first (it refers
        // to nothing before it); the next ones refer back again.
        assert_eq!(sizes[3], sizes[0], "{sizes:?}");
        assert!(sizes[4] < sizes[3], "{sizes:?}");
    }

    #[test]
    fn an_empty_message_round_trips() {
        let mut deflater = Deflater::new(15, false);
        let mut wire = Vec::new();
        deflater.compress(b"", &mut wire).unwrap();
        let mut inflater = Inflater::new(false);
        assert_eq!(inflate_all(&mut inflater, &wire, 10).unwrap(), b"");
    }

    #[test]
    fn inflating_stops_at_the_room_given() {
        let mut deflater = Deflater::new(15, false);
        let mut wire = Vec::new();
        deflater.compress(&vec![0u8; 1 << 20], &mut wire).unwrap();
        assert!(wire.len() < 2048);
        let mut inflater = Inflater::new(false);
        assert_eq!(
            inflate_all(&mut inflater, &wire, 1000),
            Err(DeflateError::TooBig { limit: 1000 })
        );
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        let mut inflater = Inflater::new(false);
        let mut out = Vec::new();
        let err = inflater.inflate(&[0xff; 32], &mut out, 1000).unwrap_err();
        assert!(matches!(err, DeflateError::Corrupt(_)), "{err:?}");
    }
}
