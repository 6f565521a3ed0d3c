#![allow(dead_code)] // each test binary uses its own part of the helpers
//! Helpers for running the tether engine against an in-process hub: bounded waits, an
//! acknowledged message stream with its order check, an event recorder, a probe
//! endpoint that shows what the built-in ones keep to themselves, and a bare HTTP client
//! for the control API.

use std::{
    collections::HashSet,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::json;
use tether::{
    BackoffConfig, Client, Event, Events, Frame, Receipt,
    raw::{Raw, RawMessage},
};
use tether_hub::{Close, ConnInfo, EndpointSpec, Hub, Registry, Service, Session, Transport};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::watch,
    task::JoinHandle,
};

/// Reconnects quickly (20 ms base, 200 ms cap), with seeded jitter.
pub fn fast_backoff(seed: u64) -> BackoffConfig {
    BackoffConfig {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_attempts: None,
        seed: Some(seed),
    }
}

/// Awaits `future`, failing the test if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}

/// Polls `done` until it holds, failing the test after `limit`.
pub async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A hub with the default endpoints (and `more`), on ephemeral 127.0.0.1 ports, recording
/// every frame it receives.
pub async fn hub_with(more: Vec<EndpointSpec>) -> Hub {
    let mut builder = Hub::builder().ephemeral().record(true);
    for spec in more {
        builder = builder.endpoint(spec);
    }
    builder
        .start()
        .await
        .expect("the hub starts on ephemeral ports")
}

/// The `host:port` of an endpoint's `ws://` URL.
pub fn addr_of(hub: &Hub, endpoint: &str) -> SocketAddr {
    let url = hub.url(endpoint).expect("the endpoint exists");
    let rest = url.split_once("://").expect("a URL").1;
    let host_port = rest.split('/').next().expect("host and port");
    host_port.parse().expect("an IP address and port")
}

/// Applies a `Refuse` fault of `secs` to `endpoint` and waits until its listener has
/// closed (the listener's task applies it a moment after `Hub::fault` returns), going by
/// the hub's own count of refusals rather than by probing the port, so a busy machine
/// cannot make the wait miss a short refusal.
pub async fn refuse(hub: &Hub, endpoint: &str, secs: f64) {
    let refusals = |hub: &Hub| hub.stats(endpoint).expect("the endpoint exists").refusals;
    let before = refusals(hub);
    hub.fault(endpoint, &tether_hub::Fault::Refuse { secs })
        .expect("the endpoint exists");
    until(Duration::from_secs(10), "the listener to refuse", || {
        refusals(hub) > before
    })
    .await;
}

/// Whether the client is Ready now.
pub fn is_ready(client: &Client<RawMessage>) -> bool {
    *client.state().borrow() == tether::State::Ready
}

/// The text of every frame an endpoint received, in arrival order.
pub fn received_texts(hub: &Hub, endpoint: &str) -> Vec<String> {
    hub.received(endpoint)
        .iter()
        .map(|frame| frame.as_text().expect("the client sent text").to_owned())
        .collect()
}

fn id_of(text: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(text).expect("the client sent JSON");
    value["id"].as_u64().expect("a numeric id")
}

