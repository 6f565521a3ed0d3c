//! The `tether connect` contract, run as a user would: the built binary, stdin lines in,
//! stdout JSON lines out, exit codes.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_websockets::{CloseCode, Message, ServerBuilder};

/// How the test server treats each connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Echo every message.
    Echo,
    /// Read and discard everything.
    Sink,
    /// Close at once with 4001 (token refused).
    RefuseToken,
    /// Send the request's `Sec-WebSocket-Extensions` (or `none`) as a text message, then
    /// close with 1000 (declining every extension).
    TellOffer,
}

/// Starts a WebSocket server on a free loopback port in a background thread.
fn server(behaviour: Behaviour) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            // Bounded: the test process ends long before; every connection task ends with its socket.
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    break;
                };
                tokio::spawn(async move {
                    let Ok((req, mut ws)) = ServerBuilder::new().accept(tcp).await else {
                        return;
                    };
                    match behaviour {
                        Behaviour::TellOffer => {
                            let offer = req
                                .headers()
                                .get("sec-websocket-extensions")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("none")
                                .to_owned();
                            let _ = ws.send(Message::text(offer)).await;
                            let _ = ws
                                .send(Message::close(Some(CloseCode::NORMAL_CLOSURE), ""))
                                .await;
                            while ws.next().await.is_some() {}
                        }
                        Behaviour::RefuseToken => {
                            let _ = ws
                                .send(Message::close(
                                    CloseCode::try_from(4001).ok(),
                                    "token refused",
                                ))
                                .await;
                            while ws.next().await.is_some() {}
                        }
                        Behaviour::Echo | Behaviour::Sink => {
                            while let Some(Ok(msg)) = ws.next().await {
                                if matches!(behaviour, Behaviour::Echo)
                                    && (msg.is_text() || msg.is_binary())
                                    && ws.send(msg).await.is_err()
                                {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    format!("ws://{addr}/")
}

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

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn the_compression_flag_decides_whether_permessage_deflate_is_offered() {
    let url = server(Behaviour::TellOffer);
    for (flag, expected) in [
        (
            "on",
            r#"{"type":"message","data":"permessage-deflate; client_max_window_bits"}"#,
        ),
        ("off", r#"{"type":"message","data":"none"}"#),
    ] {
        let out = tether(
            &["connect", &url, "--no-reconnect", "--compression", flag],
            "",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            [expected],
            "--compression {flag}"
        );
    }
}

/// A stand-in proxy that answers every CONNECT with 407, sending each request line it
/// read to the returned channel.
fn refusing_proxy() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line.trim().to_owned());
            while line.trim() != "" || line.is_empty() {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        }
    });
    (url, rx)
}

#[test]
fn the_proxy_comes_from_the_environment_unless_no_proxy_exempts_the_host() {
    let url = server(Behaviour::TellOffer);
    let target = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_owned();
    let (proxy, seen) = refusing_proxy();
    let run = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tether"));
        command
            .args(["connect", &url, "--no-reconnect"])
            .args(extra);
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(var);
        }
        command
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Through the proxy from HTTP_PROXY: its 407 is fatal (exit 3).
    let out = run(&[("HTTP_PROXY", &proxy)], &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("407"));
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!("CONNECT {target} HTTP/1.1")
    );
    // NO_PROXY and --no-proxy go direct: the server's message arrives.
    for (envs, extra) in [
        (
            vec![
                ("http_proxy", proxy.as_str()),
                ("NO_PROXY", "localhost,127.0.0.1"),
            ],
            vec![],
        ),
        (vec![("ALL_PROXY", proxy.as_str())], vec!["--no-proxy"]),
    ] {
        let out = run(&envs, &extra);
        assert_eq!(out.status.code(), Some(0), "{envs:?} {extra:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("permessage-deflate"));
    }
    assert!(
        seen.try_recv().is_err(),
        "the proxy was used despite NO_PROXY / --no-proxy"
    );
}

#[test]
fn echoes_stdin_lines_as_json_lines_and_drains_with_acks() {
    let url = server(Behaviour::Echo);
    let out = tether(
        &[
            "connect",
            &url,
            "--ack-field",
            "id",
            "--drain",
            "--drain-timeout",
            "20",
        ],
        "{\"id\":1,\"v\":420.0}\nnot json\n\n{\"id\":2,\"s\":\"two\"}\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The invalid line was never sent: undelivered, so the drain exits 1 although every
    // valid line was acked; the rest went on.
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("stdin line 2: invalid JSON"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("1 message(s) undelivered"),
        "stderr: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"{"type":"message","data":{"id":1,"v":420.0}}"#,
            r#"{"type":"message","data":{"id":2,"s":"two"}}"#
        ]
    );
}

#[test]
fn an_invalid_stdin_line_is_an_undelivered_event_carrying_the_line_and_a_drain_exits_1() {
    let url = server(Behaviour::Echo);
    let out = tether(
        &[
            "connect",
            &url,
            "--events",
            "--drain",
            "--drain-timeout",
            "20",
        ],
        "{\"ok\":1}\n{broken\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines = lines(&out.stdout);
    let undelivered: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "undelivered")
        .collect();
    assert_eq!(undelivered.len(), 1, "{lines:?}");
    let event = undelivered[0];
    assert_eq!(event["line"], 2);
    assert_eq!(event["data"], "{broken");
    assert_eq!(event["reason"], "invalid_line");
    assert_eq!(event["transmission"], "not_sent");
    assert!(
        event["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid JSON")),
        "{event}"
    );
    assert!(event["at"].as_u64().is_some(), "{event}");
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "message" && l["data"]["ok"] == 1),
        "the valid line still went through: {lines:?}"
    );
}

