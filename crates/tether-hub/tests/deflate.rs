//! permessage-deflate end to end: tether's client against the hub (negotiated, used in
//! both directions, switchable on either side) and against bare servers that send what
//! a hostile or broken server would (a deflate bomb, RSV1 where RFC 7692 forbids it).

mod support;

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::{fast_backoff, within};
use tether::{
    Client, ClientConfig, ConnectionError, Event, Policy,
    raw::Raw,
    transport::deflate::{Compression, InboundFrames, WireStream},
};
use tether_hub::Hub;
use tokio::{io::AsyncWriteExt, net::TcpListener};
use tokio_websockets::{Limits, Message, ServerBuilder};

const LIMIT: Duration = Duration::from_secs(30);

/// A JSON message like the platforms' (repetitive keys, a little text), about 3 KiB.
fn realistic(id: usize) -> serde_json::Value {
    let members: Vec<_> = (0..20)
        .map(|i| {
            json!({"user_id": format!("u-{i:04}"), "display_name": format!("member {i}"),
                   "status": "online", "roles": ["member", "reader"], "joined_at": 1_700_000_000 + i})
        })
        .collect();
    json!({"id": id, "type": "channel_update", "channel": "general", "members": members})
}

async fn hub(compression: bool) -> Hub {
    Hub::builder()
        .ephemeral()
        .compression(compression)
        .start()
        .await
        .expect("the hub starts")
}

