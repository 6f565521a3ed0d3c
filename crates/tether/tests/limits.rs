//! Limits (issue 10): the largest message (either direction) and the outbox capacity are
//! configurable with safe defaults, and every refusal is a clear error and an event.
//! (The HPX decompressed-size bound is tested with its codec.)
#![cfg(feature = "raw")]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::duplex::{network, never_connecting};
use tether::{
    BackoffConfig, Client, ClientConfig, Event, Events, Frame, Policy, SendError,
    raw::{Raw, RawMessage},
};
use tokio_websockets::Message;

fn config() -> ClientConfig {
    ClientConfig::default().backoff(BackoffConfig {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(1),
        max_attempts: None,
        seed: Some(7),
    })
}

/// The next `undelivered` event, skipping state changes.
async fn next_undelivered(events: &mut Events<RawMessage>) -> (Frame, String) {
    loop {
        match events.recv().await.expect("events") {
            Event::Undelivered(error) => {
                return (error.message().frame().clone(), error.kind().to_owned());
            }
            _ => continue,
        }
    }
}

#[tokio::test]
async fn defaults_are_safe_and_a_zero_capacity_is_refused() {
    let c = ClientConfig::default();
    assert_eq!(c.max_message_size, 16 * 1024 * 1024);
    assert_eq!(c.outbox_capacity, 1024);
    assert_eq!(c.policy, Policy::Backpressure);
    assert_eq!(c.event_capacity, 1024);
    let refused = Client::builder(Raw::text())
        .url("ws://127.0.0.1:9/")
        .config(ClientConfig::default().outbox(0, Policy::Reject))
        .start()
        .unwrap_err();
    assert!(refused.to_string().contains("outbox capacity"), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_size_limit_is_refused_with_its_size_and_an_event() {
    let cfg = config().max_message_size(1024);
    let (connector, _net) = network(64 * 1024, cfg.clone());
    let (client, mut events) = Client::builder(Raw::text())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let big = "x".repeat(1025);
    let err = client.send(Frame::text(big.clone())).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "message of 1025 bytes exceeds the limit of 1024 bytes"
    );
    match &err {
        SendError::TooLarge {
            message,
            size,
            limit,
        } => {
            assert_eq!((*size, *limit), (1025, 1024));
            assert_eq!(message.frame().as_text(), Some(big.as_str()));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let (frame, reason) = next_undelivered(&mut events).await;
    assert_eq!(reason, "too_large");
    assert_eq!(frame.len(), 1025);
    assert_eq!(client.pending(), 0, "nothing of it was queued");
    // Exactly at the limit is fine.
    client.send(Frame::text("y".repeat(1024))).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_outbox_under_reject_refuses_with_the_message_and_an_event() {
    let cfg = config().outbox(3, Policy::Reject);
    let (client, mut events) = never_connecting(Raw::text(), cfg);
    for i in 0..3 {
        client.send(Frame::text(format!("m{i}"))).await.unwrap();
    }
    let err = client.send(Frame::text("m3")).await.unwrap_err();
    assert_eq!(err.kind(), "full");
    assert_eq!(err.into_message().frame().as_text(), Some("m3"));
    let (frame, reason) = next_undelivered(&mut events).await;
    assert_eq!((frame.as_text(), reason.as_str()), (Some("m3"), "full"));
    assert_eq!(client.pending(), 3, "the queued ones stay");
}

#[tokio::test(start_paused = true)]
async fn try_send_under_backpressure_refuses_instead_of_waiting() {
    let cfg = config().outbox(1, Policy::Backpressure);
    let (client, mut events) = never_connecting(Raw::text(), cfg);
    client.try_send(Frame::text("a")).unwrap();
    let err = client.try_send(Frame::text("b")).unwrap_err();
    assert!(matches!(err, SendError::Full(_)), "{err:?}");
    let (frame, reason) = next_undelivered(&mut events).await;
    assert_eq!((frame.as_text(), reason.as_str()), (Some("b"), "full"));
}

#[tokio::test(start_paused = true)]
async fn a_deferred_send_to_a_full_outbox_under_backpressure_is_handed_back_unreported() {
    let cfg = config().outbox(1, Policy::Backpressure);
    let (client, mut events) = never_connecting(Raw::text(), cfg);
    client.try_send_deferred(Frame::text("a")).unwrap();
    let err = client.try_send_deferred(Frame::text("b")).unwrap_err();
    assert!(matches!(&err, SendError::Full(_)), "{err:?}");
    assert_eq!(err.into_message().frame().as_text(), Some("b"));
    // The caller waits with `send` instead: nothing was refused for good.
    let reported = tokio::time::timeout(Duration::from_secs(5), next_undelivered(&mut events));
    assert!(
        reported.await.is_err(),
        "a Full the caller waits out is no undelivered event"
    );
    assert_eq!(client.pending(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_deferred_send_to_a_full_outbox_under_reject_is_refused_and_reported() {
    let cfg = config().outbox(1, Policy::Reject);
    let (client, mut events) = never_connecting(Raw::text(), cfg);
    client.try_send_deferred(Frame::text("a")).unwrap();
    let err = client.try_send_deferred(Frame::text("b")).unwrap_err();
    assert_eq!(err.kind(), "full");
    let (frame, reason) = next_undelivered(&mut events).await;
    assert_eq!((frame.as_text(), reason.as_str()), (Some("b"), "full"));
}

#[tokio::test(start_paused = true)]
async fn an_inbound_message_over_the_limit_fails_the_connection_with_1009_and_says_so() {
    let cfg = config().max_message_size(1024);
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (_client, mut events) = Client::builder(Raw::text())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    ws.send(Message::binary(vec![0u8; 4096])).await.unwrap();
    let close = loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.is_close() {
            break m;
        }
    };
    assert_eq!(close.as_close().map(|(c, _)| u16::from(c)), Some(1009));
    let error = loop {
        if let Event::Disconnected { error, fatal } = events.recv().await.unwrap() {
            assert!(!fatal, "a peer's oversize message is retryable");
            break error;
        }
    };
    assert_eq!(
        error.close_code(),
        Some(1009),
        "the event names the limit: {error}"
    );
}
