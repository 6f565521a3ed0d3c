//! Interop with the REAL Gather Python SDK (`gather-client-ws` 0.0.4, issue 7's
//! acceptance), through the hub's `gather-api` route and `gather` engine:
//!
//! - the real `GatherClient` (its tapioca API root patched to the hub's route, SPEC
//!   section 6) connects, gets its user id, sets a text status; tether's `GatherClient` in
//!   the same space receives the `playerSetsTextStatus` for it (matched to the SDK's user
//!   id through `spaceSetsIdMapping`);
//! - vice versa for a chat: tether's client chats, the real SDK receives `playerChats`
//!   from tether's user id.
//!
//! Needs the Python venv from `scripts/peers-env/setup.sh`: set
//! `TETHER_PEERS_VENV` to it (absolute, or relative to the repository root). The tests are
//! `#[ignore]`d; `scripts/test.sh` runs them with `--ignored`. Helper:
//! `scripts/interop/gather_sdk_driver.py`.

mod support;

use support::{peers_python, repo_root};

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use tether::{
    BackoffConfig, ClientConfig, Event, Events,
    gather::{GatherClient, ServerEvent},
};
use tether_hub::Hub;
use tokio::sync::mpsc;

/// Every single wait in this file is bounded by this.
const LIMIT: Duration = Duration::from_secs(30);
const API_KEY: &str = "interop-api-key";

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {LIMIT:?}: {what}"))
}

/// The real SDK in `gather_sdk_driver.py`: its stdout lines, killed (by PID) when dropped.
struct Sdk {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Sdk {
    fn start(hub: &Hub, space: &str, mode: &[&str]) -> Self {
        let mut child = Command::new(peers_python())
            .arg("-u")
            .arg(repo_root().join("scripts/interop/gather_sdk_driver.py"))
            .args(["--api-root", &hub.url("gather-api").unwrap()])
            .args(["--space", space, "--api-key", API_KEY])
            .args(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SDK driver");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The rest of the line that starts with `prefix`.
    async fn line(&mut self, prefix: &str) -> String {
        within(&format!("the SDK's {prefix} line"), async {
            loop {
                let line = self
                    .lines
                    .recv()
                    .await
                    .unwrap_or_else(|| panic!("the SDK exited before printing {prefix}"));
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.trim().to_owned();
                }
            }
        })
        .await
    }

    async fn result(&mut self) -> Value {
        let text = self.line("RESULT").await;
        serde_json::from_str(&text).expect("RESULT is JSON")
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tether_client(hub: &Hub, space: &str) -> GatherClient {
    GatherClient::builder(API_KEY, space)
        .api_root(hub.url("gather-api").unwrap())
        .config(ClientConfig::default().backoff(BackoffConfig {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            max_attempts: None,
            seed: Some(7),
        }))
        .build()
}

/// The next server event matching `pick`.
async fn next_event<T>(
    events: &mut Events<ServerEvent>,
    what: &str,
    mut pick: impl FnMut(&ServerEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match events.recv().await {
                Some(Event::Message(event)) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Some(_) => {}
                None => panic!("the event stream ended before {what}"),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Gather SDK: TETHER_PEERS_VENV (scripts/test.sh)"]
async fn the_real_sdk_sets_a_text_status_that_a_tether_client_in_its_space_receives() {
    let _ = peers_python();
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let space = "interop/status space";
    let tether = tether_client(&hub, space);
    let mut events = tether.connect().unwrap();
    within("tether ready", tether.ready()).await.unwrap();

    let mut sdk = Sdk::start(&hub, space, &["status", "hello from the python sdk"]);
    let sdk_user = sdk.line("READY").await;
    assert!(!sdk_user.is_empty(), "the SDK got its user id");
    let enc_id = next_event(&mut events, "the SDK player's id mapping", |e| match e {
        ServerEvent::SpaceSetsIdMapping(m) if m.uid == sdk_user => Some(m.enc_id),
        _ => None,
    })
    .await;
    let status = next_event(&mut events, "the SDK player's text status", |e| match e {
        ServerEvent::PlayerSetsTextStatus(s) if s.enc_id == enc_id => Some(s.text_status.clone()),
        _ => None,
    })
    .await;
    assert_eq!(status, "hello from the python sdk");
    let result = sdk.result().await;
    assert_eq!(result["user_id"], sdk_user.as_str());
    assert_eq!(result["acked"], true, "the SDK got a transactionStatus");
    println!("gather interop: the SDK ({sdk_user}) set a status tether received: {result}");
    tether.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real Gather SDK: TETHER_PEERS_VENV (scripts/test.sh)"]
async fn a_tether_chat_reaches_the_real_sdk_in_its_space() {
    let _ = peers_python();
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let space = "interop/chat space";
    let mut sdk = Sdk::start(&hub, space, &["chat"]);
    let sdk_user = sdk.line("READY").await;

    let tether = tether_client(&hub, space);
    let mut events = tether.connect().unwrap();
    within("tether ready", tether.ready()).await.unwrap();
    let tether_user = tether.user_id().unwrap();
    // The SDK's player is in the space.
    next_event(&mut events, "the SDK player in the space", |e| match e {
        ServerEvent::SpaceSetsIdMapping(m) if m.uid == sdk_user => Some(()),
        _ => None,
    })
    .await;
    let receipt = tether
        .chat(
            "GLOBAL_CHAT",
            "hello from tether",
            vec![],
            "office",
            None,
            None,
        )
        .await
        .unwrap();
    let status = within("the chat's transactionStatus", receipt)
        .await
        .unwrap();
    assert!(status.succeeded);

    let result = sdk.result().await;
    assert_eq!(result["sender_id"], tether_user.as_str());
    assert_eq!(result["contents"], "hello from tether");
    assert_eq!(result["recipient"], "GLOBAL_CHAT");
    println!("gather interop: the SDK ({sdk_user}) received tether's chat: {result}");
    tether.close().await;
}
