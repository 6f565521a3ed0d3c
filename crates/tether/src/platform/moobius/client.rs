//! The typed Moobius client, after the SDK's `WSClient`.

use std::{sync::Arc, time::Duration};

use crate::json::{Map, Value};

use crate::{
    client::{BuildError, Client, Receipt},
    config::ClientConfig,
    error::SendError,
    event::Events,
    frame::Frame,
    outgoing::Outgoing,
    platform::shell::{Handlers, Lifecycle, Shell},
    router::BoxError,
    secret::Secret,
    state::State,
};

use super::{
    builder::{Builders, ClickedMessage},
    model::{
        Button, CanvasItem, ChannelInfo, Item, Items, MenuItem, MessageContent, ModelError,
        Outbound, Payload, StyleItem,
    },
    protocol::{HEARTBEAT, Mode, Moobius},
};

/// The SDK's per-send timeout (`WSClient.timeout`, `time_out_wrap`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(16);

/// A handler for inbound payloads; the message it returns (if any) is sent back.
pub type Handler = Box<dyn FnMut(&Payload) -> Result<Option<Outbound>, BoxError> + Send + 'static>;

/// Why a Moobius call failed.
#[derive(Debug, thiserror::Error)]
pub enum MoobiusError {
    /// The client was never connected, or was disconnected; the message (if the call
    /// had one) is handed back.
    #[error("not connected: call connect() first")]
    NotConnected(Option<Box<Outbound>>),
    /// The client stopped for good (fatal error such as a refused token, or the attempt
    /// limit) before it was ready.
    #[error("client stopped: {0:?}")]
    Stopped(State),
    /// `connect` was called on a client that is already connected.
    #[error("already connected")]
    AlreadyConnected,
    /// The client could not start (bad URL or configuration).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The arguments do not fit the Moobius model; nothing was sent.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The engine did not take or deliver the message (it is in the error): outbox
    /// full, client closed, or the send deadline (16 s by default) passed.
    #[error(transparent)]
    Send(#[from] SendError),
}

impl From<Lifecycle> for MoobiusError {
    fn from(e: Lifecycle) -> Self {
        match e {
            Lifecycle::NotConnected => MoobiusError::NotConnected(None),
            Lifecycle::AlreadyConnected => MoobiusError::AlreadyConnected,
            Lifecycle::Stopped(state) => MoobiusError::Stopped(state),
            Lifecycle::Build(e) => MoobiusError::Build(e),
        }
    }
}

impl MoobiusError {
    /// Whether trying again later can succeed (the message was refused for now, not
    /// for what it is).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MoobiusError::Send(SendError::Full(_) | SendError::DeadlineExceeded { .. })
        )
    }
}

/// A Moobius client in service or user mode: reconnect with backoff, WebSocket pings and
/// an ordered bounded outbox from the engine; the SDK's login, heartbeat and builders on
/// top.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tether::moobius::{MessageContent, MoobiusClient, kind};
///
/// let client = MoobiusClient::service("ws://127.0.0.1:8785/", "svc-1", "access-token")
///     .on(kind::MESSAGE_UP, |payload| {
///         println!("from a user: {:?}", payload.message());
///         Ok(None)
///     });
/// let mut events = client.connect()?;
/// client
///     .message_down("svc-1", "svc-1", "ch-1", "user-1", "text", MessageContent::text("hi"), "svc-1", None)
///     .await?;
/// while let Some(event) = events.recv().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
///
/// - The login (`service_login`, or `user_login` plus a `join_channel` per
///   [`MoobiusClient::join`]) is sent on every (re)connect before any queued message.
/// - Messages keep their order across reconnects (the SDK re-queues a failed send at the
///   tail; tether does not).
/// - Each send has a deadline ([`SEND_TIMEOUT`] by default): past it, the receipt fails
///   with [`SendError::DeadlineExceeded`] carrying the message.
/// - Moobius has no acknowledgements: a message is *delivered* once written and flushed;
///   one in a socket that then dies is lost, and nobody can tell.
/// - `wss://` verifies the server's certificate (webpki roots, plus
///   [`ClientConfig::ca_file`]); `ws://` works too.
/// - The access token never shows in `Debug`, logs, errors or events.
#[derive(Clone)]
pub struct MoobiusClient {
    uri: String,
    mode: Mode,
    token: Secret,
    config: ClientConfig,
    heartbeat: Option<Duration>,
    send_timeout: Option<Duration>,
    builders: Builders,
    handlers: Handlers<Payload, Outbound>,
    shell: Arc<Shell<Payload>>,
}

