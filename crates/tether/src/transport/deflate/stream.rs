//! [`WireStream`]: the byte stream under tokio-websockets. It counts the bytes on the
//! wire, hands out the HTTP head of the upgrade and nothing after it until the
//! negotiation is known, and from then on runs the permessage-deflate frame layer
//! ([`InboundFrames`], and [`OutboundFrames`] on a server's side).

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frames::{InboundFrames, OutboundFrames};

/// Bytes read from and written to the WebSocket byte stream (below compression, above
/// TLS), shared with the client's [`Statistics`](crate::Statistics).
#[derive(Debug, Default)]
pub struct WireCounters {
    read: AtomicU64,
    written: AtomicU64,
    deflate: AtomicU64,
}

impl WireCounters {
    /// Bytes read so far.
    #[must_use]
    pub fn read(&self) -> u64 {
        self.read.load(Relaxed)
    }

    /// Bytes written so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written.load(Relaxed)
    }

    /// Connections on which permessage-deflate was negotiated so far.
    #[must_use]
    pub fn deflate_connections(&self) -> u64 {
        self.deflate.load(Relaxed)
    }

    /// Counts a connection on which permessage-deflate was negotiated.
    pub(crate) fn deflate_negotiated(&self) {
        self.deflate.fetch_add(1, Relaxed);
    }
}

/// The longest HTTP head accepted while waiting for its end.
const MAX_HEAD: usize = 16 * 1024;
/// Read buffer capacity kept between bursts.
const RETAINED: usize = 64 * 1024;
/// Written-but-not-sent bytes a server's side holds before it waits for the socket.
const WRITE_LIMIT: usize = 256 * 1024;

/// A byte stream that counts its bytes and runs the permessage-deflate frame layer; see
/// the [module](self) docs.
#[derive(Debug)]
pub struct WireStream<S> {
    inner: S,
    counters: Arc<WireCounters>,
    /// Still reading the HTTP head: nothing past its end is handed out.
    in_head: bool,
    inbound: Option<InboundFrames>,
    outbound: Option<OutboundFrames>,
    /// Bytes read and not processed yet (`raw[raw_pos..]`).
    raw: Vec<u8>,
    raw_pos: usize,
    /// Bytes processed and not handed out yet (`ready[ready_pos..]`).
    ready: Vec<u8>,
    ready_pos: usize,
    /// Compressed bytes to write (`unsent[unsent_pos..]`; server side only).
    unsent: Vec<u8>,
    unsent_pos: usize,
}

impl<S> WireStream<S> {
    /// Wraps a stream. With `upgrade`, the stream first carries an HTTP upgrade and
    /// hands out nothing past the end of the head it reads until the frame layer is
    /// set up ([`WireStream::start_frames`]); without, it only counts.
    pub fn new(inner: S, counters: Arc<WireCounters>, upgrade: bool) -> Self {
        Self {
            inner,
            counters,
            in_head: upgrade,
            inbound: None,
            outbound: None,
            raw: Vec::new(),
            raw_pos: 0,
            ready: Vec::new(),
            ready_pos: 0,
            unsent: Vec::new(),
            unsent_pos: 0,
        }
    }

    /// The HTTP head read so far (the whole head once [`WireStream::read_head`] returned).
    #[must_use]
    pub fn head(&self) -> &[u8] {
        match head_end(&self.raw[self.raw_pos..]) {
            Some(end) => &self.raw[self.raw_pos..self.raw_pos + end],
            None => &self.raw[self.raw_pos..],
        }
    }

    /// Starts the frame layer after the upgrade: `inbound` inflates what the peer sends,
    /// `outbound` (a server's side) compresses what is written.
    pub fn start_frames(
        &mut self,
        inbound: Option<InboundFrames>,
        outbound: Option<OutboundFrames>,
    ) {
        self.in_head = false;
        self.inbound = inbound;
        self.outbound = outbound;
    }

    /// The inbound frame layer, if compression was negotiated.
    #[must_use]
    pub fn inbound(&self) -> Option<&InboundFrames> {
        self.inbound.as_ref()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> WireStream<S> {
    /// Frees the read buffers once everything in them was handed out, so that an idle
    /// connection holds none (the next burst allocates them again: once per burst).
    fn release_drained(&mut self) {
        if self.raw_pos == self.raw.len() && self.raw.capacity() > 0 {
            self.raw = Vec::new();
            self.raw_pos = 0;
        }
        if self.ready_pos == self.ready.len() && self.ready.capacity() > 0 {
            self.ready = Vec::new();
            self.ready_pos = 0;
        }
    }
}

/// Where the HTTP head in `bytes` ends (after its blank line).
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

impl<S: AsyncRead + Unpin> WireStream<S> {
    /// Reads more raw bytes; `Ok(false)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if self.raw_pos == self.raw.len() {
            self.raw.clear();
            self.raw_pos = 0;
            if self.raw.capacity() > RETAINED {
                self.raw.shrink_to(RETAINED);
            }
        }
        let mut scratch = [0u8; 16 * 1024];
        let mut buf = ReadBuf::new(&mut scratch);
        std::task::ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        self.counters.read.fetch_add(n as u64, Relaxed);
        self.raw.extend_from_slice(buf.filled());
        Poll::Ready(Ok(n > 0))
    }

