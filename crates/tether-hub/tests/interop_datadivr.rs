//! Interop with the REAL datadivr 0.3 server and Python SDK (issue 4's acceptance):
//!
//! - (a) tether's `DatadivrClient` against the real server (its FastAPI app under uvicorn);
//! - (b) the real `datadivr.WebSocketClient` against the hub's `datadivr` endpoint — and,
//!   as the reference, against the real server: both transcripts must be equal;
//! - (c) the real server killed (SIGKILL) and restarted on the same port during a run of
//!   1,000 messages from a tether client: it reconnects and goes on; the test prints how
//!   many the server logged (`datadivr crash run: sent 1000, server received N ...`).
//!
//! The three exchanges, for each pair: `sum_event` [391, 29] → the sender gets
//! `sum_handler_result` 420.0; a `to: "others"` message reaches the others with the
//! sender's id as `from_id`; a message to a client's id (learnt from the `from_id` of a
//! message that client sent to others) reaches that client only.
//!
//! Needs the Python venv from `scripts/peers-env/setup.sh`: set
//! `TETHER_PEERS_VENV` to it (absolute, or relative to the repository root). The tests are
//! `#[ignore]`d, so a plain `cargo test` reports them as ignored and needs no Python;
//! `scripts/test.sh` builds the venv and runs them with `--ignored`. Helpers:
//! `scripts/interop/`.

mod support;

use support::{free_port, peers_python, read_lossy};

