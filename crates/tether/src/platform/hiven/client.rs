//! The typed Hiven client, after openhivenpy's `HivenClient` / `BotClient` / `UserClient`.

use std::{
    fmt,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::FutureExt;

use crate::{
    client::{BuildError, Client},
    config::ClientConfig,
    event::{Event, Events},
    platform::shell::{Lifecycle, Shell},
    secret::Secret,
    state::State,
    transport::Connect,
};

use super::{
    handler::{EventHandler, dispatch},
    http::{HivenHttp, HttpError, HttpRequest},
    model::{
        API_URL, ClientType, DEFAULT_HEARTBEAT_MS, InvalidToken, Message, SWARM_URL, SwarmEvent,
        SwarmMessage, User, validate_token,
    },
    poster::{PostReceipt, PostRetry, Poster},
    protocol::Swarm,
};

/// Why a Hiven call failed. Never shows the token.
#[derive(Debug, thiserror::Error)]
pub enum HivenError {
    /// The token is not a Hiven token (checked before any I/O).
    #[error("invalid token: {0}")]
    InvalidToken(#[from] InvalidToken),
    /// The token's length says one account kind and the constructor another.
    #[error("a {given} client needs a {want}-character token")]
    WrongClientType {
        /// The kind asked for.
        given: ClientType,
        /// The token length that kind needs.
        want: usize,
    },
    /// `connect` or `run` on a client that is already connected.
    #[error("already connected")]
    AlreadyConnected,
    /// The call needs a connection: call `connect` or `run` first.
    #[error("not connected: call connect() or run() first")]
    NotConnected,
    /// The client could not start (bad URL or configuration).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The client stopped for good before it was ready, or stopped on a fatal error
    /// (a refused token: close code 4001).
    #[error("client stopped: {}", match .0 { State::Closed { reason, .. } => reason.to_string(), _ => "closed".to_owned() })]
    Stopped(State),
    /// A REST call failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A queued post was dropped unposted: its runtime shut down.
    #[error("the posting task ended before the message was posted")]
    PostAbandoned,
}

impl From<Lifecycle> for HivenError {
    fn from(e: Lifecycle) -> Self {
        match e {
            Lifecycle::NotConnected => HivenError::NotConnected,
            Lifecycle::AlreadyConnected => HivenError::AlreadyConnected,
            Lifecycle::Stopped(state) => HivenError::Stopped(state),
            Lifecycle::Build(e) => HivenError::Build(e),
        }
    }
}

impl HivenError {
    /// Whether this error stops the client for good (a refused or invalid token, a bad
    /// configuration) rather than a call that may work later.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        match self {
            HivenError::InvalidToken(_)
            | HivenError::WrongClientType { .. }
            | HivenError::Build(_) => true,
            HivenError::Stopped(State::Closed { fatal, .. }) => *fatal,
            HivenError::Http(e) => e.is_unauthorized(),
            _ => false,
        }
    }
}

/// The connection status, after openhivenpy's `connection_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Connecting, logging in is not possible yet, or waiting to reconnect.
    Opening,
    /// The WebSocket is open (logged in or logging in).
    Open,
    /// A close was asked for and is running.
    Closing,
    /// Not connected (never connected, closed, or stopped).
    Closed,
}

