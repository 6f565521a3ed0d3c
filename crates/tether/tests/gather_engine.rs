//! The Gather client on the engine over an in-memory network, in paused time: the
//! `init` → `ready` login on every connection, `clientHeartbeat` at once and then every
//! interval, and unacknowledged actions replayed after a reconnect, in order, before
//! newer ones, with their original `txnId`s.
#![cfg(all(feature = "gather", feature = "raw"))]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use support::duplex::network;
use tether::{
    ClientConfig,
    gather::{
        Action, GatherClient, ServerEvent, decode_action, encode_batch,
        proto::{ClientServerAction, Ready, TransactionStatus},
    },
};
use tokio::io::DuplexStream;
use tokio_websockets::{Message, WebSocketStream};

type Server = WebSocketStream<DuplexStream>;

/// The next action the client sent (pings skipped).
async fn next_action(ws: &mut Server) -> ClientServerAction {
    loop {
        let msg = ws
            .next()
            .await
            .expect("the connection is open")
            .expect("a frame");
        if msg.is_binary() {
            return decode_action(&msg.as_payload()[..]).expect("a ClientServerAction");
        }
        assert!(!msg.is_text(), "Gather frames are binary");
    }
}

async fn send(ws: &mut Server, events: Vec<ServerEvent>) {
    ws.send(Message::binary(encode_batch(events)))
        .await
        .unwrap();
}

fn ack(txn_id: u32) -> ServerEvent {
    ServerEvent::TransactionStatus(TransactionStatus {
        txn_id,
        succeeded: true,
        reason: None,
    })
}

/// Reads `init`, answers `ready`, and reads the heartbeat sent at once.
async fn login(ws: &mut Server, user: &str) {
    let init = next_action(ws).await;
    assert!(matches!(init.action, Some(Action::Init(_))), "{init:?}");
    send(ws, vec![ServerEvent::Ready(Ready { id: user.into() })]).await;
    let hb = next_action(ws).await;
    assert!(
        matches!(hb.action, Some(Action::ClientHeartbeat(_))),
        "{hb:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn logs_in_on_every_connection_heartbeats_and_replays_unacked_actions_with_their_txn_ids() {
    // WebSocket pings far apart, so only the app heartbeat shows.
    let config = ClientConfig::default()
        .heartbeat(Duration::from_secs(600))
        .dead_after(Duration::from_secs(600));
    let (connector, mut net) = network(1 << 16, config.clone());
    let client = GatherClient::builder("key", "space")
        .connector(connector)
        .config(config)
        .heartbeat_interval(Duration::from_secs(15))
        .build();
    let _events = client.connect().unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    login(&mut ws, "user-1").await;
    client.ready().await.unwrap();
    assert_eq!(client.user_id().as_deref(), Some("user-1"));

    // Heartbeats every 15 s, with fresh txnIds.
    let before = tokio::time::Instant::now();
    let hb1 = next_action(&mut ws).await;
    let hb2 = next_action(&mut ws).await;
    assert!(matches!(hb1.action, Some(Action::ClientHeartbeat(_))));
    assert!(matches!(hb2.action, Some(Action::ClientHeartbeat(_))));
    assert_ne!(hb1.txn_id, hb2.txn_id);
    assert_eq!(before.elapsed(), Duration::from_secs(30));

    // Three actions; only the first is acknowledged before the connection dies.
    let a = client.set_text_status("a", None).await.unwrap();
    let b = client.set_text_status("b", None).await.unwrap();
    let c = client.set_text_status("c", None).await.unwrap();
    let sent: Vec<ClientServerAction> = vec![
        next_action(&mut ws).await,
        next_action(&mut ws).await,
        next_action(&mut ws).await,
    ];
    let ids: Vec<u32> = sent.iter().map(|s| s.txn_id.unwrap()).collect();
    assert_eq!(ids, [a.txn_id(), b.txn_id(), c.txn_id()]);
    send(&mut ws, vec![ack(ids[0])]).await;
    assert!(a.await.unwrap().succeeded);
    drop(ws);

    // Queued while disconnected: goes after the replay.
    let d = client.set_text_status("d", None).await.unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    login(&mut ws, "user-2").await;
    let replay: Vec<ClientServerAction> = vec![
        next_action(&mut ws).await,
        next_action(&mut ws).await,
        next_action(&mut ws).await,
    ];
    let replay_ids: Vec<u32> = replay.iter().map(|s| s.txn_id.unwrap()).collect();
    assert_eq!(replay_ids, [ids[1], ids[2], d.txn_id()]);
    assert_eq!(
        replay[0].encode_to_vec(),
        sent[1].encode_to_vec(),
        "replayed as sent"
    );
    assert_eq!(client.user_id().as_deref(), Some("user-2"));
    send(&mut ws, replay_ids.iter().map(|&t| ack(t)).collect()).await;
    for receipt in [b, c, d] {
        assert!(receipt.await.unwrap().succeeded);
    }
    assert_eq!(client.engine().unwrap().stats().connects, 2);
    client.close().await;
}
