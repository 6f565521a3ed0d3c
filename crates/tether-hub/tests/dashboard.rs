//! The dashboard's HTTP side on an in-process hub: the snapshot, the event stream, faults
//! on one connection, and the access rules (token, read-only, JSON only).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::within;
use tether::{Client, ClientConfig, Events, raw::Raw, raw::RawMessage};
use tether_hub::{Hub, TOKEN_HEADER};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const LIMIT: Duration = Duration::from_secs(10);

fn control_addr(hub: &Hub) -> String {
    hub.url("control")
        .unwrap()
        .trim_start_matches("http://")
        .to_owned()
}

/// One HTTP/1.1 request with these extra header lines; `(status, body)`.
async fn http(hub: &Hub, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let addr = control_addr(hub);
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    within(LIMIT, "the control endpoint's answer", async {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tcp.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
}

async fn snapshot(hub: &Hub) -> Value {
    let (status, body) = http(hub, "GET", "/snapshot", &[], "").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn endpoint<'a>(snapshot: &'a Value, name: &str) -> &'a Value {
    snapshot["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap()
}

fn conn_ids(snapshot: &Value, name: &str) -> Vec<u64> {
    endpoint(snapshot, name)["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

fn echo_client(hub: &Hub) -> (Raw, Client<RawMessage>, Events<RawMessage>) {
    let raw = Raw::json();
    let (client, events) = Client::builder(raw.clone())
        .url(hub.url("echo").unwrap())
        .config(ClientConfig::default())
        .start()
        .unwrap();
    (raw, client, events)
}

async fn wait_for_conns(hub: &Hub, name: &str, count: usize) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = snapshot(hub).await;
        if conn_ids(&last, name).len() == count {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name}: never {count} connections: {last}");
}

#[tokio::test]
async fn the_snapshot_lists_each_connection_with_its_counters_and_redacted_messages() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let (raw, client, _events) = echo_client(&hub);
    for i in 0..3 {
        client
            .send(raw.encode(&json!({"id": i, "user": "ann", "password": "hunter2"})))
            .await
            .unwrap();
    }
    let mut conn = Value::Null;
    for _ in 0..200 {
        let snap = snapshot(&hub).await;
        conn = endpoint(&snap, "echo")["connections"][0].clone();
        if conn["received"] == 3 && conn["sent"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(conn["received"], 3, "{conn}");
    assert_eq!(conn["sent"], 3, "{conn}");
    assert!(conn["received_bytes"].as_u64().unwrap() > 30, "{conn}");
    assert_eq!(conn["state"], "open");
    assert!(
        conn["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{conn}"
    );
    let last = conn["last"].as_array().unwrap();
    assert_eq!(last.len(), 6, "{conn}");
    let text = conn.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("ann") && text.contains("redacted"), "{text}");
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_fault_on_one_connection_drops_only_that_one() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let (_r1, c1, _e1) = echo_client(&hub);
    let (_r2, c2, _e2) = echo_client(&hub);
    let snap = wait_for_conns(&hub, "echo", 2).await;
    let ids = conn_ids(&snap, "echo");
    let body =
        json!({"endpoint": "echo", "conn": ids[0], "kind": "drop", "code": 1011}).to_string();
    let (status, answer) = http(
        &hub,
        "POST",
        "/fault",
        &["Content-Type: application/json"],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // The dropped client comes back as a new connection; the other one stays.
    let mut now = Vec::new();
    for _ in 0..200 {
        now = conn_ids(&snapshot(&hub).await, "echo");
        if now.len() == 2 && !now.contains(&ids[0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !now.contains(&ids[0]) && now.contains(&ids[1]),
        "{ids:?} → {now:?}"
    );
    assert_eq!(now.len(), 2, "{now:?}");

    // Listener faults are for whole endpoints; unknown connections are named.
    let body = json!({"endpoint": "echo", "conn": ids[1], "kind": "restart"}).to_string();
    let (status, _) = http(
        &hub,
        "POST",
        "/fault",
        &["Content-Type: application/json"],
        &body,
    )
    .await;
    assert_eq!(status, 400);
    let body = json!({"endpoint": "echo", "conn": 999, "kind": "drop"}).to_string();
    let (status, _) = http(
        &hub,
        "POST",
        "/fault",
        &["Content-Type: application/json"],
        &body,
    )
    .await;
    assert_eq!(status, 404);

    // A stall on one connection shows in its state, with time left.
    let body = json!({"endpoint": "echo", "conn": ids[1], "kind": "stall", "secs": 30}).to_string();
    let (status, _) = http(
        &hub,
        "POST",
        "/fault",
        &["Content-Type: application/json"],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let mut state = Value::Null;
    for _ in 0..200 {
        let snap = snapshot(&hub).await;
        let conns = endpoint(&snap, "echo")["connections"]
            .as_array()
            .unwrap()
            .clone();
        state = conns
            .into_iter()
            .find(|c| c["id"] == ids[1])
            .unwrap_or_default();
        if state["state"] == "stalled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["state"], "stalled", "{state}");
    assert!(state["stall_left_s"].as_f64().unwrap() > 20.0, "{state}");
    c1.close().await;
    c2.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn with_a_token_every_control_request_needs_it() {
    let hub = Hub::builder()
        .ephemeral()
        .control_token(Some("tok-123".into()))
        .start()
        .await
        .unwrap();
    assert_eq!(hub.control_token(), Some("tok-123"));
    assert!(hub.dashboard_url().unwrap().ends_with("/?token=tok-123"));
    let json = "Content-Type: application/json";
    let header = format!("{TOKEN_HEADER}: tok-123");
    let fault = json!({"endpoint": "echo", "kind": "delay", "ms": 0}).to_string();
    assert_eq!(http(&hub, "GET", "/stats", &[], "").await.0, 401);
    assert_eq!(http(&hub, "GET", "/", &[], "").await.0, 401);
    assert_eq!(http(&hub, "GET", "/?token=wrong", &[], "").await.0, 401);
    assert_eq!(http(&hub, "GET", "/?token=tok-123", &[], "").await.0, 200);
    assert_eq!(http(&hub, "GET", "/snapshot", &[&header], "").await.0, 200);
    assert_eq!(http(&hub, "POST", "/fault", &[json], &fault).await.0, 401);
    // A token in the URL does not authorize a request that acts.
    assert_eq!(
        http(&hub, "POST", "/fault?token=tok-123", &[json], &fault)
            .await
            .0,
        401
    );
    assert_eq!(
        http(&hub, "POST", "/fault", &[json, &header], &fault)
            .await
            .0,
        200
    );
    assert_eq!(
        http(
            &hub,
            "POST",
            "/fault",
            &[json, "Authorization: Bearer tok-123"],
            &fault
        )
        .await
        .0,
        200
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_read_only_hub_shows_everything_and_refuses_faults() {
    let hub = Hub::builder()
        .ephemeral()
        .read_only(true)
        .start()
        .await
        .unwrap();
    let json = "Content-Type: application/json";
    let fault = json!({"endpoint": "echo", "kind": "drop"}).to_string();
    let (status, body) = http(&hub, "POST", "/fault", &[json], &fault).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(http(&hub, "POST", "/resume", &[json], "{}").await.0, 403);
    assert_eq!(snapshot(&hub).await["read_only"], true);
    assert_eq!(http(&hub, "GET", "/", &[], "").await.0, 200);
    hub.shutdown().await;
}

#[tokio::test]
async fn requests_from_other_sites_cannot_inject_faults() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let fault = json!({"endpoint": "echo", "kind": "drop"}).to_string();
    // A cross-site form: text/plain, no preflight.
    assert_eq!(
        http(
            &hub,
            "POST",
            "/fault",
            &["Content-Type: text/plain"],
            &fault
        )
        .await
        .0,
        415
    );
    assert_eq!(http(&hub, "POST", "/resume", &[], "").await.0, 415);
    assert_eq!(
        http(
            &hub,
            "POST",
            "/fault",
            &[
                "Content-Type: application/json",
                "Origin: http://evil.example"
            ],
            &fault
        )
        .await
        .0,
        403
    );
    hub.shutdown().await;
}

/// Reads the event stream until `text` shows up.
async fn read_until(tcp: &mut TcpStream, seen: &mut String, text: &str) {
    within(LIMIT, text, async {
        let mut buf = [0u8; 8192];
        while !seen.contains(text) {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended before {text:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await;
}

#[tokio::test]
async fn the_event_stream_sends_a_snapshot_then_deltas_and_ends_at_shutdown() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let addr = control_addr(&hub);
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = String::new();
    read_until(&mut tcp, &mut seen, "text/event-stream").await;
    read_until(&mut tcp, &mut seen, "event: snapshot").await;
    // A connection changes the echo endpoint: the next events carry it.
    let (_raw, client, _events) = echo_client(&hub);
    read_until(&mut tcp, &mut seen, "event: delta").await;
    read_until(&mut tcp, &mut seen, "\"connections_total\":1").await;
    client.close().await;
    // A page left open does not hold the hub's shutdown.
    within(LIMIT, "shutdown with a page open", hub.shutdown()).await;
    let mut rest = Vec::new();
    let end = within(LIMIT, "the stream's end", tcp.read_to_end(&mut rest)).await;
    assert!(end.is_ok(), "{end:?}");
}
