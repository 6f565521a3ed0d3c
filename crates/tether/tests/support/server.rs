//! An in-process WebSocket server on real TCP for end-to-end tests.
//!
//! It listens on 127.0.0.1 (port 0: the OS picks one) and the test steers it:
//! - [`Server::echo`]: every text message is logged ([`Server::received`]) and echoed back
//!   (with `Raw::json().ack_field("id")` the echo is the client's ack);
//! - [`Server::stall`]: every connection stops reading and writing for good, while its
//!   socket stays open (a half-open peer);
//! - [`Server::refuse`]: new TCP connections are accepted and dropped at once;
//! - [`Server::kill`]: every live connection is dropped without a close frame;
//! - [`Server::restart`]: listener and connections go away, then the same port is bound again;
//! - [`Server::send`]: any frame (garbage included) goes to the live connections, and
//!   [`Server::close_codes`] tells what the client closed with.
//!
//! Dropping the server stops every task it started.

use std::{
    io,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{broadcast, watch},
    task::{JoinHandle, JoinSet},
};
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

/// What the server does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Log and echo every text message.
    Echo,
    /// Neither read nor write any more; a stalled connection never comes back.
    Stall,
    /// Drop new TCP connections at once (live ones go on).
    Refuse,
}

/// What the server saw, in order of arrival across connections.
#[derive(Debug, Default)]
struct Log {
    received: Vec<String>,
    close_codes: Vec<u16>,
    authorizations: Vec<Option<String>>,
    upgrades: usize,
}

/// State the listener and the connection tasks share with the test.
struct Shared {
    mode: watch::Sender<Mode>,
    outbound: broadcast::Sender<Message>,
    connections: Mutex<JoinSet<()>>,
    log: Mutex<Log>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }
}

pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Listens on 127.0.0.1 on a port the OS picks, in echo mode.
    pub async fn start() -> Self {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await;
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: watch::Sender::new(Mode::Echo),
            outbound: broadcast::Sender::new(16),
            connections: Mutex::new(JoinSet::new()),
            log: Mutex::new(Log::default()),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Self {
            addr,
            shared,
            listener: Mutex::new(Some(task)),
        }
    }

    /// The `ws://` URL to connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Echo mode (connections already stalled stay stalled).
    pub fn echo(&self) {
        self.shared.mode.send_replace(Mode::Echo);
    }

    /// Every connection, live or new, stops reading and writing.
    pub fn stall(&self) {
        self.shared.mode.send_replace(Mode::Stall);
    }

    /// New connections are dropped at once.
    pub fn refuse(&self) {
        self.shared.mode.send_replace(Mode::Refuse);
    }

    /// Drops every live connection abruptly: the sockets close without a close frame.
    pub fn kill(&self) {
        self.shared.connections.lock().unwrap().abort_all();
    }

    /// Stops listening, drops every connection, stays down for `down`, then listens on
    /// the same port again.
    pub async fn restart(&self, down: Duration) {
        let old = self.listener.lock().unwrap().take();
        if let Some(task) = old {
            task.abort();
            // Once the task is gone, so is the listening socket: the port can be bound.
            let _ = task.await;
        }
        self.kill();
        tokio::time::sleep(down).await;
        let listener = bind(self.addr).await;
        let task = tokio::spawn(accept_loop(listener, self.shared.clone()));
        *self.listener.lock().unwrap() = Some(task);
    }

    /// Sends `message` on every live connection that is not stalled.
    pub fn send(&self, message: Message) {
        let _ = self.shared.outbound.send(message);
    }

    /// Every text message received, in order of arrival (across connections).
    pub fn received(&self) -> Vec<String> {
        self.shared.log().received.clone()
    }

    /// The close codes the client sent, in order.
    pub fn close_codes(&self) -> Vec<u16> {
        self.shared.log().close_codes.clone()
    }

    /// The `Authorization` header of every upgrade request, in order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.shared.log().authorizations.clone()
    }

    /// How many WebSocket upgrades completed so far.
    pub fn upgrades(&self) -> usize {
        self.shared.log().upgrades
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.listener.lock().unwrap().take() {
            task.abort();
        }
        self.kill();
    }
}

/// A listening socket with `SO_REUSEADDR`, so a restart can take the same port while
/// the old connections linger in TIME_WAIT. Retries briefly while the old listener is
/// being torn down.
async fn bind(addr: SocketAddr) -> TcpListener {
    let mut last_error = None;
    for _ in 0..100 {
        match try_bind(addr) {
            Ok(listener) => return listener,
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cannot bind {addr}: {last_error:?}");
}

fn try_bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Accepts connections until the listener is dropped (restart, or the server is dropped).
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((tcp, _)) = listener.accept().await {
        if *shared.mode.borrow() == Mode::Refuse {
            drop(tcp);
            continue;
        }
        // Subscribe before the upgrade: whatever the test sends once the client is
        // ready reaches this connection.
        let outbound = shared.outbound.subscribe();
        let mut connections = shared.connections.lock().unwrap();
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(tcp, shared.clone(), outbound));
    }
}

/// One connection: upgrade, then answer the client and forward what the test sends,
/// until the client goes away or the mode turns to stall.
async fn serve(tcp: TcpStream, shared: Arc<Shared>, mut outbound: broadcast::Receiver<Message>) {
    let Ok((request, mut ws)) = ServerBuilder::new().accept(tcp).await else {
        return;
    };
    record_upgrade(&shared, &request);
    let mut mode = shared.mode.subscribe();
    loop {
        tokio::select! {
            biased;
            () = stall_ordered(&mut mode) => return stall_forever(ws).await,
            Ok(message) = outbound.recv() => {
                if ws.send(message).await.is_err() {
                    return;
                }
            }
            incoming = ws.next() => match incoming {
                Some(Ok(message)) => {
                    if !answer(&shared, &mut ws, message).await {
                        return;
                    }
                }
                _ => return,
            },
        }
    }
}

fn record_upgrade(shared: &Shared, request: &http::Request<()>) {
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut log = shared.log();
    log.authorizations.push(authorization);
    log.upgrades += 1;
}

/// Logs what the client sent; echoes text back. `false` when the connection is gone.
async fn answer(shared: &Shared, ws: &mut WebSocketStream<TcpStream>, message: Message) -> bool {
    if let Some((code, _)) = message.as_close() {
        shared.log().close_codes.push(code.into());
        return true;
    }
    let Some(text) = message.as_text() else {
        return true;
    };
    shared.log().received.push(text.to_owned());
    ws.send(message).await.is_ok()
}

/// Resolves once the mode is, or turns to, `Stall`.
async fn stall_ordered(mode: &mut watch::Receiver<Mode>) {
    if mode.wait_for(|m| *m == Mode::Stall).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Holds the socket open without reading or writing, until the task is aborted.
async fn stall_forever(ws: WebSocketStream<TcpStream>) {
    let _open = ws;
    std::future::pending::<()>().await;
}
