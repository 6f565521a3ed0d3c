//! A request/reply peer over TCP (no WebSocket pings, e.g. HappyPanda X) that stops
//! answering is noticed too: silence counts while a message awaits its acknowledgement,
//! and past heartbeat + dead_after the connection is given up, then the request replayed.
//! An idle connection with nothing awaited is never given up. Paused time, in memory.
#![cfg(feature = "raw")]

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tether::{BackoffConfig, Client, ClientConfig, ConnectionError, Protocol, State, raw::Raw};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream},
    sync::mpsc,
    time::Instant,
};

fn config() -> ClientConfig {
    ClientConfig::default()
        .heartbeat(Duration::from_secs(5))
        .dead_after(Duration::from_secs(3))
        .backoff(BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: None,
            seed: Some(3),
        })
}

/// Each connect attempt: a duplex pair framed as JSON lines; the test gets the server half.
fn tcp_network(
    raw: &Raw,
) -> (
    impl tether::transport::Connect,
    mpsc::UnboundedReceiver<DuplexStream>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let codec = raw.codec().expect("raw has a line codec");
    let connector = move || {
        let (tx, codec) = (tx.clone(), Arc::clone(&codec));
        async move {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let _ = tx.send(server);
            Ok::<_, ConnectionError>(tether::transport::framed(client, codec()))
        }
    };
    (connector, rx)
}

#[tokio::test(start_paused = true)]
async fn a_tcp_peer_that_stops_answering_is_given_up_and_the_request_replayed() {
    let raw = Raw::json().ack_field("id");
    let (connector, mut servers) = tcp_network(&raw);
    let (client, _events) = Client::builder(raw.clone())
        .config(config())
        .connector(connector)
        .start()
        .unwrap();
    let silent = servers.recv().await.unwrap();
    client.ready().await.unwrap();

    // Idle, nothing awaited: a minute of silence is fine.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(client.stats().connects, 1, "an idle connection stays");

    // A request the server never answers.
    let asked = Instant::now();
    let receipt = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    let mut state = client.state();
    state
        .wait_for(|s| matches!(s, State::Reconnecting { .. }))
        .await
        .unwrap();
    let noticed = asked.elapsed();
    assert!(
        noticed >= Duration::from_secs(8) && noticed <= Duration::from_secs(9),
        "given up after {noticed:?}, bound 5 s + 3 s"
    );
    drop(silent);

    // The next server answers: the request is replayed and acknowledged.
    let server = servers.recv().await.unwrap();
    let (read, mut write) = tokio::io::split(server);
    let mut lines = BufReader::new(read).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    assert_eq!(line, r#"{"id":1}"#);
    write.write_all(b"{\"id\":1}\n").await.unwrap();
    receipt.await.unwrap();
    assert_eq!(client.stats().replayed, 1);
}
