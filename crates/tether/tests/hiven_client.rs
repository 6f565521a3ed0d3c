//! The typed Hiven client over the engine, against scripted Swarm servers on in-memory
//! streams with paused time: login, ready and handler order, op 3 heartbeats at the
//! hello's interval, a refused token, reconnect, and a silent Swarm noticed by pings.
#![cfg(all(feature = "hiven", feature = "raw"))]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::SinkExt;
use serde_json::json;
use support::duplex::{network, next_text};
use tether::{
    BackoffConfig, ClientConfig, State,
    hiven::{
        ConnectionStatus, Envelope, EventHandler, HandlerResult, HivenClient, HivenError, House,
        InitState, InvalidToken, Message, ReadyInfo,
    },
};
use tokio::{io::DuplexStream, time::Instant};
use tokio_websockets::{CloseCode, Message as WsMessage, WebSocketStream};

type Server = WebSocketStream<DuplexStream>;

fn token() -> String {
    "B0t".repeat(44)
}

fn config() -> ClientConfig {
    ClientConfig::default()
        .heartbeat(Duration::from_secs(5))
        .dead_after(Duration::from_secs(3))
        .backoff(BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(100),
            max_attempts: None,
            seed: Some(7),
        })
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, s: &str) -> usize {
        self.log().iter().filter(|e| *e == s).count()
    }
}

impl EventHandler for Recorder {
    async fn on_init(&self, _: &HivenClient, init: &InitState) -> HandlerResult {
        self.push(format!("init {}", init.user.id));
        Ok(())
    }
    async fn on_house_join(&self, _: &HivenClient, house: &House) -> HandlerResult {
        self.push(format!("join {}", house.id));
        Ok(())
    }
    async fn on_ready(&self, _: &HivenClient, ready: &ReadyInfo) -> HandlerResult {
        self.push(format!("ready {}", ready.house_ids.len()));
        Ok(())
    }
    async fn on_message_create(&self, _: &HivenClient, m: &Message) -> HandlerResult {
        self.push(format!("message {}", m.content));
        if m.content == "boom" {
            panic!("handler panicked on purpose");
        }
        if m.content == "err" {
            return Err("handler failed on purpose".into());
        }
        Ok(())
    }
}

fn init_state(houses: &[&str]) -> String {
    let memberships: serde_json::Map<String, serde_json::Value> = houses
        .iter()
        .map(|h| ((*h).to_owned(), json!({"house_id": h})))
        .collect();
    Envelope::event(
        "INIT_STATE",
        json!({"user": {"id": "42", "username": "bot", "name": "Bot"},
               "house_memberships": memberships, "relationships": {}}),
    )
    .to_text()
}

fn house_join(id: &str) -> String {
    Envelope::event(
        "HOUSE_JOIN",
        json!({"id": id, "name": id, "rooms": [], "members": [], "entities": []}),
    )
    .to_text()
}

async fn send(server: &mut Server, text: String) {
    server.send(WsMessage::text(text)).await.unwrap();
}

