//! The typed Gather client, after the SDK's `GatherClient`.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use crate::{
    client::{BuildError, Client, Receipt},
    config::ClientConfig,
    error::SendError,
    event::Events,
    frame::Frame,
    outgoing::Outgoing,
    platform::shell::{Lifecycle, Shell},
    router::BoxError,
    secret::Secret,
    state::State,
    transport::{Connect, ConnectFuture},
};

use super::{
    actions::{ActionInfo, available_actions},
    discovery::{DEFAULT_API_ROOT, DiscoveryConnector, http_client},
    model::{Action, ServerEvent, ack_key, encode_action},
    proto::TransactionStatus,
    protocol::{DEFAULT_HEARTBEAT, Gather},
    txn::TxnIds,
};
use tokio::sync::watch;

/// The callback: every server event, with the client (the SDK's `callback(client, batch)`,
/// one call per event of each batch).
pub type Callback = Box<dyn FnMut(&GatherClient, &ServerEvent) + Send + 'static>;

/// Why a Gather call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatherError {
    /// Not connected: call `connect` (or `run`) first. The action, if any, is handed back.
    #[error("not connected: call connect() or run() first")]
    NotConnected(Option<Box<Action>>),
    /// `connect` was called on a client that is already connected.
    #[error("already connected")]
    AlreadyConnected,
    /// The client stopped for good (fatal error, attempt limit) before it was ready.
    #[error("client stopped: {0:?}")]
    Stopped(State),
    /// The client could not start (bad URL or configuration).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The engine did not take or deliver the action (the message is in the error).
    #[error(transparent)]
    Send(#[from] SendError),
    /// The server answered `transactionStatus { succeeded: false }`.
    #[error("action {action} (txnId {txn_id}) failed: {reason}")]
    Failed {
        /// The action's SDK name.
        action: &'static str,
        /// Its `txnId`.
        txn_id: u32,
        /// The server's reason.
        reason: String,
    },
    /// The producer given to [`GatherClient::run`] failed.
    #[error("producer failed: {0}")]
    Producer(BoxError),
}

impl From<Lifecycle> for GatherError {
    fn from(e: Lifecycle) -> Self {
        match e {
            Lifecycle::NotConnected => GatherError::NotConnected(None),
            Lifecycle::AlreadyConnected => GatherError::AlreadyConnected,
            Lifecycle::Stopped(state) => GatherError::Stopped(state),
            Lifecycle::Build(e) => GatherError::Build(e),
        }
    }
}

/// Sets up a [`GatherClient`].
pub struct GatherClientBuilder {
    api_key: Secret,
    space_id: String,
    api_root: String,
    engine_url: Option<String>,
    connector: Option<SharedConnector>,
    config: ClientConfig,
    heartbeat: Duration,
    callback: Option<Callback>,
    log_level: tracing::Level,
    token: Option<Secret>,
}

/// A custom connector, shared so that each `connect` can use it.
type SharedConnector = Arc<Mutex<Box<dyn Connect>>>;

/// Hands the shared connector to one engine.
struct ConnectorHandle(SharedConnector);

impl Connect for ConnectorHandle {
    fn connect(&mut self) -> ConnectFuture {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connect()
    }
}

impl std::fmt::Debug for GatherClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatherClientBuilder")
            .field("space_id", &self.space_id)
            .field("api_root", &self.api_root)
            .field("engine_url", &self.engine_url)
            .finish_non_exhaustive()
    }
}

impl GatherClientBuilder {
    /// The API root for discovery (default `https://api.gather.town/api/v2/`): before
    /// every connection, `GET {root}spaces/{space}/game-server-assignment` with the
    /// `apiKey` header names the engine.
    #[must_use]
    pub fn api_root(mut self, url: impl Into<String>) -> Self {
        self.api_root = url.into();
        self
    }

    /// Connects to this engine URL directly (`ws://…` or `wss://…`), without discovery.
    #[must_use]
    pub fn engine_url(mut self, url: impl Into<String>) -> Self {
        self.engine_url = Some(url.into());
        self
    }

    /// Connects with a custom connector (any `AsyncRead + AsyncWrite` behind a WebSocket:
    /// a proxy tunnel, an in-memory stream in tests), without discovery.
    #[must_use]
    pub fn connector(mut self, connector: impl Connect) -> Self {
        self.connector = Some(Arc::new(Mutex::new(Box::new(connector))));
        self
    }

