//! Accepts connections for one endpoint, survives refuse/restart faults, and starts a
//! driver per connection.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use tether::transport::{
    deflate::{self, InboundFrames, OutboundFrames, WireStream},
    framed, from_websocket,
};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{mpsc, watch},
};
use tokio_websockets::{Limits, ServerBuilder};

use crate::{
    conn::{Command, Driver, HubStream},
    conn_stats::ConnStats,
    endpoint::{EndpointShared, ListenerCommand, Transport},
    registry::{ConnHandle, PUSH_QUEUE},
    service::ConnInfo,
};

/// Binds a listener that can be re-bound on the same port after a restart.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

pub(crate) async fn run(
    endpoint: Arc<EndpointShared>,
    listener: TcpListener,
    mut commands: mpsc::Receiver<ListenerCommand>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    loop {
        let accept = async {
            match &listener {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = accept => match accepted {
                Ok((tcp, peer)) => {
                    let id = endpoint.registry.next_id();
                    let (commands_tx, commands) = mpsc::channel(16);
                    let (push_tx, pushed) = mpsc::channel(PUSH_QUEUE);
                    let stats = Arc::new(ConnStats::new(peer));
                    let handle = ConnHandle { commands: commands_tx, push: push_tx, abort: None, slow: AtomicBool::new(false), stats: stats.clone() };
                    let registration = Registration::new(endpoint.clone(), id, handle);
                    let task = tokio::spawn(serve(registration, tcp, peer, stats, commands, pushed));
                    endpoint.registry.set_abort(id, task.abort_handle());
                }
                Err(e) => {
                    // Out of descriptors or similar: back off briefly, keep serving.
                    tracing::warn!(endpoint = %endpoint.spec.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            command = commands.recv() => match command {
                None => break,
                Some(ListenerCommand::Refuse(period)) => {
                    drop(listener.take());
                    endpoint.stats.refusing(period);
                    tracing::info!(endpoint = %endpoint.spec.name, ?period, "refusing connections");
                    tokio::select! {
                        () = tokio::time::sleep(period) => {}
                        _ = shutdown.changed() => break,
                    }
                    listener = rebind(&endpoint).await;
                    endpoint.stats.set_listening(listener.is_some());
                }
                Some(ListenerCommand::Restart) => {
                    drop(listener.take());
                    endpoint.registry.command_all(&Command::Reset);
                    listener = rebind(&endpoint).await;
                    endpoint.stats.set_listening(listener.is_some());
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    endpoint.registry.command_all(&Command::Reset);
}

async fn rebind(endpoint: &EndpointShared) -> Option<TcpListener> {
    for _ in 0..100 {
        match bind(endpoint.addr) {
            Ok(l) => return Some(l),
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.spec.name, error = %e, "rebind failed; retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    tracing::error!(endpoint = %endpoint.spec.name, "cannot rebind; endpoint stays down");
    None
}

/// One accepted connection: wait out a stall, upgrade/frame, open a session, drive it.
/// A connection's place in its endpoint's registry and counters, given back when the
/// connection's task ends, however it ends (an aborted task included).
struct Registration {
    endpoint: Arc<EndpointShared>,
    id: u64,
}

impl Registration {
    fn new(endpoint: Arc<EndpointShared>, id: u64, handle: ConnHandle) -> Self {
        endpoint.registry.insert(id, handle);
        endpoint.stats.connected();
        Self { endpoint, id }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.endpoint.registry.remove(self.id);
        self.endpoint.stats.disconnected();
    }
}

async fn serve(
    registration: Registration,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: Arc<ConnStats>,
    mut commands: mpsc::Receiver<Command>,
    pushed: mpsc::Receiver<tether::Frame>,
) {
    let endpoint = registration.endpoint.clone();
    let id = registration.id;
    let _ = tcp.set_nodelay(true);
    let (stream, stream_control) = HubStream::new(tcp);

    let outcome = async {
        // A stalled endpoint does not even answer the upgrade.
        // A stall with a duration ends by itself, a stall without one at `resume`.
        let mut faults = endpoint.faults.subscribe();
        loop {
            let stalled = faults.borrow_and_update().stalled;
            let until = match stalled {
                None => break,
                Some(Some(at)) if at <= tokio::time::Instant::now() => break,
                Some(until) => until,
            };
            let expiry = async {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = faults.changed() => {}
                () = expiry => {}
                c = commands.recv() => if matches!(c, None | Some(Command::Reset | Command::Close(..))) {
                    return None;
                },
            }
        }
        let (transport, info) = match &endpoint.spec.transport {
            Transport::WebSocket { .. } => {
                // The request's head is read first, to answer its permessage-deflate offer.
                let mut stream = WireStream::new(stream, Arc::default(), true);
                tokio::time::timeout(Duration::from_secs(10), stream.read_head()).await.ok()?.ok()?;
                let offers = deflate::extension_values(stream.head());
                let offers: Vec<&str> = offers.iter().map(String::as_str).collect();
                let agreed = if endpoint.compression { deflate::accept_offer(&offers) } else { None };
                let mut server = ServerBuilder::new()
                    .limits(Limits::default().max_payload_len(Some(endpoint.max_message_size)))
                    .config(tokio_websockets::Config::default().flush_threshold(256 * 1024));
                if let Some((_, answer)) = &agreed {
                    let value = http::HeaderValue::from_str(answer).ok()?;
                    server = server.add_header(http::HeaderName::from_static("sec-websocket-extensions"), value).ok()?;
                }
                let (request, mut ws) = tokio::time::timeout(Duration::from_secs(10), server.accept(stream)).await.ok()?.ok()?;
                match agreed {
                    Some((params, _)) => ws.get_mut().start_frames(
                        Some(InboundFrames::for_server(endpoint.max_message_size, params.client_no_context_takeover)),
                        Some(OutboundFrames::new(
                            params.server_max_window_bits,
                            params.server_no_context_takeover,
                            deflate::DEFAULT_THRESHOLD,
                            endpoint.max_message_size,
                        )),
                    ),
                    None => ws.get_mut().start_frames(None, None),
                }
                let headers = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                let info = ConnInfo {
                    id,
                    peer,
                    path: request.uri().path().to_owned(),
                    query: request.uri().query().map(str::to_owned),
                    headers,
                    registry: endpoint.registry.clone(),
                };
                (from_websocket(ws), info)
            }
            Transport::Tcp(codec) => {
                let info = ConnInfo {
                    id,
                    peer,
                    path: String::new(),
                    query: None,
                    headers: Vec::new(),
                    registry: endpoint.registry.clone(),
                };
                (framed(stream, codec()), info)
            }
            Transport::Tls(codec, acceptor) => {
                let tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                    .await
                    .ok()?
                    .ok()?;
                let info = ConnInfo {
                    id,
                    peer,
                    path: String::new(),
                    query: None,
                    headers: Vec::new(),
                    registry: endpoint.registry.clone(),
                };
                (framed(tls, codec()), info)
            }
        };
        Some((transport, info))
    }
    .await;

    let Some((mut transport, info)) = outcome else {
        return;
    };
    let session = match endpoint.spec.service.open(&info) {
        Ok(s) => s,
        Err(close) if close.is_abort() => return,
        Err(close) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                if transport.start_close(close.code, &close.reason).is_ok() {
                    let _ = std::future::poll_fn(|cx| transport.poll_close(cx)).await;
                }
            })
            .await;
            return;
        }
    };
    let state = endpoint.faults.borrow().clone();
    conn.set_stalled(state.stalled);
    conn.set_delay(state.delay);
    let driver = Driver {
        id,
        conn,
        transport,
        session,
        endpoint: endpoint.clone(),
        commands,
        pushed,
        stream: stream_control,
        stalled: state.stalled,
        delay: state.delay,
    };
    driver.run().await;
    drop(registration);
}
