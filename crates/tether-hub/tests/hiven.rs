//! The hub's `hiven` Swarm and `hiven-api` REST endpoints with tether's Hiven client:
//! an echo bot receives MESSAGE_CREATE and replies through the REST API; it survives a
//! `drop` and a `stall` fault (noticed within ping interval + ping timeout) and is ready
//! again after; a refused token is fatal; a client that stops heartbeating is dropped;
//! the token never shows in logs (with `log_ws_output`), errors or events.

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use support::{fast_backoff, until, within};
use tether::{
    ClientConfig, Event, State,
    hiven::{
        EventHandler, HandlerResult, HivenClient, HivenError, HivenHttp, HttpError, Message,
        ReadyInfo,
    },
    raw::Raw,
};
use tether_hub::{CLOSE_HEARTBEAT_TIMEOUT, Fault, Hiven, Hub};
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(30);
/// The fixture room `general` of "Tether Lounge".
const GENERAL: &str = "100000000000000011";

fn bot_token() -> String {
    "B0tT0ken".repeat(16) + "b0tt"
}

fn user_token() -> String {
    "Us3r".repeat(32)
}

async fn hub(hiven: Hiven) -> Hub {
    Hub::builder()
        .ephemeral()
        .record(true)
        .hiven(hiven)
        .start()
        .await
        .expect("the hub starts")
}