    /// Reads until the whole HTTP head is buffered (a server reads the client's request
    /// this way before answering it); the head stays to be read through the stream.
    ///
    /// # Errors
    /// The stream's errors; `InvalidData` for a head over 16 KiB, `UnexpectedEof` when
    /// the stream ends first.
    pub async fn read_head(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            loop {
                if head_end(&self.raw[self.raw_pos..]).is_some() {
                    return Poll::Ready(Ok(()));
                }
                if self.raw.len() - self.raw_pos > MAX_HEAD {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "HTTP head over 16 KiB",
                    )));
                }
                if !std::task::ready!(self.poll_fill(cx))? {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
            }
        })
        .await
    }

    /// Moves processed bytes from `raw` to `ready`.
    fn process(&mut self) {
        let raw = &self.raw[self.raw_pos..];
        if self.in_head {
            let end = match head_end(raw) {
                Some(end) => {
                    self.in_head = false;
                    end
                }
                // A head too long to be one is handed out whole: the HTTP parser fails.
                None if raw.len() > MAX_HEAD => raw.len(),
                None => return,
            };
            self.ready.extend_from_slice(&raw[..end]);
            self.raw_pos += end;
            return;
        }
        match &mut self.inbound {
            Some(frames) => {
                let n = frames.process(raw, &mut self.ready);
                self.raw_pos += n;
            }
            None => {
                self.ready.extend_from_slice(raw);
                self.raw_pos = self.raw.len();
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WireStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_pos < this.ready.len() {
                let n = (this.ready.len() - this.ready_pos).min(buf.remaining());
                buf.put_slice(&this.ready[this.ready_pos..this.ready_pos + n]);
                this.ready_pos += n;
                if this.ready_pos == this.ready.len() {
                    this.ready.clear();
                    this.ready_pos = 0;
                    if this.ready.capacity() > RETAINED {
                        this.ready.shrink_to(RETAINED);
                    }
                }
                return Poll::Ready(Ok(()));
            }
            let pending_raw = this.raw.len() - this.raw_pos;
            if pending_raw > 0 {
                this.process();
                if this.ready_pos < this.ready.len() {
                    continue;
                }
            }
            // Nothing processed, nothing buffered: with no frame layer, read straight
            // into the caller's buffer (the buffers the HTTP head passed through are not
            // needed again).
            if !this.in_head && this.inbound.is_none() && this.raw_pos == this.raw.len() {
                this.release_drained();
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                let n = buf.filled().len() - before;
                this.counters.read.fetch_add(n as u64, Relaxed);
                return Poll::Ready(Ok(()));
            }
            match this.poll_fill(cx) {
                Poll::Ready(Ok(true)) => {}
                // The end of the stream (an incomplete frame header is dropped).
                Poll::Ready(Ok(false)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // The socket is drained: an idle connection keeps no buffers.
                    this.release_drained();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> WireStream<S> {
    /// Writes out compressed bytes waiting to be sent.
    fn poll_send_unsent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.unsent_pos < self.unsent.len() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.unsent[self.unsent_pos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.counters.written.fetch_add(n as u64, Relaxed);
            self.unsent_pos += n;
        }
        self.unsent.clear();
        self.unsent_pos = 0;
        if self.unsent.capacity() > RETAINED {
            self.unsent.shrink_to(RETAINED);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WireStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.outbound.is_none() {
            let n = std::task::ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
            this.counters.written.fetch_add(n as u64, Relaxed);
            return Poll::Ready(Ok(n));
        }
        if this.unsent.len() - this.unsent_pos >= WRITE_LIMIT {
            std::task::ready!(this.poll_send_unsent(cx))?;
        }
        let mut n = 0;
        if let Some(outbound) = &mut this.outbound {
            for b in bufs {
                outbound
                    .process(b, &mut this.unsent)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                n += b.len();
            }
        }
        // Start sending; what cannot go now goes at the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_send_unsent(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored() || self.outbound.is_some()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_send_unsent(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_send_unsent(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_drained_connection_holds_no_read_buffers_with_or_without_the_frame_layer() {
        for negotiated in [false, true] {
            let (client, mut server) = tokio::io::duplex(1 << 16);
            let mut stream = WireStream::new(client, Arc::default(), true);
            let response = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
            server.write_all(response).await.unwrap();
            stream.read_head().await.unwrap();
            let inbound = negotiated.then(|| InboundFrames::for_client(1 << 20, false));
            stream.start_frames(inbound, None);
            // The head, then an uncompressed text frame "hi".
            let mut head = vec![0; response.len()];
            stream.read_exact(&mut head).await.unwrap();
            server.write_all(&[0x81, 2, b'h', b'i']).await.unwrap();
            let mut frame = [0; 4];
            stream.read_exact(&mut frame).await.unwrap();
            assert_eq!(frame, [0x81, 2, b'h', b'i'], "negotiated: {negotiated}");

            // Nothing more to read: the next read is pending and frees the buffers.
            let mut more = [0; 1];
            let pending = std::future::poll_fn(|cx| {
                let mut buf = ReadBuf::new(&mut more);
                Poll::Ready(Pin::new(&mut stream).poll_read(cx, &mut buf).is_pending())
            })
            .await;
            assert!(pending, "negotiated: {negotiated}");
            assert_eq!(
                (stream.raw.capacity(), stream.ready.capacity()),
                (0, 0),
                "negotiated: {negotiated}"
            );
        }
    }
}
