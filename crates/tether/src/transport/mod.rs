//! Transports: WebSocket (`ws://`, `wss://`) and framed byte streams (`tcp://`, `tls://`),
//! behind one poll-based trait the engine drives. Any `AsyncRead + AsyncWrite` works, so
//! tests run the engine over `tokio::io::duplex`.

mod coalesce;
pub mod deflate;
mod proxy;
mod tcp;
mod tls;
mod ws;
mod ws_client;

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;

pub use coalesce::{Coalescing, HOLD_LIMIT, WriteHold};
pub use proxy::{Proxy, ProxyKind, ProxySetting, proxy_from_env};
pub use tcp::framed;
pub use tls::{tls_connector, tls_connector_with};
pub use ws::{from_websocket, websocket, websocket_handshake};

use std::sync::Arc;

use crate::{config::ClientConfig, error::ConnectionError, frame::Frame, protocol::CodecFactory};

/// What a transport receives.
#[derive(Debug)]
pub enum Received {
    /// An application message.
    Frame(Frame),
    /// A frame the codec consumed but could not decode; the stream is still in step
    /// ([`CodecError::Undecodable`](crate::CodecError::Undecodable)).
    Undecodable {
        /// Why it could not be decoded.
        reason: String,
    },
    /// A WebSocket ping (answered by the transport itself).
    Ping,
    /// A WebSocket pong, with its payload.
    Pong(Bytes),
    /// The peer's close frame.
    Close {
        /// Close code, if any.
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
}

/// A connected, message-oriented transport, driven by polling from one task.
///
/// Writes are split into `start_send` (buffer) and `poll_flush` (write out) so the engine
/// can write many messages per flush, and every method returns at once, so a blocked
/// writer never stalls reading, timers or the watchdog.
pub trait Transport: Send + Unpin + 'static {
    /// The next inbound item; `None` when the stream ended.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Received, ConnectionError>>>;
    /// Ready to buffer another frame.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>>;
    /// Buffers a frame (after `poll_ready` returned ready).
    fn start_send(&mut self, frame: Frame) -> Result<(), ConnectionError>;
    /// Writes out everything buffered.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>>;
    /// Whether the transport has pings (WebSocket does; a raw byte stream does not).
    fn supports_ping(&self) -> bool;
    /// Buffers a ping with this payload (after `poll_ready`).
    fn start_ping(&mut self, payload: Bytes) -> Result<(), ConnectionError>;
    /// Buffers a close frame.
    fn start_close(&mut self, code: u16, reason: &str) -> Result<(), ConnectionError>;
    /// Completes the close: flushes, waits for the peer's close (WebSocket), shuts down.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>>;
    /// Holds writes back (`true`) while the engine reads a burst, so that the replies it
    /// queues after each frame leave together once released (`false`) and flushed; see
    /// [`Coalescing`]. A transport that cannot hold ignores it (the default).
    fn hold_writes(&mut self, _hold: bool) {}
    /// After a close: reads and discards until the peer closes its side, so that the peer
    /// reads our close frame instead of a reset (dropping a socket with unread bytes
    /// resets it). The engine bounds this in time.
    fn poll_drain(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A boxed transport.
pub type BoxTransport = Box<dyn Transport>;

/// A future that produces a connected transport.
pub type ConnectFuture =
    Pin<Box<dyn Future<Output = Result<BoxTransport, ConnectionError>> + Send>>;

/// Opens a new transport each time the engine (re)connects.
pub trait Connect: Send + 'static {
    /// Starts one connection attempt. The engine applies the connect timeout.
    fn connect(&mut self) -> ConnectFuture;
}

impl<F, Fut> Connect for F
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<BoxTransport, ConnectionError>> + Send + 'static,
{
    fn connect(&mut self) -> ConnectFuture {
        Box::pin(self())
    }
}

/// The URL schemes tether speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
    /// A framed TCP stream.
    Tcp,
    /// A framed TCP stream over TLS.
    Tls,
}