    /// The engine configuration (WebSocket pings, backoff, outbox…).
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The `clientHeartbeat` interval (the SDK's `hearbeat_interval`, default 15 s).
    #[must_use]
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Called for every server event, with the client (events from one batch in order).
    /// A panic is isolated and reported as a `handler_error` event.
    #[must_use]
    pub fn callback(
        mut self,
        callback: impl FnMut(&GatherClient, &ServerEvent) + Send + 'static,
    ) -> Self {
        self.callback = Some(Box::new(callback));
        self
    }

    /// The level of the client's own lifecycle logs (connected, user id, failed
    /// actions), like the SDK's `log_level`: messages less severe are not emitted. The
    /// application's `tracing` subscriber filters as usual on top. Default `INFO`.
    #[must_use]
    pub fn log_level(mut self, level: tracing::Level) -> Self {
        self.log_level = level;
        self
    }

    /// Logs in with a token (`Init.token`) instead of the API key; discovery still
    /// sends the API key.
    #[must_use]
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The client (not connected yet).
    #[must_use]
    pub fn build(self) -> GatherClient {
        let mut config = self.config;
        config.redact.push(self.api_key.clone());
        if let Some(token) = &self.token {
            config.redact.push(token.clone());
        }
        GatherClient {
            inner: Arc::new(Inner {
                api_key: self.api_key,
                space_id: self.space_id,
                api_root: self.api_root,
                engine_url: self.engine_url,
                connector: self.connector,
                config,
                heartbeat: self.heartbeat,
                callback: self.callback.map(|c| Arc::new(Mutex::new(c))),
                log_level: self.log_level,
                token: self.token,
                txn: TxnIds::new(),
                shell: Shell::default(),
            }),
        }
    }
}

struct Inner {
    api_key: Secret,
    space_id: String,
    api_root: String,
    engine_url: Option<String>,
    connector: Option<SharedConnector>,
    config: ClientConfig,
    heartbeat: Duration,
    callback: Option<Arc<Mutex<Callback>>>,
    log_level: tracing::Level,
    token: Option<Secret>,
    txn: TxnIds,
    /// The engine, with the protocol's user id feed.
    shell: Shell<ServerEvent, watch::Receiver<Option<String>>>,
}

/// A Gather client: discovery, `init` → `ready` on every connection, heartbeats,
/// reconnect with backoff, and an outbox whose actions are acknowledged by the server's
/// `transactionStatus` (unacknowledged actions are replayed after a reconnect, in order,
/// with their original `txnId`).
///
/// Two ways to use it, as the SDK:
/// - [`GatherClient::run`]: connect, run a producer with the client, close when it ends;
/// - [`GatherClient::connect`]: a long-lived connection and its event stream, closed with
///   [`GatherClient::close`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tether::gather::GatherClient;
/// let client = GatherClient::builder("my-api-key", "space-id")
///     .engine_url("ws://127.0.0.1:8775/")
///     .build();
/// let mut events = client.connect()?;
/// client.ready().await?;
/// let status = client.shoot_confetti(None).await?.await?; // the server's transactionStatus
/// assert!(status.succeeded);
/// while let Some(event) = events.recv().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
///
/// Clones share the connection. The API key never appears in `Debug`, logs, errors or
/// events.
#[derive(Clone)]
pub struct GatherClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GatherClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatherClient")
            .field("space_id", &self.space_id())
            .field("target", &self.target())
            .field("user_id", &self.user_id())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl GatherClient {
    /// A builder for `space_id` (`/` becomes `\`, as in the SDK) with `api_key`.
    pub fn builder(api_key: impl Into<Secret>, space_id: impl Into<String>) -> GatherClientBuilder {
        GatherClientBuilder {
            api_key: api_key.into(),
            space_id: space_id.into(),
            api_root: DEFAULT_API_ROOT.into(),
            engine_url: None,
            connector: None,
            config: ClientConfig::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            callback: None,
            log_level: tracing::Level::INFO,
            token: None,
        }
    }

    /// The SDK's `GatherClient(api_key, space_id)`: discovery through the real API.
    pub fn new(api_key: impl Into<Secret>, space_id: impl Into<String>) -> Self {
        Self::builder(api_key, space_id).build()
    }

    /// Every action with its arguments (the SDK's `available_actions`, with docstrings).
    #[must_use]
    pub fn available_actions() -> &'static [ActionInfo] {
        available_actions()
    }

    /// The space id as sent (`/` replaced by `\`).
    #[must_use]
    pub fn space_id(&self) -> String {
        super::model::space_id(&self.inner.space_id)
    }

    /// The user id the server gave in `ready` on the current connection.
    #[must_use]
    pub fn user_id(&self) -> Option<String> {
        self.inner
            .shell
            .extra(|user_id| user_id.borrow().clone())
            .flatten()
    }

