//! The typed datadivr client, after the Python SDK's `WebSocketClient`.

use std::sync::Arc;

use crate::json::Value;

use crate::{
    client::{BuildError, Client, Receipt},
    config::ClientConfig,
    error::SendError,
    event::Events,
    frame::Frame,
    outgoing::Outgoing,
    platform::shell::{Handlers, Lifecycle, Shell},
    router::BoxError,
    state::State,
};

use super::{
    model::{FROM_SERVER, Message, WireFields},
    protocol::Datadivr,
};

/// A handler for inbound messages; the message it returns (if any) is sent back.
pub type Handler = Box<dyn FnMut(&Message) -> Result<Option<Message>, BoxError> + Send + 'static>;

/// Why a datadivr call failed.
#[derive(Debug, thiserror::Error)]
pub enum DatadivrError {
    /// The client was never connected, or was disconnected; the message (if the call
    /// had one) is handed back.
    #[error("not connected: call connect() first")]
    NotConnected(Option<Box<Message>>),
    /// The client stopped for good (fatal error or attempt limit) before it was ready.
    #[error("client stopped: {0:?}")]
    Stopped(State),
    /// `connect` was called on a client that is already connected.
    #[error("already connected")]
    AlreadyConnected,
    /// The client could not start (bad URL or configuration).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The engine did not take or deliver the message (it is in the error).
    #[error(transparent)]
    Send(#[from] SendError),
}

impl From<Lifecycle> for DatadivrError {
    fn from(e: Lifecycle) -> Self {
        match e {
            Lifecycle::NotConnected => DatadivrError::NotConnected(None),
            Lifecycle::AlreadyConnected => DatadivrError::AlreadyConnected,
            Lifecycle::Stopped(state) => DatadivrError::Stopped(state),
            Lifecycle::Build(e) => DatadivrError::Build(e),
        }
    }
}

/// A datadivr client: reconnect, WebSocket heartbeat and an ordered bounded outbox from
/// the engine, the SDK's surface on top.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tether::datadivr::{DatadivrClient, Message};
/// use serde_json::json;
///
/// let client = DatadivrClient::new("ws://127.0.0.1:8765/ws")
///     .on("sum_handler_result", |msg| {
///         println!("sum: {}", msg.payload);
///         Ok(None)
///     });
/// let mut events = client.connect()?;
/// client
///     .send_message(json!({"numbers": [391, 29]}), "sum_event", None, "all")
///     .await?;
/// while let Some(event) = events.recv().await {
///     println!("{event:?}");
/// }
/// # Ok(()) }
/// ```
///
/// Clones share the connection. datadivr has no acknowledgements: a message is
/// *delivered* once written and flushed, and one in a socket that then dies is lost.
#[derive(Clone)]
pub struct DatadivrClient {
    uri: String,
    config: ClientConfig,
    handlers: Handlers<Message, Message>,
    shell: Arc<Shell<Message>>,
}

impl std::fmt::Debug for DatadivrClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatadivrClient")
            .field("uri", &self.uri)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl DatadivrClient {
    /// A client for `uri` (e.g. `ws://127.0.0.1:8765/ws`), not connected yet.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            config: ClientConfig::default(),
            handlers: Handlers::default(),
            shell: Arc::default(),
        }
    }

    /// Sets the engine configuration (heartbeat, backoff, outbox…), used from the next
    /// [`DatadivrClient::connect`].
    #[must_use]
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs `handler` for inbound messages named `event`; a message it returns is sent
    /// back. Errors and panics are isolated and reported as `handler_error` events.
    #[must_use]
    pub fn on(
        mut self,
        event: impl Into<String>,
        handler: impl FnMut(&Message) -> Result<Option<Message>, BoxError> + Send + 'static,
    ) -> Self {
        self.handlers.add(Some(event.into()), Box::new(handler));
        self
    }

    /// Runs `handler` for inbound messages no named handler takes.
    #[must_use]
    pub fn on_any(
        mut self,
        handler: impl FnMut(&Message) -> Result<Option<Message>, BoxError> + Send + 'static,
    ) -> Self {
        self.handlers.add(None, Box::new(handler));
        self
    }

    /// Starts the connection in the background and returns the event stream. Messages
    /// sent before the connection is up are queued; await [`DatadivrClient::ready`] to
    /// wait for it.
    ///
    /// # Errors
    /// [`DatadivrError::AlreadyConnected`], or [`DatadivrError::Build`] for an invalid
    /// URL or configuration.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn connect(&self) -> Result<Events<Message>, DatadivrError> {
        let events = self.shell.attach(false, || {
            let builder = Client::builder(Datadivr)
                .url(self.uri.clone())
                .config(self.config.clone());
            let started = self.handlers.install(builder, Self::outgoing).start()?;
            Ok((started, ()))
        })?;
        Ok(events)
    }

    /// Waits until the connection is up.
    ///
    /// # Errors
    /// [`DatadivrError::NotConnected`] when not connected, or [`DatadivrError::Stopped`]
    /// with the final state when the client stopped first.
    pub async fn ready(&self) -> Result<(), DatadivrError> {
        Ok(self.shell.ready().await?)
    }

    /// Sends `{event_name, payload, to, message}` like the SDK's
    /// `send_message(payload, event_name, msg=None, to="others")`; returns once queued,
    /// with a receipt that resolves when the message is written and flushed.
    ///
    /// # Errors
    /// [`DatadivrError::NotConnected`] or [`DatadivrError::Send`], both with the message.
    pub async fn send_message(
        &self,
        payload: impl Into<Value>,
        event_name: &str,
        msg: Option<&str>,
        to: &str,
    ) -> Result<Receipt<Message>, DatadivrError> {
        let payload = payload.into();
        let Some(client) = self.engine() else {
            let message = Self::message(payload, event_name, msg, to);
            return Err(DatadivrError::NotConnected(Some(Box::new(message))));
        };
        // The wire text straight from the arguments: no `Message` (and its copies of the
        // strings) is built for it.
        let text = WireFields {
            event_name,
            payload: &payload,
            to,
            from_id: FROM_SERVER,
            message: msg,
        }
        .client_wire_text();
        Ok(client.send(Outgoing::new(Frame::text(text))).await?)
    }

    /// Sends a message as it is (the Python client's wire text).
    ///
    /// # Errors
    /// As [`DatadivrClient::send_message`].
    pub async fn send(&self, message: Message) -> Result<Receipt<Message>, DatadivrError> {
        let Some(client) = self.engine() else {
            return Err(DatadivrError::NotConnected(Some(Box::new(message))));
        };
        Ok(client.send(Self::outgoing(&message)).await?)
    }

    /// The dry run of [`DatadivrClient::send_message`]: the exact text it would send.
    ///
    /// ```
    /// use tether::datadivr::DatadivrClient;
    /// assert_eq!(
    ///     DatadivrClient::build_message(serde_json::Value::Null, "msg", Some("hello"), "others"),
    ///     r#"{"event_name": "msg", "payload": null, "to": "others", "from_id": "server", "message": "hello"}"#
    /// );
    /// ```
    #[must_use]
    pub fn build_message(
        payload: impl Into<Value>,
        event_name: &str,
        msg: Option<&str>,
        to: &str,
    ) -> String {
        Self::message(payload, event_name, msg, to).client_wire_text()
    }

    /// The message [`DatadivrClient::send_message`] builds.
    #[must_use]
    pub fn message(
        payload: impl Into<Value>,
        event_name: &str,
        msg: Option<&str>,
        to: &str,
    ) -> Message {
        Message {
            message: msg.map(str::to_owned),
            ..Message::new(event_name).payload(payload).to(to)
        }
    }

    /// A message for the engine's outbox: the Python client's wire text, no ack.
    #[must_use]
    pub fn outgoing(message: &Message) -> Outgoing {
        Outgoing::new(Frame::text(message.client_wire_text()))
    }

    /// Closes the connection (close handshake) and returns the final state; `None` if the
    /// client was not connected. Sending afterwards fails with
    /// [`DatadivrError::NotConnected`] until the next [`DatadivrClient::connect`].
    pub async fn disconnect(&self) -> Option<State> {
        self.shell.close().await
    }

    /// Whether [`DatadivrClient::connect`] was called and not undone by `disconnect`.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shell.is_attached()
    }

    /// The engine handle (state watch, statistics, raw sends) while connected.
    #[must_use]
    pub fn engine(&self) -> Option<Client<Message>> {
        self.shell.engine()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[tokio::test]
    async fn sending_before_connect_or_after_disconnect_is_not_connected() {
        let client = DatadivrClient::new("ws://127.0.0.1:9/ws");
        let err = client
            .send_message(json!(1), "msg", None, "others")
            .await
            .unwrap_err();
        let DatadivrError::NotConnected(Some(message)) = err else {
            panic!("{err:?}");
        };
        assert_eq!(message.payload, json!(1), "the message is handed back");
        assert!(client.disconnect().await.is_none());

        let _events = client.connect().unwrap();
        assert!(matches!(
            client.connect(),
            Err(DatadivrError::AlreadyConnected)
        ));
        assert!(client.disconnect().await.is_some());
        assert!(matches!(
            client.send(Message::new("msg")).await,
            Err(DatadivrError::NotConnected(_))
        ));
    }

    #[test]
    fn send_message_writes_what_build_message_writes() {
        for (payload, event, msg, to) in [
            (json!({"numbers": [391, 29]}), "sum_event", None, "all"),
            (
                json!(null),
                "m\u{e9}",
                Some("h\u{e9}\"llo"),
                "client-\u{1f600}",
            ),
            (json!([1.5, {"b": 1, "a": "x"}]), "e", Some(""), "others"),
        ] {
            let direct = WireFields {
                event_name: event,
                payload: &payload,
                to,
                from_id: FROM_SERVER,
                message: msg,
            }
            .client_wire_text();
            assert_eq!(
                direct,
                DatadivrClient::build_message(payload.clone(), event, msg, to)
            );
        }
    }

    #[test]
    fn build_message_is_the_python_wire_text() {
        assert_eq!(
            DatadivrClient::build_message(json!({"numbers": [391, 29]}), "sum_event", None, "all"),
            r#"{"event_name": "sum_event", "payload": {"numbers": [391, 29]}, "to": "all", "from_id": "server", "message": null}"#
        );
    }
}
