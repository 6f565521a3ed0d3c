//! `tether connect --profile moobius` as a user runs it: the built binary logs in through
//! the typed client (login first, on the hub's `moobius` endpoint), turns builder calls
//! and full messages into messages, rejects lines the builders reject, and never prints
//! the token.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

use serde_json::Value;
use tether::{
    Event, Events,
    moobius::{MoobiusClient, Payload, kind},
};
use tether_hub::Hub;

const TOKEN: &str = "cli-s3cr3t-token";

fn tether(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn next_of(events: &mut Events<Payload>, kind: &str) -> Payload {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Some(Event::Message(p)) if p.kind == kind => return p,
                Some(_) => {}
                None => panic!("the event stream ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} payload within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_profile_logs_in_first_sends_builder_calls_and_full_messages_and_rejects_bad_lines()
 {
    let hub = Hub::builder()
        .ephemeral()
        .record(true)
        .start()
        .await
        .unwrap();
    let url = hub.url("moobius").unwrap();
    // A user in the channel, to receive what the CLI's service sends.
    let user = MoobiusClient::user(&url, "user-token").join("u1", "ch-1");
    let mut user_events = user.connect().unwrap();
    user.ready().await.unwrap();
    let _login = next_of(&mut user_events, kind::COPY).await;
    // The hub takes a connection's frames in order: the heartbeat's copy means the join
    // before it was taken too.
    let user_heartbeat = user.dry_run().heartbeat();
    user.send(user_heartbeat.clone()).await.unwrap();
    let user_heartbeat = user_heartbeat.request_id().unwrap().to_owned();
    let _heartbeat = next_of(&mut user_events, kind::COPY).await;

    let stdin = [
        r#"message_down {"channel_id": "ch-1", "recipients": "u1", "subtype": "text", "content": {"text": "from the cli"}}"#,
        r#"send_buttons {"buttons": [{"button_id": "b1"}], "channel_id": "ch-1", "recipients": "u1"}"#,
        r#"send_buttons {"buttons": {"button_id": "b1", "button_text": "Press"}, "channel_id": "ch-1", "recipients": "ch-1"}"#,
        r#"{"type": "heartbeat", "body": {}}"#,
        r#"message_down {"channel_id": "ch-1", "recipients": "", "subtype": "text", "content": {"text": "to nobody"}}"#,
        "shout loudly",
    ]
    .join("\n");
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            tether(
                &[
                    "connect",
                    &url,
                    "--profile",
                    "moobius",
                    "--mode",
                    "service",
                    "--service-id",
                    "svc-cli",
                    "--token",
                    TOKEN,
                    "--events",
                    "--drain",
                ],
                &stdin,
            )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The rest went through; the three lines that sent nothing count as undelivered: exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "stdin line 2: invalid button 0: missing field `button_text`",
        "stdin line 5: recipients is empty",
        "stdin line 6: unknown builder \"shout\"",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing in:\n{stderr}"
        );
    }
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    // stdout: JSON lines, with the hub's copies of the login (and maybe the heartbeat).
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["type"] == "message"
            && l["data"]["type"] == "copy"
            && l["data"]["body"]["origin_type"] == "service_login"
            && l["data"]["body"]["status"] == true),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "state" && l["state"] == "ready")
    );

    // The hub saw the login first, then the valid lines in order.
    let types: Vec<String> = hub
        .received("moobius")
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f.as_text()?).ok())
        .filter(|v| v["type"] != "user_login" && v["type"] != "action")
        .filter(|v| !(v["type"] == "heartbeat" && v["request_id"] == user_heartbeat))
        .map(|v| v["type"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        types,
        ["service_login", "message_down", "update", "heartbeat"],
        "login first, then the three valid lines"
    );
    // The user received them.
    let down = next_of(&mut user_events, kind::MESSAGE_DOWN).await;
    assert_eq!(down.message().unwrap().text(), Some("from the cli"));
    assert_eq!(down.message().unwrap().sender.as_deref(), Some("svc-cli"));
    let update = next_of(&mut user_events, kind::UPDATE).await;
    assert!(
        update.text().contains("\"button_text\":\"Press\""),
        "{update:?}"
    );

    user.disconnect().await;
    hub.shutdown().await;
}

#[test]
fn the_moobius_profile_needs_a_token_and_a_service_id() {
    let out = tether(
        &[
            "connect",
            "ws://127.0.0.1:9/",
            "--profile",
            "moobius",
            "--service-id",
            "s",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --token"));
    let out = tether(
        &[
            "connect",
            "ws://127.0.0.1:9/",
            "--profile",
            "moobius",
            "--token",
            TOKEN,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs --service-id"), "{stderr}");
    assert!(!stderr.contains(TOKEN));
}
