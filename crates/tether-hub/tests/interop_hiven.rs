//! Interop with the REAL hiven.py 0.0.3 client (issue 5's acceptance): pointed at the
//! hub's `hiven` Swarm (its module constant patched, as SPEC section 6 says), it reaches
//! its own `ready` (INIT_STATE, then the HOUSE_JOINs the hub sends 0.2 s later), and
//! receives — parsed by its own `Message` type, linked to its house and room — the
//! MESSAGE_CREATE for a message that tether's Rust Hiven client posts through the hub's
//! REST API (`hiven-api`).
//!
//! Needs the Python venv from `scripts/peers-env/setup.sh`: set
//! `TETHER_PEERS_VENV` to it (absolute, or relative to the repository root). The test is
//! `#[ignore]`d, so a plain `cargo test` needs no Python; `scripts/test.sh` runs it with
//! `--ignored`. Helper: `scripts/interop/hiven_client.py`.

mod support;

use support::{peers_python, repo_root};

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use support::within;
use tether::{ClientConfig, hiven::HivenClient};
use tether_hub::Hub;
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(30);
/// The fixture room `general` of "Tether Lounge".
const GENERAL: &str = "100000000000000011";

/// The Python process, killed (by its PID) and reaped when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts hiven.py's driver; its stdout lines arrive on the channel (stderr is inherited,
/// so its tracebacks show in the test output).
fn start_peer(url: &str, token: &str, expected: &str) -> (Peer, mpsc::UnboundedReceiver<String>) {
    let mut child = Command::new(peers_python())
        .arg("-u")
        .arg(repo_root().join("scripts/interop/hiven_client.py"))
        .args([url, token, expected])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting hiven.py's driver");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("hiven.py: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Peer(child), rx)
}

/// The JSON after `prefix ` on the next line that has it.
async fn next_line(lines: &mut mpsc::UnboundedReceiver<String>, prefix: &str) -> Value {
    within(LIMIT, prefix, async {
        loop {
            let line = lines
                .recv()
                .await
                .unwrap_or_else(|| panic!("hiven.py ended before printing {prefix}"));
            if let Some(json) = line.strip_prefix(prefix).and_then(|l| l.strip_prefix(' ')) {
                return serde_json::from_str(json).expect("the driver prints JSON");
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TETHER_PEERS_VENV (the real hiven.py); scripts/test.sh runs it"]
async fn real_hiven_py_reaches_ready_and_receives_a_message_posted_by_tethers_client() {
    let hub = Hub::builder()
        .ephemeral()
        .record(true)
        .start()
        .await
        .unwrap();
    let swarm = hub.url("hiven").unwrap();
    let url = format!("{swarm}?encoding=json&compression=text_json");
    let python_token = "PyB0t".repeat(26) + "pb";
    assert_eq!(python_token.len(), 132);
    let text = "hello hiven.py, from tether";
    let (mut peer, mut lines) = start_peer(&url, &python_token, text);

    let ready = next_line(&mut lines, "READY").await;
    assert_eq!(
        ready["houses"],
        serde_json::json!(["Hub Testing", "Tether Lounge"]),
        "hiven.py fired ready with every fixture house joined: {ready}"
    );

    // tether's Rust client (a user) logs in to the Swarm too, then posts over REST.
    let tether = HivenClient::builder("T3th3r".repeat(21) + "tt")
        .swarm_url(&swarm)
        .api_url(hub.url("hiven-api").unwrap())
        .config(ClientConfig::default())
        .build()
        .unwrap();
    let _events = tether.connect().unwrap();
    within(LIMIT, "tether's client ready", tether.wait_ready())
        .await
        .unwrap();
    let posted = tether.send_message(GENERAL, text).await.unwrap();
    let me = tether.user().expect("INIT_STATE named the user");
    assert_eq!(posted.author_id, me.id);

    let result = next_line(&mut lines, "RESULT").await;
    assert_eq!(result["ready"], true, "{result}");
    assert_eq!(result["content"], text, "{result}");
    assert_eq!(result["author_id"], me.id.as_str(), "{result}");
    assert_eq!(result["author_username"], me.username.as_str(), "{result}");
    assert_eq!(result["room_id"], GENERAL, "{result}");
    assert_eq!(
        result["room_name"], "general",
        "hiven.py linked the room: {result}"
    );
    assert_eq!(result["house_name"], "Tether Lounge", "{result}");

    // hiven.py's own login and heartbeat frames, byte for byte, are what tether's
    // encoders produce for the same token (there is no golden file for Hiven: this is it).
    let from_python: Vec<String> = hub
        .received("hiven")
        .iter()
        .filter_map(|f| f.as_text().map(str::to_owned))
        .filter(|t| !t.contains(&me.id) && !t.contains("T3th3r"))
        .collect();
    assert_eq!(
        from_python.first().map(String::as_str),
        Some(tether::hiven::model::auth_text(&format!("Bot {python_token}")).as_str()),
        "{from_python:?}"
    );
    assert_eq!(
        from_python.get(1).map(String::as_str),
        Some(tether::hiven::model::HEARTBEAT_TEXT),
        "{from_python:?}"
    );

    let status = within(LIMIT, "hiven.py to exit", async {
        loop {
            if let Some(status) = peer.0.try_wait().expect("try_wait") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(status.success(), "hiven.py's driver exited with {status}");
    tether.close().await;
    hub.shutdown().await;
}