fn client(hub: &Hub, token: String, seed: u64) -> HivenClient {
    HivenClient::builder(token)
        .swarm_url(hub.url("hiven").unwrap())
        .api_url(hub.url("hiven-api").unwrap())
        .config(ClientConfig::default().backoff(fast_backoff(seed)))
        .ping_interval(Duration::from_secs(1))
        .ping_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// Replies `echo: <content>` to every message not its own; reports what it saw.
struct EchoBot {
    seen: mpsc::UnboundedSender<String>,
}

impl EventHandler for EchoBot {
    async fn on_ready(&self, _: &HivenClient, ready: &ReadyInfo) -> HandlerResult {
        let _ = self.seen.send(format!("ready {}", ready.house_ids.len()));
        Ok(())
    }

    async fn on_message_create(&self, client: &HivenClient, m: &Message) -> HandlerResult {
        let _ = self.seen.send(format!("message {}", m.content));
        let me = client.user().map(|u| u.id);
        if Some(&m.author_id) != me.as_ref() {
            client
                .send_message(&m.room_id, &format!("echo: {}", m.content))
                .await?;
        }
        Ok(())
    }
}

/// Starts an echo bot; returns it, its task and what it sees.
fn start_bot(
    client: &HivenClient,
) -> (
    tokio::task::JoinHandle<Result<(), HivenError>>,
    mpsc::UnboundedReceiver<String>,
) {
    let (seen, rx) = mpsc::unbounded_channel();
    let bot = client.clone();
    (
        tokio::spawn(async move { bot.run(EchoBot { seen }).await }),
        rx,
    )
}

async fn next_seen(rx: &mut mpsc::UnboundedReceiver<String>, want: &str) {
    within(LIMIT, want, async {
        loop {
            let seen = rx.recv().await.expect("the bot runs");
            if seen == want {
                return;
            }
        }
    })
    .await;
}

/// A human posts `text`; waits for the bot's echo to reach the human's own Swarm client.
async fn round_trip(
    human: &HivenClient,
    human_seen: &mut mpsc::UnboundedReceiver<String>,
    text: &str,
) {
    let posted = human.send_message(GENERAL, text).await.expect("posted");
    assert_eq!(posted.content, text);
    assert_eq!(posted.room_id, GENERAL);
    next_seen(human_seen, &format!("message echo: {text}")).await;
}

/// A user client whose handler only reports (it does not echo: it is the "human").
struct Watcher {
    seen: mpsc::UnboundedSender<String>,
}

impl EventHandler for Watcher {
    async fn on_ready(&self, _: &HivenClient, ready: &ReadyInfo) -> HandlerResult {
        let _ = self.seen.send(format!("ready {}", ready.house_ids.len()));
        Ok(())
    }
    async fn on_message_create(&self, _: &HivenClient, m: &Message) -> HandlerResult {
        let _ = self.seen.send(format!("message {}", m.content));
        Ok(())
    }
}

fn start_human(hub: &Hub) -> (HivenClient, mpsc::UnboundedReceiver<String>) {
    let human = client(hub, user_token(), 99);
    let (seen, rx) = mpsc::unbounded_channel();
    let h = human.clone();
    tokio::spawn(async move { h.run(Watcher { seen }).await });
    (human, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_receives_message_create_and_replies_through_the_rest_api() {
    let hub = hub(Hiven::new()).await;
    assert!(hub.url("hiven").unwrap().ends_with("/socket"));
    assert!(hub.url("hiven-api").unwrap().ends_with("/v1"));
    let bot = client(&hub, bot_token(), 1);
    assert!(!bot.initialized() && !bot.ready());
    let (run, mut seen) = start_bot(&bot);
    // Two fixture houses, joined ~0.2 s after INIT_STATE.
    next_seen(&mut seen, "ready 2").await;
    assert!(bot.ready() && bot.initialized());
    assert!(bot.startup_time().unwrap() >= Duration::from_millis(200));
    let me = bot.http_client().me().await.unwrap();
    assert_eq!(Some(me.id.clone()), bot.user().map(|u| u.id));
    assert_eq!(me.bot, Some(true));

    let (human, mut human_seen) = start_human(&hub);
    next_seen(&mut human_seen, "ready 2").await;
    round_trip(&human, &mut human_seen, "hello").await;
    next_seen(&mut seen, "message hello").await;
    next_seen(&mut seen, "message echo: hello").await; // its own reply, not echoed again
    assert_eq!(bot.handler_errors(), 0);

    // Heartbeats went out: login, op 3 at once.
    let received: Vec<String> = hub
        .received("hiven")
        .iter()
        .filter_map(|f| f.as_text().map(str::to_owned))
        .collect();
    assert!(received.iter().any(|t| t == r#"{"op": 3}"#), "{received:?}");
    assert_eq!(
        received.iter().filter(|t| t.contains(r#""op": 2"#)).count(),
        2,
        "one login per client"
    );

    bot.close().await;
    assert!(run.await.unwrap().is_ok());
    human.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_survives_a_drop_fault_and_is_ready_again() {
    let hub = hub(Hiven::new()).await;
    let bot = client(&hub, bot_token(), 2);
    let (_run, mut seen) = start_bot(&bot);
    next_seen(&mut seen, "ready 2").await;
    let (human, mut human_seen) = start_human(&hub);
    next_seen(&mut human_seen, "ready 2").await;

    for fault in [Fault::Drop { code: None }, Fault::Drop { code: Some(1011) }] {
        let engine = bot.engine().unwrap();
        let reconnects = engine.stats().reconnects;
        hub.fault("hiven", &fault).unwrap();
        until(LIMIT, "the bot to reconnect", || {
            engine.stats().reconnects > reconnects
        })
        .await;
        next_seen(&mut seen, "ready 2").await;
        assert!(bot.ready());
        next_seen(&mut human_seen, "ready 2").await;
        round_trip(&human, &mut human_seen, &format!("after {fault:?}")).await;
    }
    bot.close().await;
    human.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_is_noticed_within_ping_interval_plus_ping_timeout_and_the_bot_is_ready_after() {
    let hub = hub(Hiven::new()).await;
    let bot = client(&hub, bot_token(), 3);
    let (_run, mut seen) = start_bot(&bot);
    next_seen(&mut seen, "ready 2").await;
    let engine = bot.engine().unwrap();
    let mut state = engine.state();

    let stalled = Instant::now();
    hub.fault("hiven", &Fault::Stall { secs: None }).unwrap();
    within(LIMIT, "the stall to be noticed", async {
        state
            .wait_for(|s| matches!(s, State::Reconnecting { .. }))
            .await
            .map(|_| ())
    })
    .await
    .unwrap();
    let noticed = stalled.elapsed();
    // ping 1 s + timeout 1 s, plus generous slack for a loaded machine.
    assert!(
        noticed <= Duration::from_secs(5),
        "noticed after {noticed:?}"
    );
    assert_eq!(
        bot.connection_status(),
        tether::hiven::ConnectionStatus::Opening
    );
    // The hub resumes; the bot logs in again and is ready.
    hub.resume(Some("hiven")).unwrap();
    next_seen(&mut seen, "ready 2").await;
    let (human, mut human_seen) = start_human(&hub);
    next_seen(&mut human_seen, "ready 2").await;
    round_trip(&human, &mut human_seen, "after the stall").await;
    bot.close().await;
    human.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_fatal_and_not_retried() {
    let hub = hub(Hiven::new().token(Some(user_token()))).await;
    let bot = client(&hub, bot_token(), 4);
    let err = within(
        LIMIT,
        "the client to stop",
        bot.run(Watcher {
            seen: mpsc::unbounded_channel().0,
        }),
    )
    .await
    .unwrap_err();
    assert!(err.is_fatal(), "{err:?}");
    assert!(err.to_string().contains("4001"), "{err}");
    assert!(!err.to_string().contains(&bot_token()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hub.stats("hiven").unwrap().accepted, 1, "no reconnect loop");
    // The REST API refuses it too; the required token is accepted.
    let refused = bot.http_client().me().await.unwrap_err();
    assert!(
        matches!(refused, HttpError::Status { status: 401, .. }),
        "{refused:?}"
    );
    let human = client(&hub, user_token(), 5);
    human.connect().unwrap();
    within(LIMIT, "the right token to be ready", human.wait_ready())
        .await
        .unwrap();
    human.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_houses_is_ready_at_init_state() {
    let hub = hub(Hiven::new().houses(Vec::new())).await;
    let bot = client(&hub, bot_token(), 6);
    let (_run, mut seen) = start_bot(&bot);
    next_seen(&mut seen, "ready 0").await;
    assert!(bot.ready());
    bot.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_silent_for_twice_the_heartbeat_interval_is_dropped() {
    let hub = hub(Hiven::new().heartbeat_interval(1000)).await;
    // A raw client answers pings but never sends op 3.
    let (raw, mut events) = tether::Client::builder(Raw::json())
        .url(hub.url("hiven").unwrap())
        .config(ClientConfig::default().no_reconnect())
        .start()
        .unwrap();
    let started = Instant::now();
    let error = within(LIMIT, "the hub to drop the silent client", async {
        loop {
            if let Some(Event::Disconnected { error, .. }) = events.recv().await {
                return error;
            }
        }
    })
    .await;
    let after = started.elapsed();
    assert_eq!(error.close_code(), Some(CLOSE_HEARTBEAT_TIMEOUT), "{error}");
    assert!(after >= Duration::from_millis(1900), "too early: {after:?}");
    drop(raw);

    // The Hiven client heartbeats every hbt_int (1 s) and stays.
    let bot = client(&hub, bot_token(), 7);
    bot.connect().unwrap();
    within(LIMIT, "ready", bot.wait_ready()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(bot.engine().unwrap().stats().reconnects, 0);
    assert!(bot.ready());
    bot.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_checks_tokens_rooms_and_content() {
    let hub = hub(Hiven::new()).await;
    let base = hub.url("hiven-api").unwrap();
    let http = |token: &str| {
        HivenHttp::new(
            &base,
            token.into(),
            Duration::from_secs(5),
            Duration::from_secs(5),
            None,
        )
        .unwrap()
    };
    let human = http(&user_token());
    assert_eq!(human.me().await.unwrap().bot, Some(false));
    let unknown = human.send_message("999", "hi").await.unwrap_err();
    assert!(
        matches!(unknown, HttpError::Status { status: 404, .. }),
        "{unknown:?}"
    );
    let bad = http("nope").me().await.unwrap_err();
    assert!(bad.is_unauthorized(), "{bad:?}");
    let message = human.send_message(GENERAL, "x").await.unwrap();
    assert_eq!(message.house_id.as_deref(), Some("100000000000000001"));
    assert!(message.member.is_some() && message.author.is_some());
    // Empty content never leaves the client; the hub refuses it too.
    let req = tether::hiven::HttpRequest {
        method: tether::hiven::HttpMethod::POST,
        url: format!("{base}/rooms/{GENERAL}/messages"),
        body: Some(serde_json::json!({"content": ""})),
    };
    let empty = human.call::<serde_json::Value>(req).await.unwrap_err();
    assert!(
        matches!(empty, HttpError::Status { status: 400, .. }),
        "{empty:?}"
    );
    hub.shutdown().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_never_shows_in_logs_errors_or_events() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let hub = hub(Hiven::new().token(Some(user_token()))).await;
    // A client that logs every frame, refused (its token is not the one required).
    let bot = HivenClient::builder(bot_token())
        .swarm_url(hub.url("hiven").unwrap())
        .api_url(hub.url("hiven-api").unwrap())
        .log_ws_output(true)
        .build()
        .unwrap();
    let mut events = bot.connect().unwrap();
    let mut shown = Vec::new();
    while let Some(event) = within(LIMIT, "events", events.recv()).await {
        shown.push(format!("{event:?}"));
    }
    let http_error = bot.send_message(GENERAL, "hi").await.unwrap_err();
    shown.push(format!("{http_error:?} {http_error}"));
    shown.push(format!("{bot:?} {:?}", bot.http_client()));
    hub.shutdown().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("hiven ws"), "frames are logged: {logs}");
    assert!(logs.contains("<redacted>"), "the login is logged, redacted");
    assert!(!logs.contains(&bot_token()), "{logs}");
    for text in shown {
        assert!(!text.contains(&bot_token()), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_posts_get_through_api_failures_in_the_order_they_were_queued() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use axum::{
        extract::Request,
        http::StatusCode,
        middleware::{self, Next},
        response::IntoResponse,
    };
    use tether::hiven::PostRetry;

    // The hub's REST API behind a gate that answers every third request with a 503.
    let hiven = Hiven::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = calls.clone();
    let api = hiven
        .api_router()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let gate = gate.clone();
            async move {
                if gate.fetch_add(1, SeqCst) % 3 == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                next.run(request).await
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });

    let bot = HivenClient::builder(bot_token())
        .api_url(format!("http://{addr}/v1"))
        .post_retry(PostRetry {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
        })
        .build()
        .unwrap();
    // Everything queued before anything is awaited; one post to a room that does not
    // exist in the middle.
    let mut receipts = Vec::new();
    for i in 0..20 {
        let room = if i == 10 { "999" } else { GENERAL };
        receipts.push(bot.queue_message(room, &format!("m{i}")).await.unwrap());
    }
    let mut ids = Vec::new();
    for (i, receipt) in receipts.into_iter().enumerate() {
        let posted = within(LIMIT, "the post", receipt).await;
        if i == 10 {
            // Not a failure that passes: given up at once, and the queue goes on.
            let error = posted.expect_err("no such room");
            assert!(
                matches!(
                    error,
                    HivenError::Http(HttpError::Status { status: 404, .. })
                ),
                "{error}"
            );
            continue;
        }
        let message = posted.unwrap_or_else(|e| panic!("m{i}: {e}"));
        assert_eq!(message.content, format!("m{i}"));
        ids.push(message.id);
    }
    // Created in queue order (the API numbers messages as it creates them), each once.
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 19);
    let calls = calls.load(SeqCst);
    assert!(
        calls >= 20 + 6,
        "{calls} requests for 20 posts: the 503s were retried"
    );
    // Input the API would refuse is refused before it is queued.
    assert!(matches!(
        bot.queue_message(GENERAL, " ").await,
        Err(HivenError::Http(HttpError::InvalidInput(_)))
    ));
}
