//! The hub: every endpoint on its own listener, plus the control API.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use tether::Frame;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use crate::{
    datadivr::{DATADIVR_PATH, DATADIVR_PORT, Datadivr},
    echo::{Echo, EchoAck, Sink},
    endpoint::{EndpointShared, EndpointSpec, FaultState, Transport},
    fault::Fault,
    gather::{GATHER_API_PORT, GATHER_API_ROOT, GATHER_PORT, Gather},
    hiven::{HIVEN_API_PORT, HIVEN_API_PREFIX, HIVEN_PATH, HIVEN_PORT, Hiven},
    hpx::Hpx,
    listener,
    moobius::{MOOBIUS_PATH, MOOBIUS_PORT, Moobius},
    stats::EndpointStats,
};

/// Default port of the control API.
pub const CONTROL_PORT: u16 = 8790;

/// Why the hub cannot start or act.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A listener could not bind.
    #[error(
        "{endpoint}: cannot listen on {addr}: {source} (choose another address with --{endpoint} ADDR, or use --ephemeral)"
    )]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// No endpoint has that name.
    #[error("unknown endpoint {0:?}")]
    UnknownEndpoint(String),
}

/// Sets up a hub: which endpoints, on which addresses.
#[derive(Debug)]
pub struct HubBuilder {
    host: IpAddr,
    ephemeral: bool,
    specs: Vec<EndpointSpec>,
    addrs: Vec<(String, SocketAddr)>,
    apis: Vec<ApiSpec>,
    control: bool,
    record: bool,
    record_limit: usize,
    max_message_size: usize,
    compression: bool,
    control_token: Option<String>,
    read_only: bool,
    dashboard_dir: Option<std::path::PathBuf>,
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HubBuilder {
    /// The default hub: `echo` (8700), `echo-ack` (8701), `sink` (8702), `datadivr`
    /// (8765, `/ws`), `gather` (8775, `/`) with its HTTP API `gather-api` (8776,
    /// `/api/v2/`), `hiven` (8780, `/socket`), `hiven-api` (HTTP, 8781, `/v1`), `moobius`
    /// (8785, `/`), `hpx` (7007, TCP) and `control` (8790) on 127.0.0.1.
    #[must_use]
    pub fn new() -> Self {
        let ws = |path: &str| Transport::WebSocket {
            path: path.to_owned(),
        };
        let hiven = Hiven::new();
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ephemeral: false,
            specs: vec![
                EndpointSpec {
                    name: "echo".into(),
                    default_port: 8700,
                    transport: ws("/"),
                    service: Arc::new(Echo),
                },
                EndpointSpec {
                    name: "echo-ack".into(),
                    default_port: 8701,
                    transport: ws("/"),
                    service: Arc::new(EchoAck),
                },
                EndpointSpec {
                    name: "sink".into(),
                    default_port: 8702,
                    transport: ws("/"),
                    service: Arc::new(Sink),
                },
                EndpointSpec {
                    name: "datadivr".into(),
                    default_port: DATADIVR_PORT,
                    transport: ws(DATADIVR_PATH),
                    service: Arc::new(Datadivr::default()),
                },
                EndpointSpec {
                    name: "gather".into(),
                    default_port: GATHER_PORT,
                    transport: ws("/"),
                    service: Arc::new(Gather::default()),
                },
                EndpointSpec {
                    name: "hiven".into(),
                    default_port: HIVEN_PORT,
                    transport: ws(HIVEN_PATH),
                    service: Arc::new(hiven.clone()),
                },
                EndpointSpec {
                    name: "moobius".into(),
                    default_port: MOOBIUS_PORT,
                    transport: ws(MOOBIUS_PATH),
                    service: Arc::new(Moobius::default()),
                },
                Hpx::default().spec(),
            ],
            addrs: Vec::new(),
            apis: vec![ApiSpec {
                name: "hiven-api".into(),
                default_port: HIVEN_API_PORT,
                prefix: HIVEN_API_PREFIX.into(),
                router: hiven.api_router(),
            }],
            control: true,
            record: false,
            record_limit: crate::stats::RECEIVE_LOG_LIMIT,
            max_message_size: 64 * 1024 * 1024,
            compression: true,
            control_token: None,
            read_only: false,
            dashboard_dir: None,
        }
    }

