//! `tether serve` as a user runs it: a separate process that prints its endpoints, serves
//! `tether connect`, and holds 10,000 concurrent connections.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use tether::{Client, ClientConfig, Policy, raw::Raw};

/// A hub in its own process (the fd limit is per process: 20,000 here).
struct Hub {
    child: Child,
    endpoints: Value,
}

impl Hub {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoints: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        Self { child, endpoints }
    }

    fn url(&self, name: &str) -> String {
        self.endpoints[name].as_str().unwrap().to_owned()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tether ARGS` with `stdin` piped in; its output.
fn tether_with_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn serve_prints_every_endpoint_then_ready() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["serve", "--ephemeral"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        lines.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let names: Vec<&str> = lines.iter().map(|l| l.split_once(' ').unwrap().0).collect();
    assert_eq!(
        names,
        [
            "echo",
            "echo-ack",
            "sink",
            "datadivr",
            "gather",
            "hiven",
            "moobius",
            "hpx",
            "hiven-api",
            "gather-api",
            "control"
        ]
    );
    assert!(
        lines[0].starts_with("echo ws://127.0.0.1:") && lines[0].ends_with('/'),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("datadivr ws://127.0.0.1:") && lines[3].ends_with("/ws"),
        "{lines:?}"
    );
    assert!(
        lines[4].starts_with("gather ws://127.0.0.1:") && lines[4].ends_with('/'),
        "{lines:?}"
    );
    assert!(
        lines[5].starts_with("hiven ws://127.0.0.1:") && lines[5].ends_with("/socket"),
        "{lines:?}"
    );
    assert!(
        lines[6].starts_with("moobius ws://127.0.0.1:") && lines[6].ends_with('/'),
        "{lines:?}"
    );
    assert!(lines[7].starts_with("hpx tcp://127.0.0.1:"), "{lines:?}");
    assert!(
        lines[8].starts_with("hiven-api http://127.0.0.1:") && lines[8].ends_with("/v1"),
        "{lines:?}"
    );
    assert!(
        lines[9].starts_with("gather-api http://127.0.0.1:") && lines[9].ends_with("/api/v2/"),
        "{lines:?}"
    );
    assert!(
        lines[lines.len() - 1].starts_with("control http://127.0.0.1:"),
        "{lines:?}"
    );
}

#[test]
fn a_taken_port_names_the_endpoint_and_the_flag() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let taken = hub
        .url("echo")
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["serve", "--ephemeral", "--echo", &taken])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("echo: cannot listen on") && stderr.contains("--echo ADDR"),
        "{stderr}"
    );
}

#[test]
fn connect_talks_to_the_echo_endpoint_as_the_readme_shows() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let out = tether_with_stdin(
        &[
            "connect",
            &hub.url("echo-ack"),
            "--ack-field",
            "id",
            "--drain",
        ],
        b"{\"id\":1,\"text\":\"hi\"}\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"type":"message","data":{"id":1,"ack":true}}"#
    );
}

#[test]
fn a_separate_hub_process_holds_10_000_connections_each_exchanging_a_message() {
    const CLIENTS: usize = 10_000;
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let url = hub.url("echo-ack");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let raw = Raw::json().ack_field("id");
        let config = ClientConfig::default()
            .outbox(4, Policy::Backpressure)
            .event_capacity(4)
            .connect_timeout(Duration::from_secs(30))
            .heartbeat(Duration::from_secs(60));
        let mut clients = Vec::with_capacity(CLIENTS);
        let mut receipts = Vec::with_capacity(CLIENTS);
        for i in 0..CLIENTS {
            let (client, events) = Client::builder(raw.clone())
                .url(&url)
                .config(config.clone())
                .start()
                .unwrap();
            drop(events);
            receipts.push(client.send(raw.encode(&json!({"id": i}))).await.unwrap());
            clients.push(client);
        }
        // Every connection is open at once and every message was acknowledged on it.
        let all = futures_util::future::join_all(receipts);
        let results = tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("acks in time");
        let delivered = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(delivered, CLIENTS);
        let open = clients
            .iter()
            .filter(|c| matches!(*c.state().borrow(), tether::State::Ready))
            .count();
        assert_eq!(open, CLIENTS, "all connections open concurrently");
        let stats: Value = {
            let control = hub.url("control");
            let addr = control.trim_start_matches("http://");
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(s, "GET /stats HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
            let mut body = String::new();
            std::io::Read::read_to_string(&mut s, &mut body).unwrap();
            serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap()).unwrap()
        };
        assert_eq!(stats["echo-ack"]["active"], CLIENTS as u64);
        assert_eq!(stats["echo-ack"]["received"], CLIENTS as u64);
        for c in &clients {
            c.close().await;
        }
    });
}

#[test]
fn the_datadivr_profile_sends_through_the_typed_client_and_rejects_invalid_lines() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let out = tether_with_stdin(&["connect",
            &hub.url("datadivr"),
            "--profile",
            "datadivr",
            "--drain"], b"sum_event {\"numbers\": [391, 29]}\n{\"payload\": 1}\n{\"event_name\":\"msg\",\"to\":\"all\",\"message\":\"hi\"}\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The rest went through; the invalid line count as undelivered: exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stdin line 2: not a datadivr message"),
        "{stderr}"
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sum = lines
        .iter()
        .find(|l| l["data"]["event_name"] == "sum_handler_result")
        .expect("the sum reply");
    assert_eq!(
        serde_json::to_string(&sum["data"]["payload"]).unwrap(),
        "420.0",
        "a float, as the real server sends"
    );
    let echo = lines
        .iter()
        .find(|l| l["data"]["event_name"] == "msg")
        .expect("the message sent to all");
    assert_eq!(
        echo["data"]["from_id"], sum["data"]["to"],
        "the hub stamped the sender's id"
    );
}

#[test]
fn the_hpx_profile_logs_in_and_sends_each_line_as_data() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let url = hub.url("hpx");
    assert!(url.starts_with("tcp://127.0.0.1:"), "{url}");
    let out = tether_with_stdin(
        &[
            "connect",
            &url,
            "--profile",
            "hpx",
            "--user",
            "admin",
            "--password",
            "admin",
            "--name",
            "cli",
            "--drain",
        ],
        b"get_version\n{broken\n[{\"fname\": \"echo\", \"msg\": \"h\xc3\xa9\"}]\necho [1]\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The rest went through; the two invalid lines count as undelivered: exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stdin line 2: not JSON"), "{stderr}");
    assert!(
        stderr.contains("stdin line 4: the arguments after \"echo\" must be a JSON object"),
        "{stderr}"
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let datas: Vec<&Value> = lines.iter().map(|l| &l["data"]).collect();
    assert_eq!(datas.len(), 4, "greeting, login and two replies: {datas:?}");
    assert_eq!(datas[0]["data"]["guest_allowed"], true, "the greeting");
    assert_eq!(datas[1]["data"], "Authenticated");
    let session = datas[1]["session"].as_str().unwrap();
    assert_eq!(session.len(), 32, "{datas:?}");
    // Lines queued before the login carry the session it gave.
    assert_eq!(datas[2]["session"], session);
    assert_eq!(datas[2]["data"][0]["fname"], "get_version");
    assert_eq!(
        datas[2]["data"][0]["data"]["core"],
        serde_json::json!([0, 1, 2])
    );
    assert_eq!(datas[3]["data"][0]["data"]["msg"], "h\u{e9}");
}

#[test]
fn the_hpx_profile_exits_3_on_a_wrong_password_and_never_prints_it() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let out = tether_with_stdin(
        &[
            "connect",
            &hub.url("hpx"),
            "--profile",
            "hpx",
            "--user",
            "admin",
            "--password",
            "hunter2-wrong",
            "--events",
            "--drain",
        ],
        b"get_version\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("411: Wrong credentials"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stdout.contains("hunter2"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(r#""state":"closed""#) && l.contains(r#""fatal":true"#)),
        "{stdout}"
    );
}

#[test]
fn the_hpx_profile_wants_a_tcp_url_and_both_credentials() {
    for (args, want) in [
        (
            vec!["connect", "ws://127.0.0.1:1/", "--profile", "hpx"],
            "tcp:// or tls://",
        ),
        (
            vec![
                "connect",
                "tcp://127.0.0.1:1",
                "--profile",
                "hpx",
                "--password",
                "x",
            ],
            "--password needs --user",
        ),
    ] {
        let out = tether_with_stdin(&args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn the_hpx_profile_notices_a_stalled_server_by_the_request_deadline() {
    let hub = Hub::start(&["--ephemeral", "--json"]);
    let control = hub.url("control");
    let stall = tether_with_stdin(&["fault", "--control", &control, "stall", "hpx"], b"");
    assert_eq!(
        stall.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&stall.stderr)
    );
    // Stalled before the greeting: nothing can be logged in, the line's deadline passes.
    let out = tether_with_stdin(
        &[
            "connect",
            &hub.url("hpx"),
            "--profile",
            "hpx",
            "--request-timeout",
            "0.5",
            "--drain",
            "--drain-timeout",
            "5",
            "--events",
        ],
        b"get_version\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The request gives up at its deadline and is handed back as `undelivered`: the
    // outbox is empty, so the drain ends at once, but a message was not delivered.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("1 message(s) undelivered"), "{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |kind: &str, state: Option<&str>| {
        events
            .iter()
            .find(|e| e["type"] == kind && state.is_none_or(|s| e["state"] == s))
            .and_then(|e| e["at"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} {state:?} in {stdout}"))
    };
    let undelivered = events
        .iter()
        .find(|e| e["type"] == "undelivered")
        .expect("the request is handed back");
    assert_eq!(undelivered["reason"], "deadline", "{stdout}");
    assert_eq!(undelivered["data"]["data"][0]["fname"], "get_version");
    let waited = at("undelivered", None) - at("state", Some("open"));
    assert!((400..3000).contains(&waited), "given up after {waited} ms");
}

#[test]
fn serve_runs_hpx_over_tls_and_the_profile_connects_with_the_ca_file() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tether-cli-hpx-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let hub = Hub::start(&[
        "--ephemeral",
        "--json",
        "--hpx-cert",
        cert.to_str().unwrap(),
        "--hpx-key",
        key.to_str().unwrap(),
    ]);
    let url = hub.url("hpx");
    assert!(url.starts_with("tls://127.0.0.1:"), "{url}");
    let out = tether_with_stdin(
        &[
            "connect",
            &url,
            "--profile",
            "hpx",
            "--ca-file",
            cert.to_str().unwrap(),
            "--drain",
        ],
        b"get_version\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(r#""fname": "get_version", "data": {"core": [0, 1, 2]"#),
        "{stdout}"
    );
    // A key that is not PEM: the hub says so and does not start.
    let bad = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args([
            "serve",
            "--ephemeral",
            "--hpx-cert",
            cert.to_str().unwrap(),
            "--hpx-key",
        ])
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("private key"));
    let _ = std::fs::remove_dir_all(&dir);
}
