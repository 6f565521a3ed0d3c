//! The WebSocket transport of tether's own client connectors: tokio-websockets reads,
//! answers pings and closes, while data frames up to [`DIRECT_MAX`] bytes are encoded
//! straight into the connection's [`Coalescing`] write buffer, masked while they are
//! copied.
//!
//! tokio-websockets encodes each frame on its own: a queue entry per frame, and for a
//! payload it does not own alone (the outbox keeps every message until it is delivered,
//! so none is owned alone) a fresh allocation to mask a copy in. For small messages that
//! was the largest cost of the write path after the kernel's (issue 9, W5). Here a frame
//! costs a header, a random mask and one masking copy into a buffer that is reused.
//!
//! Order: frames tokio-websockets still holds in its own queue (a ping, or a message too
//! large for the direct path) are flushed into the stream before the next direct frame;
//! if they cannot be yet, frames keep going through tokio-websockets' queue behind them.
//! Once a close frame was sent or received, every frame goes through tokio-websockets,
//! which refuses data after a close.
//!
//! permessage-deflate: when it was negotiated, a message of at least the threshold is
//! compressed here and sent directly with RSV1 (whatever its size); one that has to go
//! through tokio-websockets' queue goes uncompressed (RFC 7692 lets any message be).
//! Messages are compressed as they are written, so a message replayed after a reconnect
//! (the outbox keeps it uncompressed) is compressed again with that connection's context.
//! A heartbeat interval without a compressed message (two pings with none between them)
//! frees the compressor; the next message starts a fresh one (see `Deflater::release`).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_websockets::Message;

use super::{
    Coalescing, HOLD_LIMIT, Received, Transport, WriteHold,
    deflate::{Deflater, WireStream},
    ws::{FLUSH_THRESHOLD, WsTransport, map_error},
};
use crate::{error::ConnectionError, frame::Frame};

/// Largest payload encoded directly; larger ones go through tokio-websockets (which may
/// split them into frames of its configured size).
pub(crate) const DIRECT_MAX: usize = 16 * 1024;

/// A client WebSocket over a [`Coalescing`] stream.
pub(crate) struct ClientWs<S> {
    inner: WsTransport<Coalescing<WireStream<S>>>,
    hold: WriteHold,
    /// tokio-websockets may hold frames in its own queue (sent through it since its last
    /// completed flush).
    queued_inside: bool,
    /// A close frame was sent or received: no more direct frames.
    closed: bool,
    rng: fastrand::Rng,
    /// The compressor and threshold, when permessage-deflate was negotiated.
    deflate: Option<(Deflater, usize)>,
    /// A compressed payload on its way into the write buffer.
    compressed: Vec<u8>,
    /// A message was compressed since the last ping: the compressor is in use.
    compressed_since_ping: bool,
}

impl<S> ClientWs<S> {
    pub(crate) fn new(
        inner: WsTransport<Coalescing<WireStream<S>>>,
        hold: WriteHold,
        deflate: Option<(Deflater, usize)>,
    ) -> Self {
        Self {
            inner,
            hold,
            queued_inside: false,
            closed: false,
            rng: fastrand::Rng::new(),
            deflate,
            compressed: Vec::new(),
            compressed_since_ping: false,
        }
    }
}

/// Compressed-payload buffer capacity kept between messages.
const COMPRESSED_RETAINED: usize = 64 * 1024;

/// Appends one final, masked client frame carrying `payload` to `out` (RFC 6455 §5.2);
/// `opcode` may carry RSV bits (0x40 | opcode for a compressed message).
pub(crate) fn encode_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    let len = payload.len();
    out.reserve(len + 14);
    out.push(0x80 | opcode);
    if len < 126 {
        // Fits in 7 bits.
        out.push(0x80 | u8::try_from(len).unwrap_or(0));
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
}

/// XORs `data` with the repeated 4-byte `mask`, 8 bytes at a time.
fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])) ^ wide;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    // The words covered a multiple of 4 bytes, so the rest starts at mask[0].
    for (byte, m) in words.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= m;
    }
}

