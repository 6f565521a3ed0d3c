//! The hub's `moobius` endpoint with tether's Moobius client: a user's `message_up`
//! reaching the service and the service's answer reaching the user; the login re-sent
//! first after a drop, with every `message_down` queued while reconnecting arriving in
//! order (counted in the hub's receive log); heartbeats answered; messages before a login
//! refused with an error payload; a refused token stopping the client without ever
//! showing.

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use support::{Probe, fast_backoff, hub_with, logs, received_texts, until, within};
use tether::{
    Client, ClientConfig, Event, Events, Policy, Receipt, State,
    moobius::{Body, Builders, Button, MessageContent, MoobiusClient, MoobiusError, Payload, kind},
    raw::Raw,
};
use tether::{json, json::Value};
use tether_hub::{EndpointSpec, Fault, Hub, Moobius, Transport};

const LIMIT: Duration = Duration::from_secs(30);
const SERVICE: &str = "svc-1";
const CHANNEL: &str = "ch-1";
const USER: &str = "user-1";

fn config(seed: u64) -> ClientConfig {
    ClientConfig::default().backoff(fast_backoff(seed))
}

async fn start(client: &MoobiusClient) -> Events<Payload> {
    let events = client.connect().expect("the client starts");
    within(LIMIT, "the client to be ready", client.ready())
        .await
        .expect("ready");
    events
}

/// The next payload of type `kind`, skipping everything else.
async fn next_of(events: &mut Events<Payload>, kind: &str) -> Payload {
    within(LIMIT, &format!("a {kind} payload"), async {
        loop {
            match events.recv().await {
                Some(Event::Message(p)) if p.kind == kind => return p,
                Some(_) => {}
                None => panic!("the event stream ended before a {kind} payload"),
            }
        }
    })
    .await
}

