//! The typed HPX client after the SDK's `happypandax_client.Client`: async, and a
//! blocking wrapper that owns its runtime.

use std::{
    path::PathBuf,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use crate::json::Value;
use tokio::sync::watch;

use crate::{
    client::Client,
    config::ClientConfig,
    error::{RequestError, SendError},
    event::Events,
    frame::Frame,
    platform::shell::{Lifecycle, Shell},
    secret::Secret,
    state::State,
};

use super::{
    codec::Limits,
    error::HpxError,
    model::{AUTHENTICATED, Message, REQUEST_AUTH},
    protocol::{Credentials, Hpx, HpxStatus, Reply, request, session_request},
};

/// The SDK's default port.
pub const DEFAULT_PORT: u16 = 7007;
/// The SDK's default host.
pub const DEFAULT_HOST: &str = "localhost";
/// The SDK's default socket timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// "No timeout" (the SDK's `timeout=0`): a hundred years.
const NO_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// An HPX client: one request and one reply at a time per call, over the engine
/// (ordered outbox, deadlines, statistics, and reconnect when asked for).
///
/// ```no_run
/// # async fn demo() -> Result<(), tether::hpx::HpxError> {
/// use serde_json::json;
/// use tether::hpx::HpxClient;
///
/// let client = HpxClient::new("my-client").host("127.0.0.1").port(7007);
/// client.connect().await?;                        // reads the greeting
/// println!("server version {:?}", client.version());
/// client.handshake(None, None, false).await?;     // as a guest
/// let reply = client.send(json!([{"fname": "get_version"}])).await?;
/// println!("{}", reply.data);
/// client.close().await;
/// # Ok(()) }
/// ```
///
/// Like the SDK, it never reconnects by default, and a closed client cannot connect
/// again. With [`HpxClient::auto_reconnect`] the engine reconnects with backoff and
/// re-handshakes with the last accepted credentials before replaying unanswered
/// requests (an HPX reply acknowledges its request, so nothing is lost). The client adds
/// no reconnect of its own: once the engine stops (a refused login, the attempt limit),
/// [`HpxClient::connect`] starts a new one.
///
/// What the client reports of the session (session id, acceptance, the greeting's
/// version) is what the protocol learned from the wire, published as [`HpxStatus`].
pub struct HpxClient {
    name: String,
    host: String,
    port: u16,
    tls: bool,
    ca_file: Option<PathBuf>,
    timeout: Duration,
    auto_reconnect: bool,
    limits: Limits,
    config: ClientConfig,
    /// The session id to start with (the SDK's `session_id`).
    preset_session: String,
    /// The engine, with the protocol's status feed.
    shell: Shell<Reply, watch::Receiver<HpxStatus>>,
    /// The credentials of the last handshake the server accepted.
    accepted_credentials: Mutex<Option<Credentials>>,
    /// The credentials of the last handshake tried (scrubbed from errors).
    last_attempt: Mutex<Option<Credentials>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for HpxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpxClient")
            .field("name", &self.name)
            .field("url", &self.url())
            .field("alive", &self.alive())
            .field("accepted", &self.accepted())
            .finish_non_exhaustive()
    }
}

impl HpxClient {
    /// A client called `name` for `localhost:7007`, plain TCP, 10 s timeout.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            tls: false,
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            auto_reconnect: false,
            limits: Limits::default(),
            config: ClientConfig::default(),
            preset_session: String::new(),
            shell: Shell::default(),
            accepted_credentials: Mutex::new(None),
            last_attempt: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Sets the host.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Uses this session id: the client is accepted once connected, with no handshake.
    #[must_use]
    pub fn session_id(mut self, session: impl Into<String>) -> Self {
        self.preset_session = session.into();
        self
    }