    /// Every endpoint on port 0 (the OS picks free ports).
    #[must_use]
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    /// The host for default addresses (default 127.0.0.1).
    #[must_use]
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Listens for `endpoint` (or `control`) on `addr`.
    #[must_use]
    pub fn addr(mut self, endpoint: impl Into<String>, addr: SocketAddr) -> Self {
        self.addrs.push((endpoint.into(), addr));
        self
    }

    /// Adds an endpoint (platforms add theirs).
    #[must_use]
    pub fn endpoint(mut self, spec: EndpointSpec) -> Self {
        self.specs.retain(|s| s.name != spec.name);
        self.specs.push(spec);
        self
    }

    /// Serves the `hiven` Swarm and its `hiven-api` with this server (a required token,
    /// another heartbeat interval, other houses).
    #[must_use]
    pub fn hiven(mut self, hiven: Hiven) -> Self {
        self.apis.retain(|a| a.name != "hiven-api");
        self.apis.push(ApiSpec {
            name: "hiven-api".into(),
            default_port: HIVEN_API_PORT,
            prefix: HIVEN_API_PREFIX.into(),
            router: hiven.api_router(),
        });
        self.endpoint(EndpointSpec {
            name: "hiven".into(),
            default_port: HIVEN_PORT,
            transport: Transport::WebSocket {
                path: HIVEN_PATH.into(),
            },
            service: Arc::new(hiven),
        })
    }

    /// Keeps every received frame in a per-endpoint log (tests, the demo), the last
    /// [`HubBuilder::record_limit`] of them; [`Hub::received`] and the control API's
    /// `GET /received` read it.
    #[must_use]
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// With [`HubBuilder::record`], keeps at most the last `frames` received frames per
    /// endpoint (default [`crate::RECEIVE_LOG_LIMIT`]).
    #[must_use]
    pub fn record_limit(mut self, frames: usize) -> Self {
        self.record_limit = frames;
        self
    }

    /// Without the control API.
    #[must_use]
    pub fn without_control(mut self) -> Self {
        self.control = false;
        self
    }

    /// Requires this token on every control request and on the dashboard (header
    /// `X-Tether-Token`, or `?token=` on a read). Without one, a control endpoint off
    /// loopback gets a generated token ([`Hub::control_token`]); on loopback none is
    /// needed.
    #[must_use]
    pub fn control_token(mut self, token: Option<String>) -> Self {
        self.control_token = token;
        self
    }

