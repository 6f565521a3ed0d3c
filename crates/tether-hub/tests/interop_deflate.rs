//! permessage-deflate interop (issue 18): compression negotiated AND used in both
//! directions, with the real peers —
//!
//! - tether's client against a Python `websockets` server with its default compression
//!   (`scripts/interop/deflate_peer.py server`, which reports RSV1 per message);
//! - the Python `websockets` client with its default offer against the hub;
//! - tether's client against the real datadivr server (FastAPI under uvicorn).
//!
//! "Used" is shown by RSV1 as the Python side saw it, and on tether's side by wire bytes
//! a third of the payload bytes or fewer (only compressed frames can be that small).
//!
//! Needs the peers venv (`TETHER_PEERS_VENV`, see `scripts/peers-env/setup.sh`); the tests
//! are `#[ignore]`d, `scripts/test.sh` runs them with `--ignored`.

mod support;

use std::{
    fs::File,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{free_port, peers_python, read_lossy, within};
use tether::{Client, ClientConfig, StatsSnapshot, raw::Raw};
use tether_hub::Hub;

const LIMIT: Duration = Duration::from_secs(30);

fn script(name: &str) -> PathBuf {
    support::interop_script(name)
}

fn scratch(name: &str) -> PathBuf {
    support::scratch("interop-deflate", name)
}

/// A Python process, killed (by its PID) and reaped when dropped.
struct Peer {
    child: Child,
    log: PathBuf,
    err: PathBuf,
}

impl Peer {
    /// Starts `args` under the peers venv's python and waits until `port` listens.
    async fn listening(args: &[&str], port: u16, dir: &Path) -> Self {
        let (log, err) = (dir.join("out.log"), dir.join("err.log"));
        let child = Command::new(peers_python())
            .arg("-u")
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&log).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .expect("python starts");
        let mut peer = Self { child, log, err };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        loop {
            if let Some(status) = peer.child.try_wait().unwrap() {
                panic!("{args:?} exited ({status}):\n{}", read_lossy(&peer.err));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return peer;
            }
            assert!(
                started.elapsed() < LIMIT,
                "{args:?} did not listen:\n{}",
                read_lossy(&peer.err)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lines(&self) -> Vec<Value> {
        read_lossy(&self.log)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn realistic(id: usize) -> Value {
    let members: Vec<_> = (0..20)
        .map(|i| {
            json!({"user_id": format!("u-{i:04}"), "display_name": format!("member {i}"),
                        "status": "online", "roles": ["member", "reader"]})
        })
        .collect();
    json!({"id": id, "type": "channel_update", "members": members})
}

fn assert_compressed_both_ways(stats: &StatsSnapshot) {
    assert!(stats.bytes_out > 5000 && stats.bytes_in > 5000, "{stats:?}");
    assert!(
        stats.wire_bytes_out * 3 < stats.bytes_out,
        "tether did not compress: {stats:?}"
    );
    assert!(
        stats.wire_bytes_in * 3 < stats.bytes_in,
        "the peer did not compress: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn tether_against_a_python_websockets_server_compresses_both_ways() {
    let port = free_port();
    let dir = scratch("websockets-server");
    let peer = Peer::listening(
        &[
            script("deflate_peer.py").to_str().unwrap(),
            "server",
            "--port",
            &port.to_string(),
        ],
        port,
        &dir,
    )
    .await;
    let raw = Raw::json().ack_field("id");
    // Heartbeats 50 ms apart: the pause before the third message frees tether's
    // compressor, and websockets' inflater (zlib, context takeover) reads the fresh
    // DEFLATE stream that follows on the same connection.
    let config = ClientConfig::default()
        .heartbeat(Duration::from_millis(50))
        .dead_after(Duration::from_secs(10));
    let (client, _events) = Client::builder(raw.clone())
        .url(format!("ws://127.0.0.1:{port}/"))
        .config(config)
        .start()
        .unwrap();
    for id in 0..5 {
        if id == 2 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let receipt = client.send(raw.encode(&realistic(id))).await.unwrap();
        within(LIMIT, "the echo", receipt).await.unwrap();
    }
    let stats = client.stats();
    client.close().await;
    assert_compressed_both_ways(&stats);
    assert_eq!(stats.connects, 1, "one connection throughout: {stats:?}");
    let lines = peer.lines();
    let open = &lines[0];
    // websockets' defaults: 2^12 windows both ways, which tether's compressor honours.
    assert_eq!(
        open["extensions"],
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        "{lines:?}"
    );
    let messages: Vec<_> = lines.iter().filter(|l| l["event"] == "message").collect();
    assert_eq!(messages.len(), 5, "{lines:?}");
    assert!(
        messages.iter().all(|m| m["compressed"] == true),
        "RSV1 on every message: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn the_python_websockets_client_compresses_both_ways_against_the_hub() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let url = hub.url("echo").unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(peers_python())
            .arg(script("deflate_peer.py"))
            .args(["client", &url])
            .output()
            .expect("python runs")
    });
    let out = within(LIMIT, "the websockets client", out).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(
        report,
        json!({"extensions": "permessage-deflate", "sent_compressed": true,
               "received_compressed": true, "echo_equal": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn tether_against_the_real_datadivr_server_compresses_both_ways() {
    let port = free_port();
    let dir = scratch("datadivr");
    let _server = Peer::listening(
        &[
            script("datadivr_server.py").to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ],
        port,
        &dir,
    )
    .await;
    let (client, mut events) = Client::builder(Raw::json())
        .url(format!("ws://127.0.0.1:{port}/ws"))
        .config(ClientConfig::default())
        .start()
        .unwrap();
    within(LIMIT, "ready", client.ready()).await.unwrap();
    // `to: all` comes back to the sender too (SPEC §6).
    for i in 0..3 {
        let message = json!({"event_name": "big", "to": "all", "message": null,
                             "payload": realistic(i)});
        client.send(Raw::json().encode(&message)).await.unwrap();
    }
    let mut echoed = 0;
    while echoed < 3 {
        match within(LIMIT, "the broadcast", events.recv()).await {
            Some(tether::Event::Message(m)) if m.text().is_some_and(|t| t.contains("\"big\"")) => {
                echoed += 1
            }
            Some(_) => {}
            None => panic!("events ended"),
        }
    }
    let stats = client.stats();
    client.close().await;
    assert_compressed_both_ways(&stats);
}
