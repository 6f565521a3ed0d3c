//! The connection actor: one task per client that connects, logs in, heartbeats,
//! watches for a dead peer, writes the outbox in batches, reads and routes inbound
//! messages, and reconnects with backoff. It never names a platform.
//!
//! Everything inside a connection is driven by one poll function, so no await ever
//! blocks another duty: a writer stuck on a full socket does not stop the watchdog,
//! timers, reads or a close.

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::{
    backoff::Backoff,
    config::ClientConfig,
    error::{CloseReason, ConnectionError, Disposition, SendError},
    event::Event,
    event_queue::EventSink,
    outbox::{Delivered, Entry},
    protocol::{AckOutcome, Outbound, Output, Protocol},
    receipt::Notify,
    router::{HandlerFailure, Router},
    shared::Shared,
    state::{State, Statistics},
    transport::{BoxTransport, Connect, Received},
};

/// Inbound items handled per poll before yielding.
const READ_BUDGET: usize = 512;
/// Frames written per poll before yielding.
const WRITE_BUDGET: usize = 4096;
/// Messages taken from the outbox at a time.
const TAKE_BATCH: usize = 512;
/// A pause for a slow event consumer is logged once it lasts this long.
const STREAM_PAUSE_WARNING: Duration = Duration::from_secs(1);
/// Control frames (login, platform replies) held before reading pauses.
const CONTROL_LIMIT: usize = 1024;
/// Longest wait for a peer to close after tether failed the connection.
const LINGER: Duration = Duration::from_secs(2);

/// How a connection ended.
enum Exit {
    /// The client asked to close; the close handshake ran. Carries the peer's close
    /// frame if one arrived.
    Closed(Option<(Option<u16>, String)>),
    /// The connection was lost or refused.
    Lost(ConnectionError),
}

/// Messages and bytes written in one pass, added to the statistics once. If a write
/// fails midway the pass's counts are lost with the connection; the frames are
/// replayed and counted again on the next one.
#[derive(Default)]
struct Written {
    messages: u64,
    bytes: u64,
}

impl Written {
    fn count(&mut self, frame: &crate::frame::Frame) {
        self.messages += 1;
        self.bytes += frame.len() as u64;
    }

    fn add_to(&self, stats: &Statistics) {
        if self.messages > 0 {
            Statistics::add(&stats.messages_out, self.messages);
            Statistics::add(&stats.bytes_out, self.bytes);
        }
    }
}

/// Per-connection state.
struct Conn {
    transport: BoxTransport,
    pings: bool,
    ready: bool,
    last_inbound: Instant,
    watchdog: Pin<Box<Sleep>>,
    ping: Interval,
    ping_due: bool,
    app_heartbeat: Option<(Duration, Interval)>,
    app_heartbeat_due: bool,
    control: VecDeque<crate::frame::Frame>,
    /// Frames taken from the outbox, not written yet: (seq, frame, stamped).
    wire: VecDeque<(u64, crate::frame::Frame, bool)>,
    last_written: Option<u64>,
    needs_flush: bool,
    closing: Option<Pin<Box<Sleep>>>,
    read_done: bool,
    peer_close: Option<(Option<u16>, String)>,
}

pub(crate) struct Engine<P: Protocol> {
    pub(crate) shared: Arc<Shared<P::Event>>,
    pub(crate) protocol: P,
    pub(crate) router: Router<P::Event>,
    pub(crate) connector: Box<dyn Connect>,
    pub(crate) config: ClientConfig,
    events: EventSink<P::Event>,
    backoff: Backoff,
    started: Instant,
    ever_ready: bool,
    deadline_timer: Pin<Box<Sleep>>,
    deadline_armed: Option<Instant>,
    /// A handler queued a reply while handling the current frame.
    replied: bool,
    /// The platform's output buffer, reused for every inbound frame.
    scratch: Output<P::Event>,
}

