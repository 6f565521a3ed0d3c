//! The Moobius client over in-memory streams with paused time: the login first on every
//! connection (before anything queued), the `heartbeat` every 30 s, the order kept across
//! a reconnect, and the SDK's 16 s per-send deadline handing the message back. Plus
//! `wss://` with certificate verification (refused without the CA, logged in with it).
#![cfg(all(feature = "moobius", feature = "raw"))]

mod support;

use std::time::Duration;

use support::duplex::{Next, network, next_text};
use tether::{
    BackoffConfig, Client, ClientConfig, SendError, State,
    moobius::{Builders, MessageContent, Mode, Moobius, MoobiusClient, Outbound, Payload},
};
use tokio::time::Instant;

fn config() -> ClientConfig {
    // WebSocket pings far apart: these tests are about the application heartbeat.
    ClientConfig::default()
        .heartbeat(Duration::from_secs(1000))
        .dead_after(Duration::from_secs(1000))
        .backoff(BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: None,
            seed: Some(1),
        })
}

fn down(b: &Builders, i: usize) -> Outbound {
    b.message_down(
        "svc",
        "svc",
        "ch",
        "u",
        "text",
        MessageContent::text(format!("m{i}")),
        "svc",
        None,
    )
    .unwrap()
    .unwrap()
}

fn kind_and_text(text: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    (
        v["type"].as_str().unwrap().to_owned(),
        v["body"]["content"]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

async fn wait_state(client: &Client<Payload>, pred: impl Fn(&State) -> bool) {
    let mut rx = client.state();
    let _ = rx.wait_for(|s| pred(s)).await;
}

#[tokio::test(start_paused = true)]
async fn the_login_goes_first_on_every_connection_and_the_heartbeat_every_30_s() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let b = Builders::new();
    let typed = MoobiusClient::service("ws://unused/", "svc", "tok");
    let protocol = Moobius::new(
        Mode::Service {
            service_id: "svc".into(),
        },
        "tok",
    );
    let (client, _events) = Client::builder(protocol)
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    // Queued before the connection is up.
    for i in 0..3 {
        client.send(typed.outgoing(&down(&b, i))).await.unwrap();
    }
    let mut server = net.servers.recv().await.unwrap();
    let opened = Instant::now();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(kind_and_text(&next_text(&mut server).await.unwrap()));
    }
    assert_eq!(seen[0].0, "service_login", "{seen:?}");
    assert_eq!(
        seen[1..]
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>(),
        ["m0", "m1", "m2"]
    );
    // Nothing else until the heartbeat, 30 s after the connection opened.
    let hb = next_text(&mut server).await.unwrap();
    assert!(
        hb.starts_with(r#"{"type": "heartbeat", "request_id": ""#),
        "{hb}"
    );
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
    let hb2 = next_text(&mut server).await.unwrap();
    assert!(opened.elapsed() >= Duration::from_secs(60));
    assert_ne!(hb, hb2, "each heartbeat has a fresh request id");

    // The server goes away; what is queued meanwhile follows the new login.
    drop(server);
    wait_state(&client, |s| matches!(s, State::Reconnecting { .. })).await;
    for i in 3..6 {
        client.send(typed.outgoing(&down(&b, i))).await.unwrap();
    }
    let mut server = net.servers.recv().await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(kind_and_text(&next_text(&mut server).await.unwrap()));
    }
    assert_eq!(seen[0].0, "service_login", "the login first: {seen:?}");
    assert_eq!(
        seen[1..]
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>(),
        ["m3", "m4", "m5"]
    );
    assert_eq!(*net.attempts.lock().unwrap(), 2);
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_message_not_delivered_within_16_s_is_handed_back_with_the_message() {
    let cfg = config();
    let (connector, net) = network(64 * 1024, cfg.clone());
    *net.next.lock().unwrap() = Next::Refuse;
    let typed = MoobiusClient::user("ws://unused/", "tok");
    let protocol = Moobius::new(Mode::User { channels: vec![] }, "tok");
    let (client, _events) = Client::builder(protocol)
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let message = typed.dry_run().heartbeat();
    let queued = Instant::now();
    let mut receipt = client.send(typed.outgoing(&message)).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(15), &mut receipt)
            .await
            .is_err(),
        "still pending after 15 s"
    );
    let error = receipt.await.unwrap_err();
    assert!(queued.elapsed() >= Duration::from_secs(16));
    let SendError::DeadlineExceeded { message: back, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!(back.frame().as_text(), Some(message.wire_text().as_str()));
    assert_eq!(client.pending(), 0);
    client.close().await;
}

/// A `wss://` server with a self-signed certificate for 127.0.0.1 that forwards the first
/// text message of each connection; returns its URL and the CA file.
async fn wss_server(
    name: &str,
) -> (
    String,
    std::path::PathBuf,
    tokio::sync::mpsc::Receiver<String>,
) {
    use futures_util::StreamExt;
    use std::sync::Arc;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem =
        std::env::temp_dir().join(format!("tether-moobius-{name}-{}.pem", std::process::id()));
    std::fs::write(&pem, certified.cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok((_, mut ws)) = tokio_websockets::ServerBuilder::new().accept(tls).await
                else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if let Some(text) = msg.as_text() {
                        let _ = tx.send(text.to_owned()).await;
                    }
                }
            });
        }
    });
    (format!("wss://{addr}/"), pem, rx)
}

#[tokio::test]
async fn wss_verifies_the_certificate_and_logs_in_with_the_ca_file() {
    let (url, pem, mut logins) = wss_server("wss").await;
    // Without the CA: refused, fatally, before any login.
    let untrusted =
        MoobiusClient::service(&url, "svc", "tok").config(ClientConfig::default().no_reconnect());
    let _events = untrusted.connect().unwrap();
    let state = tokio::time::timeout(
        Duration::from_secs(30),
        untrusted.engine().unwrap().closed(),
    )
    .await
    .unwrap();
    let State::Closed { reason, fatal } = &state else {
        panic!("{state:?}")
    };
    assert!(
        *fatal && matches!(reason.error(), Some(tether::ConnectionError::Tls { .. })),
        "{state:?}"
    );
    assert!(logins.try_recv().is_err(), "nothing reached the server");

    // With it: the login arrives over TLS.
    let trusted =
        MoobiusClient::service(&url, "svc", "tok").config(ClientConfig::default().ca_file(&pem));
    let _events = trusted.connect().unwrap();
    let login = tokio::time::timeout(Duration::from_secs(30), logins.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(login.starts_with(r#"{"type": "service_login""#), "{login}");
    trusted.disconnect().await;
    let _ = std::fs::remove_file(&pem);
}
