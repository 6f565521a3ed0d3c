//! End to end: the engine against an in-process WebSocket server on real TCP
//! (127.0.0.1 only) that crashes, refuses, restarts, goes silent, sends garbage and
//! refuses a token. Every timed bound is generous: these tests check promises, never speed.

mod support;

use std::{
    collections::HashSet,
    future::Future,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;
use support::server::Server;
use tether::{
    AckKey, BackoffConfig, Client, ClientConfig, Event, Events, Frame, Outgoing, Policy, SendError,
    State,
    raw::{Raw, RawMessage},
};
use tokio::sync::watch;
use tokio_websockets::{CloseCode, Message};

const TOKEN: &str = "s3cr3t-TOKEN-value";

/// A `tracing` writer appending to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every log line of this test binary, at TRACE. Every test calls this before it starts
/// a client.
///
/// One global subscriber, not a thread-local one (`set_default` on a current-thread
/// runtime): tracing caches each callsite's interest for the whole process, computed
/// with the subscriber of whichever thread reaches the callsite first, so a thread-local
/// subscriber misses events whose callsite another test's thread reached first (seen
/// here: "connection lost" went missing now and then). Installed before any client
/// exists, the global one sees every event; the token test then checks the logs of every
/// client in the binary, which only makes it stricter.
fn logs() -> &'static Capture {
    static LOGS: LazyLock<Capture> = LazyLock::new(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer({
                let capture = capture.clone();
                move || capture.clone()
            })
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this binary");
        capture
    });
    &LOGS
}

fn fast_backoff(seed: u64) -> BackoffConfig {
    BackoffConfig {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_attempts: None,
        seed: Some(seed),
    }
}

/// Awaits `future`, failing the test if it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}

/// Polls `done` until it holds, failing the test after `limit`.
async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_ready(client: &Client<RawMessage>) -> bool {
    *client.state().borrow() == State::Ready
}

fn id_of(text: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(text).expect("the client sent JSON");
    value["id"].as_u64().expect("a numeric id")
}

/// The ids the server saw, each once, in the order it first saw them.
fn first_seen_ids(log: &[String]) -> Vec<u64> {
    let mut seen = HashSet::new();
    log.iter()
        .map(|text| id_of(text))
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Asserts `ids` is exactly `0..count`, naming the first place it is not.
fn assert_all_in_order(ids: &[u64], count: usize) {
    if let Some(at) = (0..count).position(|i| ids.get(i) != Some(&(i as u64))) {
        let around = &ids[at.saturating_sub(3)..(at + 4).min(ids.len())];
        panic!(
            "first-seen order breaks at position {at}: expected id {at}, got {:?} (around: {around:?}); \
             {} distinct ids of {count}",
            ids.get(at),
            ids.len()
        );
    }
    assert_eq!(ids.len(), count, "ids beyond those sent arrived");
}

/// Reads the event stream to its end so reading from the socket never pauses for it.
fn drain(mut events: Events<RawMessage>) {
    tokio::spawn(async move { while events.recv().await.is_some() {} });
}

// ---------------------------------------------------------------------------------------
// Crashes, refusals, restarts: nothing lost, nothing reordered.

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Every live connection drops without a close frame.
    Kill,
    /// Connections drop, and new ones are refused for a while.
    Refuse,
    /// The listener goes away with the connections and comes back on the same port.
    Restart,
}

impl Fault {
    const ALL: [Fault; 3] = [Fault::Kill, Fault::Refuse, Fault::Restart];

    async fn strike(self, server: &Server) {
        match self {
            Fault::Kill => server.kill(),
            Fault::Refuse => {
                server.refuse();
                server.kill();
                tokio::time::sleep(Duration::from_millis(200)).await;
                server.echo();
            }
            Fault::Restart => server.restart(Duration::from_millis(50)).await,
        }
    }
}

/// Five faults at seeded moments (counted in messages handed to `send`), every kind at
/// least once.
fn fault_plan(seed: u64, messages: usize) -> Vec<(usize, Fault)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut kinds = Fault::ALL.to_vec();
    kinds.extend((0..2).map(|_| Fault::ALL[rng.usize(..Fault::ALL.len())]));
    rng.shuffle(&mut kinds);
    let mut moments: Vec<usize> = (0..kinds.len())
        .map(|_| rng.usize(messages / 20..messages * 9 / 10))
        .collect();
    moments.sort_unstable();
    moments.into_iter().zip(kinds).collect()
}

