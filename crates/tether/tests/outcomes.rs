//! An outcome never contradicts the wire: a message handed back as *not sent* never
//! reached the server, and one the server received is reported delivered or
//! *unconfirmed* (written, no ack came: it may have arrived). One test per outcome kind
//! on paused time, and a stress test with senders racing the actor on two threads.
#![cfg(feature = "raw")]

mod support;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{
    config,
    duplex::{Network, network, never_connecting, next_text},
};
use tether::{
    Client, Event, Events, Policy, RequestError, SendError, Transmission,
    raw::{Raw, RawMessage},
};
use tokio::io::DuplexStream;
use tokio_websockets::{Message, WebSocketStream};

/// A client acknowledged by `id`, its connection's server side once it is Ready.
async fn connected(
    cfg: tether::ClientConfig,
) -> (
    Raw,
    Client<RawMessage>,
    Events<RawMessage>,
    WebSocketStream<DuplexStream>,
    Network,
) {
    let raw = Raw::json().ack_field("id");
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let ws = net.servers.recv().await.unwrap();
    client.ready().await.unwrap();
    (raw, client, events, ws, net)
}

fn id_of(text: &str) -> u64 {
    let v: Value = serde_json::from_str(text).unwrap();
    v["id"].as_u64().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_message_dropped_while_queued_is_not_sent() {
    let cfg = config().outbox(1, Policy::DropOldest);
    let raw = Raw::json().ack_field("id");
    let (client, _events) = never_connecting(raw.clone(), cfg);
    let first = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    client.send(raw.encode(&json!({"id": 2}))).await.unwrap();
    let error = first.await.unwrap_err();
    assert!(matches!(error, SendError::Dropped { .. }), "{error:?}");
    assert_eq!(error.transmission(), Transmission::NotSent);
    assert!(!error.to_string().contains("may have arrived"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_drops_a_queued_message_before_a_written_one_and_a_written_one_as_unconfirmed()
{
    let cfg = config().outbox(2, Policy::DropOldest);
    let (raw, client, mut events, mut ws, _net) = connected(cfg).await;
    // 1 is written and never acked.
    let one = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 1);
    // 2 is written too; 3 then takes the oldest slot: nothing is queued, so 1 goes.
    let two = client.send(raw.encode(&json!({"id": 2}))).await.unwrap();
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 2);
    let _three = client.send(raw.encode(&json!({"id": 3}))).await.unwrap();
    let error = one.await.unwrap_err();
    assert!(matches!(error, SendError::Dropped { .. }), "{error:?}");
    assert_eq!(error.transmission(), Transmission::Unconfirmed);
    assert!(error.to_string().contains("may have arrived"), "{error}");
    let dropped = loop {
        if let Event::Dropped {
            message,
            transmission,
        } = events.recv().await.unwrap()
        {
            break (message, transmission);
        }
    };
    assert_eq!(dropped.0.ack().unwrap().as_str(), "1");
    assert_eq!(dropped.1, Transmission::Unconfirmed);
    // Stall the writer's view of the queue: with 3 written, 2 and 3 are in flight; the
    // server acks 2, and 2 is delivered, not dropped.
    ws.send(Message::text(r#"{"id":2}"#)).await.unwrap();
    two.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_deadline_passing_while_queued_is_not_sent_and_after_writing_is_unconfirmed() {
    let raw = Raw::json().ack_field("id");
    let (client, _events) = never_connecting(raw.clone(), config());
    let queued = client
        .send(
            raw.encode(&json!({"id": 1}))
                .with_deadline(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let error = queued.await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::DeadlineExceeded {
                transmission: Transmission::NotSent,
                ..
            }
        ),
        "{error:?}"
    );

    let (raw, client, _events, mut ws, _net) = connected(config()).await;
    let written = client
        .send(
            raw.encode(&json!({"id": 7}))
                .with_deadline(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 7);
    let error = written.await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::DeadlineExceeded {
                transmission: Transmission::Unconfirmed,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_timing_out_says_whether_it_was_written() {
    let raw = Raw::json().ack_field("id");
    let (client, _events) = never_connecting(raw.clone(), config());
    let error = client
        .request_within(raw.encode(&json!({"id": 1})), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(error, RequestError::Timeout { .. }), "{error:?}");
    assert_eq!(error.transmission(), Transmission::NotSent);
    assert_eq!(client.pending(), 0, "withdrawn");

    let (raw, client, _events, mut ws, _net) = connected(config()).await;
    let request = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .request_within(raw.encode(&json!({"id": 2})), Duration::from_secs(1))
                .await
        }
    });
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 2);
    let error = request.await.unwrap().unwrap_err();
    assert_eq!(error.transmission(), Transmission::Unconfirmed, "{error:?}");
    assert!(error.to_string().contains("may have arrived"), "{error}");
    assert_eq!(client.pending(), 0, "withdrawn");
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_request_withdraws_it_from_the_outbox() {
    let (raw, client, _events, mut ws, _net) = connected(config()).await;
    let request = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .request_within(raw.encode(&json!({"id": 3})), Duration::from_secs(60))
                .await
        }
    });
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 3);
    assert_eq!(client.pending(), 1);
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    assert_eq!(client.pending(), 0, "withdrawn when its future is dropped");
}

#[tokio::test(start_paused = true)]
async fn closing_hands_back_queued_messages_as_not_sent_and_written_ones_as_unconfirmed() {
    let cfg = config();
    let (raw, client, mut events, mut ws, _net) = connected(cfg).await;
    let written = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    assert_eq!(id_of(&next_text(&mut ws).await.unwrap()), 1);
    // The server answers the close handshake but never acks 1.
    let server = tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    client.close().await;
    server.await.unwrap();
    assert!(matches!(
        written.await,
        Err(SendError::Closed {
            transmission: Transmission::Unconfirmed,
            ..
        })
    ));
    let after = client
        .send(raw.encode(&json!({"id": 2})))
        .await
        .unwrap_err();
    assert_eq!(after.transmission(), Transmission::NotSent);
    let mut undelivered = Vec::new();
    while let Some(event) = events.recv().await {
        if let Event::Undelivered(error) = event {
            undelivered.push(error);
        }
    }
    assert_eq!(undelivered.len(), 1, "{undelivered:?}");
    assert_eq!(undelivered[0].transmission(), Transmission::Unconfirmed);

    let raw = Raw::json().ack_field("id");
    let (client, _events) = never_connecting(raw.clone(), config());
    let queued = client.send(raw.encode(&json!({"id": 3}))).await.unwrap();
    client.close().await;
    assert!(matches!(
        queued.await,
        Err(SendError::Closed {
            transmission: Transmission::NotSent,
            ..
        })
    ));
}

/// What a sender learned of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Delivered,
    Failed(&'static str, Transmission),
}

/// The server: logs every id it receives; acks most of them after a short pause, leaves
/// some unacked, and drops its connection every few hundred messages.
async fn acking_server(
    mut ws: WebSocketStream<DuplexStream>,
    log: Arc<Mutex<Vec<u64>>>,
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut received = 0u32;
    while let Some(Ok(msg)) = ws.next().await {
        let Some(text) = msg.as_text() else {
            continue;
        };
        let id = id_of(text);
        log.lock().unwrap().push(id);
        received += 1;
        if received >= 300 && rng.u8(..) < 8 {
            return; // the connection dies with acks outstanding
        }
        if rng.u8(..) < 24 {
            continue; // never acked on this connection
        }
        if rng.u8(..) < 64 {
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        if ws.send(Message::text(text.to_owned())).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_racing_senders_drops_and_deadlines_no_outcome_contradicts_the_servers_log() {
    const SENDERS: u64 = 4;
    const EACH: u64 = 1_500;
    let cfg = config()
        .heartbeat(Duration::from_secs(60))
        .dead_after(Duration::from_secs(60))
        .backoff(tether::BackoffConfig {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts: None,
            seed: Some(3),
        })
        .outbox(32, Policy::DropOldest);
    let raw = Raw::json().ack_field("id");
    let (connector, mut net) = network(16 * 1024, cfg.clone());
    let (client, mut events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let server_log = log.clone();
    let acceptor = tokio::spawn(async move {
        let mut seed = 0;
        while let Some(ws) = net.servers.recv().await {
            seed += 1;
            tokio::spawn(acking_server(ws, server_log.clone(), seed));
        }
    });
    let event_reader = tokio::spawn(async move {
        let mut reported: Vec<(u64, &'static str, Transmission)> = Vec::new();
        while let Some(event) = events.recv().await {
            match event {
                Event::Dropped {
                    message,
                    transmission,
                } => reported.push((
                    id_of(message.frame().as_text().unwrap()),
                    "dropped",
                    transmission,
                )),
                Event::Undelivered(error) => reported.push((
                    id_of(error.message().frame().as_text().unwrap()),
                    error.kind(),
                    error.transmission(),
                )),
                _ => {}
            }
        }
        reported
    });

    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (raw, client) = (raw.clone(), client.clone());
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(100 + s);
                let mut receipts = Vec::new();
                for n in 0..EACH {
                    let id = s * EACH + n;
                    let mut message = raw.encode(&json!({ "id": id }));
                    if rng.u8(..) < 64 {
                        message = message.with_deadline(Duration::from_micros(rng.u64(50..3_000)));
                    }
                    receipts.push((id, client.send(message).await.unwrap()));
                    if n % 16 == 15 {
                        // Bursts with gaps: some messages get through, some are dropped.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    } else if rng.bool() {
                        tokio::task::yield_now().await;
                    }
                }
                receipts
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for sender in senders {
        receipts.extend(sender.await.unwrap());
    }
    // Acks still coming in are counted; then the close hands back the rest.
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.close().await;
    let mut outcomes: HashMap<u64, Outcome> = HashMap::new();
    for (id, receipt) in receipts {
        let outcome = tokio::time::timeout(Duration::from_secs(10), receipt)
            .await
            .expect("every receipt resolves once the client is closed");
        let outcome = match outcome {
            Ok(_) => Outcome::Delivered,
            Err(e) => Outcome::Failed(e.kind(), e.transmission()),
        };
        assert!(
            outcomes.insert(id, outcome).is_none(),
            "{id} has one receipt"
        );
    }
    let reported = event_reader.await.unwrap();
    acceptor.abort();
    let log: HashSet<u64> = log.lock().unwrap().iter().copied().collect();

    assert_eq!(outcomes.len() as u64, SENDERS * EACH);
    for (id, outcome) in &outcomes {
        match outcome {
            Outcome::Failed(kind, Transmission::NotSent) => assert!(
                !log.contains(id),
                "{id} was reported not sent ({kind}) but the server received it"
            ),
            Outcome::Failed(kind, Transmission::Refused) => {
                panic!("{id}: nothing is refused here ({kind})")
            }
            Outcome::Delivered | Outcome::Failed(_, Transmission::Unconfirmed) => {}
        }
    }
    for id in &log {
        assert!(
            matches!(
                outcomes[id],
                Outcome::Delivered | Outcome::Failed(_, Transmission::Unconfirmed)
            ),
            "the server received {id}, reported {:?}",
            outcomes[id]
        );
    }
    // Events: each failure reported once, and as its sender heard it.
    let mut seen = HashSet::new();
    for (id, kind, transmission) in &reported {
        assert!(seen.insert(*id), "{id} reported twice: {reported:?}");
        assert_eq!(
            outcomes[id],
            Outcome::Failed(kind, *transmission),
            "{id}: the event and the receipt agree"
        );
    }
    let failed = outcomes
        .values()
        .filter(|o| matches!(o, Outcome::Failed(..)))
        .count();
    assert_eq!(failed, reported.len(), "every failure has its event");

    // The race was run: every kind of outcome happened.
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.values().filter(|o| f(o)).count();
    let delivered = count(&|o| *o == Outcome::Delivered);
    let dropped_queued = count(&|o| *o == Outcome::Failed("dropped", Transmission::NotSent));
    let dropped_written = count(&|o| *o == Outcome::Failed("dropped", Transmission::Unconfirmed));
    let expired = count(&|o| matches!(o, Outcome::Failed("deadline", _)));
    eprintln!(
        "delivered {delivered}, dropped queued {dropped_queued}, dropped written \
         {dropped_written}, deadline {expired}, server received {}",
        log.len()
    );
    assert!(delivered > 0 && dropped_queued > 0 && dropped_written > 0 && expired > 0);
}
