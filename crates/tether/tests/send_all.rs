//! `Client::send_all` (a burst through one call, one receipt for the batch) and
//! `Events::recv_many`, over in-memory streams with paused time.
#![cfg(feature = "raw")]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use support::{
    config,
    duplex::{acked_echo_client, echo, logged_ids, network, never_connecting},
};
use tether::{
    Client, Event, Frame, Outgoing, Policy, SendError,
    raw::{Raw, RawMessage},
};

#[tokio::test(start_paused = true)]
async fn a_batch_larger_than_the_outbox_is_delivered_in_order_and_its_receipt_counts_every_message()
{
    let (raw, client, mut events, log) =
        acked_echo_client(config().outbox(8, Policy::Backpressure)).await;

    let first = client
        .send_all((0..100).map(|i| raw.encode(&json!({"id": i}))))
        .await
        .unwrap();
    assert_eq!(first.len(), 100);
    let second = client
        .send_all((100..150).map(|i| raw.encode(&json!({"id": i}))))
        .await
        .unwrap();
    assert_eq!(first.await.unwrap(), 100, "every message acknowledged");
    assert_eq!(second.await.unwrap(), 50);
    assert_eq!(
        logged_ids(&log),
        (0..150).collect::<Vec<u64>>(),
        "in order, none twice"
    );
    assert_eq!(client.pending(), 0);
    assert_eq!(client.stats().acked, 150);

    // The echoes come back through the event stream, taken in bursts.
    let mut buffer = Vec::new();
    let mut echoed = Vec::new();
    while echoed.len() < 150 {
        assert!(events.recv_many(&mut buffer, 64).await > 0);
        for event in buffer.drain(..) {
            if let Event::Message(RawMessage { json: Some(v), .. }) = event {
                echoed.push(v["id"].as_u64().unwrap());
            }
        }
    }
    assert_eq!(echoed, (0..150).collect::<Vec<u64>>());
}

#[tokio::test(start_paused = true)]
async fn under_reject_a_batch_queues_what_fits_and_hands_back_the_rest_in_order() {
    let cfg = config().outbox(10, Policy::Reject);
    let (client, _events) = never_connecting(Raw::json(), cfg);
    let error = client
        .send_all((0..15).map(|i| Frame::text(i.to_string())))
        .await
        .unwrap_err();
    assert_eq!(error.queued, 10);
    assert_eq!(error.receipt.len(), 10);
    match &error.error {
        SendError::Full(m) => assert_eq!(m.frame().as_text(), Some("10")),
        other => panic!("expected Full, got {other:?}"),
    }
    let rest: Vec<_> = error
        .rest
        .iter()
        .map(|m| m.frame().as_text().unwrap().to_owned())
        .collect();
    assert_eq!(rest, ["11", "12", "13", "14"]);
    assert_eq!(client.pending(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_message_too_large_stops_the_batch_and_the_ones_before_it_stay_queued() {
    let cfg = config().max_message_size(16);
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(echo(net.servers.recv().await.unwrap(), log.clone()));
    let batch = vec![
        Frame::text(r#"{"id":1}"#),
        Frame::text(r#"{"id":2}"#),
        Frame::text(format!(r#"{{"id":3,"pad":"{}"}}"#, "x".repeat(32))),
        Frame::text(r#"{"id":4}"#),
    ];
    let error = client.send_all(batch).await.unwrap_err();
    assert_eq!(error.queued, 2);
    assert!(
        matches!(error.error, SendError::TooLarge { size, limit: 16, .. } if size > 16),
        "{:?}",
        error.error
    );
    assert_eq!(error.rest.len(), 1);
    assert_eq!(error.receipt.await.unwrap(), 2);
    assert_eq!(logged_ids(&log), [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_receipt_hands_back_each_message_that_missed_its_deadline() {
    let cfg = config();
    let (client, _events) = never_connecting(Raw::json(), cfg);
    let receipt = client
        .send_all((0..5).map(|i| {
            Outgoing::new(Frame::text(i.to_string())).with_deadline(Duration::from_secs(2))
        }))
        .await
        .unwrap();
    let failed = receipt.await.unwrap_err();
    let texts: Vec<_> = failed
        .iter()
        .map(|e| match e {
            SendError::DeadlineExceeded { message: m, .. } => {
                m.frame().as_text().unwrap().to_owned()
            }
            other => panic!("expected DeadlineExceeded, got {other:?}"),
        })
        .collect();
    assert_eq!(texts, ["0", "1", "2", "3", "4"]);
    assert_eq!(client.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn closing_hands_a_batch_back_through_its_receipt() {
    let cfg = config();
    let (client, _events) = never_connecting(Raw::json(), cfg);
    let receipt = client
        .send_all((0..3).map(|i| Frame::text(i.to_string())))
        .await
        .unwrap();
    client.close().await;
    let failed = receipt.await.unwrap_err();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|e| matches!(e, SendError::Closed { .. })));
    let after = client.send_all([Frame::text("late")]).await.unwrap_err();
    assert_eq!(after.queued, 0);
    assert!(matches!(after.error, SendError::Closed { .. }));
}