    fn target(&self) -> String {
        match (&self.inner.connector, &self.inner.engine_url) {
            (Some(_), _) => "a custom connector".to_owned(),
            (None, Some(url)) => url.clone(),
            (None, None) => format!("discovery via {}", self.inner.api_root),
        }
    }

    fn log(&self, level: tracing::Level, message: &str) {
        if level > self.inner.log_level {
            return;
        }
        match level {
            tracing::Level::ERROR => tracing::error!(space = %self.space_id(), "{message}"),
            tracing::Level::WARN => tracing::warn!(space = %self.space_id(), "{message}"),
            tracing::Level::INFO => tracing::info!(space = %self.space_id(), "{message}"),
            tracing::Level::DEBUG => tracing::debug!(space = %self.space_id(), "{message}"),
            tracing::Level::TRACE => tracing::trace!(space = %self.space_id(), "{message}"),
        }
    }

    /// The protocol this client runs (shares its `txnId` source).
    fn protocol(&self) -> Gather {
        let mut protocol = Gather::new(&self.inner.space_id, self.inner.api_key.clone())
            .heartbeat_every(self.inner.heartbeat)
            .txn_ids(self.inner.txn.clone());
        if let Some(token) = &self.inner.token {
            protocol = protocol.with_token(token.clone());
        }
        protocol
    }

    /// Starts the connection in the background (discovery, then `init` → `ready`) and
    /// returns the event stream (every server event, typed). Actions sent before the
    /// client is ready are queued. The connection is kept up: lost connections are
    /// re-established with backoff, logging in again each time.
    ///
    /// # Errors
    /// [`GatherError::AlreadyConnected`], or [`GatherError::Build`] for an invalid URL or
    /// configuration.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn connect(&self) -> Result<Events<ServerEvent>, GatherError> {
        let events = self.inner.shell.attach(false, || {
            let config = self.inner.config.clone();
            let protocol = self.protocol();
            let user_id = protocol.user_ids();
            let mut builder = Client::builder(protocol).config(config.clone());
            builder = match (&self.inner.connector, &self.inner.engine_url) {
                (Some(connector), _) => builder.connector(ConnectorHandle(connector.clone())),
                (None, Some(url)) => builder.url(url.clone()),
                (None, None) => {
                    let http = http_client(config.ca_file.as_deref(), config.connect_timeout)
                        .map_err(|e| {
                            BuildError::Connection(crate::error::ConnectionError::from(e))
                        })?;
                    builder.connector(DiscoveryConnector {
                        http,
                        api_root: self.inner.api_root.clone(),
                        space_id: self.inner.space_id.clone(),
                        api_key: self.inner.api_key.clone(),
                        config,
                    })
                }
            };
            if let Some(callback) = &self.inner.callback {
                let callback = callback.clone();
                let client = self.clone();
                builder = builder.on_any(move |event| {
                    let mut callback = callback.lock().unwrap_or_else(PoisonError::into_inner);
                    callback(&client, event);
                    Ok(None)
                });
            }
            Ok((builder.start()?, user_id))
        })?;
        self.log(
            tracing::Level::DEBUG,
            &format!("connecting to {}", self.target()),
        );
        Ok(events)
    }

    /// Waits until the client is logged in (`ready` received).
    ///
    /// # Errors
    /// [`GatherError::NotConnected`], or [`GatherError::Stopped`] when the client stopped
    /// first (a refused API key, say).
    pub async fn ready(&self) -> Result<(), GatherError> {
        self.inner.shell.ready().await?;
        self.log(
            tracing::Level::INFO,
            &format!("connected as user {}", self.user_id().unwrap_or_default()),
        );
        Ok(())
    }

    /// The SDK's `run(producer)`: connects, waits for `ready`, runs `producer` with the
    /// client, and closes once it finishes (events go to the callback meanwhile; lost
    /// connections are re-established). Ends early if the client stops for good.
    ///
    /// # Errors
    /// [`GatherError::Stopped`] (refused key, attempt limit), [`GatherError::Producer`],
    /// or the connect error.
    pub async fn run<F, Fut>(&self, producer: F) -> Result<(), GatherError>
    where
        F: FnOnce(GatherClient) -> Fut,
        Fut: Future<Output = Result<(), BoxError>>,
    {
        let mut events = self.connect()?;
        // The callback sees every event; the stream is drained so reading never pauses.
        let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
        let result = async {
            self.ready().await?;
            let engine = self.engine().ok_or(GatherError::NotConnected(None))?;
            tokio::select! {
                result = producer(self.clone()) => result.map_err(GatherError::Producer),
                state = engine.closed() => Err(GatherError::Stopped(state)),
            }
        }
        .await;
        self.close().await;
        let _ = drain.await;
        result
    }

    /// Sends an action with a fresh `txnId`; returns once queued, with a receipt that
    /// resolves to the server's `transactionStatus` (or [`GatherError::Failed`] with its
    /// reason).
    ///
    /// # Errors
    /// [`GatherError::NotConnected`] or [`GatherError::Send`], with the action.
    pub async fn act(&self, action: impl Into<Action>) -> Result<ActionReceipt, GatherError> {
        let action = action.into();
        let Some(client) = self.engine() else {
            return Err(GatherError::NotConnected(Some(Box::new(action))));
        };
        let (txn_id, outgoing) = self.outgoing(&action);
        let receipt = client.send(outgoing).await?;
        Ok(ActionReceipt {
            txn_id,
            action: action.method_name(),
            receipt,
        })
    }

    /// The message [`GatherClient::act`] would queue for `action`, with a fresh `txnId`:
    /// a binary frame holding the `ClientServerAction`, acknowledged by that `txnId`.
    #[must_use]
    pub fn outgoing(&self, action: &Action) -> (u32, Outgoing) {
        let txn_id = self.inner.txn.next();
        let frame = Frame::binary(encode_action(action, Some(txn_id)));
        (txn_id, Outgoing::new(frame).with_ack(ack_key(txn_id)))
    }

    /// Closes the connection and stops the client; returns the final state, `None` if it
    /// was not connected. Unacknowledged actions are handed back through their receipts.
    pub async fn close(&self) -> Option<State> {
        let state = self.inner.shell.close().await?;
        self.log(tracing::Level::DEBUG, "closed");
        Some(state)
    }

    /// Whether [`GatherClient::connect`] was called and not undone by `close`.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.inner.shell.is_attached()
    }

    /// The engine handle (state watch, statistics, raw sends) while connected.
    #[must_use]
    pub fn engine(&self) -> Option<Client<ServerEvent>> {
        self.inner.shell.engine()
    }
}

