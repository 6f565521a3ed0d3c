//! The cloneable client handle, its builder, and send receipts.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    config::{ClientConfig, Policy},
    engine::Engine,
    error::{
        CloseReason, ConfigError, ConnectionError, RequestError, SendAllError, SendError,
        Transmission,
    },
    event::Events,
    event_queue::{EventQueue, EventSink},
    outbox::Delivered,
    outgoing::Outgoing,
    protocol::Protocol,
    receipt::{BatchReceipt, BatchState, Notify},
    router::{HandlerResult, Router},
    shared::Shared,
    state::{State, Statistics, StatsSnapshot},
    transport::{Connect, Endpoint, UrlConnector},
};

pub use crate::receipt::Receipt;

/// Why a client could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The URL or TLS setup cannot work.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Neither a URL nor a connector was given.
    #[error("no URL or connector given")]
    NoTarget,
}

/// Sets up a client: platform, configuration, where to connect, handlers.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tether::{Client, ClientConfig, raw::Raw};
/// let (client, mut events) = Client::builder(Raw::json())
///     .url("ws://127.0.0.1:8700/")
///     .config(ClientConfig::default())
///     .on("chat", |msg| { println!("{msg:?}"); Ok(None) })
///     .start()?;
/// client.send(Raw::message(&serde_json::json!({"type": "chat", "text": "hi"}))).await?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder<P: Protocol> {
    protocol: P,
    config: ClientConfig,
    url: Option<String>,
    connector: Option<Box<dyn Connect>>,
    router: Router<P::Event>,
}

impl<P: Protocol> std::fmt::Debug for ClientBuilder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("platform", &self.protocol.name())
            .field("config", &self.config)
            .field("url", &self.url)
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> ClientBuilder<P> {
    /// Starts a builder for `protocol` with the default configuration.
    pub fn new(protocol: P) -> Self {
        Self {
            protocol,
            config: ClientConfig::default(),
            url: None,
            connector: None,
            router: Router::default(),
        }
    }

    /// Sets the configuration.
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Connects to this URL (`ws://`, `wss://`, `tcp://`, `tls://`).
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Connects with a custom connector instead (any `AsyncRead + AsyncWrite`, see
    /// [`crate::transport`]).
    #[must_use]
    pub fn connector(mut self, connector: impl Connect) -> Self {
        self.connector = Some(Box::new(connector));
        self
    }

    /// Runs `handler` for inbound messages named `event`. A handler may return a reply,
    /// which is queued like any message; an error or a panic is counted and reported as a
    /// `handler_error` event, and the client goes on.
    #[must_use]
    pub fn on(
        mut self,
        event: impl Into<String>,
        handler: impl FnMut(&P::Event) -> HandlerResult + Send + 'static,
    ) -> Self {
        self.router.on(event.into(), Box::new(handler));
        self
    }

    /// Runs `handler` for inbound messages that no named handler takes.
    #[must_use]
    pub fn on_any(
        mut self,
        handler: impl FnMut(&P::Event) -> HandlerResult + Send + 'static,
    ) -> Self {
        self.router.on_any(Box::new(handler));
        self
    }

    /// Spawns the connection actor on the current tokio runtime and returns the handle and
    /// the event stream. Connecting happens in the background; watch [`Client::state`] or
    /// await [`Client::ready`].
    ///
    /// # Errors
    /// [`BuildError`] for an invalid configuration, URL or CA file.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(self) -> Result<Started<P::Event>, BuildError> {
        self.config.validate()?;
        let shared = Arc::new(Shared::new(&self.config));
        let connector: Box<dyn Connect> = match (self.connector, &self.url) {
            (Some(c), _) => c,
            (None, Some(url)) => {
                let endpoint = Endpoint::parse(url)?;
                Box::new(
                    UrlConnector::new(endpoint, self.config.clone(), self.protocol.codec())?
                        .count_wire(shared.stats.wire.clone()),
                )
            }
            (None, None) => return Err(BuildError::NoTarget),
        };
        let queue = EventQueue::new(self.config.event_capacity);
        let engine = Engine::new(
            shared.clone(),
            self.protocol,
            self.router,
            connector,
            self.config,
            EventSink::new(queue.clone()),
        );
        // Its own target, so that a `log` bridge can leave out the span's lifecycle record
        // ("++ tether; platform=…", which `tracing` logs under the span's target).
        let span = tracing::info_span!(
            target: crate::SPAN_TARGET,
            "tether",
            platform = engine.protocol.name()
        );
        tokio::spawn(tracing::Instrument::instrument(engine.run(), span));
        Ok((Client { shared }, Events { queue }))
    }
}