impl<S> ClientWs<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn direct(&self, frame: &Frame) -> bool {
        !self.closed && !self.queued_inside && frame.len() <= DIRECT_MAX
    }

    /// Whether this frame is compressed (it then goes directly, whatever its size).
    fn compress(&self, frame: &Frame) -> bool {
        !self.closed
            && !self.queued_inside
            && self
                .deflate
                .as_ref()
                .is_some_and(|(_, threshold)| frame.len() >= *threshold)
    }

    /// A better account of a failure the frame layer caused than tokio-websockets' own.
    fn explain(&self, e: ConnectionError) -> ConnectionError {
        match (
            e,
            self.inner
                .ws
                .get_ref()
                .get_ref()
                .inbound()
                .and_then(|f| f.failure()),
        ) {
            (ConnectionError::ProtocolViolation { code, .. }, Some(failure)) => {
                ConnectionError::ProtocolViolation {
                    code,
                    detail: failure.to_string(),
                }
            }
            (e, _) => e,
        }
    }

    fn send_inside(&mut self, message: Message) -> Result<(), ConnectionError> {
        self.queued_inside = true;
        Pin::new(&mut self.inner.ws)
            .start_send(message)
            .map_err(map_error)
    }
}

impl<S> Transport for ClientWs<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Received, ConnectionError>>> {
        let received = self.inner.poll_recv(cx);
        match received {
            Poll::Ready(Some(Ok(Received::Close { .. }))) => self.closed = true,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(self.explain(e)))),
            _ => {}
        }
        received
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        if self.queued_inside {
            // Let tokio-websockets write its queue into the stream, so direct frames can
            // follow it; until it can, frames queue behind it there.
            match Pin::new(&mut self.inner.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.queued_inside = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(map_error(e))),
                Poll::Pending => return self.inner.poll_ready(cx),
            }
        }
        let stream = self.inner.ws.get_mut();
        // Direct frames bypass the stream's own bound on held bytes: enforce it here (and
        // the flush threshold when not holding).
        let limit = if self.hold.is_set() {
            HOLD_LIMIT
        } else {
            FLUSH_THRESHOLD
        };
        if stream.held() >= limit {
            return stream.poll_write_out(cx).map_err(ConnectionError::from);
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), ConnectionError> {
        if self.compress(&frame) {
            let opcode = if frame.is_text() { 0x41 } else { 0x42 };
            let mut compressed = std::mem::take(&mut self.compressed);
            compressed.clear();
            if let Some((deflater, _)) = &mut self.deflate {
                deflater
                    .compress(frame.payload(), &mut compressed)
                    .map_err(|e| ConnectionError::ProtocolViolation {
                        code: 1011,
                        detail: e.to_string(),
                    })?;
            }
            let mask = self.rng.u32(..).to_ne_bytes();
            encode_masked(
                self.inner.ws.get_mut().write_buffer(),
                opcode,
                &compressed,
                mask,
            );
            compressed.clear();
            if compressed.capacity() > COMPRESSED_RETAINED {
                compressed.shrink_to(COMPRESSED_RETAINED);
            }
            self.compressed = compressed;
            self.compressed_since_ping = true;
            return Ok(());
        }
        if !self.direct(&frame) {
            let message = match frame {
                Frame::Text(b) => Message::text(b),
                Frame::Binary(b) => Message::binary(b),
            };
            return self.send_inside(message);
        }
        let opcode = if frame.is_text() { 1 } else { 2 };
        let mask = self.rng.u32(..).to_ne_bytes();
        encode_masked(
            self.inner.ws.get_mut().write_buffer(),
            opcode,
            frame.payload(),
            mask,
        );
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        // tokio-websockets writes its own queue, then flushes the stream, which writes
        // what is held (the direct frames) first.
        let flushed = self.inner.poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            self.queued_inside = false;
        }
        flushed
    }

    fn supports_ping(&self) -> bool {
        true
    }

    fn start_ping(&mut self, payload: Bytes) -> Result<(), ConnectionError> {
        // The heartbeat is the clock: a whole interval between two pings without a
        // compressed message frees the compressor (most of a deflate connection's
        // memory), until the next message needs one.
        if !std::mem::take(&mut self.compressed_since_ping) {
            if let Some((deflater, _)) = &mut self.deflate {
                deflater.release();
            }
        }
        self.send_inside(Message::ping(payload))
    }

    fn start_close(&mut self, code: u16, reason: &str) -> Result<(), ConnectionError> {
        self.closed = true;
        self.queued_inside = true;
        self.inner.start_close(code, reason)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        self.inner.poll_close(cx)
    }

    fn hold_writes(&mut self, hold: bool) {
        self.hold.set(hold);
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_drain(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio_websockets::ServerBuilder;

    use super::*;

    #[tokio::test]
    async fn a_heartbeat_without_compressed_messages_frees_the_compressor() {
        let (client, _server) = tokio::io::duplex(1 << 20);
        let (stream, hold) = Coalescing::new(WireStream::new(client, Arc::default(), false));
        let inner = WsTransport {
            ws: tokio_websockets::ClientBuilder::new().take_over(stream),
        };
        let mut ws = ClientWs::new(inner, hold, Some((Deflater::new(15, false), 64)));
        let allocated = |ws: &ClientWs<_>| ws.deflate.as_ref().unwrap().0.is_allocated();
        let big = || Frame::text("tether ".repeat(100));
        ws.start_send(big()).unwrap();
        assert!(allocated(&ws));
        ws.start_ping(Bytes::new()).unwrap();
        assert!(
            allocated(&ws),
            "a message was compressed in this interval: kept"
        );
        std::future::poll_fn(|cx| ws.poll_flush(cx)).await.unwrap();
        ws.start_send(Frame::text("short")).unwrap(); // below the threshold: not compressed
        ws.start_ping(Bytes::new()).unwrap();
        assert!(!allocated(&ws), "a whole interval without one: freed");
        // The ping went through tokio-websockets' queue: flushed before a direct frame.
        std::future::poll_fn(|cx| ws.poll_flush(cx)).await.unwrap();
        ws.start_send(big()).unwrap();
        assert!(
            allocated(&ws),
            "the next compressed message has a fresh one"
        );
    }

    #[tokio::test]
    async fn directly_encoded_frames_of_every_length_class_decode_as_sent() {
        let sizes = [
            0usize, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 70_001,
        ];
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut server = ServerBuilder::new().serve(server);
        let mut wire = Vec::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut sent = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let payload: Vec<u8> = (0..*size).map(|_| rng.u8(..)).collect();
            let mask = rng.u32(..).to_ne_bytes();
            encode_masked(&mut wire, 2, &payload, mask);
            sent.push(payload);
            if i == 3 {
                let text = "héllo, wörld";
                encode_masked(&mut wire, 1, text.as_bytes(), [1, 2, 3, 4]);
            }
        }
        let writer = tokio::spawn(async move {
            client.write_all(&wire).await.unwrap();
            client
        });
        let mut got = Vec::new();
        while got.len() < sent.len() + 1 {
            let msg = server.next().await.unwrap().unwrap();
            if msg.is_text() {
                assert_eq!(msg.as_text(), Some("héllo, wörld"));
                got.push(None);
            } else {
                got.push(Some(msg.into_payload().to_vec()));
            }
        }
        let binaries: Vec<Vec<u8>> = got.into_iter().flatten().collect();
        assert_eq!(binaries, sent);
        drop(writer.await.unwrap());
    }

    #[test]
    fn masking_twice_gives_the_payload_back_at_every_length_and_offset() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let mut masked = data.clone();
            let mask = [0x12, 0x34, 0x56, 0x78];
            apply_mask(&mut masked, mask);
            for (i, (m, d)) in masked.iter().zip(&data).enumerate() {
                assert_eq!(*m, d ^ mask[i % 4], "byte {i} of {len}");
            }
            apply_mask(&mut masked, mask);
            assert_eq!(masked, data);
        }
    }
}
