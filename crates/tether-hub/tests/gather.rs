//! End to end: tether's Gather client against the hub's `gather` engine and `gather-api`
//! route on 127.0.0.1: discovery, `init` → `ready`, player events between clients of one
//! space, `transactionStatus` acknowledgements (failures with their reason), refusals,
//! secrets kept out of every output, and 1,000 actions acknowledged exactly once, in
//! order, through a dropped connection.

mod support;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use support::logs;
use tether::{
    AckKey, BackoffConfig, ClientConfig, Event, Events, State,
    gather::{
        Action, GatherClient, GatherError, ServerEvent, ack_key, decode_action, proto::init::Auth,
    },
};
use tether_hub::{Fault, Hub};
use tokio::sync::mpsc;

/// Generous bound for waits that take milliseconds when all is well.
const LIMIT: Duration = Duration::from_secs(20);
const API_KEY: &str = "gather-S3CRET-api-key";

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {LIMIT:?}: {what}"))
}

async fn hub() -> Hub {
    Hub::builder()
        .ephemeral()
        .record(true)
        .start()
        .await
        .expect("the hub starts")
}

fn config(seed: u64) -> ClientConfig {
    ClientConfig::default().backoff(BackoffConfig {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_attempts: None,
        seed: Some(seed),
    })
}

/// A client of `space` discovering the engine through the hub's API.
fn client(hub: &Hub, space: &str, seed: u64) -> GatherClient {
    GatherClient::builder(API_KEY, space)
        .api_root(hub.url("gather-api").expect("the gather-api endpoint"))
        .config(config(seed))
        .build()
}