#[test]
fn text_mode_sends_lines_verbatim_and_prints_non_json_as_strings() {
    let url = server(Behaviour::Echo);
    let out = tether(
        &["connect", &url, "--text", "--drain"],
        "hello there\n[1, 2]\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out.stdout);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["data"], "hello there");
    assert_eq!(got[1]["data"], serde_json::json!([1, 2]));
}

#[test]
fn events_report_states_and_acks_with_timestamps() {
    let url = server(Behaviour::Echo);
    let out = tether(
        &["connect", &url, "--ack-field", "id", "--events", "--drain"],
        "{\"id\":\"a\"}\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&out.stdout);
    assert!(got.iter().all(|v| v["at"].as_u64().is_some()), "{got:?}");
    let states: Vec<&str> = got
        .iter()
        .filter(|v| v["type"] == "state")
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["connecting", "open", "ready", "closing", "closed"]);
    let ack = got
        .iter()
        .find(|v| v["type"] == "ack")
        .expect("an ack event");
    assert_eq!(ack["key"], "a");
    assert!(
        got.iter()
            .any(|v| v["type"] == "message" && v["data"]["id"] == "a")
    );
}

#[test]
fn drain_exits_1_naming_how_many_are_undelivered_when_acks_never_come() {
    let url = server(Behaviour::Sink);
    let out = tether(
        &[
            "connect",
            &url,
            "--ack-field",
            "id",
            "--drain",
            "--drain-timeout",
            "0.5",
        ],
        "{\"id\":1}\n{\"id\":2}\n{\"no_ack\":3}\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("2 message(s) undelivered"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_refused_token_exits_3_without_printing_the_token() {
    let url = server(Behaviour::RefuseToken);
    let out = tether(
        &[
            "connect",
            &url,
            "--token",
            "sekret-123",
            "--drain",
            "--events",
        ],
        "{\"x\":1}\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("4001"), "stderr: {stderr}");
    assert!(!stderr.contains("sekret-123") && !stdout.contains("sekret-123"));
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(r#""state":"closed""#) && l.contains(r#""fatal":true"#)),
        "{stdout}"
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = tether(&["connect", "http://127.0.0.1:1/"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported scheme"));
    let out = tether(&["connect", "ws://127.0.0.1:1/", "--queue", "0"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn logs_written_to_a_pipe_are_plain_text_without_colour_codes() {
    let url = server(Behaviour::Echo);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &url, "--ack-field", "id", "--drain"])
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":1}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.contains("DEBUG"), "no log lines: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes on a pipe: {stderr:?}"
    );
}