/// Strikes each fault once `sent` reaches its moment, always on a connection that came
/// up after the previous fault (so every fault costs the client a connection), then
/// waits for the client to connect once more. Returns what happened, for the log.
async fn strike_faults(
    server: Arc<Server>,
    mut sent: watch::Receiver<usize>,
    plan: Vec<(usize, Fault)>,
) -> Vec<String> {
    let mut upgrades = 0;
    let mut struck = Vec::new();
    for (moment, fault) in plan {
        sent.wait_for(|n| *n >= moment)
            .await
            .expect("the test holds the sender");
        until(
            Duration::from_secs(30),
            "a reconnect after the previous fault",
            || server.upgrades() > upgrades,
        )
        .await;
        upgrades = server.upgrades();
        struck.push(format!(
            "{fault:?} with {} sent, {} received",
            *sent.borrow(),
            server.received().len()
        ));
        fault.strike(&server).await;
    }
    until(
        Duration::from_secs(30),
        "a reconnect after the last fault",
        || server.upgrades() > upgrades,
    )
    .await;
    struck
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_message_arrives_in_order_while_the_server_crashes_refuses_and_restarts() {
    const MESSAGES: usize = 10_000;
    logs();
    let server = Arc::new(Server::start().await);
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .backoff(fast_backoff(11))
        .outbox(1024, Policy::Backpressure);
    let (client, events) = Client::builder(raw.clone())
        .url(server.url())
        .config(config)
        .start()
        .unwrap();
    drain(events);

    let (progress, sent) = watch::channel(0);
    let plan = fault_plan(20_240_611, MESSAGES);
    let faults = tokio::spawn(strike_faults(server.clone(), sent, plan.clone()));
    // ~1 KiB messages: enough that the writer now and then waits on the socket, so a
    // crash finds messages both written-but-unacked and still queued, and the replay
    // must come before the queued ones.
    let pad = "x".repeat(1000);
    let sender = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut receipts = Vec::with_capacity(MESSAGES);
            for i in 0..MESSAGES {
                let message = raw.encode(&json!({"id": i, "pad": pad}));
                match client.send(message).await {
                    Ok(receipt) => receipts.push(receipt),
                    Err(e) => panic!("send of message {i} failed: {e}"),
                }
                progress.send_replace(i + 1);
            }
            (receipts, progress)
        })
    };

    let (receipts, _progress) = within(Duration::from_secs(120), "sending", sender)
        .await
        .expect("send never fails");
    within(Duration::from_secs(120), "every receipt", async {
        for (i, receipt) in receipts.into_iter().enumerate() {
            if let Err(e) = receipt.await {
                panic!("message {i} was not delivered: {e}");
            }
        }
    })
    .await;
    let struck = within(Duration::from_secs(60), "the faults", faults)
        .await
        .unwrap();

    assert_all_in_order(&first_seen_ids(&server.received()), MESSAGES);
    let stats = client.stats();
    assert!(
        stats.reconnects >= plan.len() as u64,
        "{} reconnects for {} faults ({plan:?})",
        stats.reconnects,
        plan.len()
    );
    assert_eq!(stats.acked, MESSAGES as u64);
    let duplicates = (server.received().len() - MESSAGES) as u64;
    assert!(
        stats.replayed >= duplicates,
        "every message the server got twice was replayed: {} replayed, {duplicates} duplicates",
        stats.replayed
    );
    eprintln!(
        "faults: {struck:?}; {} reconnects, {} replayed, {} received in all",
        stats.reconnects,
        stats.replayed,
        server.received().len()
    );
}

// ---------------------------------------------------------------------------------------
// A silent (half-open) server, while the writer is blocked on a full socket.

/// Waits until the client stops getting bytes out on its first connection (unchanged
/// for 100 ms) and returns how many it got out; `None` if that connection ended first.
async fn bytes_out_once_blocked(client: &Client<RawMessage>) -> Option<u64> {
    let mut last = client.stats().bytes_out;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stats = client.stats();
        if stats.reconnects > 0 {
            return None;
        }
        if stats.bytes_out == last && last > 0 {
            return Some(last);
        }
        last = stats.bytes_out;
    }
    None
}