/// The ids an endpoint saw, each once, in the order it first saw them.
pub fn first_seen_ids(hub: &Hub, endpoint: &str) -> Vec<u64> {
    let mut seen = HashSet::new();
    received_texts(hub, endpoint)
        .iter()
        .map(|text| id_of(text))
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Asserts `ids` is exactly `0..count`, naming the first place it is not.
pub fn assert_all_in_order(ids: &[u64], count: usize) {
    if let Some(at) = (0..count).position(|i| ids.get(i) != Some(&(i as u64))) {
        let around = &ids[at.saturating_sub(3)..(at + 4).min(ids.len())];
        panic!(
            "first-seen order breaks at position {at}: expected id {at}, got {:?} (around: {around:?}); \
             {} distinct ids of {count}",
            ids.get(at),
            ids.len()
        );
    }
    assert_eq!(ids.len(), count, "ids beyond those sent arrived");
}

/// Reads the event stream to its end so reading from the socket never pauses for it.
pub fn drain(mut events: Events<RawMessage>) {
    tokio::spawn(async move { while events.recv().await.is_some() {} });
}

/// Awaits every receipt, failing the test on the first undelivered message.
pub async fn all_delivered(limit: Duration, receipts: Vec<Receipt<RawMessage>>) {
    within(limit, "every receipt", async {
        for (i, receipt) in receipts.into_iter().enumerate() {
            if let Err(e) = receipt.await {
                panic!("message {i} was not delivered: {e}");
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// An acknowledged stream of messages.

/// `count` messages `{"id": i, "pad": …}` handed to `send` one after the other by a task
/// of their own, so a test can strike a fault mid-stream. The pad makes each ~1 KiB:
/// enough that the writer now and then waits on the socket, so a fault finds messages
/// both written-but-unacknowledged and still queued, and the replay must come before the
/// queued ones.
pub struct Stream {
    count: usize,
    sent: watch::Receiver<usize>,
    task: JoinHandle<Vec<Receipt<RawMessage>>>,
}

impl Stream {
    pub fn start(client: &Client<RawMessage>, raw: &Raw, count: usize) -> Self {
        Self::start_padded(client, raw, count, 1000)
    }

    pub fn start_padded(client: &Client<RawMessage>, raw: &Raw, count: usize, pad: usize) -> Self {
        let (progress, sent) = watch::channel(0);
        let client = client.clone();
        let raw = raw.clone();
        let pad = "x".repeat(pad);
        let task = tokio::spawn(async move {
            let mut receipts = Vec::with_capacity(count);
            for i in 0..count {
                let message = raw.encode(&json!({"id": i, "pad": pad}));
                match client.send(message).await {
                    Ok(receipt) => receipts.push(receipt),
                    Err(e) => panic!("send of message {i} failed: {e}"),
                }
                progress.send_replace(i + 1);
            }
            receipts
        });
        Self { count, sent, task }
    }

    /// A watch of how many messages were handed to `send` so far.
    pub fn progress(&self) -> watch::Receiver<usize> {
        self.sent.clone()
    }

    /// Waits until `n` messages were handed to `send`.
    pub async fn reached(&self, n: usize) {
        let mut sent = self.sent.clone();
        within(Duration::from_secs(60), "the stream's progress", async {
            sent.wait_for(|m| *m >= n)
                .await
                .expect("the sender finishes only after the last message");
        })
        .await;
    }

    /// Waits for every message to be handed to `send` (never failing) and delivered.
    pub async fn delivered(self) {
        let receipts = within(Duration::from_secs(120), "sending", self.task)
            .await
            .expect("send never fails");
        assert_eq!(receipts.len(), self.count);
        all_delivered(Duration::from_secs(120), receipts).await;
    }
}

// ---------------------------------------------------------------------------------------
// Events, kept with the time they were read.

/// Events, each with the instant it was read.
type EventLog = Vec<(Instant, Event<RawMessage>)>;

/// Reads a client's events to their end, keeping each with the instant it was read.
#[derive(Clone)]
pub struct Recorder(Arc<Mutex<EventLog>>);

impl Recorder {
    pub fn start(mut events: Events<RawMessage>) -> Self {
        let all = Arc::new(Mutex::new(Vec::new()));
        let sink = all.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                sink.lock().unwrap().push((Instant::now(), event));
            }
        });
        Self(all)
    }

    fn all(&self) -> MutexGuard<'_, EventLog> {
        self.0.lock().unwrap()
    }

    /// Waits until the recorder has read the `Open` state of every connection the client
    /// made so far, and so every event before the latest one (it reads on a task of its
    /// own, and may lag behind the client).
    pub async fn caught_up(&self, client: &Client<RawMessage>) {
        let connects = client.stats().connects as usize;
        until(Duration::from_secs(10), "the recorder to catch up", || {
            let all = self.all();
            let opens = all
                .iter()
                .filter(|(_, e)| matches!(e, Event::State(tether::State::Open)));
            opens.count() >= connects
        })
        .await;
    }

    /// The error of every `Disconnected` event, with when it was read.
    pub fn disconnects(&self) -> Vec<(Instant, String)> {
        self.all()
            .iter()
            .filter_map(|(at, e)| match e {
                Event::Disconnected { error, .. } => Some((*at, error.to_string())),
                _ => None,
            })
            .collect()
    }

    /// The first `Reconnecting` state read at or after `since`, with the error of the
    /// `Disconnected` event before it.
    pub fn first_reconnect_after(&self, since: Instant) -> Option<(Instant, String)> {
        let all = self.all();
        let mut error = None;
        for (at, event) in all.iter().filter(|(at, _)| *at >= since) {
            match event {
                Event::Disconnected { error: e, .. } if error.is_none() => {
                    error = Some(e.to_string());
                }
                Event::State(tether::State::Reconnecting { .. }) => {
                    return Some((*at, error.unwrap_or_default()));
                }
                _ => {}
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// A probe endpoint.

/// An echo endpoint that also shows the test what the built-in ones keep to themselves:
/// each upgrade's `Authorization` header, a way to push any frame to the live
/// connections (through the endpoint's [`Registry`]), and a close with a chosen code and
/// reason.
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeState>);

#[derive(Default)]
struct ProbeState {
    authorizations: Mutex<Vec<Option<String>>>,
    registry: Mutex<Option<Arc<Registry>>>,
    close_next: Mutex<Option<Close>>,
}

struct ProbeSession(Arc<ProbeState>);

impl Service for Probe {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        self.0
            .authorizations
            .lock()
            .unwrap()
            .push(conn.header("authorization").map(str::to_owned));
        *self.0.registry.lock().unwrap() = Some(conn.registry.clone());
        Ok(Box::new(ProbeSession(self.0.clone())))
    }
}

impl Session for ProbeSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        out.push(frame);
        match self.0.close_next.lock().unwrap().take() {
            Some(close) => Err(close),
            None => Ok(()),
        }
    }
}

impl Probe {
    /// The endpoint, named `name`, for [`tether_hub::HubBuilder::endpoint`].
    pub fn spec(&self, name: &str) -> EndpointSpec {
        EndpointSpec {
            name: name.into(),
            default_port: 0,
            transport: Transport::WebSocket { path: "/".into() },
            service: Arc::new(self.clone()),
        }
    }

    /// The `Authorization` header of every upgrade, in order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.0.authorizations.lock().unwrap().clone()
    }

    /// Sends `frame` on every live connection; returns how many took it.
    pub fn push(&self, frame: &Frame) -> usize {
        let registry = self.0.registry.lock().unwrap().clone();
        registry.map_or(0, |r| r.broadcast(frame, None))
    }

    /// The next message received is echoed, then the connection closes with `close`.
    pub fn close_after_next_message(&self, close: Close) {
        *self.0.close_next.lock().unwrap() = Some(close);
    }
}

// ---------------------------------------------------------------------------------------
// The control API, over a bare HTTP/1.1 connection.

/// POSTs `body` (JSON) to `path` on the hub's control API; returns the status code and
/// the response body.
pub async fn post(hub: &Hub, path: &str, body: &serde_json::Value) -> (u16, String) {
    control_request(hub, "POST", path, &body.to_string()).await
}

/// GETs `path` (with its query) from the hub's control API; returns the status code and
/// the response body.
pub async fn get(hub: &Hub, path: &str) -> (u16, String) {
    control_request(hub, "GET", path, "").await
}

async fn control_request(hub: &Hub, method: &str, path: &str, body: &str) -> (u16, String) {
    let url = hub.url("control").expect("the hub has a control API");
    let addr = url
        .strip_prefix("http://")
        .expect("an http:// URL")
        .trim_end_matches('/')
        .to_owned();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    within(Duration::from_secs(10), "the control API's answer", async {
        let mut tcp = TcpStream::connect(&addr)
            .await
            .expect("the control API listens");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8(response).expect("an HTTP response in UTF-8");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP status line: {response}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
}

/// Connects a datadivr client and waits until it is ready.
pub async fn start_datadivr(
    client: tether::datadivr::DatadivrClient,
) -> (
    tether::datadivr::DatadivrClient,
    Events<tether::datadivr::Message>,
) {
    let events = client.connect().expect("the client starts");
    within(
        Duration::from_secs(30),
        "the client to be ready",
        client.ready(),
    )
    .await
    .expect("ready");
    (client, events)
}

/// The next inbound datadivr message, skipping state and other events.
pub async fn next_datadivr_message(
    events: &mut Events<tether::datadivr::Message>,
) -> tether::datadivr::Message {
    loop {
        match within(Duration::from_secs(30), "an inbound message", events.recv()).await {
            Some(Event::Message(message)) => return message,
            Some(_) => {}
            None => panic!("the event stream ended"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Logs.

/// A `tracing` writer appending to a shared buffer.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every log line of this test binary at TRACE, except the hub's own (the hub is the
/// server here; the promise is about the client). Every test calls this before it
/// starts a client.
///
/// One global subscriber, not a thread-local one (`set_default` on a current-thread
/// runtime): tracing caches each callsite's interest for the whole process, computed
/// with the subscriber of whichever thread reaches the callsite first, so a thread-local
/// subscriber misses events whose callsite another test's thread reached first (seen
/// in the engine's former end-to-end tests: "connection lost" went missing now and
/// then). Installed before any client exists, the global one sees every event; the
/// token test then checks the logs of every client in the binary, which only makes it
/// stricter.
pub fn logs() -> &'static Capture {
    use tracing_subscriber::{
        filter::{LevelFilter, Targets},
        layer::SubscriberExt as _,
    };
    static LOGS: std::sync::LazyLock<Capture> = std::sync::LazyLock::new(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer({
                let capture = capture.clone();
                move || capture.clone()
            })
            .finish()
            .with(
                Targets::new()
                    .with_default(LevelFilter::TRACE)
                    .with_target("tether_hub", LevelFilter::OFF),
            );
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this binary");
        capture
    });
    &LOGS
}

// ---------------------------------------------------------------------------------------
// Interop with the platforms' real Python SDKs.

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A driver script of `scripts/interop/`.
pub fn interop_script(name: &str) -> std::path::PathBuf {
    repo_root().join("scripts/interop").join(name)
}

/// An empty scratch folder `group/name` under the test target's temporary directory.
pub fn scratch(group: &str, name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A loopback port that was free a moment ago (for a child process to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A file's text (lossily decoded; a note in its place if it cannot be read).
pub fn read_lossy(path: &std::path::Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|err| format!("<{}: {err}>", path.display()))
}

/// The python of the peers venv (`TETHER_PEERS_VENV`, absolute or relative to the
/// repository root; scripts/test.sh sets it).
pub fn peers_python() -> std::path::PathBuf {
    const VENV_VAR: &str = "TETHER_PEERS_VENV";
    let venv = std::env::var_os(VENV_VAR)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "set {VENV_VAR} to a venv made by scripts/peers-env/setup.sh \
                 (scripts/test.sh does) to run the interop tests against the real SDKs"
            )
        });
    let venv = std::path::PathBuf::from(venv);
    let venv = if venv.is_absolute() {
        venv
    } else {
        repo_root().join(venv)
    };
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{VENV_VAR} is set but {} does not exist",
        python.display()
    );
    python
}
