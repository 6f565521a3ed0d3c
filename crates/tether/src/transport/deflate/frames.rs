//! The frame layer under tokio-websockets, sans-IO: it reads the peer's frames and
//! rewrites every compressed message (RSV1 on its first frame) as the frames of the
//! inflated message, RSV1 clear, so that tokio-websockets (which rejects RSV bits) reads
//! them as ordinary frames and still checks everything else itself: UTF-8 (1007),
//! fragmentation, control frames, and RSV1 where RFC 7692 forbids it — on a control or
//! continuation frame it is passed through untouched, and tokio-websockets fails the
//! connection with 1002.
//!
//! The inflated size of a message is bounded by the limit: inflating stops one byte
//! past it (nothing beyond is allocated), and the layer hands tokio-websockets the
//! header of a frame one byte larger than its limit, so that it fails the connection
//! with 1009 itself. Invalid compressed data is handed on as a frame with RSV2 set (a
//! 1002). [`InboundFrames::failure`] tells what really happened.
//!
//! For a server's side ([`OutboundFrames`]), the frames tokio-websockets writes are
//! rewritten the other way: a single-frame text or binary message at or above the
//! threshold is compressed and sent with RSV1.

use super::context::{DeflateError, Deflater, Inflater, TRAILER};

/// Inflated data is handed on in frames of at most this size (tokio-websockets
/// reassembles them); a message that fits is handed on as one frame.
const FRAGMENT: usize = 64 * 1024;

/// A frame header as read off the wire.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
    size: usize,
}

/// Parses a frame header; `None` until all of it is there.
fn parse_header(b: &[u8]) -> Option<Header> {
    let (&b0, &b1) = (b.first()?, b.get(1)?);
    let (len, mut size) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])), 4),
        127 => (u64::from_be_bytes(b.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 == 0 {
        None
    } else {
        let key: [u8; 4] = b.get(size..size + 4)?.try_into().ok()?;
        size += 4;
        Some(key)
    };
    Some(Header {
        fin: b0 & 0x80 != 0,
        rsv: b0 & 0x70,
        opcode: b0 & 0x0f,
        mask,
        len,
        size,
    })
}

/// Appends a frame header (and a zero mask key when `masked`: the payload stays as it
/// is, which is what a server-side reader expects of a client's frames).
fn push_header(out: &mut Vec<u8>, first_byte: u8, masked: bool, len: u64) {
    out.push(first_byte);
    let mask_bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | u8::try_from(len).unwrap_or(0));
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&[0; 4]);
    }
}

