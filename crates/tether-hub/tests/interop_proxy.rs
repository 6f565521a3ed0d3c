//! Proxies (issue 18): tether's client through real proxy servers — pproxy (PyPI, in the
//! peers venv) as an HTTP CONNECT proxy with basic auth and as a SOCKS5 proxy with
//! username/password (RFC 1929) — for `ws://` and `tcp://`, asserting from the proxy's
//! own log that it carried the connection; refused credentials are fatal (and never
//! printed), an unreachable proxy is retried.
//!
//! The pproxy tests need the peers venv (`TETHER_PEERS_VENV`, `scripts/peers-env/setup.sh`)
//! and are `#[ignore]`d; `scripts/test.sh` runs them with `--ignored`.

mod support;

use std::{
    fs::File,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;
use support::{fast_backoff, free_port, peers_python, within};
use tether::{Client, ClientConfig, ConnectionError, Event, State, raw::Raw};
use tether_hub::Hub;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const LIMIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "pr0xy-s3cr3t";

fn scratch(name: &str) -> PathBuf {
    support::scratch("interop-proxy", name)
}

/// A pproxy server (`-l SCHEME://127.0.0.1:PORT#user:PASSWORD -v`), killed by its PID
/// when dropped; its verbose log names every connection it carried (`SRC -> DST`).
struct Pproxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Pproxy {
    async fn start(scheme: &str, name: &str) -> Self {
        let port = free_port();
        let log = scratch(name).join("pproxy.log");
        let child = Command::new(peers_python())
            .args(["-u", "-m", "pproxy", "-v", "--auth", "0", "-l"])
            .arg(format!("{scheme}://127.0.0.1:{port}#user:{PASSWORD}"))
            .stdin(Stdio::null())
            .stdout(File::create(&log).unwrap())
            .stderr(Stdio::from(
                File::options().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .expect("pproxy starts");
        let mut proxy = Self { child, port, log };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("pproxy exited ({status}): {}", proxy.log_text());
            }
            assert!(
                started.elapsed() < LIMIT,
                "pproxy did not listen: {}",
                proxy.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        proxy
    }

    fn url(&self, scheme: &str, password: &str) -> String {
        format!("{scheme}://user:{password}@127.0.0.1:{}", self.port)
    }

    fn log_text(&mut self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the proxy logged a connection to `target`.
    async fn carried(&mut self, target: SocketAddr) -> bool {
        let needle = format!("-> {target}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if self.log_text().contains(&needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Pproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn addr_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    rest.split('/').next().unwrap().parse().unwrap()
}

/// One acknowledged message through `url` with `config`.
async fn round_trip(url: &str, config: ClientConfig) {
    let raw = Raw::json().ack_field("id");
    let (client, _events) = Client::builder(raw.clone())
        .url(url)
        .config(config)
        .start()
        .unwrap();
    let receipt = client
        .send(raw.encode(&json!({"id": 1, "via": "proxy"})))
        .await
        .unwrap();
    within(LIMIT, "the echo through the proxy", receipt)
        .await
        .unwrap();
    client.close().await;
}

/// A JSON-lines echo server for `tcp://` (the raw platform frames TCP as JSON lines).
async fn tcp_echo() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = tcp.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if write
                        .write_all(format!("{line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pproxy from the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn ws_and_tcp_go_through_an_http_connect_proxy_with_basic_auth() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let mut proxy = Pproxy::start("http", "http").await;
    let ws = hub.url("echo").unwrap();
    round_trip(
        &ws,
        ClientConfig::default().proxy(proxy.url("http", PASSWORD)),
    )
    .await;
    assert!(proxy.carried(addr_of(&ws)).await, "{}", proxy.log_text());
    let tcp = tcp_echo().await;
    round_trip(
        &format!("tcp://{tcp}"),
        ClientConfig::default().proxy(proxy.url("http", PASSWORD)),
    )
    .await;
    assert!(proxy.carried(tcp).await, "{}", proxy.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pproxy from the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn ws_and_tcp_go_through_a_socks5_proxy_with_a_password_resolved_either_side() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let mut proxy = Pproxy::start("socks5", "socks5").await;
    let ws = hub.url("echo").unwrap();
    // socks5h: the proxy resolves "localhost"; socks5: tether does.
    let by_name = ws.replace("127.0.0.1", "localhost");
    round_trip(
        &by_name,
        ClientConfig::default().proxy(proxy.url("socks5h", PASSWORD)),
    )
    .await;
    round_trip(
        &by_name,
        ClientConfig::default().proxy(proxy.url("socks5", PASSWORD)),
    )
    .await;
    assert!(proxy.carried(addr_of(&ws)).await, "{}", proxy.log_text());
    let tcp = tcp_echo().await;
    round_trip(
        &format!("tcp://{tcp}"),
        ClientConfig::default().proxy(proxy.url("socks5h", PASSWORD)),
    )
    .await;
    assert!(proxy.carried(tcp).await, "{}", proxy.log_text());
}

/// The first disconnect and the final state of a client that cannot get through.
async fn refused(url: &str, config: ClientConfig) -> (ConnectionError, State) {
    let (client, mut events) = Client::builder(Raw::json())
        .url(url)
        .config(config)
        .start()
        .unwrap();
    let error = loop {
        match within(LIMIT, "a disconnect", events.recv()).await {
            Some(Event::Disconnected { error, .. }) => break error,
            Some(_) => {}
            None => panic!("events ended"),
        }
    };
    let state = within(LIMIT, "the client stops", client.closed()).await;
    (error, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs pproxy from the peers venv (TETHER_PEERS_VENV); scripts/test.sh runs it"]
async fn a_407_from_the_proxy_is_fatal_and_the_password_never_printed() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let ws = hub.url("echo").unwrap();
    // HTTP only: pproxy answers a refused SOCKS5 password by closing the connection
    // without RFC 1929's failure reply, which reads as a (retryable) dropped connection.
    for scheme in ["http"] {
        let proxy = Pproxy::start(scheme, &format!("refused-{scheme}")).await;
        let wrong = "wr0ng-passw0rd";
        let config = ClientConfig::default()
            .proxy(proxy.url(scheme, wrong))
            .backoff(fast_backoff(1));
        let (error, state) = refused(&ws, config).await;
        assert!(
            matches!(error, ConnectionError::ProxyAuth(_)),
            "{scheme}: {error:?}"
        );
        let State::Closed { reason, .. } = &state else {
            panic!("{state:?}")
        };
        assert!(reason.is_fatal(), "{scheme}: {state:?}");
        let shown = format!("{error} {error:?} {state:?}");
        assert!(
            !shown.contains(wrong),
            "{scheme}: the password was printed: {shown}"
        );
        if scheme == "http" {
            assert!(shown.contains("407"), "{shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_proxy_is_retried() {
    let port = free_port();
    let config = ClientConfig::default()
        .proxy(format!("http://user:{PASSWORD}@127.0.0.1:{port}"))
        .backoff(fast_backoff(2));
    let (client, mut events) = Client::builder(Raw::json())
        .url("ws://127.0.0.1:9/")
        .config(config)
        .start()
        .unwrap();
    let mut disconnects = 0;
    while disconnects < 2 {
        match within(LIMIT, "reconnect attempts", events.recv()).await {
            Some(Event::Disconnected { error, fatal }) => {
                assert!(!fatal, "{error}");
                assert!(matches!(error, ConnectionError::Io(_)), "{error:?}");
                assert!(!format!("{error:?}").contains(PASSWORD));
                disconnects += 1;
            }
            Some(_) => {}
            None => panic!("events ended"),
        }
    }
    client.close().await;
}
