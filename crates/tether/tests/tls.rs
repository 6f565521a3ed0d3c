//! TLS: verification is always on; a CA file adds the roots a private server needs.
#![cfg(feature = "raw")]

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tether::{Client, ClientConfig, SendError, State, raw::Raw};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;
use tokio_websockets::ServerBuilder;

/// A self-signed certificate for 127.0.0.1, its PEM in a file, its DER, and an acceptor
/// using it.
struct TestCa {
    pem: PathBuf,
    der: Vec<u8>,
    acceptor: TlsAcceptor,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let pem =
            std::env::temp_dir().join(format!("tether-test-{name}-{}.pem", std::process::id()));
        std::fs::write(&pem, certified.cert.pem()).unwrap();
        let key =
            rustls_pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
        Self {
            pem,
            der: certified.cert.der().to_vec(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem);
    }
}

/// A TLS WebSocket echo server; returns its `wss://` URL.
async fn wss_echo(acceptor: TlsAcceptor) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok((_, mut ws)) = ServerBuilder::new().accept(tls).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("wss://{addr}/")
}

/// A TLS JSON-lines echo server; returns its `tls://` URL. `eof` is set when a client
/// ends its side of the stream (the TCP close handshake).
async fn tls_lines_echo(acceptor: TlsAcceptor, eof: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let eof = eof.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (read, mut write) = tokio::io::split(tls);
                let mut lines = BufReader::new(read).lines();
                loop {
                    match lines.next_line().await {
                        Ok(Some(line)) => {
                            if write
                                .write_all(format!("{line}\n").as_bytes())
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                        Ok(None) => {
                            eof.store(true, Ordering::SeqCst);
                            break;
                        }
                        Err(_) => break,
                    }
                }
            });
        }
    });
    format!("tls://{addr}")
}

fn config() -> ClientConfig {
    ClientConfig::default().connect_timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn wss_with_the_ca_file_delivers() {
    let ca = TestCa::new("wss-ok");
    let url = wss_echo(ca.acceptor.clone()).await;
    let raw = Raw::json().ack_field("id");
    let (client, _events) = Client::builder(raw.clone())
        .url(url)
        .config(config().ca_file(&ca.pem))
        .start()
        .unwrap();
    let receipt = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    let delivered = tokio::time::timeout(Duration::from_secs(10), receipt)
        .await
        .unwrap()
        .unwrap();
    assert!(delivered.reply.is_some());
    client.close().await;
}

#[tokio::test]
async fn wss_with_the_ca_as_a_der_certificate_delivers() {
    let ca = TestCa::new("wss-der");
    let url = wss_echo(ca.acceptor.clone()).await;
    let raw = Raw::json().ack_field("id");
    let (client, _events) = Client::builder(raw.clone())
        .url(url)
        .config(config().ca_cert_der(ca.der.clone()))
        .start()
        .unwrap();
    let receipt = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    let delivered = tokio::time::timeout(Duration::from_secs(10), receipt)
        .await
        .unwrap()
        .unwrap();
    assert!(delivered.reply.is_some());
    client.close().await;
}

#[tokio::test]
async fn a_der_certificate_that_is_not_one_is_a_clear_error_at_start() {
    let error = Client::builder(Raw::json())
        .url("wss://127.0.0.1:9/")
        .config(config().ca_cert_der(b"not a certificate".to_vec()))
        .start()
        .unwrap_err()
        .to_string();
    assert!(error.contains("CA certificate #0"), "{error}");
}

#[tokio::test]
async fn wss_without_the_ca_is_refused_as_fatal_naming_the_certificate() {
    let ca = TestCa::new("wss-refused");
    let url = wss_echo(ca.acceptor.clone()).await;
    let raw = Raw::json().ack_field("id");
    let (client, _events) = Client::builder(raw.clone())
        .url(url)
        .config(config())
        .start()
        .unwrap();
    let receipt = client.send(raw.encode(&json!({"id": 1}))).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), client.closed())
        .await
        .unwrap();
    match &state {
        State::Closed {
            reason,
            fatal: true,
        } => {
            assert!(
                matches!(reason.error(), Some(tether::ConnectionError::Tls { .. })),
                "{reason}"
            );
            assert!(reason.to_string().contains("certificate"), "{reason}");
        }
        other => panic!("expected a fatal close, got {other:?}"),
    }
    assert!(
        matches!(receipt.await, Err(SendError::Fatal { .. })),
        "the message is handed back"
    );
    assert_eq!(client.stats().connects, 0);
}

#[tokio::test]
async fn tls_json_lines_with_the_ca_file_delivers_and_closes_with_a_handshake() {
    let ca = TestCa::new("tls-lines");
    let eof = Arc::new(AtomicBool::new(false));
    let url = tls_lines_echo(ca.acceptor.clone(), eof.clone()).await;
    let raw = Raw::json().ack_field("id");
    let config = config()
        .ca_file(&ca.pem)
        .close_timeout(Duration::from_secs(30));
    let (client, _events) = Client::builder(raw.clone())
        .url(url)
        .config(config)
        .start()
        .unwrap();
    for i in 0..3 {
        let receipt = client.send(raw.encode(&json!({"id": i}))).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), receipt)
            .await
            .unwrap()
            .unwrap();
    }
    // close() shuts our side down and reads on until the server's EOF, instead of
    // waiting out the close timeout.
    tokio::time::timeout(Duration::from_secs(20), client.close())
        .await
        .expect("closed by handshake, not timeout");
    assert!(
        eof.load(Ordering::SeqCst),
        "the server saw the client end its stream"
    );
}

#[tokio::test]
async fn a_missing_ca_file_is_a_clear_error_at_start() {
    let err = Client::builder(Raw::json())
        .url("wss://127.0.0.1:1/")
        .config(config().ca_file("/nonexistent/ca.pem"))
        .start()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read CA file /nonexistent/ca.pem"),
        "{err}"
    );
}
