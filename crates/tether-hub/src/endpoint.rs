//! One endpoint: its listener, its connections, its faults and counters.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tether::{CodecFactory, Frame};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use crate::{
    conn::Command,
    fault::{DEFAULT_OVERSIZE, Fault, Garbage},
    registry::Registry,
    service::Service,
    stats::Stats,
};

/// How an endpoint frames its connections.
#[derive(Clone)]
pub enum Transport {
    /// WebSocket on this path (the URL's path; any path is accepted).
    WebSocket {
        /// Path shown in the endpoint's URL, e.g. `/` or `/ws`.
        path: String,
    },
    /// A TCP stream framed by a platform codec.
    Tcp(CodecFactory),
    /// TLS over TCP (the acceptor's certificate), framed by a platform codec.
    Tls(CodecFactory, tokio_rustls::TlsAcceptor),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::WebSocket { path } => write!(f, "WebSocket({path})"),
            Transport::Tcp(_) => f.write_str("Tcp"),
            Transport::Tls(..) => f.write_str("Tls"),
        }
    }
}

/// An endpoint to serve: name, default port, transport and service.
#[derive(Clone)]
pub struct EndpointSpec {
    /// Its name (`echo`, `datadivr`, …): used in output, faults and the flag `--NAME`.
    pub name: String,
    /// Default port when not ephemeral.
    pub default_port: u16,
    /// Framing.
    pub transport: Transport,
    /// What to do with connections.
    pub service: Arc<dyn Service>,
}

impl std::fmt::Debug for EndpointSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSpec")
            .field("name", &self.name)
            .field("default_port", &self.default_port)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// Faults in force for new connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultState {
    pub(crate) stalled: Option<Option<Instant>>,
    pub(crate) delay: Duration,
}

/// What a listener is told.
#[derive(Debug)]
pub(crate) enum ListenerCommand {
    Refuse(Duration),
    Restart,
}

pub(crate) struct EndpointShared {
    pub(crate) spec: EndpointSpec,
    pub(crate) addr: SocketAddr,
    pub(crate) registry: Arc<Registry>,
    pub(crate) stats: Stats,
    pub(crate) record: bool,
    pub(crate) faults: watch::Sender<FaultState>,
    pub(crate) listener: mpsc::Sender<ListenerCommand>,
    pub(crate) max_message_size: usize,
    /// permessage-deflate accepted on WebSocket upgrades.
    pub(crate) compression: bool,
}

impl EndpointShared {
    /// The URL clients use.
    pub(crate) fn url(&self) -> String {
        match &self.spec.transport {
            Transport::WebSocket { path } => format!("ws://{}{}", self.addr, path),
            Transport::Tcp(_) => format!("tcp://{}", self.addr),
            Transport::Tls(..) => format!("tls://{}", self.addr),
        }
    }

    /// Applies a fault now.
    pub(crate) fn apply(&self, fault: &Fault) {
        tracing::info!(endpoint = %self.spec.name, ?fault, "fault");
        match fault {
            Fault::Drop { code: Some(code) } => {
                self.registry
                    .command_all(&Command::Close(*code, "dropped by hub fault".into()));
            }
            Fault::Drop { code: None } => self.registry.command_all(&Command::Reset),
            Fault::Stall { secs } => {
                let until =
                    secs.map(|s| Instant::now() + Duration::from_secs_f64(s.clamp(0.0, 1e9)));
                self.faults.send_modify(|f| f.stalled = Some(until));
                self.registry.command_all(&Command::Stall(until));
            }
            Fault::Delay { ms } => {
                let delay = Duration::from_millis(*ms);
                self.faults.send_modify(|f| f.delay = delay);
                self.registry.command_all(&Command::Delay(delay));
            }
            Fault::Garbage { garbage, bytes } => {
                let frame = garbage_frame(*garbage, *bytes);
                self.registry.command_all(&Command::Inject(frame));
            }
            Fault::Refuse { secs } => {
                let _ = self
                    .listener
                    .try_send(ListenerCommand::Refuse(Duration::from_secs_f64(
                        secs.clamp(0.0, 1e9),
                    )));
            }
            Fault::Restart => {
                let _ = self.listener.try_send(ListenerCommand::Restart);
            }
        }
    }

    /// Applies a fault to one live connection: `drop`, `stall`, `delay` and `garbage`
    /// (`refuse` and `restart` concern the listener, so the whole endpoint).
    pub(crate) fn apply_to(&self, conn: u64, fault: &Fault) -> Result<(), ConnFaultError> {
        tracing::info!(endpoint = %self.spec.name, conn, ?fault, "fault on one connection");
        let command = match fault {
            Fault::Drop { code: Some(code) } => {
                Command::Close(*code, "dropped by hub fault".into())
            }
            Fault::Drop { code: None } => Command::Reset,
            Fault::Stall { secs } => Command::Stall(
                secs.map(|s| Instant::now() + Duration::from_secs_f64(s.clamp(0.0, 1e9))),
            ),
            Fault::Delay { ms } => Command::Delay(Duration::from_millis(*ms)),
            Fault::Garbage { garbage, bytes } => Command::Inject(garbage_frame(*garbage, *bytes)),
            Fault::Refuse { .. } | Fault::Restart => return Err(ConnFaultError::EndpointOnly),
        };
        if self.registry.command(conn, command) {
            Ok(())
        } else {
            Err(ConnFaultError::UnknownConnection(conn))
        }
    }

    /// Clears stall and delay on one connection.
    pub(crate) fn resume_conn(&self, conn: u64) -> Result<(), ConnFaultError> {
        if self.registry.command(conn, Command::Resume)
            && self.registry.command(conn, Command::Delay(Duration::ZERO))
        {
            Ok(())
        } else {
            Err(ConnFaultError::UnknownConnection(conn))
        }
    }

    /// Clears stall and delay.
    pub(crate) fn resume(&self) {
        self.faults.send_replace(FaultState::default());
        self.registry.command_all(&Command::Resume);
        self.registry.command_all(&Command::Delay(Duration::ZERO));
    }
}

/// The bad frame a `garbage` fault sends.
fn garbage_frame(garbage: Garbage, bytes: Option<usize>) -> Frame {
    match garbage {
        Garbage::InvalidJson => Frame::text("{\"garbage\": this is not json"),
        Garbage::InvalidUtf8 => Frame::Text(bytes::Bytes::from_static(b"\"\xff\xfe\xfd\"")),
        Garbage::Oversize => Frame::binary(vec![0u8; bytes.unwrap_or(DEFAULT_OVERSIZE)]),
    }
}

/// Why a fault cannot be applied to one connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConnFaultError {
    /// No live connection has that id.
    #[error("no live connection {0}")]
    UnknownConnection(u64),
    /// `refuse` and `restart` act on the listener.
    #[error("refuse and restart apply to a whole endpoint, not to one connection")]
    EndpointOnly,
}