/// The server side of a login: hello, then the client's op 2 and op 3.
async fn login(server: &mut Server, hbt: u64) {
    send(server, Envelope::hello(hbt).to_text()).await;
    let auth = next_text(server).await.unwrap();
    assert_eq!(
        auth,
        format!(r#"{{"op": 2, "d": {{"token": "{}"}}}}"#, token())
    );
    assert_eq!(next_text(server).await.unwrap(), r#"{"op": 3}"#);
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn logs_in_becomes_ready_after_a_burst_of_house_joins_and_runs_handlers_in_order() {
    let (connector, mut net) = network(64 * 1024, config());
    let client = HivenClient::builder(token())
        .config(config())
        .connector(connector)
        .build()
        .unwrap();
    assert_eq!(client.connection_status(), ConnectionStatus::Closed);
    assert!(!client.initialized());
    let recorder = Recorder::default();
    let run = tokio::spawn({
        let (client, recorder) = (client.clone(), recorder.clone());
        async move { client.run(recorder).await }
    });
    let mut server = net.servers.recv().await.unwrap();
    login(&mut server, 2000).await;
    assert!(client.initialized(), "the socket is up");
    assert!(!client.ready(), "not before INIT_STATE");
    // INIT_STATE and both joins in one burst (hiven.py never fires ready here).
    for text in [init_state(&["1", "2"]), house_join("1"), house_join("2")] {
        server.send(WsMessage::text(text)).await.unwrap();
    }
    client.wait_ready().await.unwrap();
    assert!(client.ready());
    assert_eq!(client.connection_status(), ConnectionStatus::Open);
    assert!(client.startup_time().is_some());
    assert_eq!(client.user().unwrap().id, "42");

    for content in ["hi", "boom", "err", "after"] {
        let m = json!({"id": "9", "room_id": "5", "author_id": "1", "content": content});
        send(&mut server, Envelope::event("MESSAGE_CREATE", m).to_text()).await;
    }
    until("the last message", || recorder.count("message after") == 1).await;
    assert_eq!(
        recorder.log(),
        [
            "init 42",
            "join 1",
            "join 2",
            "ready 2",
            "message hi",
            "message boom",
            "message err",
            "message after"
        ]
    );
    assert_eq!(
        client.handler_errors(),
        2,
        "a panic and an error, both isolated"
    );

    // op 3 every hbt_int (2 s), measured on the server.
    let mut at = Vec::new();
    for _ in 0..3 {
        assert_eq!(next_text(&mut server).await.unwrap(), r#"{"op": 3}"#);
        at.push(Instant::now());
    }
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(1900) && gap <= Duration::from_millis(2100),
            "{gap:?}"
        );
    }

    assert!(matches!(
        client.close().await,
        Some(State::Closed { fatal: false, .. })
    ));
    assert!(run.await.unwrap().is_ok());
    assert_eq!(client.connection_status(), ConnectionStatus::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_stops_the_client_without_a_reconnect_loop() {
    let (connector, mut net) = network(64 * 1024, config());
    let client = HivenClient::builder(token())
        .config(config())
        .connector(connector)
        .build()
        .unwrap();
    let run = tokio::spawn({
        let client = client.clone();
        async move { client.run(Recorder::default()).await }
    });
    let mut server = net.servers.recv().await.unwrap();
    login(&mut server, 30000).await;
    server
        .send(WsMessage::close(
            Some(CloseCode::try_from(4001).unwrap()),
            "invalid token",
        ))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut server).await,
        None,
        "the client answers the close"
    );
    let err = run.await.unwrap().unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    assert!(matches!(
        err,
        HivenError::Stopped(State::Closed { fatal: true, .. })
    ));
    assert!(!err.to_string().contains(&token()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(*net.attempts.lock().unwrap(), 1, "no second attempt");
    assert_eq!(client.connection_status(), ConnectionStatus::Closed);
}

#[tokio::test(start_paused = true)]
async fn reconnects_logs_in_again_and_fires_ready_again() {
    let (connector, mut net) = network(64 * 1024, config());
    let client = HivenClient::builder(token())
        .config(config())
        .connector(connector)
        .build()
        .unwrap();
    let recorder = Recorder::default();
    let run = tokio::spawn({
        let (client, recorder) = (client.clone(), recorder.clone());
        async move { client.run(recorder).await }
    });
    let mut first = net.servers.recv().await.unwrap();
    login(&mut first, 30000).await;
    send(&mut first, init_state(&["1"])).await;
    send(&mut first, house_join("1")).await;
    client.wait_ready().await.unwrap();
    // The Swarm goes away (a 1011 close): retryable.
    first
        .send(WsMessage::close(Some(CloseCode::INTERNAL_SERVER_ERROR), ""))
        .await
        .unwrap();
    assert_eq!(next_text(&mut first).await, None);
    drop(first);

    let mut second = net.servers.recv().await.unwrap();
    login(&mut second, 30000).await; // the login again, before anything else
    assert!(!client.ready());
    send(&mut second, init_state(&[])).await; // zero houses this time
    until("ready again", || recorder.count("ready 0") == 1).await;
    assert!(client.ready());
    assert_eq!(recorder.count("ready 1"), 1);
    assert_eq!(client.engine().unwrap().stats().reconnects, 1);
    client.close().await;
    run.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_silent_swarm_is_noticed_within_ping_interval_plus_ping_timeout() {
    let (connector, mut net) = network(64 * 1024, config());
    let client = HivenClient::builder(token())
        .config(config())
        .ping_interval(Duration::from_secs(2))
        .ping_timeout(Duration::from_secs(1))
        .connector(connector)
        .build()
        .unwrap();
    let _events = client.connect().unwrap();
    let mut server = net.servers.recv().await.unwrap();
    login(&mut server, 30000).await;
    send(&mut server, init_state(&[])).await;
    client.wait_ready().await.unwrap();
    // The server stops reading (so no pongs) and writing: half-open.
    let silent = Instant::now();
    let engine = client.engine().unwrap();
    let mut state = engine.state();
    state
        .wait_for(|s| matches!(s, State::Reconnecting { .. }))
        .await
        .unwrap();
    let noticed = silent.elapsed();
    assert!(noticed <= Duration::from_secs(3), "{noticed:?}");
    assert_eq!(client.connection_status(), ConnectionStatus::Opening);
    drop(server);
    client.close().await;
}

#[test]
fn bad_tokens_are_refused_before_any_io_and_never_shown() {
    for (token, want) in [
        (String::new(), InvalidToken::Empty),
        (" ".repeat(132), InvalidToken::Whitespace(0)),
        ("a".repeat(100), InvalidToken::Length(100)),
        (
            format!("{}!", "a".repeat(131)),
            InvalidToken::Characters(131),
        ),
    ] {
        match HivenClient::new(token.clone()) {
            Err(HivenError::InvalidToken(e)) => assert_eq!(e, want),
            other => panic!("{token:?}: {other:?}"),
        }
    }
    // Bot and user constructors insist on their length.
    assert!(tether::hiven::BotClient::new("u".repeat(128)).is_err());
    assert!(tether::hiven::UserClient::new("u".repeat(128)).is_ok());
    let bot = tether::hiven::BotClient::new(token()).unwrap();
    assert_eq!(bot.client_type(), tether::hiven::ClientType::Bot);
    let shown = format!("{bot:?} {:?} {}", bot.token(), bot.token());
    assert!(!shown.contains(&token()), "{shown}");
    assert!(shown.contains("<redacted>"));
}
