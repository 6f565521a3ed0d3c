//! One server-side connection: a poll loop over the transport that runs the session,
//! applies faults, batches writes, and never blocks one duty on another.

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tether::{
    Frame,
    transport::{BoxTransport, Coalescing, WriteHold},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::mpsc,
    time::{Instant, Sleep},
};

use crate::{
    conn_stats::ConnStats,
    endpoint::EndpointShared,
    service::{Close, Session},
};

/// Frames read per poll before yielding.
const READ_BUDGET: usize = 256;
/// Frames read before the first flush of a read burst; each later flush comes after twice
/// as many frames as the one before (16, 48, 112, 240 read) and the last one after the
/// burst. A client waiting for its replies starts on the first ones while the hub works
/// on the rest, instead of the two taking turns a whole burst at a time; the doubling
/// keeps the writes of a long burst few.
const FIRST_FLUSH: usize = 16;
/// Replies held before reading pauses (TCP backpressure instead of buffering).
const OUT_LIMIT: usize = 4096;
/// Routed frames taken from the connection's queue at a time.
const PUSHED_IN_FLIGHT: usize = 64;

/// What the endpoint tells a connection.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// Stop reading and writing, until the instant or a resume.
    Stall(Option<Instant>),
    /// Undo stall.
    Resume,
    /// Delay every outgoing frame.
    Delay(Duration),
    /// Close with a close frame.
    Close(u16, String),
    /// Reset the TCP connection (no close frame).
    Reset,
    /// Send this frame (garbage injection).
    Inject(Frame),
}

/// What a connection's driver shares with its [`HubStream`].
#[derive(Debug, Default)]
pub(crate) struct StreamControl {
    /// End with a reset instead of a FIN.
    reset: AtomicBool,
    /// Coalesce writes while the driver reads: see [`Coalescing`].
    hold: WriteHold,
}

impl StreamControl {
    pub(crate) fn set_reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
    }

    /// While holding, the stream appends writes to its buffer and its `poll_flush` returns
    /// at once; once released, the next flush (or write) writes everything out.
    pub(crate) fn set_hold(&self, hold: bool) {
        self.hold.set(hold);
    }
}

/// A TCP stream that coalesces writes while the driver reads (tether's [`Coalescing`]:
/// the replies of a read burst leave in a few syscalls, in order, still ahead of a close
/// reply the transport queued after them), and that can be made to end with a reset
/// instead of a FIN.
pub(crate) struct HubStream {
    inner: Coalescing<TcpStream>,
    control: Arc<StreamControl>,
}

impl HubStream {
    pub(crate) fn new(inner: TcpStream) -> (Self, Arc<StreamControl>) {
        let (inner, hold) = Coalescing::new(inner);
        let control = Arc::new(StreamControl {
            reset: AtomicBool::new(false),
            hold,
        });
        (
            Self {
                inner,
                control: control.clone(),
            },
            control,
        )
    }
}