/// Sends `n` messages to the hub's echo endpoint, each acknowledged by its echo, and
/// returns the client's statistics.
async fn echo_round(hub: &Hub, compression: Compression, n: usize) -> tether::StatsSnapshot {
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .compression(compression)
        .outbox(64, Policy::Backpressure);
    let (client, _events) = Client::builder(raw.clone())
        .url(hub.url("echo").unwrap())
        .config(config)
        .start()
        .unwrap();
    for id in 0..n {
        let receipt = client.send(raw.encode(&realistic(id))).await.unwrap();
        within(LIMIT, "the echo", receipt).await.unwrap();
    }
    let stats = client.stats();
    client.close().await;
    stats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_is_negotiated_with_the_hub_and_used_in_both_directions() {
    let hub = hub(true).await;
    let stats = echo_round(&hub, Compression::default(), 20).await;
    assert_eq!(stats.deflate_connects, stats.connects, "{stats:?}");
    assert!(stats.bytes_out > 20 * 2048, "{stats:?}");
    // The client compressed what it sent, the hub what it echoed.
    assert!(stats.wire_bytes_out * 3 < stats.bytes_out, "{stats:?}");
    assert!(stats.wire_bytes_in * 3 < stats.bytes_in, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_after_an_idle_heartbeat_freed_the_compressor_reach_the_hub_intact() {
    // Heartbeats 50 ms apart: the pause after the first message spans several, which
    // frees the client's compressor; the next messages start a fresh DEFLATE stream that
    // the hub's inflater (context takeover: it kept its window) reads on the same
    // connection.
    let hub = hub(true).await;
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .heartbeat(Duration::from_millis(50))
        .dead_after(Duration::from_secs(10));
    let (client, mut events) = Client::builder(raw.clone())
        .url(hub.url("echo").unwrap())
        .config(config)
        .start()
        .unwrap();
    let mut echoed = Vec::new();
    for id in 0..3 {
        if id == 1 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let receipt = client.send(raw.encode(&realistic(id))).await.unwrap();
        within(LIMIT, "the echo", receipt).await.unwrap();
        let echo = within(LIMIT, "the echoed message", async {
            loop {
                if let Some(Event::Message(m)) = events.recv().await {
                    break m;
                }
            }
        })
        .await;
        echoed.push(echo.json.as_deref().cloned().unwrap());
    }
    assert_eq!(echoed, (0..3).map(realistic).collect::<Vec<_>>());
    let stats = client.stats();
    assert_eq!(
        (stats.connects, stats.deflate_connects),
        (1, 1),
        "{stats:?}"
    );
    assert!(stats.wire_bytes_out * 3 < stats.bytes_out, "{stats:?}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_compression_off_the_wire_carries_every_payload_byte() {
    let hub = hub(true).await;
    let stats = echo_round(&hub, Compression::off(), 5).await;
    assert_eq!(stats.deflate_connects, 0, "{stats:?}");
    assert!(stats.wire_bytes_out > stats.bytes_out, "{stats:?}");
    assert!(stats.wire_bytes_in > stats.bytes_in, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_with_compression_switched_off_declines_the_offer() {
    let hub = hub(false).await;
    let stats = echo_round(&hub, Compression::default(), 5).await;
    assert_eq!(stats.deflate_connects, 0, "{stats:?}");
    assert!(stats.wire_bytes_out > stats.bytes_out, "{stats:?}");
    assert!(stats.wire_bytes_in > stats.bytes_in, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_below_the_threshold_are_sent_uncompressed() {
    let hub = hub(true).await;
    let stats = echo_round(&hub, Compression::on(1 << 20), 5).await;
    assert!(stats.wire_bytes_out > stats.bytes_out, "{stats:?}");
    // The hub's own threshold is 1 KiB: its echoes are compressed.
    assert!(stats.wire_bytes_in * 3 < stats.bytes_in, "{stats:?}");
}

/// A bare server that accepts permessage-deflate (with `answer`) and lets `script` do
/// what it wants with the raw socket and the WebSocket over it.
async fn bare_server<F, Fut>(
    answer: &'static str,
    script: F,
) -> (String, tokio::task::JoinHandle<()>)
where
    F: Fn(tokio_websockets::WebSocketStream<WireStream<tokio::net::TcpStream>>, usize) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        for attempt in 0.. {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = WireStream::new(tcp, Arc::default(), true);
            stream.read_head().await.unwrap();
            let server = ServerBuilder::new()
                .limits(Limits::unlimited())
                .add_header(
                    http::HeaderName::from_static("sec-websocket-extensions"),
                    http::HeaderValue::from_static(answer),
                )
                .unwrap();
            let (_, mut ws) = server.accept(stream).await.unwrap();
            ws.get_mut()
                .start_frames(Some(InboundFrames::for_server(1 << 30, false)), None);
            script(ws, attempt).await;
        }
    });
    (url, task)
}

/// Waits for the close frame a client sends and returns its code.
async fn close_code_from(
    ws: &mut tokio_websockets::WebSocketStream<WireStream<tokio::net::TcpStream>>,
) -> Option<u16> {
    while let Some(Ok(msg)) = ws.next().await {
        if let Some((code, _)) = msg.as_close() {
            return Some(code.into());
        }
    }
    None
}

/// The first error a client reports.
async fn first_disconnect(events: &mut tether::Events<tether::raw::RawMessage>) -> ConnectionError {
    loop {
        match within(LIMIT, "a disconnect", events.recv()).await {
            Some(Event::Disconnected { error, .. }) => return error,
            Some(_) => {}
            None => panic!("events ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_closes_with_1009_after_inflating_no_more_than_the_limit() {
    let (codes_tx, mut codes) = tokio::sync::mpsc::channel(4);
    let (url, server) = bare_server("permessage-deflate", move |mut ws, _| {
        let codes = codes_tx.clone();
        async move {
            // 16 MiB of zeros in about 16 KiB (a ratio of 1000), for a 1 MiB limit.
            let mut compress = flate2::Compress::new(flate2::Compression::fast(), false);
            let zeros = vec![0u8; 16 << 20];
            let mut payload = Vec::with_capacity(256 << 10);
            compress
                .compress_vec(&zeros, &mut payload, flate2::FlushCompress::Sync)
                .unwrap();
            assert!(payload.len() < 256 << 10, "{}", payload.len());
            let mut frame = vec![0xc2, 127];
            frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            frame.extend_from_slice(&payload);
            ws.get_mut().write_all(&frame).await.unwrap();
            let _ = codes.send(close_code_from(&mut ws).await).await;
        }
    })
    .await;
    let config = ClientConfig::default()
        .max_message_size(1 << 20)
        .backoff(fast_backoff(1));
    let (client, mut events) = Client::builder(Raw::json())
        .url(&url)
        .config(config)
        .start()
        .unwrap();
    let error = first_disconnect(&mut events).await;
    assert_eq!(error.close_code(), Some(1009), "{error}");
    assert!(
        error.to_string().contains("inflates to more than"),
        "{error}"
    );
    assert_eq!(
        within(LIMIT, "the close frame", codes.recv())
            .await
            .unwrap(),
        Some(1009)
    );
    client.close().await;
    server.abort();
}

/// A server that negotiates permessage-deflate and then writes `frames` (raw bytes): the
/// close code the client's first disconnect reports, and the one its close frame carried
/// to the server.
async fn close_codes_after(frames: &'static [u8], seed: u64) -> (Option<u16>, Option<u16>) {
    let (codes_tx, mut codes) = tokio::sync::mpsc::channel(4);
    let (url, server) = bare_server("permessage-deflate", move |mut ws, _| {
        let codes = codes_tx.clone();
        async move {
            ws.get_mut().write_all(frames).await.unwrap();
            let _ = codes.send(close_code_from(&mut ws).await).await;
        }
    })
    .await;
    let config = ClientConfig::default().backoff(fast_backoff(seed));
    let (client, mut events) = Client::builder(Raw::json())
        .url(&url)
        .config(config)
        .start()
        .unwrap();
    let seen = first_disconnect(&mut events).await.close_code();
    let sent = within(LIMIT, "the close frame", codes.recv())
        .await
        .unwrap();
    client.close().await;
    server.abort();
    (seen, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsv1_on_a_control_frame_closes_with_1002() {
    // A ping with RSV1 set.
    let codes = close_codes_after(&[0x89 | 0x40, 0], 2).await;
    assert_eq!(codes, (Some(1002), Some(1002)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsv1_on_a_continuation_frame_closes_with_1002() {
    // A text frame "a" (not final), then its continuation "b" with RSV1 set.
    let codes = close_codes_after(&[0x01, 1, b'a', 0x80 | 0x40, 1, b'b'], 3).await;
    assert_eq!(codes, (Some(1002), Some(1002)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_the_client_did_not_offer_fail_the_connection() {
    let (url, server) =
        bare_server("permessage-deflate; mystery_parameter", |_ws, _| async {}).await;
    let config = ClientConfig::default().backoff(fast_backoff(4));
    let (client, mut events) = Client::builder(Raw::json())
        .url(&url)
        .config(config)
        .start()
        .unwrap();
    let error = first_disconnect(&mut events).await;
    assert!(
        matches!(error, ConnectionError::Handshake { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("mystery_parameter"), "{error}");
    client.close().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_message_is_compressed_again_with_the_new_connections_context() {
    let (got_tx, mut got) = tokio::sync::mpsc::channel(16);
    // Context takeover both ways: on the second connection, a message compressed with
    // the first connection's context would not inflate.
    let (url, server) = bare_server("permessage-deflate", move |mut ws, attempt| {
        let got = got_tx.clone();
        async move {
            for _ in 0..2 {
                let Some(Ok(msg)) = ws.next().await else {
                    return;
                };
                let compressed = ws
                    .get_ref()
                    .inbound()
                    .is_some_and(InboundFrames::has_context);
                let _ = got
                    .send((attempt, msg.as_text().unwrap().to_owned(), compressed))
                    .await;
            }
            if attempt == 0 {
                // Drop the connection without acknowledging anything.
                return;
            }
            for id in 0..2 {
                let _ = ws.send(Message::text(json!({"id": id}).to_string())).await;
            }
            let _ = close_code_from(&mut ws).await;
        }
    })
    .await;
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .compression(Compression::on(16))
        .backoff(fast_backoff(5));
    let (client, _events) = Client::builder(raw.clone())
        .url(&url)
        .config(config)
        .start()
        .unwrap();
    let text = "the same words again and again ".repeat(20);
    let mut receipts = Vec::new();
    for id in 0..2 {
        receipts.push(
            client
                .send(raw.encode(&json!({"id": id, "text": text})))
                .await
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(
            within(LIMIT, "a message at the server", got.recv())
                .await
                .unwrap(),
        );
    }
    for receipt in receipts {
        within(LIMIT, "the ack", receipt).await.unwrap();
    }
    let expected = |id: u64| json!({"id": id, "text": text}).to_string();
    assert_eq!(
        seen,
        vec![
            (0, expected(0), true),
            (0, expected(1), true),
            (1, expected(0), true),
            (1, expected(1), true),
        ]
    );
    assert!(client.stats().replayed >= 2);
    client.close().await;
    server.abort();
}

/// RFC 7692 allows `server_max_window_bits=8`, which zlib cannot honour for raw deflate
/// (it raises 8 to 9, whose matches reach past a 256-byte window): the hub agrees and
/// sends its messages uncompressed, as the RFC lets any message be. A plain
/// tokio-websockets client fails on any frame with RSV1, so the echo arriving proves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_asking_for_an_8_bit_server_window_gets_valid_uncompressed_messages() {
    let hub = hub(true).await;
    let uri: http::Uri = hub.url("echo").unwrap().parse().unwrap();
    let (mut ws, response) = tokio_websockets::ClientBuilder::from_uri(uri)
        .add_header(
            http::HeaderName::from_static("sec-websocket-extensions"),
            http::HeaderValue::from_static(
                "permessage-deflate; server_max_window_bits=8; client_max_window_bits",
            ),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let answer = response
        .headers()
        .get("sec-websocket-extensions")
        .expect("the hub accepts the offer")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(answer.contains("server_max_window_bits=8"), "{answer}");
    let text = realistic(1).to_string();
    assert!(text.len() > 2048);
    ws.send(Message::text(text.clone())).await.unwrap();
    let echo = within(LIMIT, "the echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echo.as_text(), Some(text.as_str()));
}