impl std::fmt::Debug for MoobiusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoobiusClient")
            .field("uri", &self.uri)
            .field("mode", &self.mode)
            .field("token", &self.token)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl MoobiusClient {
    /// A client for `uri` with this login mode, not connected yet.
    pub fn new(uri: impl Into<String>, mode: Mode, access_token: impl Into<Secret>) -> Self {
        Self {
            uri: uri.into(),
            mode,
            token: access_token.into(),
            config: ClientConfig::default(),
            heartbeat: Some(HEARTBEAT),
            send_timeout: Some(SEND_TIMEOUT),
            builders: Builders::new(),
            handlers: Handlers::default(),
            shell: Arc::default(),
        }
    }

    /// A service (`service_login` with `service_id`).
    pub fn service(
        uri: impl Into<String>,
        service_id: impl Into<String>,
        access_token: impl Into<Secret>,
    ) -> Self {
        Self::new(
            uri,
            Mode::Service {
                service_id: service_id.into(),
            },
            access_token,
        )
    }

    /// A user (`user_login`); add channels with [`MoobiusClient::join`].
    pub fn user(uri: impl Into<String>, access_token: impl Into<Secret>) -> Self {
        Self::new(
            uri,
            Mode::User {
                channels: Vec::new(),
            },
            access_token,
        )
    }

    /// User mode: joins `channel_id` as `user_id` after every login. Ignored in service
    /// mode.
    #[must_use]
    pub fn join(mut self, user_id: impl Into<String>, channel_id: impl Into<String>) -> Self {
        if let Mode::User { channels } = &mut self.mode {
            channels.push((user_id.into(), channel_id.into()));
        }
        self
    }

    /// Sets the engine configuration (pings, backoff, outbox, CA file…), used from the
    /// next [`MoobiusClient::connect`].
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the application heartbeat interval (default 30 s; `None`: none).
    #[must_use]
    pub fn heartbeat_every(mut self, every: Option<Duration>) -> Self {
        self.heartbeat = every;
        self
    }

    /// Sets the per-send deadline (default 16 s; `None`: none).
    #[must_use]
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Uses these builders (injected request ids and clock) for every message.
    #[must_use]
    pub fn builders(mut self, builders: Builders) -> Self {
        self.builders = builders;
        self
    }

    /// Runs `handler` for inbound payloads of type `kind` (see [`super::kind`]); a
    /// message it returns is sent back. Errors and panics are isolated (the SDK's
    /// `safe_handle`) and reported as `handler_error` events.
    #[must_use]
    pub fn on(
        mut self,
        kind: impl Into<String>,
        handler: impl FnMut(&Payload) -> Result<Option<Outbound>, BoxError> + Send + 'static,
    ) -> Self {
        self.handlers.add(Some(kind.into()), Box::new(handler));
        self
    }

    /// Runs `handler` for inbound payloads no [`MoobiusClient::on`] handler takes (the
    /// SDK's `handle`).
    #[must_use]
    pub fn handle(
        mut self,
        handler: impl FnMut(&Payload) -> Result<Option<Outbound>, BoxError> + Send + 'static,
    ) -> Self {
        self.handlers.add(None, Box::new(handler));
        self
    }

    /// The builders: every message's dry run (the exact message a send would queue).
    #[must_use]
    pub fn dry_run(&self) -> &Builders {
        &self.builders
    }

    /// Starts the connection in the background and returns the event stream. Messages
    /// sent before the connection is up are queued; await [`MoobiusClient::ready`] to
    /// wait for it.
    ///
    /// # Errors
    /// [`MoobiusError::AlreadyConnected`], or [`MoobiusError::Build`] for an invalid URL
    /// or configuration.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn connect(&self) -> Result<Events<Payload>, MoobiusError> {
        let events = self.shell.attach(false, || {
            let protocol = Moobius::new(self.mode.clone(), self.token.clone())
                .builders(self.builders.clone())
                .heartbeat_every(self.heartbeat);
            let config = self.config.clone().redact(self.token.clone());
            let builder = Client::builder(protocol)
                .url(self.uri.clone())
                .config(config);
            let deadline = self.send_timeout;
            let builder = self
                .handlers
                .install(builder, move |m: &Outbound| outgoing(m, deadline));
            Ok((builder.start()?, ()))
        })?;
        Ok(events)
    }

    /// Waits until the connection is up and the login sent.
    ///
    /// # Errors
    /// [`MoobiusError::NotConnected`] when not connected, or [`MoobiusError::Stopped`]
    /// with the final state when the client stopped first.
    pub async fn ready(&self) -> Result<(), MoobiusError> {
        Ok(self.shell.ready().await?)
    }

    /// Queues a message (built by [`MoobiusClient::dry_run`], or a full message read with
    /// [`Outbound::from_value`]); returns once queued, with a receipt that resolves when
    /// it is written and flushed, or fails with the message (deadline, close).
    ///
    /// # Errors
    /// [`MoobiusError::NotConnected`] or [`MoobiusError::Send`], both with the message.
    pub async fn send(&self, message: Outbound) -> Result<Receipt<Payload>, MoobiusError> {
        let Some(client) = self.engine() else {
            return Err(MoobiusError::NotConnected(Some(Box::new(message))));
        };
        Ok(client.send(self.outgoing(&message)).await?)
    }

    async fn send_some(
        &self,
        message: Option<Outbound>,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        match message {
            Some(message) => self.send(message).await.map(Some),
            None => Ok(None),
        }
    }

    /// The outbox entry for `message`: its wire text, with this client's send deadline.
    #[must_use]
    pub fn outgoing(&self, message: &Outbound) -> Outgoing {
        outgoing(message, self.send_timeout)
    }

    /// Sends a `heartbeat` now (besides the periodic ones).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn heartbeat(&self) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.heartbeat()).await
    }

    /// Sends a `service_login` now (the client already sends one on every connect).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn service_login(
        &self,
        service_id: &str,
        access_token: &Secret,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.service_login(service_id, access_token))
            .await
    }

    /// Sends a `user_login` now (the client already sends one on every connect).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn user_login(
        &self,
        access_token: &Secret,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.user_login(access_token)).await
    }

    /// Joins a channel (see [`Builders::join_channel`]).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn join_channel(
        &self,
        user_id: &str,
        channel_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.join_channel(user_id, channel_id))
            .await
    }

    /// Leaves a channel (see [`Builders::leave_channel`]).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn leave_channel(
        &self,
        user_id: &str,
        channel_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.leave_channel(user_id, channel_id))
            .await
    }

    /// Updates the characters (see [`Builders::send_characters`]); `Ok(None)` when
    /// `recipients` is empty (nothing sent).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn send_characters(
        &self,
        characters: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self
            .builders
            .send_characters(characters, service_id, channel_id, recipients);
        self.send_some(message).await
    }

    /// Updates the buttons (see [`Builders::send_buttons`]); `Ok(None)` when
    /// `recipients` is empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid buttons, else as [`MoobiusClient::send`].
    pub async fn send_buttons(
        &self,
        buttons: impl Into<Items<Button>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self
            .builders
            .send_buttons(buttons, service_id, channel_id, recipients)?;
        self.send_some(message).await
    }

    /// Updates the menu (see [`Builders::send_menu`]); `Ok(None)` when `recipients` is
    /// empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid items, else as [`MoobiusClient::send`].
    pub async fn send_menu(
        &self,
        menu_items: impl Into<Items<MenuItem>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self
            .builders
            .send_menu(menu_items, service_id, channel_id, recipients)?;
        self.send_some(message).await
    }

    /// Updates the style (see [`Builders::send_style`]); `Ok(None)` when `recipients`
    /// is empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid items, else as [`MoobiusClient::send`].
    pub async fn send_style(
        &self,
        style_items: impl Into<Items<StyleItem>>,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self
            .builders
            .send_style(style_items, service_id, channel_id, recipients)?;
        self.send_some(message).await
    }

    /// Updates the canvas (see [`Builders::update_canvas`]); `Ok(None)` when
    /// `recipients` is empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid items, else as [`MoobiusClient::send`].
    pub async fn update_canvas(
        &self,
        service_id: &str,
        channel_id: &str,
        canvas_items: impl Into<Items<CanvasItem>>,
        recipients: &str,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message =
            self.builders
                .update_canvas(service_id, channel_id, canvas_items, recipients)?;
        self.send_some(message).await
    }

    /// Updates the channel info (see [`Builders::update_channel_info`]).
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid info, else as [`MoobiusClient::send`].
    pub async fn update_channel_info(
        &self,
        channel_info: impl Into<Item<ChannelInfo>>,
        service_id: &str,
        channel_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        let message = self
            .builders
            .update_channel_info(channel_info, service_id, channel_id)?;
        self.send(message).await
    }

    /// A generic update (see [`Builders::update`]).
    ///
    /// # Errors
    /// [`MoobiusError::Model`] when `data` is not an object, else as
    /// [`MoobiusClient::send`].
    pub async fn update(
        &self,
        data: Value,
        target_client_id: &str,
        service_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        let message = self.builders.update(data, target_client_id, service_id)?;
        self.send(message).await
    }

    /// A user's message (see [`Builders::message_up`]); `Ok(None)` when `recipients`
    /// is empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid content, else as [`MoobiusClient::send`].
    #[allow(clippy::too_many_arguments)] // the SDK's signature
    pub async fn message_up(
        &self,
        user_id: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: impl Into<Item<MessageContent>>,
        context: Option<Map<String, Value>>,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self.builders.message_up(
            user_id, service_id, channel_id, recipients, subtype, content, context,
        )?;
        self.send_some(message).await
    }

    /// A service's message (see [`Builders::message_down`]); `Ok(None)` when
    /// `recipients` is empty.
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for invalid content, else as [`MoobiusClient::send`].
    #[allow(clippy::too_many_arguments)] // the SDK's signature
    pub async fn message_down(
        &self,
        user_id: &str,
        service_id: &str,
        channel_id: &str,
        recipients: &str,
        subtype: &str,
        content: impl Into<Item<MessageContent>>,
        sender: &str,
        context: Option<Map<String, Value>>,
    ) -> Result<Option<Receipt<Payload>>, MoobiusError> {
        let message = self.builders.message_down(
            user_id, service_id, channel_id, recipients, subtype, content, sender, context,
        )?;
        self.send_some(message).await
    }

    /// A user's button click (see [`Builders::send_button_click`]).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn send_button_click(
        &self,
        button_id: &str,
        bottom_button_id: &str,
        button_args: Option<Vec<Value>>,
        channel_id: &str,
        user_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        let message = self.builders.send_button_click(
            button_id,
            bottom_button_id,
            button_args,
            channel_id,
            user_id,
        );
        self.send(message).await
    }

    /// A user's menu item click (see [`Builders::send_menu_item_click`]).
    ///
    /// # Errors
    /// [`MoobiusError::Model`] for an invalid message, else as [`MoobiusClient::send`].
    pub async fn send_menu_item_click(
        &self,
        menu_item_id: &str,
        bottom_button_id: &str,
        button_args: Option<Vec<Value>>,
        the_message: impl Into<ClickedMessage>,
        channel_id: &str,
        user_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        let message = self.builders.send_menu_item_click(
            menu_item_id,
            bottom_button_id,
            button_args,
            the_message,
            channel_id,
            user_id,
        )?;
        self.send(message).await
    }

    /// A user's refresh (see [`Builders::refresh_as_user`]).
    ///
    /// # Errors
    /// As [`MoobiusClient::send`].
    pub async fn refresh_as_user(
        &self,
        user_id: &str,
        channel_id: &str,
    ) -> Result<Receipt<Payload>, MoobiusError> {
        self.send(self.builders.refresh_as_user(user_id, channel_id))
            .await
    }

    /// Closes the connection (close handshake) and returns the final state; `None` if the
    /// client was not connected.
    pub async fn disconnect(&self) -> Option<State> {
        self.shell.close().await
    }

    /// Whether [`MoobiusClient::connect`] was called and not undone by `disconnect`.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shell.is_attached()
    }

    /// The engine handle (state watch, statistics, raw sends) while connected.
    #[must_use]
    pub fn engine(&self) -> Option<Client<Payload>> {
        self.shell.engine()
    }
}