fn push_frame(out: &mut Vec<u8>, first_byte: u8, masked: bool, payload: &[u8]) {
    push_header(out, first_byte, masked, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for a frame header.
    Header,
    /// Passing `remaining` payload bytes through untouched.
    Plain { remaining: u64 },
    /// Inflating `remaining` compressed payload bytes.
    Compressed {
        remaining: u64,
        fin: bool,
        mask: Option<[u8; 4]>,
        offset: usize,
    },
    /// The connection failed: everything passes through untouched (tokio-websockets no
    /// longer reads; a drain discards it).
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    None,
    /// A fragmented uncompressed message is in progress.
    Plain,
    /// A compressed message is in progress.
    Compressed {
        opcode: u8,
        /// Its first frame was handed on already.
        emitted: bool,
        inflated: usize,
        wire: u64,
    },
}

/// Rewrites the peer's compressed messages as plain frames; see the [module](self) docs.
#[derive(Debug)]
pub struct InboundFrames {
    /// Frames come masked (we are the server) and are handed on with a zero mask.
    masked: bool,
    limit: usize,
    inflater: Inflater,
    state: State,
    message: Message,
    pending: Vec<u8>,
    scratch: Vec<u8>,
    failure: Option<DeflateError>,
}

impl InboundFrames {
    /// A reader of the frames a server sends (unmasked), for a client.
    #[must_use]
    pub fn for_client(limit: usize, server_no_context_takeover: bool) -> Self {
        Self::new(false, limit, server_no_context_takeover)
    }

    /// A reader of the frames a client sends (masked), for a server.
    #[must_use]
    pub fn for_server(limit: usize, client_no_context_takeover: bool) -> Self {
        Self::new(true, limit, client_no_context_takeover)
    }

    fn new(masked: bool, limit: usize, no_context_takeover: bool) -> Self {
        Self {
            masked,
            limit,
            inflater: Inflater::new(no_context_takeover),
            state: State::Header,
            message: Message::None,
            pending: Vec::new(),
            scratch: Vec::new(),
            failure: None,
        }
    }

    /// Why the layer failed the connection, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<&DeflateError> {
        self.failure.as_ref()
    }

    /// Whether an inflate context is allocated (not before the first compressed message).
    #[must_use]
    pub fn has_context(&self) -> bool {
        self.inflater.is_allocated()
    }

    /// Reads `input`, appending the rewritten stream to `out`; returns how many bytes
    /// were consumed (the rest is an incomplete header: call again with more after it).
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        loop {
            match self.state {
                State::Failed => {
                    out.extend_from_slice(&input[pos..]);
                    return input.len();
                }
                State::Header => {
                    let Some(h) = parse_header(&input[pos..]) else {
                        return pos;
                    };
                    let raw = &input[pos..pos + h.size];
                    pos += h.size;
                    self.start_frame(h, raw, out);
                }
                State::Plain { remaining } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - pos);
                    out.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::Header
                    } else {
                        State::Plain { remaining }
                    };
                    if remaining > 0 {
                        return pos;
                    }
                }
                State::Compressed {
                    remaining,
                    fin,
                    mask,
                    offset,
                } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - pos);
                    let chunk = &input[pos..pos + n];
                    pos += n;
                    let remaining = remaining - n as u64;
                    let inflated = match mask {
                        Some(key) => {
                            let mut scratch = std::mem::take(&mut self.scratch);
                            scratch.clear();
                            scratch.extend(
                                chunk
                                    .iter()
                                    .enumerate()
                                    .map(|(i, b)| b ^ key[(offset + i) % 4]),
                            );
                            let r = self.inflate(&scratch, out);
                            scratch.clear();
                            if scratch.capacity() > FRAGMENT {
                                scratch.shrink_to(FRAGMENT);
                            }
                            self.scratch = scratch;
                            r
                        }
                        None => self.inflate(chunk, out),
                    };
                    if let Err(e) = inflated {
                        self.fail(e, out);
                        continue;
                    }
                    if remaining > 0 {
                        self.state = State::Compressed {
                            remaining,
                            fin,
                            mask,
                            offset: (offset + n) % 4,
                        };
                        return pos;
                    }
                    self.end_frame(fin, out);
                }
            }
        }
    }

    /// Decides what a frame is from its header.
    fn start_frame(&mut self, h: Header, raw: &[u8], out: &mut Vec<u8>) {
        let plain = |this: &mut Self, out: &mut Vec<u8>| {
            out.extend_from_slice(raw);
            this.state = if h.len == 0 {
                State::Header
            } else {
                State::Plain { remaining: h.len }
            };
        };
        let compressible =
            h.mask.is_some() == self.masked && h.rsv & !0x40 == 0 && h.opcode & 0x08 == 0;
        if !compressible {
            // Control frames (RSV1 there is a 1002 tokio-websockets reports), other RSV
            // bits, a frame masked the wrong way: tokio-websockets judges them.
            return plain(self, out);
        }
        match (h.opcode, self.message) {
            (0, Message::Compressed { .. }) if h.rsv == 0 => self.start_compressed(h, out),
            (0, Message::Plain) if h.rsv == 0 => {
                if h.fin {
                    self.message = Message::None;
                }
                plain(self, out);
            }
            (1 | 2, Message::None) if h.rsv == 0x40 => {
                self.message = Message::Compressed {
                    opcode: h.opcode,
                    emitted: false,
                    inflated: 0,
                    wire: 0,
                };
                self.start_compressed(h, out);
            }
            (1 | 2, Message::None) if h.rsv == 0 => {
                if !h.fin {
                    self.message = Message::Plain;
                }
                plain(self, out);
            }
            // RSV1 on a continuation frame, a new message inside another: passed on for
            // tokio-websockets to fail with 1002.
            _ => plain(self, out),
        }
    }

    fn start_compressed(&mut self, h: Header, out: &mut Vec<u8>) {
        if let Message::Compressed { wire, .. } = &mut self.message {
            *wire = wire.saturating_add(h.len);
            if *wire > self.limit as u64 {
                let limit = self.limit;
                return self.fail(DeflateError::TooBig { limit }, out);
            }
        }
        self.state = State::Compressed {
            remaining: h.len,
            fin: h.fin,
            mask: h.mask,
            offset: 0,
        };
        if h.len == 0 {
            self.end_frame(h.fin, out);
        }
    }

    /// Inflates compressed payload bytes into `pending`, handing on full fragments.
    fn inflate(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        loop {
            let Message::Compressed { inflated, .. } = self.message else {
                return Ok(());
            };
            let room = (self.limit - inflated).saturating_add(1).min(FRAGMENT);
            let step = self.inflater.inflate(input, &mut self.pending, room)?;
            input = &input[step.consumed..];
            let inflated = inflated + step.produced;
            if let Message::Compressed { inflated: i, .. } = &mut self.message {
                *i = inflated;
            }
            if inflated > self.limit {
                return Err(DeflateError::TooBig { limit: self.limit });
            }
            if self.pending.len() >= FRAGMENT {
                self.emit(false, out);
            }
            if input.is_empty() && step.produced < room {
                return Ok(());
            }
        }
    }

    /// A compressed frame's payload ended.
    fn end_frame(&mut self, fin: bool, out: &mut Vec<u8>) {
        self.state = State::Header;
        if !fin {
            if let Message::Compressed { emitted: false, .. } = self.message {
                // Hand the first frame on now, so that tokio-websockets tracks the
                // fragmentation (and rejects a new message inside this one).
                self.emit(false, out);
            }
            return;
        }
        if let Err(e) = self.inflate(&TRAILER, out) {
            return self.fail(e, out);
        }
        self.emit(true, out);
        self.inflater.end_message();
        self.message = Message::None;
        if self.pending.capacity() > FRAGMENT {
            self.pending = Vec::new();
        }
    }

    /// Hands `pending` on as one frame of the current message.
    fn emit(&mut self, fin: bool, out: &mut Vec<u8>) {
        let Message::Compressed {
            opcode, emitted, ..
        } = &mut self.message
        else {
            return;
        };
        let op = if *emitted { 0 } else { *opcode };
        *emitted = true;
        push_frame(out, u8::from(fin) << 7 | op, self.masked, &self.pending);
        self.pending.clear();
    }

    /// Fails the connection: hands tokio-websockets a frame header it fails the
    /// connection over, with the close code that fits.
    fn fail(&mut self, error: DeflateError, out: &mut Vec<u8>) {
        let op = match self.message {
            Message::Compressed {
                opcode,
                emitted: false,
                ..
            } => opcode,
            _ => 0,
        };
        match error {
            DeflateError::TooBig { limit } => {
                // One byte past tokio-websockets' own limit: 1009.
                push_header(out, 0x80 | op, self.masked, limit as u64 + 1);
            }
            _ => {
                // RSV2, which no extension here uses: 1002.
                push_header(out, 0x80 | 0x20 | op, self.masked, 0);
            }
        }
        tracing::debug!(%error, "permessage-deflate: failing the connection");
        self.failure = Some(error);
        self.pending = Vec::new();
        self.state = State::Failed;
    }
}

