//! The hub protects itself: bounded queues (a slow client is disconnected), malformed
//! input gets a protocol error or a close, never a crash; TCP endpoints frame with the
//! platform's codec.

mod support;

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::{hub_with, until, within};
use tether::{Client, ClientConfig, Frame, Policy, raw::Raw};
use tether_hub::{Close, ConnInfo, Echo, EndpointSpec, Registry, Service, Session, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(30);

/// Sends every message to every other connection, and acknowledges it to its sender.
struct Fanout;

struct FanoutSession {
    id: u64,
    registry: Arc<Registry>,
}

impl Service for Fanout {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        Ok(Box::new(FanoutSession {
            id: conn.id,
            registry: conn.registry.clone(),
        }))
    }
}

impl Session for FanoutSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        self.registry.broadcast(&frame, Some(self.id));
        if let Some(id) = frame
            .as_text()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .map(|v| v["id"].clone())
        {
            out.push(Frame::text(json!({"id": id, "ack": true}).to_string()));
        }
        Ok(())
    }
}

fn fanout() -> EndpointSpec {
    EndpointSpec {
        name: "fanout".into(),
        default_port: 0,
        transport: Transport::WebSocket { path: "/".into() },
        service: Arc::new(Fanout),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_for_what_is_routed_to_it_is_disconnected_and_the_others_go_on() {
    let hub = hub_with(vec![fanout()]).await;
    let url = hub.url("fanout").unwrap();
    // A client that connects and never reads.
    let sleeper = connect(&url).await;
    until(LIMIT, "the sleeper's connection", || {
        hub.connections("fanout") == 1
    })
    .await;

    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default().outbox(256, Policy::Backpressure);
    // Not reading the event stream: drop it (a full, unread stream pauses reading).
    let (client, events) = Client::builder(raw.clone())
        .url(&url)
        .config(config)
        .start()
        .unwrap();
    drop(events);
    let pad = "x".repeat(4096);
    let mut receipts = Vec::new();
    for i in 0..6000 {
        receipts.push(
            client
                .send(raw.encode(&json!({"id": i, "pad": pad})))
                .await
                .unwrap(),
        );
    }
    // The sleeper's queue overflowed: the hub let it go instead of buffering without limit.
    until(LIMIT, "the slow client's disconnection", || {
        hub.connections("fanout") == 1
    })
    .await;
    until(LIMIT, "the counters to follow", || {
        hub.stats("fanout").is_some_and(|s| s.active == 1)
    })
    .await;
    for r in receipts {
        within(LIMIT, "the sender's acks", r)
            .await
            .expect("the sender is unaffected");
    }
    assert_eq!(client.stats().connects, 1);
    drop(sleeper);
}

type Ws =
    tokio_websockets::WebSocketStream<tokio_websockets::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    tokio_websockets::ClientBuilder::new()
        .uri(url)
        .unwrap()
        .connect()
        .await
        .unwrap()
        .0
}

/// Reads until the peer's close frame; its code.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match ws.next().await {
            Some(Ok(m)) if m.is_close() => break m.as_close().map(|(c, _)| u16::from(c)),
            Some(Ok(_)) => {}
            _ => break None,
        }
    }
}

#[tokio::test]
async fn malformed_input_gets_an_error_or_a_close_and_the_hub_goes_on() {
    let hub = hub_with(vec![]).await;
    let url = hub.url("echo").unwrap();
    let addr = support::addr_of(&hub, "echo");

    // Not HTTP at all: a 400 answer and a closed socket.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GARBAGE\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    within(
        LIMIT,
        "the hub's answer to garbage",
        tcp.read_to_end(&mut answer),
    )
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"),
        "{answer:?}"
    );

    // An unmasked frame from a client violates RFC 6455: the hub closes with 1002.
    let mut ws = connect(&url).await;
    ws.get_mut()
        .write_all(&[0x81, 0x02, b'h', b'i'])
        .await
        .unwrap();
    let close = within(LIMIT, "the hub's close frame", close_code(&mut ws)).await;
    assert_eq!(close, Some(1002));

    // A frame over the hub's size limit announced in the header: 1009, nothing allocated.
    let mut ws = connect(&url).await;
    let huge: u64 = 1 << 40;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&huge.to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    ws.get_mut().write_all(&header).await.unwrap();
    let close = within(LIMIT, "the hub's close frame", close_code(&mut ws)).await;
    assert_eq!(close, Some(1009));

    // The hub still serves.
    let mut ws = connect(&url).await;
    ws.send(tokio_websockets::Message::text("still here"))
        .await
        .unwrap();
    let echoed = within(LIMIT, "an echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed.as_text(), Some("still here"));
}

#[tokio::test]
async fn a_tcp_endpoint_frames_with_the_platform_codec() {
    let lines = EndpointSpec {
        name: "lines".into(),
        default_port: 0,
        transport: Transport::Tcp(tether::Protocol::codec(&Raw::json()).unwrap()),
        service: Arc::new(Echo),
    };
    let hub = hub_with(vec![lines]).await;
    let url = hub.url("lines").unwrap();
    assert!(url.starts_with("tcp://127.0.0.1:"), "{url}");
    let raw = Raw::json().ack_field("id");
    let (client, events) = Client::builder(raw.clone()).url(&url).start().unwrap();
    drop(events);
    for i in 0..100 {
        let receipt = client.send(raw.encode(&json!({"id": i}))).await.unwrap();
        within(LIMIT, "an ack over tcp://", receipt).await.unwrap();
    }
    assert_eq!(hub.stats("lines").unwrap().received, 100);
    client.close().await;
}
