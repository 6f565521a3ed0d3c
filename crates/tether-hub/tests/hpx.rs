//! The hub's `hpx` endpoint with tether's HPX client (async and blocking): greeting,
//! guest and user handshakes, the SDK's errors, `requestauth`, a large payload, a
//! stalled server noticed by the request deadline, and auto-reconnect through a dropped
//! connection with the request in flight replayed after the re-handshake.

mod support;

use std::time::Duration;

use support::{addr_of, fast_backoff, hub_with, within};
use tether::{
    ClientConfig,
    hpx::{HpxClient, HpxError, server::default_version},
};
use tether::{json, json::Value};
use tether_hub::{Fault, HPX_PASSWORD, HPX_USER, Hub};

const LIMIT: Duration = Duration::from_secs(30);

fn client(hub: &Hub, name: &str) -> HpxClient {
    let addr = addr_of(hub, "hpx");
    assert!(hub.url("hpx").unwrap().starts_with("tcp://"));
    HpxClient::new(name)
        .host(addr.ip().to_string())
        .port(addr.port())
        .config(ClientConfig::default().backoff(fast_backoff(7)))
}

/// The decompressed texts the hub received on `hpx`.
fn received(hub: &Hub) -> Vec<String> {
    support::received_texts(hub, "hpx")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_flow_greeting_handshake_and_get_version() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "tether-test");
    within(LIMIT, "connect", c.connect()).await.unwrap();
    assert!(c.alive() && c.ready());
    assert_eq!(c.version(), Some(default_version()));
    assert!(c.guest_allowed());
    assert!(!c.accepted());

    // Not accepted: refused before anything is sent, as the SDK does.
    let err = c.send(json!([{"fname": "get_version"}])).await.unwrap_err();
    assert_eq!((err.code(), err.class()), (407, "AuthRequiredError"));
    assert_eq!(
        err.to_string(),
        "tether-test: Client 'tether-test' is connected but not authenticated"
    );
    assert!(received(&hub).is_empty(), "nothing was sent");

    assert!(c.handshake(None, None, false).await.unwrap());
    assert!(c.accepted());
    let session = c.session();
    assert_eq!(session.len(), 32, "{session}");

    let reply = c.send(json!([{"fname": "get_version"}])).await.unwrap();
    assert_eq!(reply.session, session);
    assert_eq!(reply.name, "server");
    assert_eq!(
        reply.data,
        json!([{"fname": "get_version", "data": default_version()}])
    );
    assert_eq!(
        received(&hub),
        [
            r#"{"session": "", "name": "tether-test", "data": {}}"#.to_owned(),
            format!(
                r#"{{"session": "{session}", "name": "tether-test", "data": [{{"fname": "get_version"}}]}}"#
            ),
        ]
    );

    // One result per function, errors per function.
    let reply = c
        .send(json!([{"fname": "echo", "msg": "h\u{e9}llo"}, {"fname": "nope"}]))
        .await
        .unwrap();
    assert_eq!(
        reply.data[0],
        json!({"fname": "echo", "data": {"msg": "h\u{e9}llo"}})
    );
    assert_eq!(reply.data[1]["error"]["code"], json!(404));
    // Sent as Python's ensure_ascii JSON.
    assert!(received(&hub)[2].contains(r#""msg": "h\u00e9llo""#));

    // Raw bytes in, raw text out.
    let text = c.send_bytes(&b"raw-bytes"[..]).await.unwrap();
    assert!(text.contains("\"code\": 900"), "{text}");

    c.close().await;
    assert!(!c.alive() && !c.accepted());
    let err = c.connect().await.unwrap_err();
    assert_eq!(err.code(), 500);
    assert!(
        err.to_string()
            .ends_with("This connection has already been closed")
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_auth_wrong_credentials_and_request_handshake_logs_in() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "tether-test");
    c.connect().await.unwrap();

    let err = c
        .handshake(Some(HPX_USER), Some("hunter2-not-it"), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HpxError::AuthWrongCredentials { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), 411);
    assert_eq!(err.to_string(), "tether-test: Wrong credentials");
    assert!(!c.accepted());
    assert!(
        !c.handshake(Some(HPX_USER), Some("hunter2-not-it"), true)
            .await
            .unwrap(),
        "ignore_err returns false"
    );
    // The password shows nowhere.
    for text in [format!("{err:?}"), err.to_string(), format!("{c:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }

    assert!(
        c.request_handshake(Some(HPX_USER), Some(HPX_PASSWORD), false)
            .await
            .unwrap()
    );
    assert!(c.accepted());
    let texts = received(&hub);
    assert_eq!(
        texts[texts.len() - 2],
        r#"{"session": "", "name": "tether-test", "data": "requestauth"}"#
    );
    let reply = c.send(json!([{"fname": "get_version"}])).await.unwrap();
    assert!(reply.error.is_none(), "{reply:?}");

    // A made-up session is refused by the server, 408.
    let stale = c
        .send_message(
            &tether::hpx::Message::new("tether-test", json!([{"fname": "get_version"}]))
                .session("made-up"),
        )
        .await
        .unwrap();
    assert_eq!(stale.error.unwrap().code, 408);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_payload_crosses_in_one_reply() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "big");
    c.connect().await.unwrap();
    c.handshake(None, None, false).await.unwrap();
    let size = 8 * 1024 * 1024;
    let reply = within(
        LIMIT,
        "8 MiB reply",
        c.send(json!([{"fname": "get_large", "size": size}])),
    )
    .await
    .unwrap();
    let Value::String(text) = &reply.data[0]["data"] else {
        panic!("{:?}", reply.data[0].get("error"));
    };
    assert_eq!(text.len(), size);
    assert!(text.starts_with("HappyPanda X large payload; "));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_noticed_by_the_request_deadline() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "stall").timeout(Duration::from_millis(300));
    c.connect().await.unwrap();
    c.handshake(None, None, false).await.unwrap();
    hub.fault("hpx", &Fault::Stall { secs: None }).unwrap();
    let err = within(
        LIMIT,
        "the deadline",
        c.send(json!([{"fname": "get_version"}])),
    )
    .await
    .unwrap_err();
    assert_eq!((err.code(), err.class()), (501, "ConnectionError"));
    assert!(err.is_retryable());
    assert!(
        !c.alive(),
        "the connection is ended, as the SDK marks it dead"
    );
    let err = c.send(json!([])).await.unwrap_err();
    assert_eq!(err.code(), 500, "not connected: {err}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_reconnect_a_timed_out_request_makes_the_engine_reconnect_and_relogin() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "patient")
        .timeout(Duration::from_millis(300))
        .auto_reconnect(true);
    c.connect().await.unwrap();
    assert!(
        c.handshake(Some(HPX_USER), Some(HPX_PASSWORD), false)
            .await
            .unwrap()
    );
    let engine = c.engine().unwrap();
    hub.fault("hpx", &Fault::Stall { secs: None }).unwrap();
    let err = within(
        LIMIT,
        "the deadline",
        c.send(json!([{"fname": "echo", "n": 1}])),
    )
    .await
    .unwrap_err();
    assert_eq!((err.code(), err.class()), (501, "ConnectionError"));
    hub.resume(None).unwrap();
    // The same engine reconnects and logs in again: no `connect` call, no new client.
    support::until(LIMIT, "a new connection", || engine.stats().connects >= 2).await;
    let reply = within(LIMIT, "a reply", c.send(json!([{"fname": "echo", "n": 2}])))
        .await
        .unwrap();
    assert_eq!(reply.data, json!([{"fname": "echo", "data": {"n": 2}}]));
    assert!(c.accepted());
    let logins = received(&hub)
        .iter()
        .filter(|t| t.contains(r#""password": "admin""#))
        .count();
    assert_eq!(logins, 2, "the handshake, then the re-handshake");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reconnect_rehandshakes_and_replays_the_request_lost_in_a_drop() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "phoenix").auto_reconnect(true);
    c.connect().await.unwrap();
    assert!(
        c.handshake(Some(HPX_USER), Some(HPX_PASSWORD), false)
            .await
            .unwrap()
    );
    let first_session = c.session();
    let engine = c.engine().unwrap();

    // The server stops reading: the request is written but never answered...
    hub.fault("hpx", &Fault::Stall { secs: None }).unwrap();
    let sent_before = engine.stats().messages_out;
    let c = std::sync::Arc::new(c);
    let pending = tokio::spawn({
        let c = c.clone();
        async move { c.send(json!([{"fname": "echo", "n": 1}])).await }
    });
    support::until(LIMIT, "the request to be written", || {
        engine.stats().messages_out > sent_before
    })
    .await;
    // ...then the connection is reset, and the server comes back.
    hub.fault("hpx", &Fault::Drop { code: None }).unwrap();
    hub.resume(None).unwrap();

    let reply = within(LIMIT, "the replayed request's reply", pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.data, json!([{"fname": "echo", "data": {"n": 1}}]));
    assert!(c.accepted() && c.alive());
    assert_ne!(
        c.session(),
        first_session,
        "a new session from the re-handshake"
    );

    let texts = received(&hub);
    let logins = texts
        .iter()
        .filter(|t| t.contains(r#""data": {"user": "admin", "password": "admin"}"#))
        .count();
    let echoes = texts
        .iter()
        .filter(|t| t.contains(r#""fname": "echo""#))
        .count();
    assert_eq!(logins, 2, "the handshake, then the re-handshake: {texts:?}");
    assert_eq!(
        echoes, 1,
        "the stalled server never read the first copy: {texts:?}"
    );
    let echo = texts.iter().find(|t| t.contains("echo")).unwrap();
    assert!(
        echo.starts_with(&format!(r#"{{"session": "{}""#, c.session())),
        "the replay carries the new session: {echo}"
    );
    assert!(
        texts.iter().position(|t| t.contains("echo"))
            > texts.iter().rposition(|t| t.contains("password")),
        "the replay follows the re-handshake"
    );
    assert!(engine.stats().reconnects >= 1);

    // And it goes on.
    let reply = c.send(json!([{"fname": "get_version"}])).await.unwrap();
    assert!(reply.error.is_none());
    hub.shutdown().await;
}

#[test]
fn the_blocking_client_runs_the_same_flow() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hub = runtime.block_on(hub_with(vec![]));
    let addr = addr_of(&hub, "hpx");
    let c = tether::hpx::blocking::HpxClient::new("blocking")
        .host(addr.ip().to_string())
        .port(addr.port());
    c.connect().unwrap();
    assert!(c.ready());
    let err = c
        .handshake(Some(HPX_USER), Some("nope"), false)
        .unwrap_err();
    assert_eq!(err.code(), 411);
    assert!(
        c.handshake(Some(HPX_USER), Some(HPX_PASSWORD), false)
            .unwrap()
    );
    let reply = c.send(json!([{"fname": "get_version"}])).unwrap();
    assert_eq!(reply.data[0]["data"], default_version());
    c.close();
    assert!(c.connect().is_err());
    runtime.block_on(hub.shutdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_comes_after_its_deadline_never_answers_the_next_request() {
    use tether::{
        Client, SendError,
        hpx::{Credentials, Hpx, Message, session_request},
    };
    let hub = hub_with(vec![]).await;
    // The engine with the HPX protocol logging in by itself (what `tether connect
    // --profile hpx` runs).
    let hpx = Hpx::new("deadline").login(Credentials::Guest);
    let status = hpx.status();
    let (client, _events) = Client::builder(hpx)
        .url(hub.url("hpx").unwrap())
        .config(ClientConfig::default().backoff(fast_backoff(3)))
        .start()
        .unwrap();
    within(LIMIT, "logged in", client.ready()).await.unwrap();
    assert!(status.borrow().accepted);
    assert_eq!(status.borrow().session.len(), 32);

    let echo = |n: u32| session_request("deadline", json!([{"fname": "echo", "n": n}]));
    hub.fault("hpx", &Fault::Delay { ms: 400 }).unwrap();
    let late = client
        .send(echo(1).with_deadline(Duration::from_millis(100)))
        .await
        .unwrap();
    let err = within(LIMIT, "the deadline", late).await.unwrap_err();
    assert!(matches!(err, SendError::DeadlineExceeded { .. }), "{err:?}");

    hub.fault("hpx", &Fault::Delay { ms: 0 }).unwrap();
    let reply = within(LIMIT, "the second reply", client.request(echo(2)))
        .await
        .unwrap();
    let message: Message = reply.message.unwrap();
    assert_eq!(
        message.data,
        json!([{"fname": "echo", "data": {"n": 2}}]),
        "the late reply to n=1 answered nothing"
    );
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_tls_and_the_client_verifies_it() {
    use std::sync::Arc;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = std::env::temp_dir().join(format!("tether-hpx-tls-{}.pem", std::process::id()));
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
    let hub = hub_with(vec![tether_hub::Hpx::default().tls_spec(acceptor)]).await;
    let url = hub.url("hpx").unwrap();
    assert!(url.starts_with("tls://127.0.0.1:"), "{url}");
    let addr = addr_of(&hub, "hpx");

    let trusted = HpxClient::new("tls")
        .host("127.0.0.1")
        .port(addr.port())
        .tls(true)
        .ca_file(&pem);
    assert_eq!(trusted.url(), url);
    within(LIMIT, "TLS connect", trusted.connect())
        .await
        .unwrap();
    assert!(
        trusted
            .handshake(Some(HPX_USER), Some(HPX_PASSWORD), false)
            .await
            .unwrap()
    );
    let reply = trusted
        .send(json!([{"fname": "get_version"}]))
        .await
        .unwrap();
    assert_eq!(reply.data[0]["data"], default_version());
    trusted.close().await;

    // Without the certificate: refused, naming the certificate.
    let untrusted = HpxClient::new("tls")
        .host("127.0.0.1")
        .port(addr.port())
        .tls(true);
    let err = within(LIMIT, "refused", untrusted.connect())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let _ = std::fs::remove_file(&pem);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_server_is_reported_and_answers_no_request() {
    use tether::{Event, hpx::Reply};
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "sturdy");
    let mut events = c.connect_with_events().await.unwrap();
    assert!(
        c.connect_with_events().await.is_err(),
        "one event stream per connection"
    );
    c.handshake(None, None, false).await.unwrap();
    let engine = c.engine().unwrap();
    assert_eq!(engine.stats().acked, 1, "the handshake");
    for garbage in [
        tether_hub::Garbage::InvalidJson,
        tether_hub::Garbage::InvalidUtf8,
    ] {
        hub.fault(
            "hpx",
            &Fault::Garbage {
                garbage,
                bytes: None,
            },
        )
        .unwrap();
    }
    // Both arrive as messages nobody asked for, each also a decode error.
    let mut decode_errors = 0;
    let mut invalid: Vec<Reply> = Vec::new();
    within(LIMIT, "two decode errors", async {
        while decode_errors < 2 || invalid.len() < 2 {
            match events.recv().await.expect("the stream goes on") {
                Event::DecodeError { .. } => decode_errors += 1,
                Event::Message(reply) if reply.name() == "invalid" => invalid.push(reply),
                _ => {}
            }
        }
    })
    .await;
    assert!(
        invalid[0].text.contains("this is not json"),
        "{:?}",
        invalid[0]
    );
    assert_eq!(engine.stats().acked, 1, "garbage answered nothing");
    // The connection goes on, and the next reply is the right one.
    let reply = c
        .send(json!([{"fname": "echo", "after": "garbage"}]))
        .await
        .unwrap();
    assert_eq!(reply.data[0]["data"], json!({"after": "garbage"}));
    assert_eq!(engine.stats().decode_errors, 2);
    assert_eq!(engine.stats().acked, 2);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_reconnect_a_dropped_connection_ends_the_session_as_in_the_sdk() {
    let hub = hub_with(vec![]).await;
    let c = client(&hub, "plain").limits(tether::hpx::Limits {
        max_frame: 1 << 20,
        max_payload: 1 << 20,
    });
    c.connect().await.unwrap();
    c.handshake(None, None, false).await.unwrap();
    // Too large for our own limit: refused before sending, the connection stays.
    let err = c
        .send(json!([{"fname": "echo", "pad": "x".repeat(2 << 20)}]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 500, "{err}");
    assert!(c.alive() && c.accepted());

    hub.fault("hpx", &Fault::Drop { code: None }).unwrap();
    support::until(LIMIT, "the drop to be noticed", || !c.alive()).await;
    assert!(!c.accepted(), "not accepted once disconnected");
    let err = c.send(json!([{"fname": "get_version"}])).await.unwrap_err();
    assert_eq!(err.code(), 500, "not connected: {err}");
    // Unlike the SDK's socket, connect() works again (close() is what ends a client).
    c.connect().await.unwrap();
    assert!(c.handshake(None, None, false).await.unwrap());
    assert!(c.send(json!([])).await.is_ok());
    hub.shutdown().await;
}

/// Writes raw bytes to the hub's hpx endpoint and reads `count` replies with the codec.
async fn raw_exchange(hub: &Hub, bytes: &[u8], count: usize) -> Vec<tether::hpx::Message> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::Decoder;
    let mut tcp = tokio::net::TcpStream::connect(addr_of(hub, "hpx"))
        .await
        .unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut codec = tether::hpx::HpxCodec::default();
    let mut buf = bytes::BytesMut::new();
    let mut replies = Vec::new();
    within(LIMIT, "the replies", async {
        while replies.len() < count {
            while let Some(payload) = codec.decode(&mut buf).unwrap() {
                replies.push(tether::hpx::Message::parse(&payload).unwrap());
            }
            if replies.len() < count {
                let mut chunk = [0u8; 4096];
                let n = tcp.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the hub closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    })
    .await;
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_answers_bad_gzip_and_a_gzip_bomb_with_410_and_goes_on() {
    let hub = hub_with(vec![]).await;
    // Not gzip; then 100 MiB of zeros (about 100 KiB compressed) past the 64 MiB bound;
    // then a good request on the same connection.
    let mut bytes = b"definitely not gzip<EOF>".to_vec();
    let zeros = vec![0u8; 1 << 20];
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..100 {
        std::io::Write::write_all(&mut bomb, &zeros).unwrap();
    }
    bytes.extend_from_slice(&bomb.finish().unwrap());
    bytes.extend_from_slice(b"<EOF>");
    bytes.extend_from_slice(&tether::hpx::gzip(
        br#"{"session": "", "name": "raw", "data": {}}"#,
        5,
    ));
    bytes.extend_from_slice(b"<EOF>");
    let replies = raw_exchange(&hub, &bytes, 4).await;
    assert!(replies[0].is_greeting());
    assert_eq!(replies[1].error.as_ref().map(|e| e.code), Some(410));
    assert_eq!(replies[2].error.as_ref().map(|e| e.code), Some(410));
    assert_eq!(replies[3].data, json!("Authenticated"));
    hub.shutdown().await;
}