/// Every event the client reports, forwarded to a channel read by the test.
fn forward(mut events: Events<ServerEvent>) -> mpsc::UnboundedReceiver<Event<ServerEvent>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next server event matching `pick`.
async fn next_event<T>(
    rx: &mut mpsc::UnboundedReceiver<Event<ServerEvent>>,
    what: &str,
    mut pick: impl FnMut(&ServerEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match rx.recv().await {
                Some(Event::Message(event)) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Some(_) => {}
                None => panic!("the event stream ended before {what}"),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_the_engine_logs_in_and_gets_its_user_id() {
    let hub = hub().await;
    let alice = client(&hub, "AbCdEf/My Space", 1);
    let mut events = forward(alice.connect().unwrap());
    within("ready", alice.ready()).await.unwrap();
    let user = alice.user_id().expect("ready gave a user id");
    let ready = next_event(&mut events, "ready", |e| match e {
        ServerEvent::Ready(r) => Some(r.id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready, user);

    // The hub saw init first, with the SDK's space id rule and the API key.
    let first = decode_action(hub.received("gather")[0].payload()).unwrap();
    let Some(Action::Init(init)) = first.action else {
        panic!("{first:?}")
    };
    assert_eq!(init.space_id, "AbCdEf\\My Space");
    assert_eq!(init.auth, Some(Auth::ApiKey(API_KEY.into())));

    // An action is acknowledged by the server's transactionStatus with its txnId.
    let receipt = alice.shoot_confetti(None).await.unwrap();
    let txn = receipt.txn_id();
    let status = within("ack", receipt).await.unwrap();
    assert!(status.succeeded);
    assert_eq!(status.txn_id, txn);
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_and_statuses_reach_the_other_players_of_the_space_only() {
    let hub = hub().await;
    let alice = client(&hub, "space-1", 2);
    let bob = client(&hub, "space-1", 3);
    let carol = client(&hub, "space-2", 4);
    let _alice_events = forward(alice.connect().unwrap());
    within("alice ready", alice.ready()).await.unwrap();
    let mut bob_events = forward(bob.connect().unwrap());
    let mut carol_events = forward(carol.connect().unwrap());
    within("bob ready", bob.ready()).await.unwrap();
    within("carol ready", carol.ready()).await.unwrap();
    let alice_id = alice.user_id().unwrap();

    // Bob learns Alice's encId from the players already in the space.
    let alice_enc = next_event(&mut bob_events, "alice's id mapping", |e| match e {
        ServerEvent::SpaceSetsIdMapping(m) if m.uid == alice_id => Some(m.enc_id),
        _ => None,
    })
    .await;

    within(
        "status ack",
        alice.set_text_status("in a meeting", None).await.unwrap(),
    )
    .await
    .unwrap();
    let status = next_event(&mut bob_events, "alice's status", |e| match e {
        ServerEvent::PlayerSetsTextStatus(s) => Some(s.clone()),
        _ => None,
    })
    .await;
    assert_eq!(status.enc_id, alice_enc);
    assert_eq!(status.text_status, "in a meeting");

    within(
        "chat ack",
        alice
            .chat("GLOBAL_CHAT", "hello bob", vec![], "office", None, None)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let chat = next_event(&mut bob_events, "alice's chat", |e| match e {
        ServerEvent::PlayerChats(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (chat.sender_id.as_str(), chat.contents.as_str()),
        (alice_id.as_str(), "hello bob")
    );

    // Carol, in another space, got none of it; Alice leaving is seen by Bob.
    alice.close().await;
    next_event(&mut bob_events, "alice's exit", |e| match e {
        ServerEvent::PlayerExits(x) if x.enc_id == alice_enc => Some(()),
        _ => None,
    })
    .await;
    carol.close().await;
    let mut seen = Vec::new();
    while let Some(event) = carol_events.recv().await {
        if let Event::Message(e) = event {
            seen.push(e.name());
        }
    }
    assert!(
        !seen.iter().any(|n| n.starts_with("player")),
        "carol saw another space's events: {seen:?}"
    );
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_reaches_the_caller_with_its_reason() {
    let hub = hub().await;
    let alice = client(&hub, "space", 5);
    let _events = forward(alice.connect().unwrap());
    within("ready", alice.ready()).await.unwrap();
    let receipt = alice
        .set_text_status("hi", Some("nobody-here".into()))
        .await
        .unwrap();
    let err = within("failure", receipt).await.unwrap_err();
    let GatherError::Failed { action, reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*action, "set_text_status");
    assert!(reason.contains("nobody-here"), "{reason}");
    // The client goes on.
    within("ack", alice.shoot_confetti(None).await.unwrap())
        .await
        .unwrap();
    alice.close().await;
}

// ---------------------------------------------------------------------------------------
// Refusals, and the API key never shows.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_keys_stop_the_client_and_no_key_ever_shows() {
    let logs = logs();
    let hub = hub().await;
    let mut shown = Vec::new();
    for (key, direct) in [("invalid-S3CRET-key", false), ("invalid-S3CRET-key", true)] {
        let mut builder = GatherClient::builder(key, "space").config(config(6));
        builder = if direct {
            builder.engine_url(hub.url("gather").unwrap())
        } else {
            builder.api_root(hub.url("gather-api").unwrap())
        };
        let client = builder.build();
        let mut events = client.connect().unwrap();
        let err = within("refusal", client.ready()).await.unwrap_err();
        let GatherError::Stopped(State::Closed {
            fatal: true,
            reason,
        }) = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            reason.to_string().contains(if direct {
                "init refused"
            } else {
                "refused the API key"
            }),
            "{reason}"
        );
        shown.push(format!("{err} {err:?} {client:?}"));
        while let Some(event) = events.recv().await {
            shown.push(format!("{event:?}"));
        }
    }
    // A good key: the client, its engine handle and its events.
    let client = client(&hub, "space", 7);
    let mut events = client.connect().unwrap();
    within("ready", client.ready()).await.unwrap();
    let engine = client.engine().unwrap();
    shown.push(format!("{client:?} {engine:?}"));
    client.close().await;
    while let Some(event) = events.recv().await {
        shown.push(format!("{event:?}"));
    }
    for text in &shown {
        assert!(!text.contains("S3CRET"), "the key shows in: {text}");
    }
    let logs = logs.text();
    assert!(logs.contains("gather"), "logs were captured:\n{logs}");
    assert!(!logs.contains("S3CRET"), "the key is in the logs:\n{logs}");
}

// ---------------------------------------------------------------------------------------
// A drop while 1,000 actions are in flight.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_with_a_thousand_actions_in_flight_acknowledges_each_exactly_once_in_order() {
    const COUNT: usize = 1000;
    let hub = hub().await;
    let alice = client(&hub, "space", 8);
    let mut events = alice.connect().unwrap();
    within("ready", alice.ready()).await.unwrap();
    // Every ack the client reports, in order.
    let acks = Arc::new(Mutex::new(Vec::new()));
    let reader = tokio::spawn({
        let acks = acks.clone();
        async move {
            while let Some(event) = events.recv().await {
                if let Event::Ack { key, .. } = event {
                    acks.lock().unwrap().push(key);
                }
            }
        }
    });

    // The server holds its answers back, so the drop finds actions written but not
    // acknowledged (and, depending on timing, some still queued).
    hub.fault("gather", &Fault::Delay { ms: 400 }).unwrap();
    hub.clear_received("gather");
    let mut receipts = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let text = format!("status {i}");
        receipts.push(alice.set_text_status(text, None).await.unwrap());
    }
    let txns: Vec<u32> = receipts.iter().map(|r| r.txn_id()).collect();
    let received = |hub: &Hub| -> Vec<u32> {
        hub.received("gather")
            .iter()
            .filter_map(|f| decode_action(f.payload()).ok())
            .filter(|a| matches!(a.action, Some(Action::SetTextStatus(_))))
            .filter_map(|a| a.txn_id)
            .collect()
    };
    within("the hub receives half", async {
        while received(&hub).len() < COUNT / 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    hub.fault("gather", &Fault::Drop { code: None }).unwrap();
    hub.fault("gather", &Fault::Delay { ms: 0 }).unwrap();

    for (i, receipt) in receipts.into_iter().enumerate() {
        let status = within("every receipt", receipt)
            .await
            .unwrap_or_else(|e| panic!("action {i} failed: {e}"));
        assert_eq!(status.txn_id, txns[i]);
    }
    let engine = alice.engine().unwrap();
    assert!(
        engine.stats().replayed > 0,
        "the drop found actions in flight"
    );
    assert_eq!(engine.stats().connects, 2);
    alice.close().await;
    reader.await.unwrap();

    // Acknowledged exactly once each, in the order sent.
    let acks = acks.lock().unwrap().clone();
    let want: Vec<AckKey> = txns.iter().map(|&t| ack_key(t)).collect();
    assert_eq!(acks, want);
    // Replayed with their original txnIds: the hub saw some twice, and first saw all of
    // them in the order sent.
    let seen = received(&hub);
    let mut first_seen = Vec::new();
    let mut set = HashSet::new();
    for t in &seen {
        if set.insert(*t) {
            first_seen.push(*t);
        }
    }
    assert_eq!(first_seen, txns);
    assert!(
        seen.len() > COUNT,
        "some actions were replayed: {}",
        seen.len()
    );
}

// ---------------------------------------------------------------------------------------
// The SDK's run(producer).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_gives_the_producer_a_logged_in_client_and_ends_with_it() {
    let hub = hub().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let alice = GatherClient::builder(API_KEY, "space")
        .api_root(hub.url("gather-api").unwrap())
        .config(config(9))
        .callback({
            let seen = seen.clone();
            move |client, event| {
                seen.lock()
                    .unwrap()
                    .push((event.name(), client.user_id().is_some()));
                // A panicking callback is isolated: the client goes on.
                assert!(!matches!(event, ServerEvent::ServerHeartbeat(_)), "boom");
            }
        })
        .build();
    let user = Arc::new(Mutex::new(None));
    within(
        "run",
        alice.run({
            let user = user.clone();
            |client| async move {
                *user.lock().unwrap() = client.user_id();
                client.shoot_confetti(None).await?.await?;
                Ok(())
            }
        }),
    )
    .await
    .unwrap();
    assert!(
        user.lock().unwrap().is_some(),
        "the producer ran after ready"
    );
    assert!(!alice.is_connected(), "run closes when the producer ends");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&("ready", true)), "{seen:?}");
    assert!(seen.contains(&("serverHeartbeat", true)), "{seen:?}");
    assert!(
        seen.iter()
            .filter(|(n, _)| *n == "transactionStatus")
            .count()
            >= 2,
        "{seen:?}"
    );

    // A producer's error ends run with it; a refused key ends run as stopped.
    let bob = client(&hub, "space", 10);
    let err = within(
        "run",
        bob.run(|_| async { Err::<(), _>("the producer gave up".into()) }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, GatherError::Producer(_)), "{err:?}");
    let refused = GatherClient::builder("invalid-key", "space")
        .api_root(hub.url("gather-api").unwrap())
        .build();
    let err = within("run", refused.run(|_| async { Ok(()) }))
        .await
        .unwrap_err();
    assert!(matches!(err, GatherError::Stopped(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_is_not_a_batch_is_a_decode_error_and_the_client_goes_on() {
    let hub = hub().await;
    let alice = client(&hub, "space", 11);
    let mut events = forward(alice.connect().unwrap());
    within("ready", alice.ready()).await.unwrap();
    hub.fault(
        "gather",
        &Fault::Garbage {
            garbage: tether_hub::Garbage::InvalidJson,
            bytes: None,
        },
    )
    .unwrap();
    let reason = within("the decode error", async {
        loop {
            match events.recv().await {
                Some(Event::DecodeError { reason, .. }) => return reason,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await;
    assert!(reason.contains("text frame"), "{reason}");
    within(
        "ack after garbage",
        alice.shoot_confetti(None).await.unwrap(),
    )
    .await
    .unwrap();
    let engine = alice.engine().unwrap();
    assert_eq!(engine.stats().decode_errors, 1);
    assert_eq!(engine.stats().connects, 1, "the connection went on");
    alice.close().await;
}