/// Slots a batch takes at a time: the longest it holds the outbox lock.
const BATCH_CHUNK: usize = 1024;

/// Why a batch found no room.
enum Refusal {
    Closed,
    Full,
    DropOldest,
}

/// A message refused because the client is closed: never queued, so never sent.
fn not_sent(message: Outgoing) -> SendError {
    SendError::Closed {
        message,
        transmission: Transmission::NotSent,
    }
}

/// What [`ClientBuilder::start`] returns: the handle and the event stream.
pub type Started<E> = (Client<E>, Events<E>);

/// A handle to a running client. Cheap to clone; every clone talks to the same actor.
pub struct Client<E> {
    shared: Arc<Shared<E>>,
}

impl<E> Clone for Client<E> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<E> std::fmt::Debug for Client<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Client<()> {
    /// Starts a [`ClientBuilder`].
    pub fn builder<P: Protocol>(protocol: P) -> ClientBuilder<P> {
        ClientBuilder::new(protocol)
    }
}

impl<E: Clone + Send + 'static> Client<E> {
    /// Queues a message and returns once it is queued, with a receipt that resolves when
    /// it is delivered (flushed, or acknowledged when it has an ack key).
    ///
    /// Under `Backpressure` this waits for room; under `Reject` a full outbox returns
    /// [`SendError::Full`] with the message; under `DropOldest` the oldest message is
    /// dropped (and reported) to make room.
    ///
    /// # Errors
    /// [`SendError`] carrying the message: full (Reject), closed, or too large.
    ///
    /// # Cancel safety
    /// Cancelling while waiting for room leaves nothing queued.
    pub async fn send(&self, message: impl Into<Outgoing>) -> Result<Receipt<E>, SendError> {
        self.enqueue(message.into(), true).await
    }

    /// Queues many messages in order, as [`Client::send`] would one by one, but takes the
    /// outbox lock, the outbox slots and the connection's wake-up once per run of free
    /// slots instead of once per message, and gives one receipt for the whole batch: the
    /// way to hand tether a burst.
    ///
    /// Under `Backpressure` it waits for room as it goes (a batch larger than the outbox
    /// is queued as room frees up); under `Reject` a full outbox stops it; under
    /// `DropOldest` the oldest messages are dropped (and reported) to make room.
    ///
    /// ```no_run
    /// # async fn demo(client: tether::Client<tether::raw::RawMessage>) -> Result<(), Box<dyn std::error::Error>> {
    /// use tether::Frame;
    /// let frames = (0..100).map(|i| Frame::text(format!("{{\"n\":{i}}}")));
    /// let receipt = client.send_all(frames).await?;
    /// match receipt.await {
    ///     Ok(delivered) => assert_eq!(delivered, 100),
    ///     Err(failed) => eprintln!("{} not delivered", failed.len()),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`SendAllError`]: the refusal that stopped the batch (closed, too large, full
    /// under `Reject`) with its message, the receipt of the messages queued before it,
    /// and the messages after it, handed back.
    ///
    /// # Cancel safety
    /// Cancelling while it waits for room leaves the messages queued so far queued and
    /// drops the rest.
    pub async fn send_all<I>(&self, messages: I) -> Result<BatchReceipt, SendAllError>
    where
        I: IntoIterator,
        I::Item: Into<Outgoing>,
    {
        let state = Arc::new(BatchState::default());
        let mut queued = 0usize;
        let mut messages = messages.into_iter().map(Into::into).peekable();
        let mut chunk: Vec<Outgoing> = Vec::new();
        let stop = |queued: usize,
                    error: SendError,
                    chunk: Vec<Outgoing>,
                    rest: &mut dyn Iterator<Item = Outgoing>| {
            let mut rest_all = chunk;
            rest_all.extend(rest);
            SendAllError {
                queued,
                receipt: BatchReceipt {
                    state: state.clone(),
                    count: queued,
                },
                error,
                rest: rest_all,
            }
        };
        while messages.peek().is_some() {
            let room = match self.batch_room().await {
                Ok(room) => room,
                Err(Refusal::Closed) => {
                    let first = messages.next().expect("peeked");
                    return Err(stop(queued, not_sent(first), Vec::new(), &mut messages));
                }
                Err(Refusal::Full) => {
                    let first = messages.next().expect("peeked");
                    let error = self.report(SendError::Full(first));
                    return Err(stop(queued, error, Vec::new(), &mut messages));
                }
                Err(Refusal::DropOldest) => {
                    // No free slot: this message takes the oldest one's.
                    let message = messages.next().expect("peeked");
                    if let Err(error) = self.check(&message) {
                        return Err(stop(queued, error, Vec::new(), &mut messages));
                    }
                    state.add(1);
                    match self.push_notify(message, false, true, Notify::Batch(state.clone())) {
                        Ok(_) => queued += 1,
                        Err(error) => {
                            state.unqueue(1);
                            return Err(stop(queued, error, Vec::new(), &mut messages));
                        }
                    }
                    continue;
                }
            };
            // Take up to `room` messages, checking their sizes before the lock is taken.
            chunk.clear();
            let mut too_large = None;
            while chunk.len() < room {
                let Some(message) = messages.next() else {
                    break;
                };
                if let Err(error) = self.check(&message) {
                    too_large = Some(error);
                    break;
                }
                chunk.push(message);
            }
            let unused = room - chunk.len();
            let taken = std::mem::take(&mut chunk);
            let n = taken.len();
            let closed = {
                let mut ob = self.shared.outbox();
                if ob.closed {
                    Some(taken)
                } else {
                    // Counted before the lock is released: no entry can resolve earlier.
                    state.add(n);
                    for message in taken {
                        ob.push(
                            message,
                            tokio::time::Instant::now,
                            Notify::Batch(state.clone()),
                        );
                    }
                    None
                }
            };
            match closed {
                Some(mut taken) => {
                    self.shared.permits.add_permits(room);
                    if taken.is_empty() {
                        let error = too_large.expect("a refusal ended an empty chunk");
                        return Err(stop(queued, error, Vec::new(), &mut messages));
                    }
                    let first = taken.remove(0);
                    if let Some(error) = too_large {
                        taken.push(error.into_message());
                    }
                    return Err(stop(queued, not_sent(first), taken, &mut messages));
                }
                None => {
                    queued += n;
                    if unused > 0 {
                        self.shared.permits.add_permits(unused);
                    }
                    if n > 0 {
                        self.shared.waker.wake();
                    }
                }
            }
            if let Some(error) = too_large {
                return Err(stop(queued, error, Vec::new(), &mut messages));
            }
        }
        Ok(BatchReceipt {
            state,
            count: queued,
        })
    }

    /// Free outbox slots for a batch: at least one (waiting for it under `Backpressure`),
    /// at most [`BATCH_CHUNK`], all already taken.
    async fn batch_room(&self) -> Result<usize, Refusal> {
        let permits = &self.shared.permits;
        let free = permits.available_permits().min(BATCH_CHUNK);
        if free > 0 {
            match permits.try_acquire_many(u32::try_from(free).unwrap_or(u32::MAX)) {
                Ok(p) => {
                    p.forget();
                    return Ok(free);
                }
                Err(tokio::sync::TryAcquireError::Closed) => return Err(Refusal::Closed),
                // Another sender took them meanwhile: as if there were none.
                Err(tokio::sync::TryAcquireError::NoPermits) => {}
            }
        }
        match self.shared.policy {
            Policy::Backpressure => match permits.acquire().await {
                Ok(p) => {
                    p.forget();
                    Ok(1)
                }
                Err(_) => Err(Refusal::Closed),
            },
            Policy::Reject => Err(Refusal::Full),
            Policy::DropOldest => Err(Refusal::DropOldest),
        }
    }

    /// Like [`Client::send`], but never waits: a full outbox under `Backpressure` returns
    /// [`SendError::Full`].
    ///
    /// # Errors
    /// As [`Client::send`], plus `Full` instead of waiting.
    pub fn try_send(&self, message: impl Into<Outgoing>) -> Result<Receipt<E>, SendError> {
        let message = message.into();
        self.check(&message)?;
        self.try_push(message, true).map_err(|e| self.report(e))
    }

    /// Like [`Client::try_send`], but leaves the connection task asleep: the message is
    /// written on the task's next turn, which [`Client::wake`] (or any other send) starts.
    ///
    /// For a caller that queues a run of messages one at a time (what one turn of an
    /// event loop sends) and wants the connection woken once for the run, as
    /// [`Client::send_all`] wakes it once for a batch. A message nobody wakes for is still
    /// written on the next turn the task takes for its own reasons (a frame read, a timer,
    /// a close), so a missing [`Client::wake`] delays it, never loses it.
    ///
    /// A full outbox under `Backpressure` returns [`SendError::Full`] without reporting it
    /// as undelivered (the caller is expected to wait with [`Client::send`]); under
    /// `Reject` it is a refusal, reported as [`Client::try_send`] reports it.
    ///
    /// ```no_run
    /// # fn demo(client: tether::Client<tether::raw::RawMessage>) -> Result<(), tether::SendError> {
    /// use tether::Frame;
    /// let first = client.try_send_deferred(Frame::text("one"))?;
    /// let second = client.try_send_deferred(Frame::text("two"))?;
    /// client.wake(); // one wake-up writes both, in order
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Client::try_send`].
    pub fn try_send_deferred(&self, message: impl Into<Outgoing>) -> Result<Receipt<E>, SendError> {
        let message = message.into();
        self.check(&message)?;
        self.try_push(message, false).map_err(|e| match e {
            SendError::Full(_) if self.shared.policy == Policy::Backpressure => e,
            e => self.report(e),
        })
    }

    /// Wakes the connection task to write what [`Client::try_send_deferred`] queued (at
    /// most one wake-up until the task runs, however often it is called).
    pub fn wake(&self) {
        self.shared.waker.wake();
    }

    /// Reports a refusal as an `undelivered` event too (the caller has the error).
    fn report(&self, error: SendError) -> SendError {
        if let SendError::Full(_) | SendError::TooLarge { .. } = &error {
            self.shared.outbox().refuse(&error);
            self.shared.waker.wake();
        }
        error
    }

    fn try_push(&self, message: Outgoing, wake: bool) -> Result<Receipt<E>, SendError> {
        let has_permit = match self.shared.permits.try_acquire() {
            Ok(p) => {
                p.forget();
                true
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(not_sent(message)),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                if self.shared.policy != Policy::DropOldest {
                    return Err(SendError::Full(message));
                }
                false
            }
        };
        self.push(message, has_permit, wake)
    }

    async fn enqueue(&self, message: Outgoing, wait: bool) -> Result<Receipt<E>, SendError> {
        if !wait || self.shared.policy != Policy::Backpressure {
            return self.try_send(message);
        }
        self.check(&message)?;
        // Fast path without a future: a free slot.
        let permit = match self.shared.permits.try_acquire() {
            Ok(p) => Ok(p),
            Err(tokio::sync::TryAcquireError::NoPermits) => self.shared.permits.acquire().await,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(not_sent(message)),
        };
        match permit {
            Ok(p) => p.forget(),
            Err(_) => return Err(not_sent(message)),
        }
        self.push(message, true, true)
    }

    fn check(&self, message: &Outgoing) -> Result<(), SendError> {
        let size = message.frame().len();
        if size > self.shared.max_message_size {
            return Err(self.report(SendError::TooLarge {
                message: message.clone(),
                size,
                limit: self.shared.max_message_size,
            }));
        }
        Ok(())
    }

    fn push(
        &self,
        message: Outgoing,
        has_permit: bool,
        wake: bool,
    ) -> Result<Receipt<E>, SendError> {
        let (tx, rx) = oneshot::async_channel();
        let seq = self.push_notify(message, has_permit, wake, Notify::One(tx))?;
        Ok(Receipt { rx, seq })
    }

    fn push_notify(
        &self,
        message: Outgoing,
        has_permit: bool,
        wake: bool,
        notify: Notify<E>,
    ) -> Result<u64, SendError> {
        let seq = {
            let mut ob = self.shared.outbox();
            if ob.closed {
                drop(ob);
                if has_permit {
                    self.shared.permits.add_permits(1);
                }
                return Err(not_sent(message));
            }
            if !has_permit {
                // DropOldest: the new message takes the slot of the oldest queued one (or,
                // with nothing queued, of the oldest written one).
                match ob.pop_oldest() {
                    Some(old) => {
                        Statistics::add(&self.shared.stats.dropped, 1);
                        let transmission = old.transmission();
                        ob.dropped.push((old.message.clone(), transmission));
                        let message = old.message.clone();
                        old.resolve(Err(SendError::Dropped {
                            message,
                            transmission,
                        }));
                    }
                    // Every slot is held by senders between permit and push: nothing to drop.
                    None => return Err(SendError::Full(message)),
                }
            }
            ob.push(message, tokio::time::Instant::now, notify)
        };
        if wake {
            self.shared.waker.wake();
        }
        Ok(seq)
    }

    /// Sends a message that carries an ack key and waits for the inbound message that
    /// answers it (same key), up to the configured request timeout.
    ///
    /// # Errors
    /// [`RequestError::Timeout`] (the request is withdrawn and handed back, saying whether
    /// it had been written: [`RequestError::transmission`]),
    /// [`RequestError::NoCorrelation`] for a message without ack key, or the send error.
    pub async fn request(&self, message: impl Into<Outgoing>) -> Result<E, RequestError> {
        let timeout = self.shared.request_timeout;
        self.request_within(message, timeout).await
    }

    /// [`Client::request`] with an explicit timeout.
    ///
    /// # Errors
    /// As [`Client::request`].
    ///
    /// # Cancel safety
    /// Cancelling (dropping the future) before the reply came withdraws the request from
    /// the outbox, as a timeout does.
    pub async fn request_within(
        &self,
        message: impl Into<Outgoing>,
        timeout: Duration,
    ) -> Result<E, RequestError> {
        let message = message.into();
        if message.ack().is_none() {
            return Err(RequestError::NoCorrelation(message));
        }
        let mut receipt = self.send(message).await?;
        // Cancelled while awaiting the reply (the future dropped): the request is withdrawn.
        let mut withdraw = Withdraw {
            shared: &self.shared,
            seq: Some(receipt.seq),
        };
        let delivered = match tokio::time::timeout(timeout, &mut receipt).await {
            Ok(result) => {
                withdraw.seq = None;
                result?
            }
            Err(_) => {
                withdraw.seq = None;
                let withdrawn = self.shared.outbox().remove(receipt.seq);
                match withdrawn {
                    Some(entry) => {
                        let message = entry.message.clone();
                        let transmission = entry.transmission();
                        self.shared.finish([(entry, Ok(Delivered { reply: None }))]);
                        return Err(RequestError::Timeout {
                            message,
                            timeout,
                            transmission,
                        });
                    }
                    // Resolved in the meantime: take that result.
                    None => receipt.await?,
                }
            }
        };
        match delivered.reply {
            Some(reply) => Ok(reply),
            None => Err(RequestError::NoCorrelation(Outgoing::new(
                crate::Frame::text(""),
            ))),
        }
    }
}

/// Withdraws a request from the outbox when its `request_within` future is dropped
/// before the reply came (the caller cancelled it): the entry is resolved quietly, as on
/// a timeout, and its slot freed.
struct Withdraw<'a, E> {
    shared: &'a Shared<E>,
    seq: Option<u64>,
}

impl<E> Drop for Withdraw<'_, E> {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            let withdrawn = self.shared.outbox().remove(seq);
            if let Some(entry) = withdrawn {
                self.shared.finish([(entry, Ok(Delivered { reply: None }))]);
            }
        }
    }
}

impl<E> Client<E> {
    /// A watch of the connection state.
    ///
    /// Do not hold a borrow of it (`borrow()`, or the guard `wait_for` returns) across an
    /// `.await`: the client cannot publish its next state while a borrow is held.
    #[must_use]
    pub fn state(&self) -> watch::Receiver<State> {
        self.shared.state.subscribe()
    }

    /// Statistics so far.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Messages held: queued plus sent-but-not-yet-delivered.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.shared.outbox().len()
    }

    /// The outbox capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Waits until the client is Ready; returns the state that ended the wait if the
    /// client closed first.
    ///
    /// # Errors
    /// The final `Closed` state when the client stopped before becoming ready.
    pub async fn ready(&self) -> Result<(), State> {
        let mut rx = self.state();
        let state = rx
            .wait_for(|s| matches!(s, State::Ready | State::Closed { .. }))
            .await
            .map(|s| s.clone())
            .unwrap_or(State::closed(CloseReason::Gone));
        if state == State::Ready {
            Ok(())
        } else {
            Err(state)
        }
    }

    /// Waits until every held message is delivered, or `timeout` passes.
    ///
    /// # Errors
    /// The number of messages still undelivered when the timeout passed.
    pub async fn drain(&self, timeout: Duration) -> Result<(), usize> {
        let wait = async {
            loop {
                let notified = self.shared.emptied.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.pending() == 0 || self.shared.state.borrow().is_closed() {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        match self.pending() {
            0 => Ok(()),
            n => Err(n),
        }
    }

    /// Closes the connection (close handshake, bounded by the close timeout) and stops
    /// the client. Messages still held are handed back through their receipts and
    /// `undelivered` events. Returns the final state.
    pub async fn close(&self) -> State {
        self.shared.request_close();
        self.closed().await
    }

    /// Drops the current connection as if it were lost and connects again, with the
    /// usual backoff, login and replay of unacknowledged messages (the reason reported
    /// is [`ConnectionError::ReconnectRequested`](crate::ConnectionError::ReconnectRequested)).
    /// For a platform that must not let a late reply reach a later request. Asked while
    /// no connection is up, it is dropped: the next connection is fresh anyway.
    pub fn reconnect(&self) {
        self.shared.request_reconnect();
    }

    /// Waits until the client has stopped, and returns the final state.
    pub async fn closed(&self) -> State {
        let mut rx = self.state();
        rx.wait_for(State::is_closed)
            .await
            .map(|s| s.clone())
            .unwrap_or(State::closed(CloseReason::Gone))
    }
}