use std::{
    collections::BTreeSet,
    fs::File,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use support::{hub_with, until, within};
use tether::{
    BackoffConfig, ClientConfig, Event, Events,
    datadivr::{DatadivrClient, Message},
};
use tether::{json, json::Value};

/// Every single wait in this file is bounded by this.
const LIMIT: Duration = Duration::from_secs(30);
const CRASH_RUN_COUNT: usize = 1000;

fn script(name: &str) -> PathBuf {
    support::interop_script(name)
}

/// A fresh scratch folder for logs, under cargo's per-target temporary folder.
fn scratch(name: &str) -> PathBuf {
    support::scratch("interop-datadivr", name)
}

/// A child process killed (SIGKILL, by its PID) and reaped when dropped, whatever happens.
struct KillOnDrop {
    child: Child,
    what: String,
}

impl KillOnDrop {
    fn spawn(mut command: Command, what: impl Into<String>) -> Self {
        let what = what.into();
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {what}: {err}"));
        Self { child, what }
    }

    fn kill(&mut self) {
        // Errors only mean the process is already gone; `wait` reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit, killing it after `limit`.
    async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if started.elapsed() > limit {
                self.kill();
                panic!("{} did not finish within {limit:?}; killed", self.what);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real datadivr server (`scripts/interop/datadivr_server.py`: the package's FastAPI
/// app under uvicorn) on 127.0.0.1:`port`, logging JSON lines to `log`.
struct RealServer {
    process: KillOnDrop,
    port: u16,
    log: PathBuf,
    err: PathBuf,
}

impl RealServer {
    async fn start(python: &Path, port: u16, log: PathBuf) -> Self {
        let err = log.with_extension("err");
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(script("datadivr_server.py"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(File::create(&log).expect("server log"))
            .stderr(File::create(&err).expect("server stderr"));
        let mut server = Self {
            process: KillOnDrop::spawn(command, format!("the datadivr server on port {port}")),
            port,
            log,
            err,
        };
        server.wait_listening().await;
        server
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    async fn wait_listening(&mut self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.child.try_wait().expect("try_wait") {
                panic!(
                    "the datadivr server exited ({status}) before listening:\n{}",
                    read_lossy(&self.err)
                );
            }
            let probe = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            );
            if let Ok(Ok(_)) = probe.await {
                return;
            }
            assert!(
                started.elapsed() < LIMIT,
                "the datadivr server did not listen on {addr} within {LIMIT:?}:\n{}",
                read_lossy(&self.err)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server (SIGKILL by PID: a crash, no shutdown) and reaps it.
    fn kill(&mut self) {
        self.process.kill();
    }

    /// The `seq` of every `crash_run` message the server logged as received, in log order.
    fn received_seqs(&self) -> Vec<u64> {
        received(&self.log, "crash_run")
            .iter()
            .map(|payload| payload["seq"].as_u64().expect("a seq"))
            .collect()
    }
}

/// The payloads of the messages named `event` that the server logged as received
/// (`message_received`, logged once a frame parsed and validated, before routing).
fn received(log: &Path, event: &str) -> Vec<Value> {
    read_lossy(log)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["event"] == "message_received")
        .filter(|entry| entry["message"]["event_name"] == event)
        .map(|entry| entry["message"]["payload"].clone())
        .collect()
}

fn tether_client(url: &str, seed: u64) -> DatadivrClient {
    DatadivrClient::new(url).config(ClientConfig::default().backoff(BackoffConfig {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(500),
        max_attempts: None,
        seed: Some(seed),
    }))
}

async fn connect(url: &str, seed: u64) -> (DatadivrClient, Events<Message>) {
    support::start_datadivr(tether_client(url, seed)).await
}

/// The next inbound message, skipping state and other events.
async fn next_message(events: &mut Events<Message>) -> Message {
    support::next_datadivr_message(events).await
}

/// What every pair (client, server) must produce, with the two client ids replaced by
/// `<A>` and `<B>`. Keys as in `scripts/interop/datadivr_sdk_driver.py`.
fn expected_transcript() -> Value {
    let marker = json!({"event_name": "marker", "payload": null, "to": "all", "from_id": "<A>", "message": null});
    let chat = json!({"event_name": "chat", "payload": {"n": 1}, "to": "others", "from_id": "<A>", "message": "hi all"});
    json!({
        "sum_reply_a": {"event_name": "sum_handler_result", "payload": 420.0, "to": "<A>", "from_id": "server", "message": null},
        "sum_reply_b": {"event_name": "sum_handler_result", "payload": 420.0, "to": "<B>", "from_id": "server", "message": null},
        "others_at_b": chat,
        "others_at_c": chat,
        "b_id_learned": "<B>",
        "direct_at_b": {"event_name": "direct", "payload": {"x": 1}, "to": "<B>", "from_id": "<A>", "message": "just B"},
        "after_direct_at_b": marker,
        "after_direct_at_a": marker,
        "after_direct_at_c": marker,
    })
}

fn replace_ids(value: &mut Value, a: &str, b: &str) {
    match value {
        Value::String(s) if s == a => *s = "<A>".into(),
        Value::String(s) if s == b => *s = "<B>".into(),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_ids(v, a, b)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_ids(v, a, b)),
        _ => {}
    }
}

/// Checks a transcript against [`expected_transcript`]: the ids are server-assigned
/// uuids, distinct, and everything else is equal as `tether::json::Value` (so `420.0` must
/// be a float, as the real server sends it).
fn check_transcript(who: &str, mut transcript: Value) {
    let a = transcript["sum_reply_a"]["to"]
        .as_str()
        .unwrap_or_else(|| panic!("{who}: no sum reply for A: {transcript}"))
        .to_owned();
    let b = transcript["sum_reply_b"]["to"]
        .as_str()
        .unwrap_or_else(|| panic!("{who}: no sum reply for B: {transcript}"))
        .to_owned();
    for id in [&a, &b] {
        assert!(
            id.len() == 36 && id.matches('-').count() == 4,
            "{who}: a client id is a uuid: {id}"
        );
    }
    assert_ne!(a, b, "{who}: each connection has its own id");
    assert!(
        transcript["sum_reply_a"]["payload"].is_f64(),
        "{who}: 420.0 is a float: {transcript}"
    );
    replace_ids(&mut transcript, &a, &b);
    assert_eq!(
        transcript,
        expected_transcript(),
        "{who}: the transcript (ids replaced) differs"
    );
    eprintln!("{who}: the three exchanges match");
}

/// (a) with tether's client: the same steps as the Python driver, the same transcript.
async fn tether_transcript(url: &str) -> Value {
    let (a, mut a_events) = connect(url, 1).await;
    let (b, mut b_events) = connect(url, 2).await;
    let (c, mut c_events) = connect(url, 3).await;
    let mut t = tether::json::Map::new();

    // 1. sum_event (also proves each connection is registered before the broadcasts).
    let mut sums = Vec::new();
    for (client, events) in [
        (&a, &mut a_events),
        (&b, &mut b_events),
        (&c, &mut c_events),
    ] {
        client
            .send_message(json!({"numbers": [391, 29]}), "sum_event", None, "all")
            .await
            .expect("queued");
        sums.push(next_message(events).await.to_value());
    }
    t.insert("sum_reply_a".into(), sums[0].clone());
    t.insert("sum_reply_b".into(), sums[1].clone());

    // 2. "others", and B's id learnt from the from_id of B's message to others.
    a.send_message(json!({"n": 1}), "chat", Some("hi all"), "others")
        .await
        .expect("queued");
    t.insert(
        "others_at_b".into(),
        next_message(&mut b_events).await.to_value(),
    );
    t.insert(
        "others_at_c".into(),
        next_message(&mut c_events).await.to_value(),
    );
    b.send_message(json!({"n": 2}), "chat", Some("from B"), "others")
        .await
        .expect("queued");
    let b_id = next_message(&mut a_events).await.from_id;
    let _ = next_message(&mut c_events).await;
    t.insert("b_id_learned".into(), json!(b_id));

    // 3. To B's id, then a marker to "all" through the same queues: the first thing A and
    // C get after the direct message is the marker.
    a.send_message(json!({"x": 1}), "direct", Some("just B"), &b_id)
        .await
        .expect("queued");
    a.send_message(Value::Null, "marker", None, "all")
        .await
        .expect("queued");
    t.insert(
        "direct_at_b".into(),
        next_message(&mut b_events).await.to_value(),
    );
    t.insert(
        "after_direct_at_b".into(),
        next_message(&mut b_events).await.to_value(),
    );
    t.insert(
        "after_direct_at_a".into(),
        next_message(&mut a_events).await.to_value(),
    );
    t.insert(
        "after_direct_at_c".into(),
        next_message(&mut c_events).await.to_value(),
    );

    for client in [a, b, c] {
        within(LIMIT, "disconnect", client.disconnect()).await;
    }
    Value::Object(t)
}

/// (b) with the real SDK: runs `datadivr_sdk_driver.py` against `url`, returns its result.
async fn sdk_transcript(python: &Path, url: &str, dir: &Path, name: &str) -> Value {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let mut command = Command::new(python);
    command
        .arg(script("datadivr_sdk_driver.py"))
        .arg(url)
        .stdout(File::create(&out).expect("driver stdout"))
        .stderr(File::create(&err).expect("driver stderr"));
    let mut driver = KillOnDrop::spawn(command, format!("the datadivr SDK driver ({name})"));
    let status = driver.wait(LIMIT).await;
    let stdout = read_lossy(&out);
    assert!(
        status.success(),
        "the SDK driver against {url} failed ({status}):\n{stdout}\n{}",
        read_lossy(&err)
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line from the SDK driver:\n{stdout}"));
    serde_json::from_str(line).expect("the driver's RESULT is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real datadivr peers; scripts/test.sh runs it with TETHER_PEERS_VENV set"]
async fn a_tether_client_against_the_real_server() {
    let python = peers_python();
    let dir = scratch("tether-vs-real");
    let server = RealServer::start(&python, free_port(), dir.join("server.log")).await;
    let transcript = tether_transcript(&server.url()).await;
    check_transcript("tether client vs the real server", transcript);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real datadivr peers; scripts/test.sh runs it with TETHER_PEERS_VENV set"]
async fn b_the_real_sdk_against_the_hub_and_the_real_server() {
    let python = peers_python();
    let dir = scratch("sdk-vs-hub");

    // The reference: the real SDK against the real server.
    let server = RealServer::start(&python, free_port(), dir.join("server.log")).await;
    let reference = sdk_transcript(&python, &server.url(), &dir, "driver-vs-real").await;
    drop(server);
    check_transcript("the real SDK vs the real server", reference);

    let hub = hub_with(vec![]).await;
    let url = hub
        .url("datadivr")
        .expect("the hub has a datadivr endpoint");
    let transcript = sdk_transcript(&python, &url, &dir, "driver-vs-hub").await;
    hub.shutdown().await;
    check_transcript("the real SDK vs tether's hub", transcript);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real datadivr peers; scripts/test.sh runs it with TETHER_PEERS_VENV set"]
async fn c_crash_run_the_real_server_killed_and_restarted_mid_stream() {
    let python = peers_python();
    let dir = scratch("crash-run");
    let port = free_port();
    let mut first = RealServer::start(&python, port, dir.join("server-1.log")).await;
    let (client, mut events) = connect(&first.url(), 42).await;
    let disconnects = tokio::spawn(async move {
        let mut disconnects = Vec::new();
        while let Some(event) = events.recv().await {
            if let Event::Disconnected { error, fatal } = event {
                assert!(!fatal, "a crash is not fatal: {error}");
                disconnects.push(error);
            }
        }
        disconnects
    });

    // 1,000 messages, a few milliseconds apart, so that the run spans the crash.
    let queued = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn({
        let client = client.clone();
        let queued = queued.clone();
        async move {
            let mut receipts = Vec::with_capacity(CRASH_RUN_COUNT);
            for seq in 0..CRASH_RUN_COUNT {
                let receipt = client
                    .send_message(json!({"seq": seq}), "crash_run", None, "others")
                    .await
                    .expect("queued");
                receipts.push(receipt);
                queued.store(seq + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            receipts
        }
    });

    until(LIMIT, "300 messages to be queued", || {
        queued.load(Ordering::SeqCst) >= 300
    })
    .await;
    first.kill();
    let killed_at = queued.load(Ordering::SeqCst);
    let second = RealServer::start(&python, port, dir.join("server-2.log")).await;
    let restarted_at = queued.load(Ordering::SeqCst);

    let receipts = within(LIMIT, "the sender to queue all 1,000", sender)
        .await
        .expect("the sender task");
    let (mut written, mut failed) = (0, 0);
    for receipt in receipts {
        match within(LIMIT, "a receipt", receipt).await {
            Ok(_) => written += 1,
            Err(_) => failed += 1,
        }
    }
    // An end marker on the same connection: once the server logged it, it logged every
    // message written before it on that connection.
    client
        .send_message(Value::Null, "crash_run_end", None, "others")
        .await
        .expect("queued");
    until(LIMIT, "the server to log the end marker", || {
        !received(&second.log, "crash_run_end").is_empty()
    })
    .await;
    let reconnects = client.engine().expect("connected").stats().reconnects;
    within(LIMIT, "disconnect", client.disconnect()).await;
    let disconnects = within(LIMIT, "the event stream to end", disconnects)
        .await
        .expect("the event task");

    let before = first.received_seqs();
    let after = second.received_seqs();
    let all: Vec<u64> = before.iter().chain(&after).copied().collect();
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    let lost: Vec<u64> = (0..CRASH_RUN_COUNT as u64)
        .filter(|seq| !unique.contains(seq))
        .collect();
    println!(
        "datadivr crash run: sent {CRASH_RUN_COUNT}, server received {} ({} before the \
         SIGKILL, {} after the restart on the same port; lost {}: {lost:?}; duplicates {}; \
         client: {written} written, {failed} failed, {reconnects} reconnects, killed after \
         {killed_at} queued, restarted after {restarted_at} queued)",
        unique.len(),
        before.len(),
        after.len(),
        lost.len(),
        all.len() - unique.len(),
    );
    eprintln!("disconnects seen by the client: {disconnects:?}");

    assert!(
        !disconnects.is_empty() && reconnects >= 1,
        "the client noticed the crash and reconnected"
    );
    assert_eq!(
        failed, 0,
        "no message was refused: all were queued and written"
    );
    assert!(
        !after.is_empty() && after.contains(&(CRASH_RUN_COUNT as u64 - 1)),
        "the client kept sending to the restarted server, to the last message"
    );
    assert!(
        is_sorted(&before) && is_sorted(&after),
        "each server instance received the messages in order"
    );
    assert_eq!(all.len(), unique.len(), "no message arrived twice");
}

fn is_sorted(seqs: &[u64]) -> bool {
    seqs.windows(2).all(|w| w[0] < w[1])
}