/// The service of the example: every `message_up` gets a `message_down` echoing its
/// text to the sender, then a button.
fn echo_service(url: &str, seed: u64) -> MoobiusClient {
    let builders = Builders::new();
    let service = MoobiusClient::service(url, SERVICE, "service-token").config(config(seed));
    let replies = builders.clone();
    service.on(kind::MESSAGE_UP, move |payload| {
        let body = payload.message().ok_or("a message_up has a message body")?;
        let sender = body.sender.clone().ok_or("the hub names the sender")?;
        let text = format!("echo: {}", body.text().unwrap_or(""));
        Ok(replies.message_down(
            SERVICE,
            SERVICE,
            &body.channel_id,
            &sender,
            "text",
            MessageContent::text(text),
            SERVICE,
            None,
        )?)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_message_up_reaches_the_service_and_its_answer_reaches_the_user() {
    logs();
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").expect("the hub has a moobius endpoint");
    assert!(url.ends_with('/'), "{url}");
    let service = echo_service(&url, 1);
    let mut service_events = start(&service).await;
    // Ready means the login was sent (Moobius acknowledges none); the hub's copy says it
    // was taken, so the user's join below finds the service.
    let mut service_login = Some(next_of(&mut service_events, kind::COPY).await);
    let user = MoobiusClient::user(&url, "user-token")
        .join(USER, CHANNEL)
        .config(config(2));
    let mut user_events = start(&user).await;

    // Both logins were acknowledged with a copy.
    for copy in [
        service_login.take().unwrap(),
        next_of(&mut user_events, kind::COPY).await,
    ] {
        let Body::Copy(body) = &copy.body else {
            panic!("{copy:?}")
        };
        assert!(body.status, "{copy:?}");
        assert!(body.origin_type.ends_with("_login"), "{copy:?}");
    }
    // The service hears of the join.
    let join = next_of(&mut service_events, kind::ACTION).await;
    let Body::Action(action) = &join.body else {
        panic!("{join:?}")
    };
    assert_eq!(action.subtype, "join");
    assert_eq!(action.sender.as_deref(), Some(USER));
    assert_eq!(action.channel_id.as_deref(), Some(CHANNEL));

    user.message_up(
        USER,
        SERVICE,
        CHANNEL,
        SERVICE,
        "text",
        MessageContent::text("hello"),
        None,
    )
    .await
    .expect("queued")
    .expect("recipients given");
    let up = next_of(&mut service_events, kind::MESSAGE_UP).await;
    let body = up.message().expect("a message body");
    assert_eq!(body.text(), Some("hello"));
    assert_eq!(body.sender.as_deref(), Some(USER));
    assert!(body.timestamp.is_some_and(|t| t > 1_700_000_000_000));

    let down = next_of(&mut user_events, kind::MESSAGE_DOWN).await;
    let body = down.message().expect("a message body");
    assert_eq!(body.text(), Some("echo: hello"));
    assert_eq!(body.sender.as_deref(), Some(SERVICE));
    assert_eq!(body.channel_id, CHANNEL);
    assert!(body.message_id.is_some(), "the hub numbers messages");

    // A service's update to the channel reaches its members.
    service
        .send_buttons(Button::new("b1", "Click me"), SERVICE, CHANNEL, CHANNEL)
        .await
        .expect("valid buttons")
        .expect("recipients given");
    let update = next_of(&mut user_events, kind::UPDATE).await;
    let Body::Update(body) = &update.body else {
        panic!("{update:?}")
    };
    assert_eq!(body.subtype.as_deref(), Some("buttons"));
    assert_eq!(
        body.content,
        Some(json!([{"button_id": "b1", "button_text": "Click me", "dialog": null}]))
    );

    // A user that left gets nothing more; the service hears of it.
    user.leave_channel(USER, CHANNEL).await.unwrap();
    let leave = next_of(&mut service_events, kind::ACTION).await;
    assert!(matches!(&leave.body, Body::Action(a) if a.subtype == "leave"));

    user.disconnect().await;
    service.disconnect().await;
    hub.shutdown().await;
}

/// `message_down`s whose text is `"{prefix} {i}"`: the `i`s, in the order the hub
/// received them, from `log[from..]`.
fn numbered(log: &[Value], from: usize, prefix: &str) -> Vec<usize> {
    log[from..]
        .iter()
        .filter(|m| m["type"] == "message_down")
        .filter_map(|m| m["body"]["content"]["text"].as_str())
        .filter_map(|t| t.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_drop_the_login_goes_first_and_500_message_downs_queued_while_reconnecting_arrive_in_order()
 {
    logs();
    const POST: usize = 500;
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").unwrap();
    let service = MoobiusClient::service(&url, SERVICE, "service-token")
        .config(config(3).outbox(64, Policy::Backpressure));
    let events = start(&service).await;
    tokio::spawn(async move {
        let mut events = events;
        while events.recv().await.is_some() {}
    });
    let engine = service.engine().expect("connected");

    // A stream of message_downs, paced by the socket (outbox of 64), until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let pre = tokio::spawn({
        let (service, stop) = (service.clone(), stop.clone());
        async move {
            let mut receipts: Vec<Receipt<Payload>> = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                let text = MessageContent {
                    title: Some("x".repeat(500)),
                    ..MessageContent::text(format!("pre {i}"))
                };
                let receipt = service
                    .message_down(SERVICE, SERVICE, CHANNEL, USER, "text", text, SERVICE, None)
                    .await
                    .expect("queued");
                receipts.push(receipt.expect("recipients given"));
                i += 1;
                tokio::task::yield_now().await;
            }
            receipts
        }
    });

    // Mid-stream: a TCP reset.
    until(LIMIT, "the stream to be under way", || {
        hub.received("moobius").len() > 100
    })
    .await;
    hub.fault("moobius", &Fault::Drop { code: None }).unwrap();
    let mut state = engine.state();
    within(LIMIT, "the client to report reconnecting", async {
        let _ = state
            .wait_for(|s| matches!(s, State::Reconnecting { .. }))
            .await;
    })
    .await;
    stop.store(true, Ordering::Release);
    let pre = within(LIMIT, "the stream to stop", pre).await.unwrap();

    // Queued after the client reported reconnecting.
    let mut post = Vec::with_capacity(POST);
    for i in 0..POST {
        let receipt = within(
            LIMIT,
            "room in the outbox",
            service.message_down(
                SERVICE,
                SERVICE,
                CHANNEL,
                USER,
                "text",
                MessageContent::text(format!("post {i}")),
                SERVICE,
                None,
            ),
        )
        .await
        .expect("queued");
        post.push(receipt.expect("recipients given"));
    }
    within(Duration::from_secs(120), "every receipt", async {
        for (i, receipt) in pre.into_iter().chain(post).enumerate() {
            if let Err(e) = receipt.await {
                panic!("message {i} was not delivered: {e}");
            }
        }
    })
    .await;

    // Delivered means flushed by the client: wait for the hub to have read them all.
    let log_of = |hub: &Hub| -> Vec<Value> {
        received_texts(hub, "moobius")
            .iter()
            .map(|t| serde_json::from_str(t).expect("the client sent JSON"))
            .collect()
    };
    until(LIMIT, "the hub to receive every post message", || {
        numbered(&log_of(&hub), 0, "post").len() >= POST
    })
    .await;
    let log = log_of(&hub);
    let logins: Vec<usize> = (0..log.len())
        .filter(|&i| log[i]["type"] == "service_login")
        .collect();
    assert_eq!(logins.len(), 2, "one login per connection: {logins:?}");
    assert_eq!(logins[0], 0, "the first connection starts with the login");
    let second = logins[1];
    assert_eq!(log[second]["service_id"], SERVICE);
    assert_eq!(log[second]["access_token"], "service-token");
    assert_ne!(
        log[second]["request_id"], log[0]["request_id"],
        "each login has a fresh request id"
    );
    // The second connection: the login first, then (replayed) stream messages, then
    // every post message, once, in order.
    assert!(
        numbered(&log, 0, "post").len() == POST,
        "the hub's receive log counts {} post message_downs, expected {POST}",
        numbered(&log, 0, "post").len()
    );
    assert_eq!(
        numbered(&log, second, "post"),
        (0..POST).collect::<Vec<_>>()
    );
    let after: Vec<&Value> = log[second + 1..].iter().collect();
    let first_post = after
        .iter()
        .position(|m| numbered(std::slice::from_ref(m), 0, "post").len() == 1)
        .expect("post messages after the login");
    assert!(
        after[first_post..]
            .iter()
            .all(|m| numbered(std::slice::from_ref(m), 0, "pre").is_empty()),
        "no stream message after the first post message"
    );
    // The stream's messages, as first seen, are in order too.
    let mut seen = std::collections::BTreeSet::new();
    let first_seen: Vec<usize> = numbered(&log, 0, "pre")
        .into_iter()
        .filter(|i| seen.insert(*i))
        .collect();
    assert!(
        first_seen.windows(2).all(|w| w[0] < w[1]),
        "stream messages out of order"
    );
    assert_eq!(engine.stats().connects, 2);

    service.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_out_with_fresh_ids_and_are_answered() {
    logs();
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").unwrap();
    let user = MoobiusClient::user(&url, "user-token")
        .heartbeat_every(Some(Duration::from_millis(50)))
        .config(config(4));
    let mut events = start(&user).await;
    let _login = next_of(&mut events, kind::COPY).await;
    let answer = next_of(&mut events, kind::COPY).await;
    let Body::Copy(body) = &answer.body else {
        panic!("{answer:?}")
    };
    assert_eq!(body.origin_type, "heartbeat");
    assert!(body.status);
    until(LIMIT, "a few heartbeats", || {
        received_texts(&hub, "moobius")
            .iter()
            .filter(|t| t.starts_with(r#"{"type": "heartbeat""#))
            .count()
            >= 3
    })
    .await;
    let ids: std::collections::BTreeSet<String> = received_texts(&hub, "moobius")
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .filter(|m| m["type"] == "heartbeat")
        .map(|m| m["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 3, "every heartbeat has its own request id");
    user.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_before_a_login_get_an_error_payload_and_go_nowhere() {
    logs();
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").unwrap();
    let service = echo_service(&url, 5);
    let mut service_events = start(&service).await;
    let _login = next_of(&mut service_events, kind::COPY).await;

    // A bare client that never logs in.
    let raw = Raw::json();
    let (client, mut events) = Client::builder(raw.clone())
        .url(&url)
        .config(config(6))
        .start()
        .unwrap();
    let up = Builders::new()
        .message_up(
            USER,
            SERVICE,
            CHANNEL,
            SERVICE,
            "text",
            MessageContent::text("sneaky"),
            None,
        )
        .unwrap()
        .unwrap();
    client
        .send(Raw::message(&serde_json::Value::from(
            up.clone().into_value(),
        )))
        .await
        .unwrap();
    let reply = within(LIMIT, "the refusal", async {
        loop {
            if let Some(Event::Message(m)) = events.recv().await
                && let Some(json) = m.json
            {
                return (*json).clone();
            }
        }
    })
    .await;
    assert_eq!(reply["type"], "copy");
    assert_eq!(reply["body"]["request_id"], up.request_id().unwrap());
    assert_eq!(reply["body"]["origin_type"], "message_up");
    assert_eq!(reply["body"]["status"], false);
    assert!(
        reply["body"]["context"]["error"]
            .as_str()
            .unwrap()
            .contains("not logged in"),
        "{reply}"
    );
    // Not JSON at all: the gateway's error, and the connection goes on.
    client
        .send(Raw::text().encode_line("oops").unwrap())
        .await
        .unwrap();
    // The service never saw the message.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Some(event) = service_events.try_recv() {
        assert!(
            !matches!(&event, Event::Message(p) if p.kind == kind::MESSAGE_UP),
            "{event:?}"
        );
    }
    client.close().await;
    service.disconnect().await;
    hub.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The access token never shows.

const TOKEN: &str = "m00bius-s3cr3t-access";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_token_never_shows_in_logs_events_errors_or_debug() {
    let logs = logs();
    let probe = Probe::default();
    let locked = EndpointSpec {
        name: "moobius-locked".into(),
        default_port: 0,
        transport: Transport::WebSocket { path: "/".into() },
        service: Arc::new(Moobius::with_token("the-right-token")),
    };
    let hub: Hub = hub_with(vec![probe.spec("probe"), locked]).await;
    let mut shown = Vec::new();

    // An echo server sends the login back: not a payload, so a decode error whose
    // excerpt would show the token.
    // Request ids of 24 characters put the token across the excerpt's 120-byte cut.
    let client = MoobiusClient::service(hub.url("probe").unwrap(), SERVICE, TOKEN)
        .builders(Builders::new().with_ids(|| "r".repeat(24)))
        .config(config(7));
    shown.push(format!("{client:?}"));
    let mut events = start(&client).await;
    shown.push(format!(
        "{:?}",
        client.dry_run().service_login(SERVICE, &TOKEN.into())
    ));
    let excerpt = within(LIMIT, "the decode error", async {
        loop {
            match events.recv().await {
                Some(Event::DecodeError { excerpt, .. }) => return excerpt,
                Some(e) => shown.push(format!("{e:?}")),
                None => panic!("the event stream ended"),
            }
        }
    })
    .await;
    // The excerpt is cut at 120 bytes, inside the token: not even its start shows.
    assert!(!excerpt.contains(&TOKEN[..4]), "{excerpt}");
    assert!(
        excerpt.contains("\"access_token\": \"<redacte"),
        "{excerpt}"
    );
    shown.push(excerpt);
    client.disconnect().await;
    while let Some(e) = events.recv().await {
        shown.push(format!("{e:?}"));
    }

    // The real check: a refused token stops the client (4001, fatal).
    let client = MoobiusClient::user(hub.url("moobius-locked").unwrap(), TOKEN).config(config(8));
    let mut events = client.connect().unwrap();
    // Moobius acknowledges no login: the client is ready once the login is sent, and
    // stops when the server closes with 4001.
    let engine = client.engine().expect("connected");
    let state = within(LIMIT, "the refusal", engine.closed()).await;
    shown.push(format!("{state:?}"));
    let error = client.ready().await.unwrap_err();
    assert!(
        matches!(&error, MoobiusError::Stopped(State::Closed { fatal: true, reason }) if reason.to_string().contains("4001")),
        "{error:?}"
    );
    shown.push(format!("{error:?} / {error}"));
    let after = client.heartbeat().await.unwrap_err();
    shown.push(format!("{after:?} / {after}"));
    while let Some(e) = events.recv().await {
        shown.push(format!("{e:?}"));
    }
    assert!(
        shown.iter().any(|s| s.contains("token refused")),
        "the refusal was seen: {shown:#?}"
    );
    for text in &shown {
        assert!(!text.contains(TOKEN), "the token shows in: {text}");
    }
    let logs = logs.text();
    assert!(
        logs.contains("\"access_token\": \"<redacte"),
        "logs were captured:\n{logs}"
    );
    assert!(
        !logs.contains(&TOKEN[..4]),
        "the token is in the logs:\n{logs}"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_panicking_handler_is_reported_and_the_service_goes_on() {
    logs();
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").unwrap();
    let caught_all = Arc::new(Mutex::new(Vec::new()));
    let service = MoobiusClient::service(&url, SERVICE, "service-token")
        .config(config(9))
        // The SDK's `handle`: whatever no named handler takes (here: the copies).
        .handle({
            let caught_all = caught_all.clone();
            move |payload| {
                caught_all.lock().unwrap().push(payload.kind.clone());
                Ok(None)
            }
        })
        .on(kind::ACTION, |_| panic!("kaput"))
        .on(kind::MESSAGE_UP, |payload| {
            match payload.message().and_then(|m| m.text()) {
                Some("fail") => Err("boom".into()),
                _ => Ok(None),
            }
        });
    let mut service_events = start(&service).await;
    let _login = next_of(&mut service_events, kind::COPY).await;
    let user = MoobiusClient::user(&url, "user-token")
        .join(USER, CHANNEL)
        .config(config(10));
    let mut user_events = start(&user).await;
    let _login = next_of(&mut user_events, kind::COPY).await;

    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for text in ["fail", "fine"] {
        user.message_up(
            USER,
            SERVICE,
            CHANNEL,
            SERVICE,
            "text",
            MessageContent::text(text),
            None,
        )
        .await
        .unwrap();
    }
    let mut failures = Vec::new();
    let mut ups = Vec::new();
    within(LIMIT, "both handler failures and both messages", async {
        while failures.len() < 2 || ups.len() < 2 {
            match service_events.recv().await {
                Some(Event::HandlerError { event, error }) => failures.push((event, error)),
                Some(Event::Message(p)) if p.kind == kind::MESSAGE_UP => ups.push(p),
                Some(_) => {}
                None => panic!("the event stream ended"),
            }
        }
    })
    .await;
    std::panic::set_hook(hook);
    assert!(
        failures
            .iter()
            .any(|(e, err)| e.as_deref() == Some("action") && err.contains("kaput")),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|(e, err)| e.as_deref() == Some("message_up") && err == "boom"),
        "{failures:?}"
    );
    assert_eq!(
        ups.iter()
            .map(|p| p.message().unwrap().text().unwrap())
            .collect::<Vec<_>>(),
        ["fail", "fine"],
        "the message after the failing one still arrived"
    );
    let stats = service.engine().unwrap().stats();
    assert_eq!(stats.handler_errors, 2);
    assert_eq!(
        *caught_all.lock().unwrap(),
        ["copy"],
        "the catch-all got the login's copy, not what named handlers take"
    );
    // And the service still sends.
    service
        .message_down(
            SERVICE,
            SERVICE,
            CHANNEL,
            USER,
            "text",
            MessageContent::text("still here"),
            SERVICE,
            None,
        )
        .await
        .unwrap();
    let down = next_of(&mut user_events, kind::MESSAGE_DOWN).await;
    assert_eq!(down.message().unwrap().text(), Some("still here"));
    user.disconnect().await;
    service.disconnect().await;
    hub.shutdown().await;
}