impl Drop for HubStream {
    fn drop(&mut self) {
        if self.control.reset.load(Ordering::Relaxed) {
            // Linger 0: the kernel sends RST when the socket closes.
            let _ = socket2::SockRef::from(self.inner.get_ref()).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for HubStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for HubStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How a connection ended.
enum End {
    /// The peer went away.
    Gone,
    /// The peer broke the protocol; the transport's close frame is pending.
    Failed,
    /// We close with a frame.
    Close(Close),
    /// We close the TCP connection without a close frame, after sending what is due.
    Abort,
    /// We reset.
    Reset,
}

impl From<Close> for End {
    fn from(close: Close) -> Self {
        if close.is_abort() {
            End::Abort
        } else {
            End::Close(close)
        }
    }
}

pub(crate) struct Driver {
    /// The connection's id in its endpoint's registry.
    pub(crate) id: u64,
    pub(crate) conn: Arc<ConnStats>,
    pub(crate) transport: BoxTransport,
    pub(crate) session: Box<dyn Session>,
    pub(crate) endpoint: Arc<EndpointShared>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) pushed: mpsc::Receiver<Frame>,
    pub(crate) stream: Arc<StreamControl>,
    pub(crate) stalled: Option<Option<Instant>>,
    pub(crate) delay: Duration,
}

/// Buffers every queued frame (not yet flushed); `false` if the transport failed.
async fn send_all(transport: &mut BoxTransport, out: &mut VecDeque<(Instant, Frame)>) -> bool {
    for (_, frame) in out.drain(..) {
        if poll_fn(|cx| transport.poll_ready(cx)).await.is_err()
            || transport.start_send(frame).is_err()
        {
            return false;
        }
    }
    true
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let mut out: VecDeque<(Instant, Frame)> = VecDeque::new();
        let mut scratch = Vec::new();
        self.session.on_open(&mut scratch);
        let now = Instant::now();
        out.extend(scratch.drain(..).map(|f| (now + self.delay, f)));
        let mut timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep_until(now));
        let mut needs_flush = false;
        let end =
            poll_fn(|cx| self.poll(cx, &mut out, &mut scratch, &mut timer, &mut needs_flush)).await;
        self.stream.set_hold(false);
        self.session.on_close();
        match end {
            End::Gone => {
                // Write what the read loop left held (say, the transport's reply to the
                // client's close frame); bounded.
                let transport = &mut self.transport;
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    poll_fn(|cx| transport.poll_flush(cx)),
                )
                .await;
            }
            End::Failed => {
                let transport = &mut self.transport;
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = poll_fn(|cx| transport.poll_close(cx)).await;
                    poll_fn(|cx| transport.poll_drain(cx)).await;
                })
                .await;
            }
            End::Reset => self.stream.set_reset(),
            End::Abort => {
                // Send what is due, flush, and drop the transport with no close frame (a FIN,
                // or a reset if unread bytes remain, as any server dropping a socket).
                let transport = &mut self.transport;
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    if send_all(transport, &mut out).await {
                        let _ = poll_fn(|cx| transport.poll_flush(cx)).await;
                    }
                })
                .await;
            }
            End::Close(close) => {
                // Send what is due first, then the close frame; bounded.
                let transport = &mut self.transport;
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    if send_all(transport, &mut out).await
                        && transport.start_close(close.code, &close.reason).is_ok()
                    {
                        let _ = poll_fn(|cx| transport.poll_close(cx)).await;
                    }
                })
                .await;
            }
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<(Instant, Frame)>,
        scratch: &mut Vec<Frame>,
        timer: &mut Pin<Box<Sleep>>,
        needs_flush: &mut bool,
    ) -> Poll<End> {
        // Commands first: they work even while stalled or blocked on writing.
        while let Poll::Ready(command) = self.commands.poll_recv(cx) {
            let Some(command) = command else {
                return Poll::Ready(End::Gone);
            };
            match command {
                Command::Stall(until) => {
                    self.stalled = Some(until);
                    self.conn.set_stalled(self.stalled);
                }
                Command::Resume => {
                    self.stalled = None;
                    self.conn.set_stalled(None);
                }
                Command::Delay(d) => {
                    self.delay = d;
                    self.conn.set_delay(d);
                }
                Command::Close(code, reason) => {
                    return Poll::Ready(End::from(Close::new(code, reason)));
                }
                Command::Reset => return Poll::Ready(End::Reset),
                Command::Inject(frame) => out.push_back((Instant::now(), frame)),
            }
        }
        let now = Instant::now();
        if let Some(until) = self.stalled {
            match until {
                Some(at) if at <= now => {
                    self.stalled = None;
                    self.conn.set_stalled(None);
                }
                Some(at) => {
                    timer.as_mut().reset(at);
                    if timer.as_mut().poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
                None => return Poll::Pending,
            }
        }

        // Read, run the session, and buffer each reply right away: replies keep their
        // place before anything the transport answers itself, such as the reply to a
        // client's close frame. The transport writes queued replies out before each read;
        // the stream holds those writes until a flush (see `FIRST_FLUSH`, and after the
        // loop), so each batch goes out in one syscall (`HubStream`).
        let mut budget = READ_BUDGET;
        let mut read_any = false;
        let (mut read, mut chunk, mut flush_at) = (0, FIRST_FLUSH, FIRST_FLUSH);
        self.stream.set_hold(true);
        while budget > 0 && out.len() < OUT_LIMIT {
            let received = self.transport.poll_recv(cx);
            read_any |= received.is_ready();
            match received {
                Poll::Pending => break,
                Poll::Ready(None) => return Poll::Ready(End::Gone),
                // A protocol violation: the transport queued the close frame (1002, 1007,
                // 1009); send it before going.
                Poll::Ready(Some(Err(_))) => return Poll::Ready(End::Failed),
                Poll::Ready(Some(Ok(tether::transport::Received::Frame(frame)))) => {
                    self.endpoint
                        .stats
                        .received(self.id, &frame, self.endpoint.record);
                    self.conn.received(&frame);
                    let result = self.session.on_frame(frame, scratch);
                    let due = now + self.delay;
                    out.extend(scratch.drain(..).map(|f| (due, f)));
                    if let Err(close) = result {
                        return Poll::Ready(End::from(close));
                    }
                    if let Err(end) = self.write_due(cx, out, timer, needs_flush, now) {
                        return Poll::Ready(end);
                    }
                    read += 1;
                    if read == flush_at {
                        chunk *= 2;
                        flush_at += chunk;
                        self.stream.set_hold(false);
                        if let Err(end) = self.flush(cx, needs_flush) {
                            return Poll::Ready(end);
                        }
                        self.stream.set_hold(true);
                    }
                }
                Poll::Ready(Some(Ok(tether::transport::Received::Undecodable { reason }))) => {
                    let result = self.session.on_undecodable(&reason, scratch);
                    let due = now + self.delay;
                    out.extend(scratch.drain(..).map(|f| (due, f)));
                    if let Err(close) = result {
                        return Poll::Ready(End::from(close));
                    }
                }
                Poll::Ready(Some(Ok(tether::transport::Received::Close { code, .. }))) => {
                    self.endpoint.stats.client_closed(code);
                }
                Poll::Ready(Some(Ok(_))) => {}
            }
            budget -= 1;
        }
        self.stream.set_hold(false);
        // Pongs and close replies the transport queued itself are held too.
        *needs_flush |= read_any;
        if budget == 0 {
            cx.waker().wake_by_ref();
        }
        // Frames routed here by other connections stay in their bounded queue (whose
        // overflow disconnects a slow client) until there is little left to write.
        while out.len() < PUSHED_IN_FLIGHT {
            match self.pushed.poll_recv(cx) {
                Poll::Ready(Some(frame)) => out.push_back((now + self.delay, frame)),
                _ => break,
            }
        }

        // Write what is due, flush once.
        let read_paused = out.len() >= OUT_LIMIT;
        if let Err(end) = self.write_due(cx, out, timer, needs_flush, now) {
            return Poll::Ready(end);
        }
        if let Err(end) = self.flush(cx, needs_flush) {
            return Poll::Ready(end);
        }
        if read_paused && out.len() < OUT_LIMIT {
            // Room again: read on (nothing else would wake us for it).
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Flushes what was written, if anything was; a full socket leaves it to the next
    /// poll (the transport wakes us).
    fn flush(&mut self, cx: &mut Context<'_>, needs_flush: &mut bool) -> Result<(), End> {
        if *needs_flush {
            match self.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => *needs_flush = false,
                Poll::Ready(Err(_)) => return Err(End::Gone),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    /// Buffers every due frame the transport takes without blocking.
    fn write_due(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<(Instant, Frame)>,
        timer: &mut Pin<Box<Sleep>>,
        needs_flush: &mut bool,
        now: Instant,
    ) -> Result<(), End> {
        while let Some((due, _)) = out.front() {
            if *due > now {
                timer.as_mut().reset(*due);
                if timer.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
                break;
            }
            match self.transport.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Err(End::Gone),
                Poll::Pending => break,
            }
            let (_, frame) = out.pop_front().expect("front checked");
            self.endpoint.stats.sent(&frame);
            self.conn.sent(&frame);
            if self.transport.start_send(frame).is_err() {
                return Err(End::Gone);
            }
            *needs_flush = true;
        }
        Ok(())
    }
}
