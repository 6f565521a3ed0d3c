//! `tether connect --profile gather` and `tether gather actions`, run as a user would,
//! against an in-process hub (its `gather` engine and `gather-api` route).

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use serde_json::Value;
use tether::gather::{Action, decode_action};
use tether_hub::Hub;

fn tether(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(args)
        .env_remove("TETHER_GATHER_API_KEY")
        .env_remove("TETHER_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tether");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// [`tether`] off the runtime's threads (the hub runs on them).
async fn tether_async(args: &[&str], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tether(&args, &stdin)
    })
    .await
    .unwrap()
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

async fn hub() -> Hub {
    Hub::builder()
        .ephemeral()
        .record(true)
        .start()
        .await
        .unwrap()
}

/// The actions the hub received (init and heartbeats left out).
fn received_actions(hub: &Hub) -> Vec<Action> {
    hub.received("gather")
        .iter()
        .filter_map(|f| decode_action(f.payload()).ok()?.action)
        .filter(|a| !matches!(a, Action::Init(_) | Action::ClientHeartbeat(_)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_validated_actions_sent_through_discovery_and_acknowledged() {
    let hub = hub().await;
    let api = hub.url("gather-api").unwrap();
    let stdin = "set_text_status {\"text_status\": \"hi\"}\n\
                 fly {}\n\
                 set_text_status {\"status\": \"x\"}\n\
                 chat [\"GLOBAL_CHAT\", \"yo\"]\n\
                 shootConfetti\n";
    let args = [
        "connect",
        "--profile",
        "gather",
        "--space",
        "a/b",
        "--api",
        &api,
        "--api-key",
        "k",
        "--events",
        "--drain",
    ];
    let out = tether_async(&args, stdin).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The rest went through; the two invalid lines count as undelivered: exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stdin line 2: unknown action \"fly\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("stdin line 3: set_text_status has no argument \"status\""),
        "{stderr}"
    );

    let printed = lines(&out.stdout);
    assert!(
        printed
            .iter()
            .any(|l| l["type"] == "message" && l["data"]["ready"]["id"].is_string()),
        "{printed:?}"
    );
    let acks: Vec<&Value> = printed.iter().filter(|l| l["type"] == "ack").collect();
    assert_eq!(acks.len(), 3, "{printed:?}");
    assert!(acks.iter().all(|a| a["accepted"] == true));
    assert_eq!(
        received_actions(&hub),
        [
            Action::set_text_status("hi", None),
            Action::chat("GLOBAL_CHAT", "yo", vec![], "", None, None),
            Action::shoot_confetti(None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_engine_url_works_and_a_refused_key_exits_3_without_printing_it() {
    let hub = hub().await;
    let engine = hub.url("gather").unwrap();
    let args = [
        "connect",
        &engine,
        "--profile",
        "gather",
        "--space",
        "s",
        "--api-key",
        "k",
        "--drain",
    ];
    let out = tether_async(&args, "exit\n").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(received_actions(&hub), [Action::exit()]);

    let api = hub.url("gather-api").unwrap();
    for target in [vec!["--api", api.as_str()], vec![engine.as_str()]] {
        let mut args = vec!["connect", "--profile", "gather", "--space", "s"];
        args.extend(target);
        args.extend(["--api-key", "invalid-S3CRET", "--events", "--drain"]);
        let out = tether_async(&args, "exit\n").await;
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(3), "{all}");
        assert!(all.contains("refused"), "{all}");
        assert!(!all.contains("S3CRET"), "the key was printed: {all}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[
            "connect",
            "--profile",
            "gather",
            "--api-key",
            "k",
            "ws://127.0.0.1:9/",
        ][..],
        &[
            "connect",
            "--profile",
            "gather",
            "--space",
            "s",
            "ws://127.0.0.1:9/",
        ][..],
        &[
            "connect",
            "ws://127.0.0.1:9/",
            "--api",
            "http://127.0.0.1:9/",
            "--profile",
            "gather",
        ][..],
        &["gather", "actions", "no_such_action"][..],
    ] {
        let out = tether(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn gather_actions_lists_every_action_with_its_arguments() {
    let out = tether(&["gather", "actions"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 129);
    assert!(
        text.lines()
            .any(|l| l == "set_text_status(text_status: string, target_id: optional string)"),
        "{text}"
    );

    let out = tether(&["gather", "actions", "setTextStatus"], "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "set_text_status\nArgs:\n\ttext_status (str)\n\ttarget_id (str)\n\
         set_text_status(text_status: string, target_id: optional string)\n"
    );

    let out = tether(&["gather", "actions", "--json"], "");
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 129);
    let chat = all.iter().find(|a| a["name"] == "chat").unwrap();
    assert_eq!(chat["args"][2]["type"], "repeated string");
    assert_eq!(chat["args"][2]["name"], "local_player_ids");
}