    /// Refuses every fault and resume (the dashboard only watches).
    #[must_use]
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Serves the dashboard's `dashboard.html` and `dashboard.js` from this folder,
    /// read again on every request (while editing them), instead of the embedded copies.
    #[must_use]
    pub fn dashboard_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.dashboard_dir = Some(dir.into());
        self
    }

    /// Largest message the hub accepts.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Whether WebSocket endpoints accept permessage-deflate when a client offers it (on
    /// by default): messages from the hub of at least 1 KiB are then compressed.
    #[must_use]
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    fn addr_for(&self, name: &str, default_port: u16) -> SocketAddr {
        if let Some((_, a)) = self.addrs.iter().find(|(n, _)| n == name) {
            return *a;
        }
        SocketAddr::new(self.host, if self.ephemeral { 0 } else { default_port })
    }

    /// Binds every listener and starts serving.
    ///
    /// # Errors
    /// [`HubError::Bind`] naming the endpoint whose address is taken.
    pub async fn start(self) -> Result<Hub, HubError> {
        let (shutdown, _) = watch::channel(false);
        let mut endpoints = Vec::new();
        let mut tasks = Vec::new();
        for spec in &self.specs {
            let addr = self.addr_for(&spec.name, spec.default_port);
            let listener = listener::bind(addr).map_err(|source| HubError::Bind {
                endpoint: spec.name.clone(),
                addr,
                source,
            })?;
            let bound = listener.local_addr().map_err(|source| HubError::Bind {
                endpoint: spec.name.clone(),
                addr,
                source,
            })?;
            let (listener_tx, listener_rx) = mpsc::channel(8);
            let endpoint = Arc::new(EndpointShared {
                spec: spec.clone(),
                addr: bound,
                registry: Arc::default(),
                stats: Default::default(),
                record: self.record,
                faults: watch::Sender::new(FaultState::default()),
                listener: listener_tx,
                max_message_size: self.max_message_size,
                compression: self.compression,
            });
            endpoint.stats.set_log_limit(self.record_limit);
            tasks.push(tokio::spawn(listener::run(
                endpoint.clone(),
                listener,
                listener_rx,
                shutdown.subscribe(),
            )));
            endpoints.push(endpoint);
        }
        // HTTP APIs of platforms (e.g. `hiven-api`), each on its own listener.
        let mut apis = Vec::new();
        for api in &self.apis {
            let addr = self.addr_for(&api.name, api.default_port);
            let bound =
                serve_http(&api.name, addr, api.router.clone(), &shutdown, &mut tasks).await?;
            apis.push((api.name.clone(), format!("http://{bound}{}", api.prefix)));
        }
        // The Gather API assigns the `gather` engine, on its own HTTP listener.
        if let Some(engine) = endpoints.iter().find(|e| e.spec.name == "gather") {
            let addr = self.addr_for("gather-api", GATHER_API_PORT);
            let bound = serve_http(
                "gather-api",
                addr,
                crate::gather::api_router(engine.url()),
                &shutdown,
                &mut tasks,
            )
            .await?;
            apis.push((
                "gather-api".to_owned(),
                format!("http://{bound}{GATHER_API_ROOT}"),
            ));
        }
        let inner = Arc::new(HubInner { endpoints, apis });
        let mut control = None;
        let mut control_token = None;
        if self.control {
            let addr = self.addr_for("control", CONTROL_PORT);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| HubError::Bind {
                    endpoint: "control".into(),
                    addr,
                    source,
                })?;
            let bound = listener.local_addr().map_err(|source| HubError::Bind {
                endpoint: "control".into(),
                addr,
                source,
            })?;
            let token = crate::dashboard::auth::required_token(self.control_token.clone(), bound);
            let feed = Arc::new(crate::dashboard::Feed::new(
                inner.clone(),
                self.read_only,
                shutdown.subscribe(),
            ));
            tasks.push(tokio::spawn(feed.clone().run()));
            let dashboard = Arc::new(crate::dashboard::Dashboard {
                feed,
                assets: self.dashboard_dir.clone(),
            });
            let access = crate::dashboard::auth::Access {
                token: token.clone(),
                read_only: self.read_only,
            };
            let app = crate::control::router(inner.clone(), dashboard, access);
            control_token = token;
            let mut stop = shutdown.subscribe();
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .await;
            }));
            control = Some(bound);
        }
        Ok(Hub {
            inner,
            control,
            control_token,
            shutdown,
            tasks,
        })
    }
}

/// Serves an HTTP router on `addr` until shutdown; returns the bound address.
async fn serve_http(
    name: &str,
    addr: SocketAddr,
    app: axum::Router,
    shutdown: &watch::Sender<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<SocketAddr, HubError> {
    let bind_error = |source| HubError::Bind {
        endpoint: name.into(),
        addr,
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let mut stop = shutdown.subscribe();
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            })
            .await;
    }));
    Ok(bound)
}

pub(crate) struct HubInner {
    pub(crate) endpoints: Vec<Arc<EndpointShared>>,
    /// `(name, base URL)` of the HTTP APIs.
    pub(crate) apis: Vec<(String, String)>,
}

/// A platform's HTTP API served on its own listener.
#[derive(Debug)]
struct ApiSpec {
    name: String,
    default_port: u16,
    /// Path prefix shown in its URL, e.g. `/v1`.
    prefix: String,
    router: axum::Router,
}

impl HubInner {
    pub(crate) fn endpoint(&self, name: &str) -> Option<&Arc<EndpointShared>> {
        self.endpoints.iter().find(|e| e.spec.name == name)
    }
}

/// A running hub. Dropping it leaves the listeners running until [`Hub::shutdown`].
pub struct Hub {
    inner: Arc<HubInner>,
    control: Option<SocketAddr>,
    control_token: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoints", &self.endpoints())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub builder with the default endpoints.
    #[must_use]
    pub fn builder() -> HubBuilder {
        HubBuilder::new()
    }