impl ConnectionStatus {
    /// `OPENING`, `OPEN`, `CLOSING` or `CLOSED`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Opening => "OPENING",
            ConnectionStatus::Open => "OPEN",
            ConnectionStatus::Closing => "CLOSING",
            ConnectionStatus::Closed => "CLOSED",
        }
    }

    /// The status for an engine state.
    #[must_use]
    pub fn from_state(state: &State) -> Self {
        match state {
            State::Connecting | State::Reconnecting { .. } => ConnectionStatus::Opening,
            State::Open | State::Ready => ConnectionStatus::Open,
            State::Closing => ConnectionStatus::Closing,
            State::Closed { .. } => ConnectionStatus::Closed,
        }
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sets up a [`HivenClient`]; [`HivenClientBuilder::build`] checks the token.
pub struct HivenClientBuilder {
    token: Secret,
    client_type: Option<ClientType>,
    swarm_url: String,
    api_url: String,
    config: ClientConfig,
    heartbeat: Duration,
    log_ws_output: bool,
    post_retry: PostRetry,
    connector: Option<Box<dyn Connect>>,
}

impl fmt::Debug for HivenClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HivenClientBuilder")
            .field("token", &self.token)
            .field("client_type", &self.client_type)
            .field("swarm_url", &self.swarm_url)
            .field("api_url", &self.api_url)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl HivenClientBuilder {
    /// Bot or user; by default the token's length decides (132 bot, 128 user).
    #[must_use]
    pub fn client_type(mut self, client_type: ClientType) -> Self {
        self.client_type = Some(client_type);
        self
    }

    /// The Swarm URL (default `wss://swarm.hiven.io/socket?encoding=json&compression=text_json`).
    #[must_use]
    pub fn swarm_url(mut self, url: impl Into<String>) -> Self {
        self.swarm_url = url.into();
        self
    }

    /// The REST API base URL (default `https://api.hiven.io/v1`).
    #[must_use]
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// The engine configuration (backoff, outbox, CA file…). The setters below change
    /// parts of it.
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Reconnect after a lost connection (default `true`); `false` stops the client at
    /// the first loss. A refused token never reconnects.
    #[must_use]
    pub fn restart(mut self, on: bool) -> Self {
        self.config.reconnect = on;
        self
    }

    /// The op 3 heartbeat interval used until the Swarm's hello gives `hbt_int`
    /// (default 30 000 ms; the hello wins).
    #[must_use]
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Interval of WebSocket pings, which keep the liveness check going (op 3 gets no
    /// reply). Default 15 s.
    #[must_use]
    pub fn ping_interval(mut self, every: Duration) -> Self {
        self.config.heartbeat = every;
        self
    }

    /// Silence tolerated past a ping interval before the connection is presumed dead and
    /// re-established. Default 10 s.
    #[must_use]
    pub fn ping_timeout(mut self, after: Duration) -> Self {
        self.config.dead_after = after;
        self
    }

    /// Longest wait for the close handshake. Default 5 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Logs every frame in and out at debug level, the token redacted.
    #[must_use]
    pub fn log_ws_output(mut self, on: bool) -> Self {
        self.log_ws_output = on;
        self
    }

    /// How [`HivenClient::queue_message`] tries a post again (default: 5 attempts, 250 ms
    /// doubling to 5 s).
    #[must_use]
    pub fn post_retry(mut self, retry: PostRetry) -> Self {
        self.post_retry = retry;
        self
    }

    /// Connects with a custom connector instead of the Swarm URL (tests: in-memory
    /// streams). Used by the first `connect` only.
    #[must_use]
    pub fn connector(mut self, connector: impl Connect) -> Self {
        self.connector = Some(Box::new(connector));
        self
    }

    /// Checks the token and builds the client (and its HTTP client); no I/O yet.
    ///
    /// # Errors
    /// [`HivenError::InvalidToken`] (empty, whitespace, wrong length or characters),
    /// [`HivenError::WrongClientType`], or [`HivenError::Http`] for a bad API URL.
    pub fn build(self) -> Result<HivenClient, HivenError> {
        let by_length = validate_token(self.token.expose())?;
        let client_type = self.client_type.unwrap_or(by_length);
        if client_type != by_length {
            return Err(HivenError::WrongClientType {
                given: client_type,
                want: client_type.token_len(),
            });
        }
        // The engine scrubs its configured token from every log, error and event.
        let config = self.config.token(self.token.clone());
        let http = HivenHttp::new(
            &self.api_url,
            self.token.clone(),
            config.request_timeout,
            config.connect_timeout,
            config.ca_file.as_deref(),
        )?;
        Ok(HivenClient {
            inner: Arc::new(Inner {
                token: self.token,
                client_type,
                swarm_url: self.swarm_url,
                config,
                heartbeat: self.heartbeat,
                log_ws_output: self.log_ws_output,
                http,
                post_retry: self.post_retry,
                poster: OnceLock::new(),
                connector: Mutex::new(self.connector),
                shell: Shell::default(),
                user: Arc::default(),
                handler_errors: AtomicU64::new(0),
            }),
        })
    }
}

struct Inner {
    token: Secret,
    client_type: ClientType,
    swarm_url: String,
    config: ClientConfig,
    heartbeat: Duration,
    log_ws_output: bool,
    http: HivenHttp,
    post_retry: PostRetry,
    /// Started by the first queued post (it needs a runtime).
    poster: OnceLock<Poster>,
    connector: Mutex<Option<Box<dyn Connect>>>,
    shell: Shell<SwarmMessage>,
    user: Arc<Mutex<Option<User>>>,
    handler_errors: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A Hiven client (bot or user): the Swarm over the engine (reconnect with backoff,
/// WebSocket pings and a watchdog, op 3 heartbeats at the hello's `hbt_int`), typed
/// events to an [`EventHandler`], and the REST calls the Swarm needs.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tether::hiven::{EventHandler, HandlerResult, HivenClient, Message, ReadyInfo};
///
/// struct Bot;
/// impl EventHandler for Bot {
///     async fn on_ready(&self, _: &HivenClient, ready: &ReadyInfo) -> HandlerResult {
///         println!("ready in {} houses", ready.house_ids.len());
///         Ok(())
///     }
///     async fn on_message_create(&self, client: &HivenClient, m: &Message) -> HandlerResult {
///         if m.content == "!ping" {
///             client.send_message(&m.room_id, "pong").await?;
///         }
///         Ok(())
///     }
/// }
///
/// let token = std::env::var("HIVEN_TOKEN")?;
/// let client = HivenClient::builder(token)
///     .swarm_url("ws://127.0.0.1:8780/socket")
///     .api_url("http://127.0.0.1:8781/v1")
///     .build()?;
/// client.run(Bot).await?; // until closed
/// # Ok(()) }
/// ```
///
/// Clones share the connection. Nothing is sent to the Swarm but the login and
/// heartbeats; messages go through the REST API ([`HivenClient::send_message`]).
#[derive(Clone)]
pub struct HivenClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HivenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HivenClient")
            .field("token", &self.inner.token)
            .field("client_type", &self.inner.client_type)
            .field("swarm_url", &self.inner.swarm_url)
            .field("api_url", &self.inner.http.base_url())
            .field("connection_status", &self.connection_status())
            .finish_non_exhaustive()
    }
}

/// Builds bot clients, after openhivenpy's `BotClient`.
#[derive(Debug, Clone, Copy)]
pub struct BotClient;

impl BotClient {
    /// A bot client with a 132-character token and the default URLs.
    ///
    /// # Errors
    /// As [`HivenClientBuilder::build`].
    #[allow(
        clippy::new_ret_no_self,
        reason = "a constructor of HivenClient, as in openhivenpy"
    )]
    pub fn new(token: impl Into<Secret>) -> Result<HivenClient, HivenError> {
        Self::builder(token).build()
    }

    /// A builder for a bot client.
    pub fn builder(token: impl Into<Secret>) -> HivenClientBuilder {
        HivenClient::builder(token).client_type(ClientType::Bot)
    }
}