impl<P: Protocol> Engine<P> {
    pub(crate) fn new(
        shared: Arc<Shared<P::Event>>,
        protocol: P,
        router: Router<P::Event>,
        connector: Box<dyn Connect>,
        config: ClientConfig,
        events: EventSink<P::Event>,
    ) -> Self {
        let now = Instant::now();
        Self {
            shared,
            protocol,
            router,
            connector,
            backoff: Backoff::new(config.backoff.clone()),
            events,
            config,
            started: now,
            ever_ready: false,
            deadline_timer: Box::pin(tokio::time::sleep_until(now)),
            deadline_armed: None,
            replied: false,
            scratch: Output::default(),
        }
    }

    fn set_state(&mut self, state: State) {
        tracing::debug!(platform = self.protocol.name(), state = ?state, "state");
        self.shared.state.send_replace(state.clone());
        self.events.push(Event::State(state));
    }

    /// Runs until the client closes or stops on a fatal error.
    pub(crate) async fn run(mut self) {
        let reason = loop {
            if self.shared.is_close_requested() {
                break CloseReason::Requested;
            }
            self.set_state(State::Connecting);
            let exit = match self.connect().await {
                None => Exit::Closed(None),
                Some(Ok(transport)) => {
                    Statistics::add(&self.shared.stats.connects, 1);
                    self.drive(transport).await
                }
                Some(Err(e)) => Exit::Lost(e),
            };
            self.protocol.on_close();
            let requeued = self.shared.outbox().requeue_written();
            let error = match exit {
                Exit::Closed(Some((code, reason)))
                    if self.protocol.classify_close(code, &reason) == Disposition::Fatal =>
                {
                    // The peer refused us (a token, say) while we were closing: that is
                    // what the caller needs to hear, not that the close went fine.
                    let error = self.scrub(ConnectionError::ClosedByPeer { code, reason });
                    self.events.push(Event::Disconnected {
                        error: error.clone(),
                        fatal: true,
                    });
                    break CloseReason::Fatal(error);
                }
                Exit::Closed(_) => break CloseReason::Requested,
                Exit::Lost(e) => self.scrub(e),
            };
            let disposition = match &error {
                ConnectionError::ClosedByPeer { code, reason } => {
                    self.protocol.classify_close(*code, reason)
                }
                other => other.disposition(),
            };
            let fatal = disposition == Disposition::Fatal;
            tracing::warn!(error = %error, fatal, "connection lost");
            self.events.push(Event::Disconnected {
                error: error.clone(),
                fatal,
            });
            if fatal {
                break CloseReason::Fatal(error);
            }
            if !self.config.reconnect {
                break CloseReason::ReconnectDisabled(error);
            }
            if self.backoff.exhausted() {
                break CloseReason::GaveUp {
                    attempts: self.backoff.attempt(),
                    last: error,
                };
            }
            let delay = self.backoff.next_delay();
            Statistics::add(&self.shared.stats.reconnects, 1);
            Statistics::add(&self.shared.stats.replayed, requeued as u64);
            self.set_state(State::Reconnecting {
                attempt: self.backoff.attempt(),
                delay,
            });
            if !self.wait(delay).await {
                break CloseReason::Requested;
            }
        };
        self.finish(reason).await;
    }

    /// The error with every configured secret scrubbed from its texts.
    fn scrub(&self, error: ConnectionError) -> ConnectionError {
        error.scrubbed(|text| self.shared.redact(text))
    }

