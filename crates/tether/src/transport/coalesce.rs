//! A byte stream that can hold its writes back while its owner reads, so that replies
//! queued during a read burst leave in one write syscall.
//!
//! tokio-websockets' `poll_next` flushes whatever frames are queued before it reads the
//! next one. A reader that queues a reply right after each frame it reads (to keep replies
//! ahead of anything the transport answers itself, such as the reply to a close frame)
//! would therefore make one `writev` per reply. While held, a [`Coalescing`] stream
//! appends writes to a buffer (written through once more than [`HOLD_LIMIT`] bytes would
//! be held) and its `poll_flush` returns at once; once released, the next flush or write
//! writes everything held, in order, in one `writev` with what comes next.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes a [`Coalescing`] stream holds back, at most, before it writes them through.
pub const HOLD_LIMIT: usize = 256 * 1024;
/// Buffer capacity kept once everything held was written: a burst's buffer is not kept
/// for the life of the connection (10,000 connections × 256 KiB would be 2.5 GiB).
const RETAINED: usize = 64 * 1024;

/// Switches a [`Coalescing`] stream's holding on and off (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct WriteHold(Arc<AtomicBool>);

impl WriteHold {
    /// While holding, writes are buffered and flushes return at once; once released, the
    /// next flush (or write) writes everything out.
    pub fn set(&self, hold: bool) {
        self.0.store(hold, Ordering::Relaxed);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A stream whose writes can be held back and coalesced; see the [module](self) docs.
///
/// ```
/// # async fn demo(tcp: tokio::net::TcpStream) -> std::io::Result<()> {
/// use tokio::io::AsyncWriteExt;
/// use tether::transport::Coalescing;
/// let (mut stream, hold) = Coalescing::new(tcp);
/// hold.set(true);
/// stream.write_all(b"one,").await?;
/// stream.write_all(b"two").await?;
/// stream.flush().await?; // nothing written yet
/// hold.set(false);
/// stream.flush().await?; // "one,two" in one write
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Coalescing<S> {
    inner: S,
    hold: WriteHold,
    /// Held bytes; `buf[pos..]` is not written yet.
    buf: Vec<u8>,
    pos: usize,
}

impl<S> Coalescing<S> {
    /// Wraps `inner`, not holding; returns the stream and its switch.
    pub fn new(inner: S) -> (Self, WriteHold) {
        let hold = WriteHold::default();
        (
            Self {
                inner,
                hold: hold.clone(),
                buf: Vec::new(),
                pos: 0,
            },
            hold,
        )
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Bytes held and not written yet.
    #[must_use]
    pub fn held(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The buffer of held bytes, to append encoded frames to directly (they leave with
    /// the next write or flush, after what is already held). The caller bounds it.
    pub(crate) fn write_buffer(&mut self) -> &mut Vec<u8> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        &mut self.buf
    }
}

impl<S: AsyncWrite + Unpin> Coalescing<S> {
    /// Writes the held bytes, and `bufs` after them in the same `writev`; the bytes of
    /// `bufs` written (`Ready(0)` only when `bufs` is empty and nothing is held).
    fn poll_write_through(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let held = self.held();
            if held == 0 {
                self.written_out();
                if bufs.iter().all(|b| b.is_empty()) {
                    return Poll::Ready(Ok(0));
                }
                return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            }
            let n = {
                let mut slices = Vec::with_capacity(bufs.len() + 1);
                slices.push(io::IoSlice::new(&self.buf[self.pos..]));
                slices.extend(bufs.iter().map(|b| io::IoSlice::new(b)));
                std::task::ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, &slices))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n >= held {
                self.written_out();
                if n > held || bufs.iter().all(|b| b.is_empty()) {
                    return Poll::Ready(Ok(n - held));
                }
            } else {
                self.pos += n;
            }
        }
    }

    /// Everything held was written: empty the buffer, keeping at most [`RETAINED`] of it.
    fn written_out(&mut self) {
        self.buf.clear();
        self.pos = 0;
        if self.buf.capacity() > RETAINED {
            self.buf.shrink_to(RETAINED);
        }
    }

    /// Writes out every held byte, holding or not.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_held(cx)
    }

    /// Writes out every held byte.
    fn poll_write_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.held() > 0 {
            std::task::ready!(self.poll_write_through(cx, &[]))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
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
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.hold.is_set() && this.held() + len <= HOLD_LIMIT {
            if this.pos > 0 && this.pos == this.buf.len() {
                this.buf.clear();
                this.pos = 0;
            }
            for b in bufs {
                this.buf.extend_from_slice(b);
            }
            return Poll::Ready(Ok(len));
        }
        this.poll_write_through(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.hold.is_set() {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(this.poll_write_held(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_write_held(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;

    async fn pair() -> (Coalescing<TcpStream>, WriteHold, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (stream, hold) = Coalescing::new(accepted.unwrap().0);
        (stream, hold, client.unwrap())
    }

    async fn read_now(peer: &mut TcpStream) -> Vec<u8> {
        let mut buf = vec![0; 1 << 20];
        match tokio::time::timeout(Duration::from_millis(100), peer.read(&mut buf)).await {
            Ok(n) => buf[..n.unwrap()].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    #[tokio::test]
    async fn held_writes_go_out_at_the_flush_after_release_in_order() {
        let (mut stream, hold, mut peer) = pair().await;
        hold.set(true);
        stream.write_all(b"one,").await.unwrap();
        stream.write_all(b"two,").await.unwrap();
        stream.flush().await.unwrap(); // holds
        assert!(read_now(&mut peer).await.is_empty());
        hold.set(false);
        stream.write_all(b"three").await.unwrap(); // written through, after the held bytes
        stream.flush().await.unwrap();
        let mut got = Vec::new();
        while got.len() < 13 {
            got.extend(read_now(&mut peer).await);
        }
        assert_eq!(got, b"one,two,three");
    }

    #[tokio::test]
    async fn holding_writes_through_past_the_limit_and_shutdown_writes_the_rest() {
        let (mut stream, hold, mut peer) = pair().await;
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            peer.read_to_end(&mut all).await.unwrap();
            all
        });
        hold.set(true);
        let mut expected = Vec::new();
        for i in 0..5u8 {
            let chunk = vec![i; 100 * 1024];
            stream.write_all(&chunk).await.unwrap();
            expected.extend(chunk);
        }
        stream.write_all(b"tail").await.unwrap();
        expected.extend(b"tail");
        // Past HOLD_LIMIT the stream wrote through: what it holds now is less than that.
        assert!(stream.held() <= HOLD_LIMIT);
        stream.shutdown().await.unwrap();
        assert_eq!(reader.await.unwrap(), expected);
    }
}
