//! Interop with the REAL Python moobius 1.8.0 `WSClient` (issue 6's acceptance): the
//! real client, patched for `ws://` as SPEC section 6 (a) says, logs in as a user against
//! the hub's `moobius` endpoint, joins a channel and sends `message_up`; tether's Rust
//! service (a [`MoobiusClient`] in service mode) receives it and answers with a
//! `message_down`, which the Python client receives.
//!
//! The frames the Python client sent are also checked against tether's builders: with
//! the same request id and timestamp, tether's wire text is byte for byte the same.
//!
//! Needs the Python venv from `scripts/peers-env/setup.sh`: set
//! `TETHER_PEERS_VENV` to it (absolute, or relative to the repository root). The test is
//! `#[ignore]`d, so a plain `cargo test` needs no Python; `scripts/test.sh` builds the venv
//! and runs it with `--ignored`. Helper: `scripts/interop/moobius_user.py`.

mod support;

use support::{peers_python, repo_root};

use std::{
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{fast_backoff, hub_with, received_texts, within};
use tether::{
    ClientConfig, Event, Secret,
    moobius::{Builders, MessageContent, MoobiusClient, kind},
};

const LIMIT: Duration = Duration::from_secs(60);
const SERVICE: &str = "svc-rust";
const USER: &str = "user-py";
const CHANNEL: &str = "ch-interop";
const TOKEN: &str = "python-user-token";
const TEXT: &str = "hello from python, h\u{e9}llo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real moobius SDK: TETHER_PEERS_VENV (scripts/test.sh sets it)"]
async fn the_real_python_wsclient_talks_to_a_tether_service_through_the_hub() {
    let python = peers_python();
    let hub = hub_with(vec![]).await;
    let url = hub.url("moobius").expect("the hub has a moobius endpoint");

    // tether's service: every message_up is answered with a message_down to its sender.
    let seen_up = Arc::new(Mutex::new(Vec::new()));
    let builders = Builders::new();
    let service = MoobiusClient::service(&url, SERVICE, "rust-service-token")
        .config(ClientConfig::default().backoff(fast_backoff(1)))
        .on(kind::MESSAGE_UP, {
            let seen_up = seen_up.clone();
            move |payload| {
                seen_up.lock().unwrap().push(payload.clone());
                let body = payload.message().ok_or("a message body")?;
                let sender = body.sender.clone().ok_or("the hub names the sender")?;
                Ok(builders.message_down(
                    SERVICE,
                    SERVICE,
                    &body.channel_id,
                    &sender,
                    "text",
                    MessageContent::text(format!("echo: {}", body.text().unwrap_or(""))),
                    SERVICE,
                    None,
                )?)
            }
        });
    let mut events = service.connect().expect("the service starts");
    within(LIMIT, "the service to be ready", service.ready())
        .await
        .expect("ready");
    // Ready means the login was sent; the hub's copy says it was taken.
    within(LIMIT, "the hub to take the service's login", async {
        loop {
            match events.recv().await {
                Some(Event::Message(p)) if p.kind == kind::COPY => break,
                Some(_) => {}
                None => panic!("the event stream ended"),
            }
        }
    })
    .await;
    let handler_errors = tokio::spawn(async move {
        let mut errors = Vec::new();
        while let Some(event) = events.recv().await {
            if let Event::HandlerError { error, .. } = event {
                errors.push(error);
            }
        }
        errors
    });

    // The real Python client, in a process of its own (killed if it overstays).
    let started = Instant::now();
    let mut child = Command::new(&python)
        .arg(repo_root().join("scripts/interop/moobius_user.py"))
        .arg(&url)
        .args([
            "--service-id",
            SERVICE,
            "--user-id",
            USER,
            "--channel",
            CHANNEL,
        ])
        .args(["--token", TOKEN, "--text", TEXT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the python client starts");
    let status = within(LIMIT, "the python client to finish", async {
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if started.elapsed() > LIMIT {
                let _ = child.kill();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let output = child
        .wait_with_output()
        .expect("the python client's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        status.success(),
        "the python client got no message_down ({status}):\nstdout:\n{stdout}\nstderr (last 4000 bytes):\n{}",
        &stderr[stderr.len().saturating_sub(4000)..]
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).expect("RESULT is JSON"))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));

    // The Python client received tether's answer.
    let received = result["received"].as_array().expect("received payloads");
    let down = received
        .iter()
        .find(|p| p["type"] == "message_down")
        .unwrap_or_else(|| panic!("no message_down in {received:?}"));
    assert_eq!(down["service_id"], SERVICE);
    assert_eq!(
        down["body"]["content"],
        json!({"text": format!("echo: {TEXT}")})
    );
    assert_eq!(down["body"]["sender"], SERVICE);
    assert_eq!(down["body"]["recipients"], USER);
    assert_eq!(down["body"]["channel_id"], CHANNEL);
    assert!(
        received
            .iter()
            .any(|p| p["type"] == "copy" && p["body"]["origin_type"] == "user_login"),
        "the hub acknowledged the Python login: {received:?}"
    );

    // tether's service received the Python client's message_up.
    let ups = seen_up.lock().unwrap().clone();
    assert_eq!(ups.len(), 1, "{ups:?}");
    let up = ups[0].message().expect("a message body");
    assert_eq!(up.text(), Some(TEXT));
    assert_eq!(up.sender.as_deref(), Some(USER));
    assert_eq!(up.channel_id, CHANNEL);

    // What the Python client put on the wire is what tether's builders write.
    // (user_login, action and message_up come from the Python client only.)
    let sent = received_texts(&hub, "moobius");
    let by_type = |kind: &str| -> &String {
        sent.iter()
            .find(|t| serde_json::from_str::<Value>(t).is_ok_and(|v| v["type"] == kind))
            .unwrap_or_else(|| panic!("the python client sent no {kind}: {sent:?}"))
    };
    let login = by_type("user_login");
    let login_value: Value = serde_json::from_str(login).unwrap();
    let id = login_value["request_id"].as_str().unwrap();
    assert_eq!(
        login,
        &Builders::pinned(id, 0)
            .user_login(&Secret::new(TOKEN))
            .wire_text()
    );
    let up_text = by_type("message_up");
    let up_value: Value = serde_json::from_str(up_text).unwrap();
    let ours = Builders::pinned(
        up_value["request_id"].as_str().unwrap(),
        up_value["body"]["timestamp"].as_u64().unwrap(),
    )
    .message_up(
        USER,
        SERVICE,
        CHANNEL,
        SERVICE,
        "text",
        MessageContent::text(TEXT),
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(up_text, &ours.wire_text(), "byte for byte");
    let join = by_type("action");
    let join_value: Value = serde_json::from_str(join).unwrap();
    assert_eq!(
        join,
        &Builders::pinned(join_value["request_id"].as_str().unwrap(), 0)
            .join_channel(USER, CHANNEL)
            .wire_text()
    );

    service.disconnect().await;
    let errors = within(LIMIT, "the event stream to end", handler_errors)
        .await
        .unwrap();
    assert!(errors.is_empty(), "handler errors: {errors:?}");
    hub.shutdown().await;
}