    /// Wraps the connection in TLS (rustls, webpki roots plus
    /// [`HpxClient::ca_file`]); off by default, as in the SDK.
    #[must_use]
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Trusts the certificates in this PEM file too (for TLS).
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Bounds connecting and each request (default 10 s; zero means none, as in the
    /// SDK). A request that times out ends the connection, like the SDK, so that a late
    /// reply can never be taken for the next request's.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reconnects after a lost connection (with backoff) and re-handshakes with the last
    /// accepted credentials; unanswered requests are replayed. Off by default.
    #[must_use]
    pub fn auto_reconnect(mut self, on: bool) -> Self {
        self.auto_reconnect = on;
        self
    }

    /// Sets the compressed and decompressed size bounds.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the engine configuration (backoff, outbox, keepalive); the timeout,
    /// reconnect switch and size limit are this client's.
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes the host for the next [`HpxClient::connect`].
    pub fn set_host(&mut self, host: impl Into<String>) {
        self.host = host.into();
    }

    /// Changes the port for the next [`HpxClient::connect`].
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The client's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host.
    #[must_use]
    pub fn get_host(&self) -> &str {
        &self.host
    }

    /// The port.
    #[must_use]
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// `tcp://host:port` or `tls://host:port`.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls { "tls" } else { "tcp" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    fn timeout_or_none(&self) -> Duration {
        if self.timeout.is_zero() {
            NO_TIMEOUT
        } else {
            self.timeout
        }
    }

    /// What the protocol of the current connection published; the default when none.
    fn status(&self) -> HpxStatus {
        self.shell
            .extra(|status| status.borrow().clone())
            .unwrap_or_default()
    }

    fn client_error(&self, msg: impl Into<String>) -> HpxError {
        HpxError::Client {
            name: self.name.clone(),
            msg: msg.into(),
        }
    }

    fn connection_error(&self, msg: impl Into<String>) -> HpxError {
        HpxError::Connection {
            name: self.name.clone(),
            msg: self.scrub(&msg.into()),
        }
    }

    fn disconnect_error(&self, msg: impl Into<String>) -> HpxError {
        HpxError::ServerDisconnect {
            name: self.name.clone(),
            msg: self.scrub(&msg.into()),
        }
    }