    /// One connection attempt with the connect timeout; `None` when a close was requested.
    async fn connect(&mut self) -> Option<Result<BoxTransport, ConnectionError>> {
        let attempt = self.connector.connect();
        let limit = self.config.connect_timeout;
        let mut attempt = Box::pin(tokio::time::timeout(limit, attempt));
        poll_fn(|cx| {
            if self.poll_maintenance(cx) {
                return Poll::Ready(None);
            }
            match attempt.as_mut().poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(Some(result)),
                Poll::Ready(Err(_)) => {
                    Poll::Ready(Some(Err(ConnectionError::ConnectTimeout(limit))))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Waits out a backoff delay; `false` when a close was requested meanwhile.
    async fn wait(&mut self, delay: Duration) -> bool {
        let mut sleep = Box::pin(tokio::time::sleep(delay));
        poll_fn(|cx| {
            if self.poll_maintenance(cx) {
                return Poll::Ready(false);
            }
            sleep.as_mut().poll(cx).map(|()| true)
        })
        .await
    }

    /// Duties that go on whether or not a connection is up: expiring deadlines,
    /// reporting drops, pushing events. Returns `true` when a close was requested.
    fn poll_maintenance(&mut self, cx: &mut Context<'_>) -> bool {
        self.shared.waker.register(cx.waker());
        let mut expired = Vec::new();
        let (dropped, refused, next) = {
            let mut ob = self.shared.outbox();
            // The clock is read only when a message has a deadline (this runs every poll).
            if ob.next_deadline().is_some() {
                ob.expire(Instant::now(), &mut expired);
            }
            (
                std::mem::take(&mut ob.dropped),
                std::mem::take(&mut ob.refused),
                ob.next_deadline(),
            )
        };
        for (message, transmission) in dropped {
            self.events.push(Event::Dropped {
                message,
                transmission,
            });
        }
        for error in refused {
            self.events.push(Event::Undelivered(error));
        }
        if !expired.is_empty() {
            let results = expired.into_iter().map(|entry| {
                let error = SendError::DeadlineExceeded {
                    message: entry.message.clone(),
                    transmission: entry.transmission(),
                };
                self.events.push(Event::Undelivered(error.clone()));
                (entry, Err(error))
            });
            let results: Vec<_> = results.collect();
            self.shared.finish(results);
        }
        if let Some(at) = next {
            if self.deadline_armed != Some(at) {
                self.deadline_timer.as_mut().reset(at);
                self.deadline_armed = Some(at);
            }
            if self.deadline_timer.as_mut().poll(cx).is_ready() {
                self.deadline_armed = None;
                cx.waker().wake_by_ref();
            }
        }
        self.events.poll_flush(cx);
        self.shared.is_close_requested()
    }

    /// Drives one established connection until it ends.
    async fn drive(&mut self, transport: BoxTransport) -> Exit {
        let now = Instant::now();
        let heartbeat = self.config.heartbeat;
        let mut ping = tokio::time::interval_at(now + heartbeat, heartbeat);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let pings = transport.supports_ping();
        let mut conn = Conn {
            transport,
            pings,
            ready: false,
            last_inbound: now,
            watchdog: Box::pin(tokio::time::sleep_until(
                now + heartbeat + self.config.dead_after,
            )),
            ping,
            ping_due: false,
            app_heartbeat: None,
            app_heartbeat_due: false,
            control: VecDeque::new(),
            wire: VecDeque::new(),
            last_written: None,
            needs_flush: false,
            closing: None,
            read_done: false,
            peer_close: None,
        };
        // A reconnect asked for before this connection existed is moot.
        self.shared.take_reconnect_request();
        self.set_state(State::Open);
        let mut out = Output::default();
        self.protocol.on_open(&mut out);
        self.refresh_app_heartbeat(&mut conn);
        let exit = match self.apply(&mut conn, &mut out, true) {
            Err(e) => Exit::Lost(e),
            Ok(()) => poll_fn(|cx| self.poll_connection(&mut conn, cx)).await,
        };
        let transport = &mut conn.transport;
        let limit = self.config.close_timeout;
        let finish = match &exit {
            // Let the close frame tether queued (1002/1007/1009) reach the peer.
            Exit::Lost(ConnectionError::ProtocolViolation { .. }) => {
                let _ = tokio::time::timeout(limit, poll_fn(|cx| transport.poll_close(cx))).await;
                true
            }
            // The peer closed first: the transport queued the answering close frame while
            // writes were held for the read burst; write it out (RFC 6455 §5.5.1).
            Exit::Lost(ConnectionError::ClosedByPeer { .. }) => {
                let _ = tokio::time::timeout(limit, poll_fn(|cx| transport.poll_flush(cx))).await;
                true
            }
            _ => false,
        };
        if finish {
            // Then wait (briefly) for the peer to close, so it reads the code, not a reset.
            let _ = tokio::time::timeout(limit.min(LINGER), poll_fn(|cx| transport.poll_drain(cx)))
                .await;
        }
        exit
    }

    fn poll_connection(&mut self, conn: &mut Conn, cx: &mut Context<'_>) -> Poll<Exit> {
        let close_requested = self.poll_maintenance(cx);

        // A requested close: send the close frame, wait for the handshake (bounded).
        if close_requested && conn.closing.is_none() {
            self.set_state(State::Closing);
            let _ = conn.transport.start_close(1000, "");
            conn.closing = Some(Box::pin(tokio::time::sleep(self.config.close_timeout)));
        }
        if conn.closing.is_some() {
            return self.poll_closing(conn, cx);
        }
        if self.shared.take_reconnect_request() {
            return Poll::Ready(Exit::Lost(ConnectionError::ReconnectRequested));
        }

        // Timers. Without pings (a TCP platform), silence counts only while a message
        // awaits its acknowledgement: a peer that stops answering requests is presumed
        // dead after heartbeat + dead_after, as with pings.
        let now = Instant::now();
        let watched = conn.pings || {
            if self.shared.outbox().awaiting_ack() == 0 {
                conn.last_inbound = now;
            }
            true
        };
        if watched {
            let deadline = conn.last_inbound + self.config.heartbeat + self.config.dead_after;
            if now >= deadline {
                let silent = now - conn.last_inbound;
                return Poll::Ready(Exit::Lost(ConnectionError::DeadPeer(silent)));
            }
            if conn.watchdog.deadline() != deadline {
                conn.watchdog.as_mut().reset(deadline);
            }
            if conn.watchdog.as_mut().poll(cx).is_ready() {
                let silent = Instant::now() - conn.last_inbound;
                return Poll::Ready(Exit::Lost(ConnectionError::DeadPeer(silent)));
            }
            while conn.pings && conn.ping.poll_tick(cx).is_ready() {
                conn.ping_due = true;
            }
        }

        // Read. The transport holds its writes during the burst, so the replies queued
        // after each frame (and pongs) leave together at the flush below.
        conn.transport.hold_writes(true);
        let burst = self.read_burst(conn, cx);
        conn.transport.hold_writes(false);
        let (budget, heard) = match burst {
            Ok(read) => read,
            Err(exit) => return Poll::Ready(exit),
        };
        if heard {
            conn.last_inbound = Instant::now();
            conn.needs_flush = true;
        }
        if budget == 0 {
            cx.waker().wake_by_ref();
        } else if !self.events.has_room() {
            // Reading paused for a slow event consumer: the silence is ours, not the peer's.
            let now = Instant::now();
            conn.last_inbound = now;
            let since = *self.events.paused_since.get_or_insert(now);
            if !self.events.warned && now - since >= STREAM_PAUSE_WARNING {
                self.events.warned = true;
                tracing::warn!(
                    capacity = self.events.capacity,
                    "event stream full for over a second: reading paused until its consumer catches up (drop the stream if unused)"
                );
            }
        } else {
            self.events.warned = false;
            self.events.paused_since = None;
        }
        self.events.poll_flush(cx);

        // The app heartbeat: polled after reading, since a frame just read (a hello) may
        // have set or changed its interval.
        if let Some((_, interval)) = conn.app_heartbeat.as_mut() {
            while interval.poll_tick(cx).is_ready() {
                conn.app_heartbeat_due = true;
            }
        }

        // Write.
        match self.poll_write(conn, cx, true) {
            Poll::Ready(Err(e)) => Poll::Ready(Exit::Lost(e)),
            _ => Poll::Pending,
        }
    }

    /// Reads and handles inbound items until the socket has none, the budget is spent or
    /// the event stream is full. Returns the budget left and whether anything was read.
    fn read_burst(&mut self, conn: &mut Conn, cx: &mut Context<'_>) -> Result<(usize, bool), Exit> {
        let mut budget = READ_BUDGET;
        let mut heard = false;
        // Platform replies wait in `control` while the writer is blocked: reading pauses
        // past CONTROL_LIMIT rather than letting them grow.
        while budget > 0 && self.events.has_room() && conn.control.len() < CONTROL_LIMIT {
            match conn.transport.poll_recv(cx) {
                Poll::Pending => break,
                Poll::Ready(None) => {
                    let error = match conn.peer_close.take() {
                        Some((code, reason)) => ConnectionError::ClosedByPeer { code, reason },
                        None => ConnectionError::Eof,
                    };
                    return Err(Exit::Lost(error));
                }
                Poll::Ready(Some(Err(e))) => return Err(Exit::Lost(e)),
                Poll::Ready(Some(Ok(received))) => {
                    heard = true;
                    self.replied = false;
                    self.on_received(conn, received).map_err(Exit::Lost)?;
                    // Replies (a handler's, the platform's) are buffered before the next
                    // frame is read, so they go out ahead of anything the transport
                    // answers itself (the close frame after a protocol error). No flush yet.
                    if (self.replied || !conn.control.is_empty())
                        && let Poll::Ready(Err(e)) = self.poll_write(conn, cx, false)
                    {
                        return Err(Exit::Lost(e));
                    }
                }
            }
            budget -= 1;
        }
        Ok((budget, heard))
    }

    /// After our close frame: keep delivering what the peer sent before its close (late
    /// replies and acks count), then finish the handshake; bounded by the close timeout.
    fn poll_closing(&mut self, conn: &mut Conn, cx: &mut Context<'_>) -> Poll<Exit> {
        self.events.poll_flush(cx);
        if !conn.read_done {
            let mut budget = READ_BUDGET;
            while budget > 0 && self.events.has_room() {
                match conn.transport.poll_recv(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Some(Ok(received))) => {
                        // A platform error this late changes nothing: we are closing.
                        let _ = self.on_received(conn, received);
                    }
                    Poll::Ready(Some(Err(_)) | None) => {
                        conn.read_done = true;
                        break;
                    }
                }
                budget -= 1;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
            }
            self.events.poll_flush(cx);
        }
        if conn.read_done && conn.transport.poll_close(cx).is_ready() {
            return Poll::Ready(Exit::Closed(conn.peer_close.take()));
        }
        if !conn.read_done {
            // Push our close frame out while waiting for the peer's.
            let _ = conn.transport.poll_flush(cx);
        }
        let expired = conn
            .closing
            .as_mut()
            .is_some_and(|limit| limit.as_mut().poll(cx).is_ready());
        if expired {
            Poll::Ready(Exit::Closed(conn.peer_close.take()))
        } else {
            Poll::Pending
        }
    }

    /// Writes pings, control frames, the app heartbeat and then the outbox, and flushes
    /// once for the whole batch. `Ready(Err)` ends the connection.
    fn poll_write(
        &mut self,
        conn: &mut Conn,
        cx: &mut Context<'_>,
        flush: bool,
    ) -> Poll<Result<(), ConnectionError>> {
        let stats = &self.shared.stats;
        let mut written = Written::default();
        let mut budget = WRITE_BUDGET;
        loop {
            let has_work = conn.ping_due
                || !conn.control.is_empty()
                || conn.app_heartbeat_due
                || (conn.ready && (!conn.wire.is_empty() || self.shared.outbox().unsent_len() > 0));
            if !has_work {
                break;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                break;
            }
            match conn.transport.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => break,
            }
            budget -= 1;
            conn.needs_flush = true;
            if conn.ping_due {
                conn.ping_due = false;
                let micros =
                    u64::try_from((Instant::now() - self.started).as_micros()).unwrap_or(0);
                conn.transport
                    .start_ping(Bytes::copy_from_slice(&micros.to_be_bytes()))?;
                continue;
            }
            if let Some(frame) = conn.control.pop_front() {
                let frame = self.protocol.before_write(frame, Outbound::Control);
                written.count(&frame);
                conn.transport.start_send(frame)?;
                continue;
            }
            if conn.app_heartbeat_due {
                conn.app_heartbeat_due = false;
                if let Some(frame) = self.protocol.heartbeat() {
                    let frame = self.protocol.before_write(frame, Outbound::Heartbeat);
                    written.count(&frame);
                    conn.transport.start_send(frame)?;
                }
                continue;
            }
            if conn.wire.is_empty() {
                self.shared.outbox().take_unsent(TAKE_BATCH, &mut conn.wire);
            }
            if let Some((seq, frame, stamp)) = conn.wire.pop_front() {
                let frame = self
                    .protocol
                    .before_write(frame, Outbound::Message { stamp });
                written.count(&frame);
                conn.transport.start_send(frame)?;
                conn.last_written = Some(seq);
            }
        }
        written.add_to(stats);
        if conn.needs_flush && flush {
            match conn.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    conn.needs_flush = false;
                    if let Some(seq) = conn.last_written {
                        let mut delivered = Vec::new();
                        self.shared.outbox().flushed_through(seq, &mut delivered);
                        let results = delivered
                            .into_iter()
                            .map(|e| (e, Ok(Delivered { reply: None })));
                        self.shared.finish(results);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    fn on_received(&mut self, conn: &mut Conn, received: Received) -> Result<(), ConnectionError> {
        match received {
            Received::Frame(frame) => {
                let stats = &self.shared.stats;
                Statistics::add(&stats.bytes_in, frame.len() as u64);
                // One output buffer, reused for every frame (its vectors keep their room).
                let mut out = std::mem::take(&mut self.scratch);
                let decoded = self.protocol.on_frame(frame.clone(), &mut out);
                match &decoded {
                    Ok(()) => {}
                    Err(e) => {
                        Statistics::add(&stats.decode_errors, 1);
                        // Redact before cutting: a cut through a secret would show its start.
                        let redacted = self.shared.redact(frame.excerpt(120 + 4096));
                        let excerpt = crate::frame::Frame::text(redacted).excerpt(120);
                        tracing::warn!(reason = %e.reason, excerpt = %excerpt, "cannot decode inbound message");
                        self.events.push(Event::DecodeError {
                            reason: e.reason.clone(),
                            excerpt,
                        });
                    }
                }
                // What failed to decode may be shown on the event stream, never routed.
                let applied = self.apply(conn, &mut out, decoded.is_ok());
                self.scratch = out;
                applied?;
                self.refresh_app_heartbeat(conn);
            }
            Received::Undecodable { reason } => {
                Statistics::add(&self.shared.stats.decode_errors, 1);
                let reason = self.shared.redact(reason);
                tracing::warn!(reason = %reason, "cannot decode inbound frame");
                let mut out = std::mem::take(&mut self.scratch);
                self.protocol.on_undecodable(&reason, &mut out);
                self.events.push(Event::DecodeError {
                    reason,
                    excerpt: String::new(),
                });
                // Acks and readiness apply; handlers see only what decoded.
                let applied = self.apply(conn, &mut out, false);
                self.scratch = out;
                applied?;
            }
            Received::Pong(payload) => {
                if let Ok(bytes) = <[u8; 8]>::try_from(&payload[..]) {
                    let sent = self.started + Duration::from_micros(u64::from_be_bytes(bytes));
                    let now = Instant::now();
                    if sent <= now {
                        Statistics::set_duration(&self.shared.stats.rtt_micros, now - sent);
                    }
                }
            }
            Received::Ping => {}
            Received::Close { code, reason } => {
                let reason = self.shared.redact(reason);
                tracing::debug!(?code, reason = %reason, "peer sent a close frame");
                conn.peer_close = Some((code, reason));
            }
        }
        Ok(())
    }

    /// Applies what the platform produced: control frames, inbound messages (acks,
    /// handlers, events), readiness, a fatal error.
    fn apply(
        &mut self,
        conn: &mut Conn,
        out: &mut Output<P::Event>,
        route: bool,
    ) -> Result<(), ConnectionError> {
        conn.control.extend(out.control.drain(..));
        if out.ready && !conn.ready {
            conn.ready = true;
            self.backoff.reset();
            if !self.ever_ready {
                self.ever_ready = true;
                Statistics::set_duration(
                    &self.shared.stats.first_ready_micros,
                    self.started.elapsed(),
                );
            }
            self.set_state(State::Ready);
        }
        for inbound in out.inbound.drain(..) {
            Statistics::add(&self.shared.stats.messages_in, 1);
            if let Some(ack) = inbound.ack {
                let entry = self.shared.outbox().take_acked(&ack.key);
                if let Some(entry) = entry {
                    Statistics::add(&self.shared.stats.acked, 1);
                    let result = match &ack.outcome {
                        AckOutcome::Accepted => Ok(Delivered {
                            reply: Some(inbound.event.clone()),
                        }),
                        AckOutcome::Rejected(reason) => {
                            let error = SendError::Rejected {
                                message: entry.message.clone(),
                                reason: self.shared.redact(reason.clone()),
                            };
                            self.events.push(Event::Undelivered(error.clone()));
                            Err(error)
                        }
                    };
                    self.shared.finish([(entry, result)]);
                    self.events.push(Event::Ack {
                        key: ack.key,
                        outcome: ack.outcome,
                    });
                }
            }
            if route && !self.router.is_empty() {
                self.route(inbound.name.as_deref(), &inbound.event);
            }
            self.events.push(Event::Message(inbound.event));
        }
        out.ready = false;
        match out.fatal.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn route(&mut self, name: Option<&str>, event: &P::Event) {
        let mut replies = Vec::new();
        let mut failures: Vec<HandlerFailure> = Vec::new();
        self.router
            .dispatch(name, event, &mut replies, &mut failures);
        for failure in failures {
            Statistics::add(&self.shared.stats.handler_errors, 1);
            let error = self.shared.redact(failure.error);
            tracing::warn!(event = ?failure.event, error = %error, "handler failed");
            self.events.push(Event::HandlerError {
                event: failure.event,
                error,
            });
        }
        for reply in replies {
            // The actor cannot wait for room; a reply that does not fit is reported.
            match self.shared.permits.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    self.shared
                        .outbox()
                        .push(reply, Instant::now, Notify::Nobody);
                    self.replied = true;
                }
                Err(_) => {
                    Statistics::add(&self.shared.stats.handler_errors, 1);
                    self.events.push(Event::Undelivered(SendError::Full(reply)));
                }
            }
        }
    }

    fn refresh_app_heartbeat(&mut self, conn: &mut Conn) {
        let wanted = self.protocol.heartbeat_interval();
        let current = conn.app_heartbeat.as_ref().map(|(d, _)| *d);
        if wanted != current {
            conn.app_heartbeat = wanted.filter(|d| !d.is_zero()).map(|every| {
                let mut interval = tokio::time::interval_at(Instant::now() + every, every);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                (every, interval)
            });
        }
    }

    /// The client stops: every message still held is handed back, the state becomes
    /// Closed, and the remaining events are delivered (bounded by the close timeout).
    async fn finish(&mut self, reason: CloseReason) {
        let entries: Vec<Entry<P::Event>> = self.shared.outbox().close();
        self.shared.permits.close();
        let fatal = reason.is_fatal();
        let shared_reason = std::sync::Arc::new(reason.clone());
        let results: Vec<_> = entries
            .into_iter()
            .map(|entry| {
                let message = entry.message.clone();
                let transmission = entry.transmission();
                let error = if fatal {
                    SendError::Fatal {
                        message,
                        reason: shared_reason.clone(),
                        transmission,
                    }
                } else {
                    SendError::Closed {
                        message,
                        transmission,
                    }
                };
                self.events.push(Event::Undelivered(error.clone()));
                (entry, Err(error))
            })
            .collect();
        self.shared.finish(results);
        self.shared.emptied.notify_waiters();
        tracing::info!(reason = %reason, fatal, "client closed");
        self.set_state(State::closed(reason));
        self.events.flush_within(self.config.close_timeout).await;
    }
}