/// Builds user clients, after openhivenpy's `UserClient`.
#[derive(Debug, Clone, Copy)]
pub struct UserClient;

impl UserClient {
    /// A user client with a 128-character token and the default URLs.
    ///
    /// # Errors
    /// As [`HivenClientBuilder::build`].
    #[allow(
        clippy::new_ret_no_self,
        reason = "a constructor of HivenClient, as in openhivenpy"
    )]
    pub fn new(token: impl Into<Secret>) -> Result<HivenClient, HivenError> {
        Self::builder(token).build()
    }

    /// A builder for a user client.
    pub fn builder(token: impl Into<Secret>) -> HivenClientBuilder {
        HivenClient::builder(token).client_type(ClientType::User)
    }
}

impl HivenClient {
    /// A builder with the default URLs and configuration.
    pub fn builder(token: impl Into<Secret>) -> HivenClientBuilder {
        HivenClientBuilder {
            token: token.into(),
            client_type: None,
            swarm_url: SWARM_URL.to_owned(),
            api_url: API_URL.to_owned(),
            config: ClientConfig::default(),
            heartbeat: Duration::from_millis(DEFAULT_HEARTBEAT_MS),
            log_ws_output: false,
            post_retry: PostRetry::default(),
            connector: None,
        }
    }

    /// A client with the default URLs; the token's length decides bot or user.
    ///
    /// # Errors
    /// As [`HivenClientBuilder::build`].
    pub fn new(token: impl Into<Secret>) -> Result<Self, HivenError> {
        Self::builder(token).build()
    }