fn outgoing(message: &Outbound, deadline: Option<Duration>) -> Outgoing {
    let out = Outgoing::new(Frame::text(message.wire_text()));
    match deadline {
        Some(d) => out.with_deadline(d),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sending_before_connect_hands_the_message_back() {
        let client = MoobiusClient::service("ws://127.0.0.1:9/", "svc", "tok");
        let err = client.heartbeat().await.unwrap_err();
        assert!(
            !err.is_retryable(),
            "connect first: trying again does not help"
        );
        let MoobiusError::NotConnected(Some(message)) = err else {
            panic!("{err:?}");
        };
        assert_eq!(message.kind(), "heartbeat");
        // Empty recipients send nothing, even when not connected.
        assert!(
            client
                .send_characters("c", "svc", "ch", "")
                .await
                .unwrap()
                .is_none()
        );
        // Bad input is refused before anything else.
        assert!(matches!(
            client.update(Value::Null, "t", "svc").await,
            Err(MoobiusError::Model(_))
        ));
    }

    #[test]
    fn messages_carry_the_send_deadline() {
        let client = MoobiusClient::user("ws://127.0.0.1:9/", "tok");
        let m = client.dry_run().heartbeat();
        assert_eq!(client.outgoing(&m).deadline(), Some(SEND_TIMEOUT));
        let client = client.send_timeout(None);
        assert_eq!(client.outgoing(&m).deadline(), None);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = MoobiusClient::user("ws://127.0.0.1:9/", "tok-secret-1").join("u", "c");
        let shown = format!("{client:?}");
        assert!(!shown.contains("tok-secret-1"), "{shown}");
    }
}
