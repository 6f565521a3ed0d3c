//! The connection actor is woken once per poll however many `send`s come in; these
//! tests check that no `send` is left waiting for something else (the next heartbeat)
//! to wake it, with senders racing the actor on other threads. Real time, multi-thread
//! runtime, in-memory streams; the heartbeat is a minute away, so a message stranded by a
//! missed wake-up would blow the per-message bound. And `try_send_deferred` leaves the
//! actor asleep until `wake` (paused time): what it queued goes out in order on one
//! wake-up, or on the actor's next turn of its own if nobody wakes it.
#![cfg(feature = "raw")]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use support::{
    config,
    duplex::{acked_echo_client, logged_ids},
};
use tether::{
    Client,
    raw::{Raw, RawMessage},
};

/// Far below the heartbeat: a message is acknowledged within this or it was stranded.
const PER_MESSAGE: Duration = Duration::from_secs(5);

/// A client acknowledged by an echo, heartbeat a minute away, Ready.
async fn ready_client() -> (Raw, Client<RawMessage>, Arc<Mutex<Vec<String>>>) {
    let cfg = config()
        .heartbeat(Duration::from_secs(60))
        .dead_after(Duration::from_secs(60));
    let (raw, client, mut events, log) = acked_echo_client(cfg).await;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    tokio::time::timeout(PER_MESSAGE, client.ready())
        .await
        .expect("ready in time")
        .unwrap();
    (raw, client, log)
}

/// Sends `count` messages one at a time, each after the previous one's ack.
async fn send_one_by_one(raw: Raw, client: Client<RawMessage>, first: u64, count: u64) {
    for id in first..first + count {
        let receipt = client.send(raw.encode(&json!({ "id": id }))).await.unwrap();
        tokio::time::timeout(PER_MESSAGE, receipt)
            .await
            .unwrap_or_else(|_| panic!("message {id} waited past {PER_MESSAGE:?}"))
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_sender_waiting_for_each_ack_is_never_stranded() {
    let (raw, client, log) = ready_client().await;
    send_one_by_one(raw, client.clone(), 0, 3_000).await;
    assert_eq!(log.lock().unwrap().len(), 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_on_two_threads_are_never_stranded() {
    let (raw, client, log) = ready_client().await;
    let senders: Vec<_> = (0..4)
        .map(|s| {
            tokio::spawn(send_one_by_one(
                raw.clone(),
                client.clone(),
                s * 10_000,
                1_000,
            ))
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(log.lock().unwrap().len(), 4_000);
}

#[tokio::test(start_paused = true)]
async fn deferred_sends_wait_for_one_wake_and_then_go_out_in_order() {
    let (raw, client, log) = ready_client().await;
    let receipts: Vec<_> = (0..3)
        .map(|id| {
            client
                .try_send_deferred(raw.encode(&json!({ "id": id })))
                .unwrap()
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        log.lock().unwrap().is_empty(),
        "written before anyone woke the actor"
    );
    client.wake();
    for receipt in receipts {
        tokio::time::timeout(PER_MESSAGE, receipt)
            .await
            .expect("acknowledged once woken")
            .unwrap();
    }
    let ids = logged_ids(&log);
    assert_eq!(ids, [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_deferred_send_nobody_wakes_for_goes_out_on_the_actors_next_turn() {
    let (raw, client, log) = ready_client().await;
    let receipt = client
        .try_send_deferred(raw.encode(&json!({ "id": 7 })))
        .unwrap();
    // The heartbeat, a minute away, is the actor's next turn of its own.
    tokio::time::timeout(Duration::from_secs(120), receipt)
        .await
        .expect("written on the heartbeat's turn")
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
}