/// Resolves when the server acknowledges an action with `transactionStatus`.
///
/// Dropping it does not withdraw the action.
#[derive(Debug)]
pub struct ActionReceipt {
    txn_id: u32,
    action: &'static str,
    receipt: Receipt<ServerEvent>,
}

impl ActionReceipt {
    /// The action's `txnId`.
    #[must_use]
    pub fn txn_id(&self) -> u32 {
        self.txn_id
    }
}

impl Future for ActionReceipt {
    type Output = Result<TransactionStatus, GatherError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let txn_id = self.txn_id;
        let action = self.action;
        Pin::new(&mut self.receipt)
            .poll(cx)
            .map(|result| match result {
                Ok(delivered) => match delivered.reply {
                    Some(ServerEvent::TransactionStatus(status)) => Ok(status),
                    _ => Ok(TransactionStatus {
                        txn_id,
                        succeeded: true,
                        reason: None,
                    }),
                },
                Err(SendError::Rejected { reason, .. }) => Err(GatherError::Failed {
                    action,
                    txn_id,
                    reason,
                }),
                Err(e) => Err(GatherError::Send(e)),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::decode_action;

    #[tokio::test]
    async fn acting_before_connect_hands_the_action_back() {
        let client = GatherClient::builder("k", "s")
            .engine_url("ws://127.0.0.1:9/")
            .build();
        let err = client.shoot_confetti(None).await.unwrap_err();
        let GatherError::NotConnected(Some(action)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(*action, Action::shoot_confetti(None));
        assert!(client.close().await.is_none());
        let _events = client.connect().unwrap();
        assert!(matches!(
            client.connect(),
            Err(GatherError::AlreadyConnected)
        ));
        assert!(client.close().await.is_some());
    }

    #[test]
    fn outgoing_actions_carry_a_fresh_txn_id_as_their_ack_key() {
        let client = GatherClient::new("k", "s");
        let (a, first) = client.outgoing(&Action::shoot_confetti(None));
        let (b, _) = client.outgoing(&Action::shoot_confetti(None));
        assert_ne!(a, b);
        assert_eq!(first.ack(), Some(&ack_key(a)));
        let decoded = decode_action(first.frame().payload()).unwrap();
        assert_eq!(decoded.txn_id, Some(a));
        assert!(!first.frame().is_text());
    }

    #[test]
    fn debug_and_errors_never_show_the_api_key() {
        let client = GatherClient::builder("super-secret-key", "space/1")
            .token("jwt-secret")
            .build();
        let text = format!("{client:?} {:?}", client.inner.config);
        assert!(
            !text.contains("super-secret-key") && !text.contains("jwt-secret"),
            "{text}"
        );
        assert!(text.contains("space\\\\1"), "{text}");
    }
}