/// Compresses the messages a server writes (tokio-websockets' unmasked frames); see
/// the [module](self) docs.
#[derive(Debug)]
pub struct OutboundFrames {
    deflater: Option<Deflater>,
    threshold: usize,
    /// Largest frame held back to be compressed whole.
    max_compressed: usize,
    state: OutState,
    held: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum OutState {
    Header,
    Plain {
        remaining: u64,
    },
    /// Holding a whole frame to compress it.
    Holding {
        header: Header,
    },
}

impl OutboundFrames {
    /// Compresses single-frame messages of at least `threshold` bytes with a window of
    /// 2^`window_bits` (passes everything through when zlib cannot honour that window).
    #[must_use]
    pub fn new(window_bits: u8, no_context_takeover: bool, threshold: usize, max: usize) -> Self {
        Self {
            deflater: Deflater::can_compress(window_bits)
                .then(|| Deflater::new(window_bits, no_context_takeover)),
            threshold,
            max_compressed: max,
            state: OutState::Header,
            held: Vec::new(),
        }
    }

    /// Reads what the WebSocket writer wrote, appending the frames to send to `out`.
    ///
    /// # Errors
    /// [`DeflateError::Compress`] when the compressor fails.
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        let owned;
        let mut input = if self.held.is_empty() {
            input
        } else {
            self.held.extend_from_slice(input);
            owned = std::mem::take(&mut self.held);
            &owned[..]
        };
        loop {
            match self.state {
                OutState::Plain { remaining } => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        OutState::Header
                    } else {
                        OutState::Plain { remaining }
                    };
                }
                OutState::Header => {
                    let Some(h) = parse_header(input) else {
                        self.held.extend_from_slice(input);
                        return Ok(());
                    };
                    let compress = self.deflater.is_some()
                        && h.fin
                        && matches!(h.opcode, 1 | 2)
                        && h.rsv == 0
                        && h.mask.is_none()
                        && h.len >= self.threshold as u64
                        && h.len <= self.max_compressed as u64;
                    if compress {
                        self.state = OutState::Holding { header: h };
                    } else {
                        out.extend_from_slice(&input[..h.size]);
                        self.state = if h.len == 0 {
                            OutState::Header
                        } else {
                            OutState::Plain { remaining: h.len }
                        };
                    }
                    input = &input[h.size..];
                }
                OutState::Holding { header } => {
                    let len = usize::try_from(header.len).unwrap_or(usize::MAX);
                    if input.len() < len {
                        self.held.extend_from_slice(input);
                        return Ok(());
                    }
                    let mut compressed = Vec::new();
                    if let Some(deflater) = &mut self.deflater {
                        deflater.compress(&input[..len], &mut compressed)?;
                    }
                    push_frame(out, 0x80 | 0x40 | header.opcode, false, &compressed);
                    input = &input[len..];
                    self.state = OutState::Header;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressed_frame(deflater: &mut Deflater, text: &[u8], masked: bool) -> Vec<u8> {
        let mut payload = Vec::new();
        deflater.compress(text, &mut payload).unwrap();
        let mut out = Vec::new();
        push_header(&mut out, 0xc1, masked, payload.len() as u64);
        out.extend_from_slice(&payload);
        out
    }

    fn feed_bytewise(frames: &mut InboundFrames, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut held = Vec::new();
        for b in input {
            held.push(*b);
            let n = frames.process(&held, &mut out);
            held.drain(..n);
        }
        out
    }

    #[test]
    fn a_compressed_message_is_handed_on_as_one_plain_frame() {
        let mut deflater = Deflater::new(15, false);
        let wire = compressed_frame(&mut deflater, b"hello hello hello", false);
        let mut frames = InboundFrames::for_client(1 << 20, false);
        let out = feed_bytewise(&mut frames, &wire);
        let mut expected = Vec::new();
        push_frame(&mut expected, 0x81, false, b"hello hello hello");
        assert_eq!(out, expected);
        assert!(frames.has_context());
    }

    #[test]
    fn plain_frames_and_rsv1_on_control_frames_pass_through_untouched() {
        let mut frames = InboundFrames::for_client(1 << 20, false);
        let mut wire = Vec::new();
        push_frame(&mut wire, 0x81, false, b"plain");
        push_frame(&mut wire, 0x89 | 0x40, false, b"ping with rsv1");
        let out = feed_bytewise(&mut frames, &wire);
        assert_eq!(out, wire);
        assert!(!frames.has_context());
    }

    #[test]
    fn rsv1_on_a_continuation_frame_is_passed_on_for_a_1002() {
        let mut frames = InboundFrames::for_client(1 << 20, false);
        let mut wire = Vec::new();
        push_frame(&mut wire, 0x01, false, b"start");
        push_frame(&mut wire, 0x80 | 0x40, false, b"rsv1 continuation");
        assert_eq!(feed_bytewise(&mut frames, &wire), wire);
    }

    #[test]
    fn inflated_size_over_the_limit_is_handed_on_as_an_oversized_frame() {
        let mut deflater = Deflater::new(15, false);
        let wire = compressed_frame(&mut deflater, &vec![b'a'; 100_000], false);
        let mut frames = InboundFrames::for_client(50_000, false);
        let mut out = Vec::new();
        frames.process(&wire, &mut out);
        assert_eq!(
            frames.failure(),
            Some(&DeflateError::TooBig { limit: 50_000 })
        );
        let h = parse_header(&out).unwrap();
        assert_eq!((h.opcode, h.len), (1, 50_001));
        assert!(out.len() < 64, "nothing of the message was handed on");
    }

    #[test]
    fn server_side_frames_are_unmasked_inflated_and_handed_on_with_a_zero_mask() {
        let mut deflater = Deflater::new(15, false);
        let mut payload = Vec::new();
        deflater.compress(b"masked message", &mut payload).unwrap();
        let key = [1, 2, 3, 4];
        let mut wire = vec![0xc2, 0x80 | payload.len() as u8];
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        let mut frames = InboundFrames::for_server(1 << 20, false);
        let out = feed_bytewise(&mut frames, &wire);
        let mut expected = Vec::new();
        push_frame(&mut expected, 0x82, true, b"masked message");
        assert_eq!(out, expected);
    }

    #[test]
    fn a_fragmented_compressed_message_keeps_control_frames_in_between() {
        let mut deflater = Deflater::new(15, false);
        let mut payload = Vec::new();
        deflater
            .compress(b"one two three four", &mut payload)
            .unwrap();
        let (a, b) = payload.split_at(payload.len() / 2);
        let mut wire = Vec::new();
        push_frame(&mut wire, 0x41, false, a);
        push_frame(&mut wire, 0x89, false, b"ping");
        push_frame(&mut wire, 0x80, false, b);
        let mut frames = InboundFrames::for_client(1 << 20, false);
        let out = feed_bytewise(&mut frames, &wire);
        // first fragment (opcode 1, not final), ping, final continuation
        let h1 = parse_header(&out).unwrap();
        assert_eq!((h1.fin, h1.opcode), (false, 1));
        let mut text = out[h1.size..h1.size + h1.len as usize].to_vec();
        let rest = &out[h1.size + h1.len as usize..];
        let ping = parse_header(rest).unwrap();
        assert_eq!(ping.opcode, 9);
        let rest = &rest[ping.size + ping.len as usize..];
        let h3 = parse_header(rest).unwrap();
        assert_eq!((h3.fin, h3.opcode), (true, 0));
        text.extend_from_slice(&rest[h3.size..h3.size + h3.len as usize]);
        assert_eq!(text, b"one two three four");
    }

    #[test]
    fn the_server_compresses_single_frames_above_the_threshold() {
        let mut outbound = OutboundFrames::new(15, false, 10, 1 << 20);
        let mut written = Vec::new();
        push_frame(&mut written, 0x81, false, b"short");
        push_frame(&mut written, 0x81, false, &[b'x'; 500]);
        let mut out = Vec::new();
        for chunk in written.chunks(7) {
            outbound.process(chunk, &mut out).unwrap();
        }
        let mut inbound = InboundFrames::for_client(1 << 20, false);
        let mut plain = Vec::new();
        inbound.process(&out, &mut plain);
        assert_eq!(plain, written);
        assert!(out.len() < 100);
    }
}