    /// The token (its `Debug` and `Display` are redacted).
    #[must_use]
    pub fn token(&self) -> &Secret {
        &self.inner.token
    }

    /// Bot or user.
    #[must_use]
    pub fn client_type(&self) -> ClientType {
        self.inner.client_type
    }

    /// The HTTP client for the REST API.
    #[must_use]
    pub fn http_client(&self) -> &HivenHttp {
        &self.inner.http
    }

    /// The logged-in user, once `INIT_STATE` has arrived (kept by [`HivenClient::run`]
    /// and [`HivenClient::connect`]'s handlers).
    #[must_use]
    pub fn user(&self) -> Option<User> {
        lock(&self.inner.user).clone()
    }

    /// The Swarm protocol this client runs (for a custom engine setup).
    #[must_use]
    pub fn protocol(&self) -> Swarm {
        Swarm::new(self.inner.token.clone())
            .default_heartbeat(self.inner.heartbeat)
            .log_ws_output(self.inner.log_ws_output)
    }

    /// Starts the connection in the background and returns the event stream (read it,
    /// or drop it). [`HivenClient::run`] does this and dispatches to a handler.
    ///
    /// # Errors
    /// [`HivenError::AlreadyConnected`], or [`HivenError::Build`] for a bad Swarm URL.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn connect(&self) -> Result<Events<SwarmMessage>, HivenError> {
        // A client whose engine stopped (closed, or a fatal error) may connect again.
        let events = self.inner.shell.attach(true, || {
            let user = self.inner.user.clone();
            let mut builder = Client::builder(self.protocol())
                .config(self.inner.config.clone())
                .on("INIT_STATE", move |m: &SwarmMessage| {
                    if let SwarmEvent::InitState(init) = &m.event {
                        *lock(&user) = Some(init.user.clone());
                    }
                    Ok(None)
                });
            builder = match lock(&self.inner.connector).take() {
                Some(mut connector) => builder.connector(move || connector.connect()),
                None => builder.url(self.inner.swarm_url.clone()),
            };
            Ok((builder.start()?, ()))
        })?;
        Ok(events)
    }

    /// Connects and runs `handler` for every event until the client closes
    /// ([`HivenClient::close`] from a clone or a handler) or stops for good.
    ///
    /// # Errors
    /// [`HivenError::Stopped`] when a fatal error (a refused token) stopped the client;
    /// `connect`'s errors.
    pub async fn run<H: EventHandler>(&self, handler: H) -> Result<(), HivenError> {
        let mut events = self.connect()?;
        while let Some(event) = events.recv().await {
            match event {
                Event::Message(message) => self.handle(&handler, &message.event).await,
                Event::State(state @ State::Closed { .. }) => {
                    return match state {
                        State::Closed { fatal: true, .. } => Err(HivenError::Stopped(state)),
                        _ => Ok(()),
                    };
                }
                Event::Disconnected { error, fatal } => {
                    tracing::info!(error = %error, fatal, "hiven: disconnected");
                }
                Event::DecodeError { reason, .. } => {
                    tracing::warn!(reason = %reason, "hiven: undecodable Swarm frame");
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn handle<H: EventHandler>(&self, handler: &H, event: &SwarmEvent) {
        let name = event.name().unwrap_or("?").to_owned();
        let result = AssertUnwindSafe(dispatch(handler, self, event))
            .catch_unwind()
            .await;
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "handler panicked".into()),
        };
        self.inner.handler_errors.fetch_add(1, Ordering::Relaxed);
        let error = self.inner.token.scrub(&error);
        tracing::warn!(event = %name, error = %error, "hiven: handler failed");
    }

    /// Handler errors and panics so far (each is logged; the client goes on).
    #[must_use]
    pub fn handler_errors(&self) -> u64 {
        self.inner.handler_errors.load(Ordering::Relaxed)
    }

    /// Waits until the client is ready (every house joined).
    ///
    /// # Errors
    /// [`HivenError::NotConnected`], or [`HivenError::Stopped`] when it stopped first.
    pub async fn wait_ready(&self) -> Result<(), HivenError> {
        Ok(self.inner.shell.ready().await?)
    }

    /// Sends `content` to a room through the REST API and returns the created message.
    ///
    /// # Errors
    /// [`HivenError::Http`]: invalid input (nothing sent), network, status, decode.
    pub async fn send_message(&self, room_id: &str, content: &str) -> Result<Message, HivenError> {
        Ok(self.inner.http.send_message(room_id, content).await?)
    }

    /// Queues `content` for a room and returns once it is queued (waiting for room while
    /// `outbox_capacity` posts wait): posts go out one at a time in the order they were
    /// queued, each tried again while its failure may pass (network errors, 408, 429,
    /// 5xx; see [`HivenClientBuilder::post_retry`]). The receipt resolves to the message
    /// the API created. Input the API would refuse is refused here, and nothing is queued.
    ///
    /// A post whose response was lost may be created twice (the API has no idempotency
    /// key): posting is at least once.
    ///
    /// ```no_run
    /// # async fn demo(client: tether::hiven::HivenClient) -> Result<(), tether::hiven::HivenError> {
    /// let first = client.queue_message("1001", "one").await?;
    /// let second = client.queue_message("1001", "two").await?; // never before "one"
    /// let (one, two) = (first.await?, second.await?);
    /// assert!(one.id != two.id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`HivenError::Http`] with [`HttpError::InvalidInput`] (nothing queued);
    /// [`HivenError::PostAbandoned`] if the runtime is shutting down.
    pub async fn queue_message(
        &self,
        room_id: &str,
        content: &str,
    ) -> Result<PostReceipt, HivenError> {
        let request = self.inner.http.build_send_message(room_id, content)?;
        self.queue_post(request).await
    }

    /// [`HivenClient::queue_message`] for a request already built (by
    /// [`HivenHttp::build_send_message`], its dry run), in the same queue.
    ///
    /// # Errors
    /// [`HivenError::PostAbandoned`] if the runtime is shutting down.
    pub async fn queue_post(&self, request: HttpRequest) -> Result<PostReceipt, HivenError> {
        let inner = &self.inner;
        let poster = inner.poster.get_or_init(|| {
            Poster::start(
                inner.http.clone(),
                inner.post_retry,
                inner.config.outbox_capacity,
            )
        });
        poster.queue(request).await
    }

    /// Closes the connection (close handshake, bounded by the close timeout) and returns
    /// the final state; `None` if it was not connected.
    pub async fn close(&self) -> Option<State> {
        // The engine stays attached, closed: its state reads `CLOSED`.
        let engine = self.inner.shell.engine()?;
        Some(engine.close().await)
    }

    /// The engine handle (state watch, statistics) once connected.
    #[must_use]
    pub fn engine(&self) -> Option<Client<SwarmMessage>> {
        self.inner.shell.engine()
    }

    fn state(&self) -> Option<State> {
        self.inner.shell.state()
    }

    /// `OPENING`, `OPEN`, `CLOSING` or `CLOSED`, from the engine state (`CLOSED` before
    /// `connect`; a reconnect wait is `OPENING`).
    #[must_use]
    pub fn connection_status(&self) -> ConnectionStatus {
        self.state().map_or(ConnectionStatus::Closed, |s| {
            ConnectionStatus::from_state(&s)
        })
    }

    /// The WebSocket is open and the HTTP client is up (openhivenpy's `initialized`);
    /// the login may still be running.
    #[must_use]
    pub fn initialized(&self) -> bool {
        matches!(self.state(), Some(State::Open | State::Ready))
    }

    /// `INIT_STATE` arrived and every house it announced has joined (also with zero
    /// houses, and with joins in the same burst).
    #[must_use]
    pub fn ready(&self) -> bool {
        matches!(self.state(), Some(State::Ready))
    }

    /// Time from `connect` to the first ready, once it was ready.
    #[must_use]
    pub fn startup_time(&self) -> Option<Duration> {
        self.engine()?.stats().time_to_first_ready
    }
}