/// Reads every event; reports when the first `Reconnecting` state came and what error
/// ended the connection before it.
fn watch_first_reconnect(
    mut events: Events<RawMessage>,
) -> tokio::sync::oneshot::Receiver<(Instant, String)> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut error = String::new();
        while let Some(event) = events.recv().await {
            match event {
                Event::Disconnected { error: e, .. } if error.is_empty() => error = e,
                Event::State(State::Reconnecting { .. }) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send((Instant::now(), error.clone()));
                    }
                }
                _ => {}
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_noticed_and_the_client_recovers_with_nothing_lost() {
    const MESSAGES: usize = 200;
    const PAD: usize = 64 * 1024;
    logs();
    let server = Server::start().await;
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .heartbeat(Duration::from_secs(1))
        .dead_after(Duration::from_secs(1))
        .backoff(fast_backoff(2))
        .outbox(MESSAGES, Policy::Backpressure);
    let (client, events) = Client::builder(raw.clone())
        .url(server.url())
        .config(config)
        .start()
        .unwrap();
    let reconnecting = watch_first_reconnect(events);
    within(Duration::from_secs(10), "ready", client.ready())
        .await
        .unwrap();
    // Built beforehand, so the outbox fills at once after the stall.
    let messages: Vec<Outgoing> = (0..MESSAGES)
        .map(|i| raw.encode(&json!({"id": i, "pad": "x".repeat(PAD)})))
        .collect();
    let total: u64 = messages.iter().map(|m| m.frame().len() as u64).sum();

    server.stall();
    let stalled = Instant::now();
    let mut receipts = Vec::new();
    for message in messages {
        receipts.push(client.send(message).await.unwrap());
    }
    // The premise: ~13 MB is far more than the socket buffers hold, so the writer blocks.
    let written = bytes_out_once_blocked(&client)
        .await
        .expect("the writer blocks on the first connection before it is given up");
    assert!(
        written < total,
        "the writer got everything out ({written} of {total} bytes): nothing was blocked"
    );

    let (noticed, error) = within(
        Duration::from_secs(10).saturating_sub(stalled.elapsed()),
        "the silent server to be noticed (10 s from the stall)",
        reconnecting,
    )
    .await
    .unwrap();
    assert!(
        error.contains("peer silent"),
        "the watchdog noticed it, not something else: {error}"
    );
    let after = noticed - stalled;

    server.echo();
    within(
        Duration::from_secs(60),
        "every receipt after the recovery",
        async {
            for (i, receipt) in receipts.into_iter().enumerate() {
                if let Err(e) = receipt.await {
                    panic!("message {i} was not delivered: {e}");
                }
            }
        },
    )
    .await;
    assert_all_in_order(&first_seen_ids(&server.received()), MESSAGES);
    eprintln!(
        "silent server noticed {after:?} after the stall; the writer was blocked at {written} of {total} bytes"
    );
}

