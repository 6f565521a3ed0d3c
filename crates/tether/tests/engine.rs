//! Engine behaviour over in-memory streams with paused time: the timing promises and
//! the outbox policies, without a network.
#![cfg(feature = "raw")]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::{
    config,
    duplex::{Next, echo, logged_ids, network, never_connecting, next_text},
};
use tether::{
    BackoffConfig, Client, ClientConfig, Event, Events, Frame, Outgoing, Policy, RequestError,
    SendError, State,
    raw::{Raw, RawMessage},
};
use tokio::time::Instant;
use tokio_websockets::{CloseCode, Message};

async fn wait_state(client: &Client<RawMessage>, pred: impl Fn(&State) -> bool) -> State {
    let mut rx = client.state();
    rx.wait_for(|s| pred(s)).await.unwrap().clone()
}

fn text(i: usize, pad: usize) -> String {
    json!({"id": i, "pad": "x".repeat(pad)}).to_string()
}

#[tokio::test(start_paused = true)]
async fn notices_a_half_open_connection_within_heartbeat_plus_dead_after_while_the_writer_is_blocked()
 {
    let cfg = config().outbox(100, Policy::Backpressure);
    let (connector, mut net) = network(1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    // The first server never reads nor writes: a half-open peer.
    let _silent = net.servers.recv().await.unwrap();
    client.ready().await.unwrap();
    let opened = Instant::now();
    for i in 0..100 {
        client.send(Frame::text(text(i, 1000))).await.unwrap();
    }
    // The outbox is full (and the 1 KiB socket buffer far more so).
    let full = client.try_send(Frame::text(text(100, 1000))).unwrap_err();
    assert!(matches!(full, SendError::Full(_)), "{full:?}");

    let state = wait_state(&client, |s| matches!(s, State::Reconnecting { .. })).await;
    let noticed = opened.elapsed();
    assert!(matches!(state, State::Reconnecting { attempt: 1, .. }));
    assert!(
        noticed <= Duration::from_secs(8),
        "noticed after {noticed:?}, bound is 5 s + 3 s"
    );
    assert!(
        noticed >= Duration::from_secs(3),
        "noticed too early: {noticed:?}"
    );

    // A live server comes back: every message arrives, in order.
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = net.servers.recv().await.unwrap();
    tokio::spawn(echo(server, log.clone()));
    assert_eq!(client.drain(Duration::from_secs(30)).await, Ok(()));
    let ids = logged_ids(&log);
    assert_eq!(ids, (0..100).collect::<Vec<u64>>());
}

#[tokio::test(start_paused = true)]
async fn replays_unacked_messages_in_order_before_newer_ones_after_reconnect() {
    let raw = Raw::json().ack_field("id");
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut receipts = Vec::new();
    for i in 0..20 {
        receipts.push(client.send(raw.encode(&json!({"id": i}))).await.unwrap());
    }
    let mut first = net.servers.recv().await.unwrap();
    // Read ten, acknowledge the first five, then vanish without a close frame.
    for i in 0..10 {
        let t = next_text(&mut first).await.unwrap();
        if i < 5 {
            first.send(Message::text(t)).await.unwrap();
        }
    }
    first.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(first);
    let late = client.send(raw.encode(&json!({"id": 20}))).await.unwrap();

    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(echo(net.servers.recv().await.unwrap(), log.clone()));
    for r in receipts {
        let delivered = r.await.unwrap();
        assert!(delivered.reply.is_some());
    }
    late.await.unwrap();
    let ids = logged_ids(&log);
    assert_eq!(
        ids,
        (5..=20).collect::<Vec<u64>>(),
        "unacked 5..9 first, in order, then the rest"
    );
    assert_eq!(client.stats().acked, 21);
}

#[tokio::test(start_paused = true)]
async fn reject_policy_hands_back_the_message_that_does_not_fit() {
    let cfg = config().outbox(100, Policy::Reject);
    let (client, _events) = never_connecting(Raw::json(), cfg);
    for i in 0..100 {
        client.send(Frame::text(text(i, 0))).await.unwrap();
    }
    let err = client.send(Frame::text(text(100, 0))).await.unwrap_err();
    match err {
        SendError::Full(message) => assert_eq!(message.frame().as_text().unwrap(), text(100, 0)),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(client.pending(), 100);
}

#[tokio::test(start_paused = true)]
async fn backpressure_makes_send_wait_until_an_ack_frees_room() {
    let raw = Raw::json().ack_field("id");
    let cfg = config().outbox(2, Policy::Backpressure);
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    client.send(raw.encode(&json!({"id": 2}))).await.unwrap();
    let third = {
        let client = client.clone();
        let raw = raw.clone();
        tokio::spawn(async move {
            client
                .send(raw.encode(&json!({"id": 3})))
                .await
                .map(|_| Instant::now())
        })
    };
    let mut server = net.servers.recv().await.unwrap();
    let first = next_text(&mut server).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !third.is_finished(),
        "send must wait while the outbox is full"
    );
    let acked_at = Instant::now();
    server.send(Message::text(first)).await.unwrap();
    let sent_at = third.await.unwrap().unwrap();
    assert!(sent_at >= acked_at);
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_counts_and_reports_the_dropped_message() {
    let cfg = config().outbox(2, Policy::DropOldest);
    let (client, mut events) = never_connecting(Raw::json(), cfg);
    let a = client.send(Frame::text("\"a\"")).await.unwrap();
    client.send(Frame::text("\"b\"")).await.unwrap();
    client.send(Frame::text("\"c\"")).await.unwrap();
    match a.await {
        Err(SendError::Dropped { message: m, .. }) => {
            assert_eq!(m.frame().as_text(), Some("\"a\""))
        }
        other => panic!("expected Dropped, got {other:?}"),
    }
    assert_eq!(client.stats().dropped, 1);
    assert_eq!(client.pending(), 2);
    let dropped = next_matching(&mut events, |e| matches!(e, Event::Dropped { .. })).await;
    match dropped {
        Event::Dropped { message: m, .. } => assert_eq!(m.frame().as_text(), Some("\"a\"")),
        _ => unreachable!(),
    }
}

async fn next_matching(
    events: &mut Events<RawMessage>,
    pred: impl Fn(&Event<RawMessage>) -> bool,
) -> Event<RawMessage> {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("event in time")
            .expect("stream open");
        if pred(&e) {
            return e;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn request_returns_the_reply_or_times_out_handing_the_message_back() {
    let raw = Raw::json().ack_field("id");
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let server = tokio::spawn(async move {
        let mut ws = net.servers.recv().await.unwrap();
        // Answer the first request, ignore the second.
        let t = next_text(&mut ws).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        ws.send(Message::text(
            json!({"id": v["id"], "answer": 42}).to_string(),
        ))
        .await
        .unwrap();
        let _ignored = next_text(&mut ws).await;
        ws
    });
    let reply = client
        .request(raw.encode(&json!({"id": "q1"})))
        .await
        .unwrap();
    assert_eq!(reply.json.unwrap()["answer"], 42);
    let err = client
        .request_within(raw.encode(&json!({"id": "q2"})), Duration::from_secs(2))
        .await
        .unwrap_err();
    match err {
        RequestError::Timeout { message, .. } => {
            assert_eq!(message.ack().unwrap().as_str(), "\"q2\"")
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(client.pending(), 0, "a timed-out request is withdrawn");
    let no_key = client.request(Frame::text("{}")).await.unwrap_err();
    assert!(matches!(no_key, RequestError::NoCorrelation(_)));
    drop(server);
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_with_full_jitter_and_the_attempt_limit_stops_the_client() {
    let cfg = ClientConfig::default().backoff(BackoffConfig {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(4),
        max_attempts: Some(4),
        seed: Some(42),
    });
    let (connector, net) = network(1024, cfg.clone());
    *net.next.lock().unwrap() = Next::Refuse;
    let (client, mut events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut delays = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            Event::State(State::Reconnecting { attempt, delay }) => delays.push((attempt, delay)),
            Event::State(State::Closed { reason, .. }) => {
                assert!(
                    matches!(reason, tether::CloseReason::GaveUp { attempts: 4, .. }),
                    "{reason}"
                );
                assert!(reason.to_string().contains("gave up after 4 attempts"));
                break;
            }
            _ => {}
        }
    }
    let ceilings = [1, 2, 4, 4];
    assert_eq!(delays.len(), 4);
    for ((attempt, delay), ceiling) in delays.iter().zip(ceilings) {
        assert!(
            *delay <= Duration::from_secs(ceiling),
            "attempt {attempt}: {delay:?} > {ceiling}s"
        );
    }
    assert_eq!(delays.iter().map(|d| d.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(*net.attempts.lock().unwrap(), 5);
    assert_eq!(client.stats().reconnects, 4);
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_close_is_fatal_and_hands_pending_messages_back() {
    let raw = Raw::json().ack_field("id");
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let receipt = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let _ = next_text(&mut ws).await;
    ws.send(Message::close(
        CloseCode::try_from(4001).ok(),
        "token refused",
    ))
    .await
    .unwrap();
    let state = client.closed().await;
    assert!(
        matches!(state, State::Closed { fatal: true, .. }),
        "{state:?}"
    );
    match receipt.await {
        Err(SendError::Fatal {
            message,
            reason,
            transmission,
        }) => {
            assert_eq!(message.ack().unwrap().as_str(), "1");
            assert_eq!(
                reason.error().and_then(tether::ConnectionError::close_code),
                Some(4001),
                "{reason}"
            );
            assert_eq!(
                transmission,
                tether::Transmission::Unconfirmed,
                "it was written before the refusal"
            );
        }
        other => panic!("expected Fatal, got {other:?}"),
    }
    let after = client
        .send(raw.encode(&json!({"id": 2})))
        .await
        .unwrap_err();
    assert!(matches!(after, SendError::Closed { .. }));
    assert_eq!(
        *net.attempts.lock().unwrap(),
        1,
        "no reconnect after a fatal close"
    );
}

#[tokio::test(start_paused = true)]
async fn handlers_run_by_name_errors_and_panics_are_isolated_and_replies_are_sent() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json().event_field("type"))
        .config(cfg)
        .connector(connector)
        .on("ping", move |m: &RawMessage| {
            s.lock().unwrap().push(m.text().unwrap().to_owned());
            Ok(Some(Outgoing::new(Frame::text(r#"{"type":"pong"}"#))))
        })
        .on("bad", |_| Err("nope".into()))
        .on("boom", |_| panic!("handler bug"))
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    for t in ["bad", "boom", "ping"] {
        ws.send(Message::text(json!({"type": t}).to_string()))
            .await
            .unwrap();
    }
    assert_eq!(next_text(&mut ws).await.unwrap(), r#"{"type":"pong"}"#);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(client.stats().handler_errors, 2);
    assert!(
        matches!(*client.state().borrow(), State::Ready),
        "the client goes on"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_json_is_counted_and_reported_and_the_connection_goes_on() {
    let handled = Arc::new(Mutex::new(0));
    let h = handled.clone();
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, mut events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .on_any(move |_| {
            *h.lock().unwrap() += 1;
            Ok(None)
        })
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    for t in ["{\"n\":1}", "{broken", "{\"n\":2}"] {
        ws.send(Message::text(t)).await.unwrap();
    }
    let e = next_matching(&mut events, |e| matches!(e, Event::DecodeError { .. })).await;
    assert!(matches!(e, Event::DecodeError { excerpt, .. } if excerpt == "{broken"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *handled.lock().unwrap(),
        2,
        "valid messages reach handlers, the broken one does not"
    );
    let stats = client.stats();
    assert_eq!(
        (stats.decode_errors, stats.connects, stats.messages_in),
        (1, 1, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_utf8_and_oversize_frames_fail_the_connection_with_1007_and_1009_then_reconnect() {
    let cfg = config().max_message_size(1024);
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    ws.send(Message::text(bytes::Bytes::from_static(b"\"\xff\xfe\"")))
        .await
        .unwrap();
    let close = ws.next().await.unwrap().unwrap();
    assert_eq!(close.as_close().map(|(c, _)| u16::from(c)), Some(1007));

    let mut ws = net.servers.recv().await.unwrap();
    ws.send(Message::binary(vec![0u8; 4096])).await.unwrap();
    let close = loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.is_close() {
            break m;
        }
    };
    assert_eq!(close.as_close().map(|(c, _)| u16::from(c)), Some(1009));

    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(echo(net.servers.recv().await.unwrap(), log.clone()));
    client
        .send(Frame::text("\"after\""))
        .await
        .unwrap()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*log.lock().unwrap(), ["\"after\""]);
    assert_eq!(client.stats().connects, 3);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_hands_the_message_back_when_it_passes_undelivered() {
    let cfg = config();
    let (client, mut events) = never_connecting(Raw::json(), cfg);
    let started = Instant::now();
    let receipt = client
        .send(Outgoing::new(Frame::text("1")).with_deadline(Duration::from_secs(16)))
        .await
        .unwrap();
    match receipt.await {
        Err(SendError::DeadlineExceeded { message: m, .. }) => {
            assert_eq!(m.frame().as_text(), Some("1"))
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(16) && waited < Duration::from_secs(17),
        "{waited:?}"
    );
    next_matching(&mut events, |e| {
        matches!(e, Event::Undelivered(SendError::DeadlineExceeded { .. }))
    })
    .await;
    assert_eq!(client.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn close_runs_the_handshake_and_hands_back_what_was_not_delivered() {
    let raw = Raw::json().ack_field("id");
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(raw.clone())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let receipt = client.send(raw.encode(&json!({"id": 9}))).await.unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let _ = next_text(&mut ws).await;
    let server = tokio::spawn(async move {
        // Keep reading: the close frame arrives and is answered by the server library.
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                return m.as_close().map(|(c, _)| u16::from(c));
            }
        }
        None
    });
    let state = client.close().await;
    assert_eq!(
        state,
        State::Closed {
            reason: tether::CloseReason::Requested,
            fatal: false
        }
    );
    assert_eq!(server.await.unwrap(), Some(1000));
    assert!(matches!(receipt.await, Err(SendError::Closed { .. })));
}

/// A platform with a login and an application heartbeat whose interval comes from the
/// server's hello, like Hiven's `hbt_int`.
#[derive(Debug, Default)]
struct Greeter {
    heartbeat: Option<Duration>,
}

impl tether::Protocol for Greeter {
    type Event = serde_json::Value;

    fn name(&self) -> &'static str {
        "greeter"
    }

    fn on_open(&mut self, out: &mut tether::Output<serde_json::Value>) {
        out.send(Frame::text(r#"{"op":"login","token":"t0k"}"#));
    }

    fn on_frame(
        &mut self,
        frame: Frame,
        out: &mut tether::Output<serde_json::Value>,
    ) -> Result<(), tether::DecodeError> {
        let v: serde_json::Value = serde_json::from_slice(frame.payload())
            .map_err(|e| tether::DecodeError::new(e.to_string()))?;
        match v["op"].as_str() {
            Some("welcome") => {
                self.heartbeat = v["hb"].as_u64().map(Duration::from_millis);
                out.ready();
            }
            Some("refused") => out.fail(tether::ConnectionError::LoginRefused("bad token".into())),
            _ => out.deliver(tether::Inbound::new(v)),
        }
        Ok(())
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat
    }

    fn heartbeat(&mut self) -> Option<Frame> {
        Some(Frame::text(r#"{"op":"hb"}"#))
    }

    fn on_close(&mut self) {
        self.heartbeat = None;
    }
}

#[tokio::test(start_paused = true)]
async fn login_goes_first_on_every_connection_and_queued_messages_wait_for_ready() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Greeter::default())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    for i in 0..3 {
        client
            .send(Frame::text(format!(r#"{{"n":{i}}}"#)))
            .await
            .unwrap();
    }
    let mut ws = net.servers.recv().await.unwrap();
    assert_eq!(
        next_text(&mut ws).await.unwrap(),
        r#"{"op":"login","token":"t0k"}"#
    );
    // Nothing else until the platform is ready.
    let early = tokio::time::timeout(Duration::from_secs(2), next_text(&mut ws)).await;
    assert!(
        early.is_err(),
        "a queued message went out before the login completed: {early:?}"
    );
    assert_eq!(*client.state().borrow(), State::Open);
    ws.send(Message::text(r#"{"op":"welcome"}"#)).await.unwrap();
    for i in 0..3 {
        assert_eq!(next_text(&mut ws).await.unwrap(), format!(r#"{{"n":{i}}}"#));
    }
    // Reconnect: login again, before anything queued meanwhile.
    drop(ws);
    client.send(Frame::text(r#"{"n":3}"#)).await.unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    assert_eq!(
        next_text(&mut ws).await.unwrap(),
        r#"{"op":"login","token":"t0k"}"#
    );
    ws.send(Message::text(r#"{"op":"welcome"}"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await.unwrap(), r#"{"n":3}"#);
}

#[tokio::test(start_paused = true)]
async fn the_app_heartbeat_follows_the_interval_the_server_announces() {
    let cfg = config()
        .heartbeat(Duration::from_secs(60))
        .dead_after(Duration::from_secs(60));
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (_client, _events) = Client::builder(Greeter::default())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let _login = next_text(&mut ws).await.unwrap();
    ws.send(Message::text(r#"{"op":"welcome","hb":2000}"#))
        .await
        .unwrap();
    let start = Instant::now();
    let mut at = Vec::new();
    for _ in 0..3 {
        let hb = tokio::time::timeout(Duration::from_secs(10), next_text(&mut ws))
            .await
            .expect("a heartbeat within 10 s");
        assert_eq!(hb.unwrap(), r#"{"op":"hb"}"#);
        at.push(start.elapsed().as_millis());
    }
    for (n, t) in at.iter().enumerate() {
        let expected = 2000 * (n as u128 + 1);
        assert!(
            (expected..expected + 50).contains(t),
            "heartbeat {n} at {t} ms, expected ~{expected} ms"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn pings_go_out_every_heartbeat_and_measure_the_round_trip() {
    let cfg = config().heartbeat(Duration::from_secs(5));
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let start = Instant::now();
    // The server library answers pings while it is polled.
    let mut pings = 0;
    while pings < 2 {
        let msg = ws.next().await.unwrap().unwrap();
        if msg.is_ping() {
            pings += 1;
            let elapsed = start.elapsed();
            assert!(
                elapsed >= Duration::from_secs(5 * pings)
                    && elapsed < Duration::from_secs(5 * pings + 1),
                "{elapsed:?}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(client.stats().heartbeat_rtt.is_some());
    assert!(
        matches!(*client.state().borrow(), State::Ready),
        "an answering peer is never declared dead"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_login_stops_the_client_with_a_fatal_error() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Greeter::default())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let _login = next_text(&mut ws).await.unwrap();
    ws.send(Message::text(r#"{"op":"refused"}"#)).await.unwrap();
    match client.closed().await {
        State::Closed {
            reason,
            fatal: true,
        } => assert!(
            matches!(
                reason.error(),
                Some(tether::ConnectionError::LoginRefused(_))
            ),
            "{reason}"
        ),
        other => panic!("expected a fatal close, got {other:?}"),
    }
    assert_eq!(*net.attempts.lock().unwrap(), 1);
}

/// A platform with a fixed application heartbeat and no login (like Moobius' 30 s one).
#[derive(Debug)]
struct Fixed;

impl tether::Protocol for Fixed {
    type Event = ();

    fn name(&self) -> &'static str {
        "fixed"
    }

    fn on_open(&mut self, out: &mut tether::Output<()>) {
        out.ready();
    }

    fn on_frame(
        &mut self,
        _frame: Frame,
        _out: &mut tether::Output<()>,
    ) -> Result<(), tether::DecodeError> {
        Ok(())
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(3))
    }

    fn heartbeat(&mut self) -> Option<Frame> {
        Some(Frame::text("hb"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_fixed_app_heartbeat_runs_from_the_first_connection_without_any_inbound_frame() {
    let cfg = config()
        .heartbeat(Duration::from_secs(60))
        .dead_after(Duration::from_secs(60));
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (_client, _events) = Client::builder(Fixed)
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    let start = Instant::now();
    for n in 1..=2u64 {
        let hb = tokio::time::timeout(Duration::from_secs(10), next_text(&mut ws))
            .await
            .expect("a heartbeat within 10 s");
        assert_eq!(hb.unwrap(), "hb");
        let t = start.elapsed();
        assert!(
            t >= Duration::from_secs(3 * n) && t < Duration::from_millis(3000 * n + 50),
            "{t:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_unread_event_stream_stays_bounded_while_drop_oldest_drops() {
    let cfg = config().outbox(2, Policy::DropOldest).event_capacity(4);
    let (client, mut events) = never_connecting(Raw::json(), cfg);
    for i in 0..20_000 {
        client.send(Frame::text(i.to_string())).await.unwrap();
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(client.stats().dropped, 19_998);
    let mut held = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        held += 1;
    }
    assert!(
        held > 0 && held <= 4096 + 4 + 2,
        "events held for an unread stream: {held}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refusal_that_crosses_our_close_is_still_reported_as_fatal() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Raw::json())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let mut ws = net.servers.recv().await.unwrap();
    client.ready().await.unwrap();
    // The refusal is on its way when the caller closes (no yield in between).
    ws.send(Message::close(
        CloseCode::try_from(4001).ok(),
        "token refused",
    ))
    .await
    .unwrap();
    let state = client.close().await;
    match state {
        State::Closed {
            reason,
            fatal: true,
        } => assert_eq!(
            reason.error().and_then(tether::ConnectionError::close_code),
            Some(4001),
            "{reason}"
        ),
        other => panic!("expected a fatal close, got {other:?}"),
    }
}
