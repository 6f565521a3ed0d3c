//! A close the server starts: tether answers the server's close frame before it lets the
//! connection go (RFC 6455 §5.5.1), so the server sees a clean close handshake, not a
//! dropped TCP connection — whether tether then reconnects or stops.
#![cfg(feature = "raw")]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::duplex::network;
use tether::{Client, CloseReason, Event, State, raw::Raw};
use tokio_websockets::{CloseCode, Message};

/// What the server reads after its close frame: the client's close (code, reason), or
/// `None` when the connection ended without one.
async fn close_reply(
    server: &mut tokio_websockets::WebSocketStream<tokio::io::DuplexStream>,
    code: CloseCode,
) -> Option<(CloseCode, String)> {
    server.send(Message::close(Some(code), "bye")).await.ok()?;
    let reply = tokio::time::timeout(Duration::from_secs(10), server.next())
        .await
        .expect("the client answers or hangs up within 10 s")?
        .ok()?;
    reply.as_close().map(|(c, r)| (c, r.to_owned()))
}

#[tokio::test(start_paused = true)]
async fn answers_a_servers_going_away_close_before_reconnecting() {
    let config = support::config();
    let (connector, mut net) = network(64 * 1024, config.clone());
    let (client, mut events) = Client::builder(Raw::text())
        .config(config)
        .connector(connector)
        .start()
        .unwrap();
    let mut first = net.servers.recv().await.expect("the client connects");

    let reply = close_reply(&mut first, CloseCode::GOING_AWAY).await;

    assert_eq!(reply, Some((CloseCode::GOING_AWAY, String::new())));
    let _second = tokio::time::timeout(Duration::from_secs(10), net.servers.recv())
        .await
        .expect("the client reconnects after the server's close")
        .expect("a second connection");
    client.close().await;
    while events.recv().await.is_some() {}
}

#[tokio::test(start_paused = true)]
async fn answers_a_servers_fatal_close_before_stopping() {
    let config = support::config();
    let (connector, mut net) = network(64 * 1024, config.clone());
    let (_client, mut events) = Client::builder(Raw::text())
        .config(config)
        .connector(connector)
        .start()
        .unwrap();
    let mut server = net.servers.recv().await.expect("the client connects");

    let policy = CloseCode::POLICY_VIOLATION;
    let reply = close_reply(&mut server, policy).await;

    assert_eq!(reply, Some((policy, String::new())));
    let mut closed = None;
    while let Some(event) = events.recv().await {
        if let Event::State(State::Closed { reason, fatal }) = event {
            closed = Some((reason, fatal));
        }
    }
    let (reason, fatal) = closed.expect("the client stops");
    assert!(fatal, "1008 is fatal");
    assert!(matches!(reason, CloseReason::Fatal(_)), "{reason:?}");
}