// ---------------------------------------------------------------------------------------
// Garbage from the server: bad payloads are survived, protocol violations reconnect.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_between_valid_messages_is_survived_and_protocol_violations_reconnect() {
    logs();
    let server = Server::start().await;
    let raw = Raw::json().ack_field("id");
    let handled = Arc::new(Mutex::new(Vec::new()));
    let (client, events) = Client::builder(raw.clone())
        .url(server.url())
        .config(
            ClientConfig::default()
                .backoff(fast_backoff(3))
                .max_message_size(64 * 1024),
        )
        .on_any({
            let handled = handled.clone();
            move |message| {
                handled
                    .lock()
                    .unwrap()
                    .push(message.text().unwrap_or_default().to_owned());
                Ok(None)
            }
        })
        .start()
        .unwrap();
    drain(events);
    let limit = Duration::from_secs(10);
    within(limit, "ready", client.ready()).await.unwrap();

    // Invalid JSON between two valid messages: counted, not routed, the connection goes on.
    for text in [r#"{"n":1}"#, "{broken", r#"{"n":2}"#] {
        server.send(Message::text(text));
    }
    until(limit, "both valid messages handled", || {
        handled.lock().unwrap().len() >= 2
    })
    .await;
    assert_eq!(*handled.lock().unwrap(), [r#"{"n":1}"#, r#"{"n":2}"#]);
    let stats = client.stats();
    assert_eq!((stats.decode_errors, stats.connects), (1, 1));

    // Invalid UTF-8 in a text frame: the client fails the connection with 1007.
    server.send(Message::text(bytes::Bytes::from_static(b"\xff\xfe")));
    until(limit, "the client's close frame", || {
        !server.close_codes().is_empty()
    })
    .await;
    assert_eq!(server.close_codes(), [1007]);
    until(limit, "the second connection", || {
        client.stats().connects == 2 && is_ready(&client)
    })
    .await;

    // A frame over the client's size limit: 1009.
    server.send(Message::binary(vec![0u8; 100 * 1024]));
    until(limit, "the client's close frame", || {
        server.close_codes().len() >= 2
    })
    .await;
    assert_eq!(server.close_codes(), [1007, 1009]);
    until(limit, "the third connection", || {
        client.stats().connects == 3 && is_ready(&client)
    })
    .await;

    // And the client goes on.
    let receipt = client
        .send(raw.encode(&json!({"id": "after"})))
        .await
        .unwrap();
    within(limit, "the last message's ack", receipt)
        .await
        .unwrap();
    assert_eq!(server.received(), [r#"{"id":"after"}"#]);
    // The receipt resolves as the ack is read; handlers run right after.
    until(limit, "the ack to reach the handler", || {
        handled.lock().unwrap().len() >= 3
    })
    .await;
    assert_eq!(
        *handled.lock().unwrap(),
        [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"id":"after"}"#],
        "only valid messages reach the handler"
    );
    let stats = client.stats();
    assert_eq!((stats.decode_errors, stats.connects), (1, 3));
}

// ---------------------------------------------------------------------------------------
// The token never shows.

#[tokio::test]
async fn the_token_never_appears_in_logs_events_errors_or_debug() {
    let logs = logs();
    let shown = refuse_the_token().await;

    let logs = logs.text();
    // The logs were captured, from this test's client (no other test has a 4001 or such
    // an excerpt), with the token redacted where it was about to show.
    for expected in [
        "excerpt=not json: <redacted>",
        "peer sent a close frame code=Some(4001) reason=token <redacted> refused",
        "connection lost error=closed by peer (code 4001",
    ] {
        assert!(
            logs.contains(expected),
            "logs were captured: {expected:?} missing in\n{logs}"
        );
    }
    assert!(!logs.contains(TOKEN), "the token is in the logs:\n{logs}");
    for text in &shown {
        assert!(!text.contains(TOKEN), "the token shows in: {text}");
    }
}

/// Runs a client with a token through everything that could show it; returns every
/// `Debug`/`Display` text it produced (config, events, final state, errors).
async fn refuse_the_token() -> Vec<String> {
    let limit = Duration::from_secs(10);
    let server = Server::start().await;
    let raw = Raw::json().ack_field("id");
    let config = ClientConfig::default()
        .token(TOKEN)
        .backoff(fast_backoff(4));
    let mut shown = vec![format!("{config:?}")];
    let (client, mut events) = Client::builder(raw.clone())
        .url(server.url())
        .config(config)
        .start()
        .unwrap();
    let all_events = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(event) = events.recv().await {
            all.push(event);
        }
        all
    });
    within(limit, "ready", client.ready()).await.unwrap();
    assert_eq!(
        server.authorizations(),
        [Some(format!("Bearer {TOKEN}"))],
        "the token was sent on the upgrade"
    );

    // An acknowledged message carrying the token: its echo comes back as an event.
    let receipt = client
        .send(raw.encode(&json!({"id": 1, "text": format!("my token is {TOKEN}")})))
        .await
        .unwrap();
    within(limit, "the ack", receipt).await.unwrap();

    // Invalid JSON carrying the token: logged and reported with an excerpt.
    server.send(Message::text(format!("not json: {TOKEN}")));
    until(limit, "the decode error", || {
        client.stats().decode_errors == 1
    })
    .await;

    // A message the echo cannot acknowledge (no `id` field): pending when the server
    // refuses the token with 4001 and a reason that repeats it.
    let pending = client
        .send(
            Outgoing::new(Frame::text(json!({"text": TOKEN}).to_string()))
                .with_ack(AckKey::new("\"never\"")),
        )
        .await
        .unwrap();
    until(limit, "the server to get it", || {
        server.received().len() == 2
    })
    .await;
    server.send(Message::close(
        CloseCode::try_from(4001).ok(),
        &format!("token {TOKEN} refused"),
    ));

    let state = within(limit, "the fatal close", client.closed()).await;
    match &state {
        State::Closed { reason, fatal } => {
            assert!(*fatal, "a refused token is fatal: {reason}");
            assert!(reason.contains("4001"), "{reason}");
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    shown.push(format!("{state:?}"));
    let error = within(limit, "the pending receipt", pending)
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Fatal { .. }), "{error:?}");
    shown.push(format!("{error:?} / {error}"));
    let error = client
        .send(raw.encode(&json!({"id": 3, "text": TOKEN})))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Closed(_)), "{error:?}");
    shown.push(format!("{error:?} / {error}"));
    shown.push(format!("{client:?}"));

    let all_events = within(limit, "the end of the event stream", all_events)
        .await
        .unwrap();
    assert!(
        all_events
            .iter()
            .any(|e| matches!(e, Event::DecodeError { .. }))
            && all_events.iter().any(|e| matches!(e, Event::Message(_)))
            && all_events
                .iter()
                .any(|e| matches!(e, Event::Disconnected { fatal: true, .. })),
        "the events include the decode error, the echoed messages and the refusal: {all_events:?}"
    );
    shown.extend(all_events.iter().map(|e| format!("{e:?}")));
    shown
}