    /// Replaces known passwords in `text`.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for credentials in [&self.accepted_credentials, &self.last_attempt] {
            if let Some(c) = &*lock(credentials) {
                text = c.scrub(&text);
            }
        }
        text
    }

    /// Connects and reads the server's greeting (`version`, `guest_allowed`). Does
    /// nothing when already connected.
    ///
    /// # Errors
    /// [`HpxError::Client`] after [`HpxClient::close`], [`HpxError::ServerDisconnect`] when the
    /// server cannot be reached or hangs up, [`HpxError::Connection`] when no greeting
    /// comes within the timeout.
    pub async fn connect(&self) -> Result<(), HpxError> {
        self.start(false).await.map(|_| ())
    }

    /// [`HpxClient::connect`], returning the engine's event stream (state changes,
    /// every reply, reconnects). Read it or drop it: unread, it pauses the client once
    /// full.
    ///
    /// # Errors
    /// As [`HpxClient::connect`], and [`HpxError::Client`] when already connected.
    pub async fn connect_with_events(&self) -> Result<Events<Reply>, HpxError> {
        self.start(true)
            .await?
            .ok_or_else(|| self.client_error("already connected"))
    }

    async fn start(&self, want_events: bool) -> Result<Option<Events<Reply>>, HpxError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(self.client_error("This connection has already been closed"));
        }
        if self.alive() {
            return Ok(None);
        }
        let timeout = self.timeout_or_none();
        let mut config = self.config.clone();
        config.connect_timeout = timeout;
        config.request_timeout = timeout;
        config.reconnect = self.auto_reconnect;
        config.max_message_size = self.limits.max_payload;
        if let Some(path) = &self.ca_file {
            config.ca_file = Some(path.clone());
        }
        // With auto-reconnect a new engine goes on where the last one stopped: it
        // re-logs in with what the server accepted. Without, a new connection starts
        // unauthenticated, as the SDK's.
        let accepted = lock(&self.accepted_credentials).clone();
        let mut protocol = Hpx::new(self.name.clone()).limits(self.limits);
        let mut session = self.preset_session.clone();
        if self.auto_reconnect {
            protocol = protocol.relogin(true, accepted.clone());
            if accepted.is_some() && session.is_empty() {
                session = self.status().session;
            }
        }
        protocol = protocol.session_id(session);
        for credentials in [accepted, lock(&self.last_attempt).clone()] {
            if let Some(Credentials::User { password, .. }) = credentials {
                // The engine scrubs its logs and events of passwords.
                config.redact.push(password);
            }
        }
        let status = protocol.status();
        let url = self.url();
        let events = self
            .shell
            .attach(true, move || {
                let started = Client::builder(protocol).url(url).config(config).start()?;
                Ok((started, status))
            })
            .map_err(|e| match e {
                Lifecycle::Build(e) => self.client_error(e.to_string()),
                _ => self.client_error("already connected"),
            })?;
        let client = self
            .engine()
            .ok_or_else(|| self.client_error("not connected"))?;
        match tokio::time::timeout(timeout, client.ready()).await {
            Ok(Ok(())) => Ok(want_events.then_some(events)),
            Ok(Err(state)) => {
                self.shell.detach();
                let reason = match state {
                    State::Closed { reason, .. } => reason.to_string(),
                    other => format!("{other:?}"),
                };
                Err(self.disconnect_error(reason))
            }
            Err(_) => {
                self.shell.detach();
                client.close().await;
                Err(self.connection_error(format!("no greeting within {timeout:?}")))
            }
        }
    }

    /// The engine handle while connected (state watch, statistics).
    #[must_use]
    pub fn engine(&self) -> Option<Client<Reply>> {
        self.shell.engine()
    }

    /// Sends one request and waits for its reply.
    async fn exchange(&self, frame: Frame, check_auth: bool) -> Result<Reply, HpxError> {
        self.exchange_request(request(frame), check_auth).await
    }

    /// Sends one request (acknowledged by its reply) and waits for the reply.
    async fn exchange_request(
        &self,
        request: crate::Outgoing,
        check_auth: bool,
    ) -> Result<Reply, HpxError> {
        let client = self.usable_engine()?;
        if check_auth && !self.accepted() {
            return Err(HpxError::AuthRequired {
                name: self.name.clone(),
                msg: format!("Client '{}' is connected but not authenticated", self.name),
            });
        }
        let timeout = self.timeout_or_none();
        match client.request_within(request, timeout).await {
            Ok(reply) => Ok(reply),
            Err(RequestError::Timeout { .. }) => {
                // A late reply must not answer the next request: end this connection.
                // With auto-reconnect the engine makes a new one (re-handshake, replay);
                // without, the client is disconnected, as the SDK's.
                if self.auto_reconnect {
                    client.reconnect();
                } else {
                    self.drop_engine_soon();
                }
                Err(self.connection_error(format!("timed out after {timeout:?}")))
            }
            Err(RequestError::Send(SendError::TooLarge { size, limit, .. })) => {
                // Refused before sending: the connection is fine.
                Err(self.client_error(format!(
                    "message of {size} bytes exceeds the limit of {limit} bytes"
                )))
            }
            Err(RequestError::Send(e)) => {
                let state = client.state().borrow().clone();
                self.drop_engine().await;
                Err(match e {
                    SendError::Fatal { reason, .. } => self.connection_error(reason.to_string()),
                    _ => match state {
                        State::Closed { reason, .. } => self.disconnect_error(reason.to_string()),
                        _ => self.disconnect_error("Server disconnected"),
                    },
                })
            }
            Err(e) => Err(self.connection_error(e.to_string())),
        }
    }

    /// The engine, if one is running (a stopped one stays stopped: `connect` again).
    fn usable_engine(&self) -> Result<Client<Reply>, HpxError> {
        match self.engine() {
            Some(c) if !c.state().borrow().is_closed() => Ok(c),
            _ => {
                Err(self.client_error(format!("Client '{}' is not connected to server", self.name)))
            }
        }
    }

    /// Detaches the engine and closes it in the background (a stalled peer would hold
    /// up the close).
    fn drop_engine_soon(&self) {
        if let Some(client) = self.shell.detach() {
            tokio::spawn(async move { client.close().await });
        }
    }

    async fn drop_engine(&self) {
        self.shell.close().await;
    }

    fn parse(&self, reply: Reply) -> Result<Message, HpxError> {
        reply.message.map_err(|e| HpxError::JsonParse {
            name: self.name.clone(),
            msg: format!("Failed parsing JSON data from server: {e}"),
        })
    }

    /// Shakes hands as a guest (`user` `None` or empty) or as `user` with `password`.
    /// Returns whether the server accepted; with `ignore_err`, a refusal returns `false`
    /// instead of an error. Not connected: `false`, as in the SDK.
    ///
    /// # Errors
    /// [`HpxError::AuthWrongCredentials`] (411), [`HpxError::AuthRequired`] (407),
    /// [`HpxError::AuthMissingCredentials`] (412), [`HpxError::Auth`] (any other code,
    /// message `"<code>: <msg>"`), or a connection error.
    pub async fn handshake(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        ignore_err: bool,
    ) -> Result<bool, HpxError> {
        let credentials = match user {
            Some(user) if !user.is_empty() => Credentials::User {
                user: user.to_owned(),
                password: Secret::new(password.unwrap_or_default()),
            },
            _ => Credentials::Guest,
        };
        self.handshake_with(credentials, ignore_err).await
    }

    /// [`HpxClient::handshake`] with [`Credentials`].
    ///
    /// # Errors
    /// As [`HpxClient::handshake`].
    pub async fn handshake_with(
        &self,
        credentials: Credentials,
        ignore_err: bool,
    ) -> Result<bool, HpxError> {
        if !self.alive() {
            return Ok(false);
        }
        if let Credentials::User { .. } = credentials {
            *lock(&self.last_attempt) = Some(credentials.clone());
        }
        let login = Message::new(self.name.clone(), credentials.data());
        let reply = self
            .exchange(Frame::text(login.to_python_json()), false)
            .await?;
        let message = self.parse(reply)?;
        if let Some(error) = &message.error {
            if ignore_err {
                return Ok(false);
            }
            let msg = credentials.scrub(&error.msg);
            return Err(HpxError::from_handshake(&self.name, error.code, &msg));
        }
        if message.data == Value::String(AUTHENTICATED.into()) {
            // The protocol took the session from the reply before it reached us.
            *lock(&self.accepted_credentials) = Some(credentials);
            return Ok(true);
        }
        Ok(false)
    }

    /// Asks the server for a new handshake (`data: "requestauth"`; the server greets
    /// again), then shakes hands with `user`/`password`, or with the last ones tried
    /// when `user` is `None`.
    ///
    /// # Errors
    /// As [`HpxClient::handshake`].
    pub async fn request_handshake(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        ignore_err: bool,
    ) -> Result<bool, HpxError> {
        let ask = Message::new(self.name.clone(), Value::String(REQUEST_AUTH.into()));
        // The server greets again; the protocol notes the version it gives.
        self.exchange(Frame::text(ask.to_python_json()), false)
            .await?;
        let credentials = match user {
            Some(user) if !user.is_empty() => Credentials::User {
                user: user.to_owned(),
                password: Secret::new(password.unwrap_or_default()),
            },
            Some(_) => Credentials::Guest,
            None => lock(&self.last_attempt)
                .clone()
                .unwrap_or(Credentials::Guest),
        };
        self.handshake_with(credentials, ignore_err).await
    }

    /// Sends `data` in the envelope `{"session", "name", "data"}` and returns the whole
    /// reply (for a function list, `data` holds one `{"fname", "data"[, "error"]}` per
    /// function; those errors are left to the caller, as in the SDK).
    ///
    /// # Errors
    /// [`HpxError::AuthRequired`] before sending anything when connected but not
    /// accepted; [`HpxError::Client`] when not connected; [`HpxError::JsonParse`] for a
    /// reply that is not JSON; a connection error.
    pub async fn send(&self, data: impl Into<Value>) -> Result<Message, HpxError> {
        self.send_checked(data, true).await
    }

    /// [`HpxClient::send`], with its authentication check only when `raise_on_auth` (the
    /// SDK's argument): without it, a request made before the handshake goes out and
    /// the server's answer (such as its own 407 error) comes back as the reply.
    ///
    /// # Errors
    /// As [`HpxClient::send`].
    pub async fn send_checked(
        &self,
        data: impl Into<Value>,
        raise_on_auth: bool,
    ) -> Result<Message, HpxError> {
        // The session is stamped as the request is written (the current one, also
        // after a re-handshake).
        let request = session_request(&self.name, data.into());
        let reply = self.exchange_request(request, raise_on_auth).await?;
        self.parse(reply)
    }

    /// The message [`HpxClient::send`] would send now (current session), for dry runs.
    #[must_use]
    pub fn dry_run(&self, data: impl Into<Value>) -> Message {
        Message::new(self.name.clone(), data).session(self.session())
    }

    /// Sends a message as it is.
    ///
    /// # Errors
    /// As [`HpxClient::send`].
    pub async fn send_message(&self, message: &Message) -> Result<Message, HpxError> {
        let reply = self
            .exchange(Frame::text(message.to_python_json()), true)
            .await?;
        self.parse(reply)
    }

    /// Sends any JSON value as the whole message (the SDK's `send_raw(dict)`).
    ///
    /// # Errors
    /// As [`HpxClient::send`].
    pub async fn send_raw(&self, value: &Value) -> Result<Message, HpxError> {
        let text = super::model::to_python_json(value);
        let reply = self.exchange(Frame::text(text), true).await?;
        self.parse(reply)
    }

    /// Sends raw bytes (gzipped and framed, nothing else) and returns the reply's text
    /// unparsed.
    ///
    /// # Errors
    /// As [`HpxClient::send`], without the JSON check.
    pub async fn send_bytes(&self, bytes: impl Into<bytes::Bytes>) -> Result<String, HpxError> {
        self.send_bytes_checked(bytes, true).await
    }

    /// [`HpxClient::send_bytes`], with its authentication check only when
    /// `raise_on_auth` (see [`HpxClient::send_checked`]).
    ///
    /// # Errors
    /// As [`HpxClient::send_bytes`].
    pub async fn send_bytes_checked(
        &self,
        bytes: impl Into<bytes::Bytes>,
        raise_on_auth: bool,
    ) -> Result<String, HpxError> {
        let bytes = bytes.into();
        let frame = Frame::text_from_bytes(bytes).unwrap_or_else(Frame::Binary);
        let reply = self.exchange(frame, raise_on_auth).await?;
        Ok(reply.text.to_string())
    }

    /// Closes the connection. A closed client cannot connect again.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.drop_engine().await;
    }

    /// Whether the server accepted the handshake (or a session id was given), on a live
    /// connection (or, with auto-reconnect, one being re-established).
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.status().accepted && (self.auto_reconnect || self.alive())
    }

    /// The session id (`""` before authentication and once disconnected).
    #[must_use]
    pub fn session(&self) -> String {
        self.status().session
    }

    /// The server's version from the greeting.
    #[must_use]
    pub fn version(&self) -> Option<Value> {
        self.status().version
    }

    /// Whether the server allows guests (from the greeting).
    #[must_use]
    pub fn guest_allowed(&self) -> bool {
        self.status().guest_allowed
    }

    /// Alive and greeted.
    #[must_use]
    pub fn ready(&self) -> bool {
        self.alive() && self.status().greeted
    }

    /// Whether the connection is up (logged in or not).
    #[must_use]
    pub fn alive(&self) -> bool {
        matches!(self.shell.state(), Some(State::Ready))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The blocking client, as the SDK is: every call runs to completion on a runtime the
/// client owns (one worker thread, so the connection keeps being served between calls).
///
/// ```no_run
/// use tether::hpx::blocking::HpxClient;
/// let client = HpxClient::new("my-client").port(7007);
/// client.connect()?;
/// client.handshake(Some("alice"), Some("s3cret"), false)?;
/// let reply = client.send(serde_json::json!([{"fname": "get_version"}]))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Do not call it from inside an async runtime (blocking there panics); use
/// [`super::HpxClient`] instead.
pub mod blocking {
    use super::{
        Credentials, Duration, HpxClient as AsyncClient, HpxError, Limits, Message, PathBuf, Value,
    };

    /// The blocking [`super::HpxClient`].
    #[derive(Debug)]
    pub struct HpxClient {
        runtime: tokio::runtime::Runtime,
        inner: AsyncClient,
    }

    /// Builder methods forward to the async client's.
    macro_rules! forward_builder {
        ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {$(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.inner = self.inner.$name($arg);
                self
            }
        )*};
    }

    impl HpxClient {
        /// A client called `name` for `localhost:7007`.
        ///
        /// # Panics
        /// When the OS refuses a thread for the runtime.
        pub fn new(name: impl Into<String>) -> Self {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("tether-hpx")
                .enable_all()
                .build()
                .expect("cannot start the HPX client's runtime");
            Self {
                runtime,
                inner: AsyncClient::new(name),
            }
        }

        forward_builder! {
            /// Sets the host.
            host(host: impl Into<String>);
            /// Sets the port.
            port(port: u16);
            /// Uses this session id (accepted once connected, no handshake).
            session_id(session: impl Into<String>);
            /// TLS on or off (off by default).
            tls(on: bool);
            /// Trusts the certificates in this PEM file too.
            ca_file(path: impl Into<PathBuf>);
            /// Bounds connecting and each request (zero: none).
            timeout(timeout: Duration);
            /// Reconnects and re-handshakes after a lost connection.
            auto_reconnect(on: bool);
            /// Size bounds.
            limits(limits: Limits);
        }

        /// Changes the host for the next connect.
        pub fn set_host(&mut self, host: impl Into<String>) {
            self.inner.set_host(host);
        }

        /// Changes the port for the next connect.
        pub fn set_port(&mut self, port: u16) {
            self.inner.set_port(port);
        }

        /// The async client inside.
        #[must_use]
        pub fn as_async(&self) -> &AsyncClient {
            &self.inner
        }

        /// See [`super::HpxClient::connect`].
        ///
        /// # Errors
        /// As there.
        pub fn connect(&self) -> Result<(), HpxError> {
            self.runtime.block_on(self.inner.connect())
        }

        /// See [`super::HpxClient::handshake`].
        ///
        /// # Errors
        /// As there.
        pub fn handshake(
            &self,
            user: Option<&str>,
            password: Option<&str>,
            ignore_err: bool,
        ) -> Result<bool, HpxError> {
            self.runtime
                .block_on(self.inner.handshake(user, password, ignore_err))
        }

        /// See [`super::HpxClient::handshake_with`].
        ///
        /// # Errors
        /// As there.
        pub fn handshake_with(
            &self,
            credentials: Credentials,
            ignore_err: bool,
        ) -> Result<bool, HpxError> {
            self.runtime
                .block_on(self.inner.handshake_with(credentials, ignore_err))
        }

        /// See [`super::HpxClient::request_handshake`].
        ///
        /// # Errors
        /// As there.
        pub fn request_handshake(
            &self,
            user: Option<&str>,
            password: Option<&str>,
            ignore_err: bool,
        ) -> Result<bool, HpxError> {
            self.runtime
                .block_on(self.inner.request_handshake(user, password, ignore_err))
        }

        /// See [`super::HpxClient::send`].
        ///
        /// # Errors
        /// As there.
        pub fn send(&self, data: impl Into<Value>) -> Result<Message, HpxError> {
            self.runtime.block_on(self.inner.send(data))
        }

        /// See [`super::HpxClient::send_raw`].
        ///
        /// # Errors
        /// As there.
        pub fn send_raw(&self, value: &Value) -> Result<Message, HpxError> {
            self.runtime.block_on(self.inner.send_raw(value))
        }

        /// See [`super::HpxClient::send_bytes`].
        ///
        /// # Errors
        /// As there.
        pub fn send_bytes(&self, bytes: impl Into<bytes::Bytes>) -> Result<String, HpxError> {
            self.runtime.block_on(self.inner.send_bytes(bytes))
        }

        /// See [`super::HpxClient::close`].
        pub fn close(&self) {
            self.runtime.block_on(self.inner.close());
        }

        /// See [`super::HpxClient::accepted`].
        #[must_use]
        pub fn accepted(&self) -> bool {
            self.inner.accepted()
        }

        /// See [`super::HpxClient::session`].
        #[must_use]
        pub fn session(&self) -> String {
            self.inner.session()
        }

        /// See [`super::HpxClient::version`].
        #[must_use]
        pub fn version(&self) -> Option<Value> {
            self.inner.version()
        }

        /// See [`super::HpxClient::guest_allowed`].
        #[must_use]
        pub fn guest_allowed(&self) -> bool {
            self.inner.guest_allowed()
        }

        /// See [`super::HpxClient::ready`].
        #[must_use]
        pub fn ready(&self) -> bool {
            self.inner.ready()
        }

        /// See [`super::HpxClient::alive`].
        #[must_use]
        pub fn alive(&self) -> bool {
            self.inner.alive()
        }
    }
}