    /// `(name, url)` of every endpoint, then the platforms' HTTP APIs (`gather-api`,
    /// `http://…/api/v2/`), the control API last (`http://…`).
    #[must_use]
    pub fn endpoints(&self) -> Vec<(String, String)> {
        let mut list: Vec<(String, String)> = self
            .inner
            .endpoints
            .iter()
            .map(|e| (e.spec.name.clone(), e.url()))
            .collect();
        list.extend(self.inner.apis.iter().cloned());
        if let Some(addr) = self.control {
            list.push(("control".into(), format!("http://{addr}")));
        }
        list
    }

    /// The token the control API and the dashboard require (given, or generated because
    /// the control endpoint is off loopback); `None`: none needed.
    #[must_use]
    pub fn control_token(&self) -> Option<&str> {
        self.control_token.as_deref()
    }

    /// The dashboard's URL, with the token when one is needed.
    #[must_use]
    pub fn dashboard_url(&self) -> Option<String> {
        let addr = self.control?;
        Some(match &self.control_token {
            Some(token) => format!("http://{addr}/?token={token}"),
            None => format!("http://{addr}/"),
        })
    }

    /// The URL of one endpoint.
    #[must_use]
    pub fn url(&self, name: &str) -> Option<String> {
        self.endpoints()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, u)| u)
    }

    /// Applies a fault to an endpoint.
    ///
    /// Live connections get the fault as a command and act on it at their next turn, a
    /// moment after this returns: a test that needs the effect waits for it (a state
    /// change, a close code) rather than assuming it.
    ///
    /// # Errors
    /// [`HubError::UnknownEndpoint`].
    pub fn fault(&self, endpoint: &str, fault: &Fault) -> Result<(), HubError> {
        self.inner
            .endpoint(endpoint)
            .ok_or_else(|| HubError::UnknownEndpoint(endpoint.into()))?
            .apply(fault);
        Ok(())
    }

    /// Clears stall and delay on one endpoint (`None`: all).
    ///
    /// # Errors
    /// [`HubError::UnknownEndpoint`].
    pub fn resume(&self, endpoint: Option<&str>) -> Result<(), HubError> {
        match endpoint {
            None => self.inner.endpoints.iter().for_each(|e| e.resume()),
            Some(name) => self
                .inner
                .endpoint(name)
                .ok_or_else(|| HubError::UnknownEndpoint(name.into()))?
                .resume(),
        }
        Ok(())
    }

    /// An endpoint's counters.
    #[must_use]
    pub fn stats(&self, endpoint: &str) -> Option<EndpointStats> {
        self.inner.endpoint(endpoint).map(|e| e.stats.snapshot())
    }

    /// Every frame the endpoint received, in arrival order (needs [`HubBuilder::record`];
    /// the last [`HubBuilder::record_limit`] of them).
    #[must_use]
    pub fn received(&self, endpoint: &str) -> Vec<Frame> {
        self.inner
            .endpoint(endpoint)
            .map(|e| e.stats.log())
            .unwrap_or_default()
    }

    /// [`Hub::received`] with each frame's arrival time (a test checks it against the
    /// times a client logged its acknowledgements).
    #[must_use]
    pub fn received_timed(&self, endpoint: &str) -> Vec<(std::time::Instant, Frame)> {
        self.inner
            .endpoint(endpoint)
            .map(|e| e.stats.timed_log())
            .unwrap_or_default()
    }

    /// The close codes clients sent, in order (`None`: a close frame without a code), e.g.
    /// 1007 after an invalid-UTF-8 garbage fault.
    #[must_use]
    pub fn client_close_codes(&self, endpoint: &str) -> Vec<Option<u16>> {
        self.inner
            .endpoint(endpoint)
            .map(|e| e.stats.close_codes())
            .unwrap_or_default()
    }

    /// Forgets the receive log of an endpoint.
    pub fn clear_received(&self, endpoint: &str) {
        if let Some(e) = self.inner.endpoint(endpoint) {
            e.stats.clear_log();
        }
    }

    /// Live connections of an endpoint.
    #[must_use]
    pub fn connections(&self, endpoint: &str) -> usize {
        self.inner
            .endpoint(endpoint)
            .map_or(0, |e| e.registry.len())
    }

    /// Stops every listener and drops every connection.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