/// A parsed endpoint URL.
#[derive(Debug, Clone)]
pub struct Endpoint {
    uri: http::Uri,
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Endpoint {
    /// Parses `ws://`, `wss://`, `tcp://` or `tls://` URLs.
    ///
    /// ```
    /// let e = tether::transport::Endpoint::parse("ws://127.0.0.1:8700/chat").unwrap();
    /// assert_eq!(e.port(), 8700);
    /// assert!(tether::transport::Endpoint::parse("http://x").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ConnectionError::InvalidUrl`] for anything else, or a URL with no host or port.
    pub fn parse(url: &str) -> Result<Self, ConnectionError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| ConnectionError::InvalidUrl(format!("{url}: {e}")))?;
        let scheme = match uri.scheme_str() {
            Some("ws") => Scheme::Ws,
            Some("wss") => Scheme::Wss,
            Some("tcp") => Scheme::Tcp,
            Some("tls") => Scheme::Tls,
            other => {
                return Err(ConnectionError::InvalidUrl(format!(
                    "{url}: unsupported scheme {:?} (use ws://, wss://, tcp:// or tls://)",
                    other.unwrap_or("")
                )));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ConnectionError::InvalidUrl(format!("{url}: no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = match (uri.port_u16(), scheme) {
            (Some(p), _) => p,
            (None, Scheme::Ws) => 80,
            (None, Scheme::Wss) => 443,
            (None, _) => {
                return Err(ConnectionError::InvalidUrl(format!(
                    "{url}: tcp:// and tls:// need a port"
                )));
            }
        };
        Ok(Self {
            uri,
            scheme,
            host,
            port,
        })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or address.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The full URI.
    #[must_use]
    pub fn uri(&self) -> &http::Uri {
        &self.uri
    }
}

/// Connects to an [`Endpoint`] with the client's configuration; for byte-stream schemes
/// the platform's codec frames the stream.
pub struct UrlConnector {
    endpoint: Endpoint,
    config: ClientConfig,
    codec: Option<CodecFactory>,
    tls: Option<tokio_rustls::TlsConnector>,
    wire: Arc<deflate::WireCounters>,
    proxy: Option<Proxy>,
}

impl std::fmt::Debug for UrlConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlConnector")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl UrlConnector {
    /// Prepares connections to `endpoint`. `codec` makes the framing for `tcp://`/`tls://`.
    ///
    /// # Errors
    /// [`ConnectionError::Tls`] when the CA file cannot be read, or
    /// [`ConnectionError::InvalidUrl`] for a byte-stream URL without a codec or a proxy
    /// URL (configured or from the environment) that cannot be used.
    pub fn new(
        endpoint: Endpoint,
        config: ClientConfig,
        codec: Option<CodecFactory>,
    ) -> Result<Self, ConnectionError> {
        if matches!(endpoint.scheme, Scheme::Tcp | Scheme::Tls) && codec.is_none() {
            return Err(ConnectionError::InvalidUrl(format!(
                "{}: this platform does not run over a raw TCP stream",
                endpoint.uri
            )));
        }
        let tls = match endpoint.scheme {
            Scheme::Wss | Scheme::Tls => Some(tls_connector_with(
                config.ca_file.as_deref(),
                &config.ca_certs,
            )?),
            Scheme::Ws | Scheme::Tcp => None,
        };
        let proxy = match &config.proxy {
            ProxySetting::Off => None,
            ProxySetting::Url(url) => Some(url.expose().to_owned()),
            ProxySetting::FromEnv => proxy_from_env(endpoint.scheme, &endpoint.host, |name| {
                std::env::var(name).ok()
            }),
        }
        .map(|url| Proxy::parse(&url))
        .transpose()?;
        if let Some(proxy) = &proxy {
            tracing::debug!(%proxy, endpoint = %endpoint.uri, "connecting through a proxy");
        }
        Ok(Self {
            endpoint,
            config,
            codec,
            tls,
            wire: Arc::default(),
            proxy,
        })
    }

    /// Counts the WebSocket bytes of every connection in `counters` (the client's
    /// statistics do this).
    #[must_use]
    pub fn count_wire(mut self, counters: Arc<deflate::WireCounters>) -> Self {
        self.wire = counters;
        self
    }
}

impl Connect for UrlConnector {
    fn connect(&mut self) -> ConnectFuture {
        let endpoint = self.endpoint.clone();
        let config = self.config.clone();
        let tls = self.tls.clone();
        let codec = self.codec.as_ref().map(|make| make());
        let wire = self.wire.clone();
        let proxy = self.proxy.clone();
        Box::pin(async move {
            let tcp = match &proxy {
                Some(proxy) => proxy.connect(&endpoint.host, endpoint.port).await?,
                None => {
                    tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?
                }
            };
            tcp.set_nodelay(true)?;
            if let Some(idle) = config.tcp_keepalive {
                tcp::set_keepalive(&tcp, idle);
            }
            match (endpoint.scheme, tls, codec) {
                (Scheme::Ws, _, _) => ws::handshake(tcp, &endpoint, &config, wire).await,
                (Scheme::Wss, Some(tls), _) => {
                    let stream = tls::wrap(&tls, &endpoint.host, tcp).await?;
                    ws::handshake(stream, &endpoint, &config, wire).await
                }
                (Scheme::Tcp, _, Some(codec)) => Ok(framed(tcp, codec)),
                (Scheme::Tls, Some(tls), Some(codec)) => {
                    let stream = tls::wrap(&tls, &endpoint.host, tcp).await?;
                    Ok(framed(stream, codec))
                }
                _ => Err(ConnectionError::InvalidUrl(endpoint.uri.to_string())),
            }
        })
    }
}
