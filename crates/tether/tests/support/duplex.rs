//! An in-memory "network" for paused-time tests: each connect attempt creates a
//! `tokio::io::duplex` pair; the test receives the server half (as a WebSocket).

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tether::{
    Client, ClientConfig, ConnectionError, Events,
    raw::{Raw, RawMessage},
    transport,
};
use tokio::{io::DuplexStream, sync::mpsc};
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

/// What the next connect attempt does.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(dead_code)]
pub enum Next {
    /// Hand out a duplex pair.
    Accept,
    /// Fail with "connection refused".
    Refuse,
    /// Never complete (the connect timeout applies).
    Hang,
}

pub struct Network {
    pub servers: mpsc::UnboundedReceiver<WebSocketStream<DuplexStream>>,
    pub next: Arc<Mutex<Next>>,
    pub attempts: Arc<Mutex<u32>>,
}

/// A connector for `ClientBuilder::connector` plus the test's side.
pub fn network(buffer: usize, config: ClientConfig) -> (impl tether::transport::Connect, Network) {
    let (tx, rx) = mpsc::unbounded_channel();
    let next = Arc::new(Mutex::new(Next::Accept));
    let attempts = Arc::new(Mutex::new(0));
    let (n, a) = (next.clone(), attempts.clone());
    let connector = move || {
        let tx = tx.clone();
        let mode = *n.lock().unwrap();
        *a.lock().unwrap() += 1;
        let config = config.clone();
        async move {
            match mode {
                Next::Refuse => Err(ConnectionError::from(std::io::Error::from(
                    std::io::ErrorKind::ConnectionRefused,
                ))),
                Next::Hang => std::future::pending().await,
                Next::Accept => {
                    let (client, server) = tokio::io::duplex(buffer);
                    let _ = tx.send(ServerBuilder::new().serve(server));
                    Ok(transport::websocket(client, &config))
                }
            }
        }
    };
    (
        connector,
        Network {
            servers: rx,
            next,
            attempts,
        },
    )
}

/// Reads the next text message on a server socket (skipping pings).
#[allow(dead_code)]
pub async fn next_text(ws: &mut WebSocketStream<DuplexStream>) -> Option<String> {
    loop {
        let msg = ws.next().await?.ok()?;
        if let Some(t) = msg.as_text() {
            return Some(t.to_owned());
        }
        if msg.is_close() {
            return None;
        }
    }
}

/// Echoes every text message until the connection ends; returns what it saw.
#[allow(dead_code)]
pub async fn echo(mut ws: WebSocketStream<DuplexStream>, log: Arc<Mutex<Vec<String>>>) {
    while let Some(Ok(msg)) = ws.next().await {
        if let Some(t) = msg.as_text() {
            log.lock().unwrap().push(t.to_owned());
            if ws.send(Message::text(t.to_owned())).await.is_err() {
                break;
            }
        }
    }
}

/// The `id`s of the JSON messages an [`echo`] logged, in the order it received them.
#[allow(dead_code)]
pub fn logged_ids(log: &Mutex<Vec<String>>) -> Vec<u64> {
    log.lock()
        .unwrap()
        .iter()
        .map(|t| {
            serde_json::from_str::<serde_json::Value>(t).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// A client of JSON messages acknowledged by their `id` (`Raw::json().ack_field("id")`)
/// with `config`, connected to an [`echo`] server over the in-memory network; the echo's
/// log of what it received, in order.
#[allow(dead_code)]
pub async fn acked_echo_client(
    config: ClientConfig,
) -> (
    Raw,
    Client<RawMessage>,
    Events<RawMessage>,
    Arc<Mutex<Vec<String>>>,
) {
    let raw = Raw::json().ack_field("id");
    let (connector, mut net) = network(64 * 1024, config.clone());
    let (client, events) = Client::builder(raw.clone())
        .config(config)
        .connector(connector)
        .start()
        .expect("the client starts");
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = net.servers.recv().await.expect("the client connects");
    tokio::spawn(echo(server, log.clone()));
    (raw, client, events, log)
}

/// A client of `protocol` with `config` whose every connect attempt hangs: messages stay
/// queued (outbox policies, deadlines, closing with messages pending).
#[allow(dead_code)]
pub fn never_connecting(
    protocol: Raw,
    config: ClientConfig,
) -> (Client<RawMessage>, Events<RawMessage>) {
    let (connector, net) = network(1024, config.clone());
    *net.next.lock().unwrap() = Next::Hang;
    Client::builder(protocol)
        .config(config)
        .connector(connector)
        .start()
        .expect("the client starts")
}
