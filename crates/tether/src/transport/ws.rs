//! WebSocket transport over tokio-websockets.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use http::{HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_websockets::{ClientBuilder, CloseCode, Limits, Message, WebSocketStream};

use std::sync::Arc;

use super::{
    BoxTransport, Coalescing, Endpoint, Received, Transport,
    deflate::{self, Deflater, InboundFrames, NegotiationError, WireCounters, WireStream},
    ws_client::ClientWs,
};
use crate::{config::ClientConfig, error::ConnectionError, frame::Frame};

/// Flush before accepting more once this much is buffered: large enough that many small
/// messages share one write syscall.
pub(super) const FLUSH_THRESHOLD: usize = 256 * 1024;

pub(super) struct WsTransport<S> {
    pub(super) ws: WebSocketStream<S>,
}

fn builder(config: &ClientConfig) -> ClientBuilder<'static> {
    ClientBuilder::new()
        .limits(Limits::default().max_payload_len(Some(config.max_message_size)))
        .config(tokio_websockets::Config::default().flush_threshold(FLUSH_THRESHOLD))
}

/// Takes over a stream on which the WebSocket upgrade already happened (client role;
/// no extension was negotiated).
pub fn websocket<S>(stream: S, config: &ClientConfig) -> BoxTransport
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stream = WireStream::new(stream, Arc::default(), false);
    let (stream, hold) = Coalescing::new(stream);
    Box::new(ClientWs::new(
        WsTransport {
            ws: builder(config).take_over(stream),
        },
        hold,
        None,
    ))
}

/// Wraps an established WebSocket stream of either role (a server's accepted socket,
/// say) as a [`Transport`].
pub fn from_websocket<S>(ws: WebSocketStream<S>) -> BoxTransport
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Box::new(WsTransport { ws })
}

/// Runs the WebSocket upgrade for `endpoint` over `stream` (TLS already done if any),
/// sending the configured token as `Authorization: Bearer` and the extra headers, and
/// offering permessage-deflate unless [`ClientConfig::compression`] is off.
///
/// # Errors
/// [`ConnectionError::UpgradeRefused`] with the HTTP status when the server refuses;
/// [`ConnectionError::Handshake`] when its permessage-deflate answer is not one the
/// offer allows.
pub async fn websocket_handshake<S>(
    stream: S,
    endpoint: &Endpoint,
    config: &ClientConfig,
) -> Result<BoxTransport, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    handshake(stream, endpoint, config, Arc::default()).await
}

/// [`websocket_handshake`], counting the connection's bytes in `wire`.
pub(crate) async fn handshake<S>(
    stream: S,
    endpoint: &Endpoint,
    config: &ClientConfig,
    wire: Arc<WireCounters>,
) -> Result<BoxTransport, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut b = builder(config)
        .uri(&endpoint.uri().to_string())
        .map_err(|e| ConnectionError::InvalidUrl(format!("{}: {e}", endpoint.uri())))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(token) = &config.token {
        headers.push(("authorization".into(), format!("Bearer {}", token.expose())));
    }
    for (name, value) in &config.headers {
        headers.push((name.clone(), value.expose().to_owned()));
    }
    for (name, value) in headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| ConnectionError::InvalidUrl(format!("invalid header name {name:?}")))?;
        let mut value = HeaderValue::try_from(value)
            .map_err(|_| ConnectionError::InvalidUrl(format!("invalid value for header {name}")))?;
        value.set_sensitive(true);
        b = b.add_header(name, value).map_err(map_error)?;
    }
    let compression = config.compression;
    if compression.enabled {
        b = b
            .add_header(
                HeaderName::from_static("sec-websocket-extensions"),
                HeaderValue::from_static(deflate::CLIENT_OFFER),
            )
            .map_err(map_error)?;
    }
    let stream = WireStream::new(stream, wire.clone(), true);
    let (stream, hold) = Coalescing::new(stream);
    let (mut ws, response) = b.connect_on(stream).await.map_err(map_error)?;
    let answers: Vec<&str> = response
        .headers()
        .get_all("sec-websocket-extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let agreed = if compression.enabled {
        deflate::parse_response(&answers)
    } else if answers.is_empty() {
        Ok(None)
    } else {
        Err(NegotiationError::UnofferedExtension(answers.join(", ")))
    }
    .map_err(|e| ConnectionError::handshake(e.to_string(), e))?;
    if agreed.is_some() {
        wire.deflate_negotiated();
    }
    let outbound = agreed.and_then(|p| {
        tracing::debug!(?p, "permessage-deflate negotiated");
        Deflater::can_compress(p.client_max_window_bits).then(|| {
            (
                Deflater::new(p.client_max_window_bits, p.client_no_context_takeover),
                compression.threshold,
            )
        })
    });
    let inbound = agreed
        .map(|p| InboundFrames::for_client(config.max_message_size, p.server_no_context_takeover));
    ws.get_mut().get_mut().start_frames(inbound, None);
    Ok(Box::new(ClientWs::new(WsTransport { ws }, hold, outbound)))
}

/// Maps a tokio-websockets error onto what the engine acts on.
pub(crate) fn map_error(e: tokio_websockets::Error) -> ConnectionError {
    use tokio_websockets::{Error, proto::ProtocolError};
    match e {
        Error::Io(io) => ConnectionError::from(io),
        Error::Protocol(p) => {
            let code = if matches!(p, ProtocolError::InvalidUtf8) {
                1007
            } else {
                1002
            };
            ConnectionError::ProtocolViolation {
                code,
                detail: p.to_string(),
            }
        }
        Error::PayloadTooLong { len, max_len } => ConnectionError::ProtocolViolation {
            code: 1009,
            detail: format!("message of {len} bytes exceeds the limit of {max_len}"),
        },
        Error::AlreadyClosed => ConnectionError::Eof,
        Error::Upgrade(tokio_websockets::upgrade::Error::DidNotSwitchProtocols(status)) => {
            ConnectionError::UpgradeRefused(status)
        }
        Error::Upgrade(u) => ConnectionError::handshake(u.to_string(), u),
        Error::Rustls(t) => ConnectionError::tls(t.to_string(), t),
        Error::InvalidDNSName(d) => ConnectionError::InvalidUrl(d.to_string()),
        Error::CannotResolveHost => ConnectionError::from(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "cannot resolve host",
        )),
        other => ConnectionError::handshake(other.to_string(), other),
    }
}

impl<S> Transport for WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Received, ConnectionError>>> {
        let msg = match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(map_error(e)))),
            Poll::Ready(Some(Ok(msg))) => msg,
        };
        let received = if msg.is_text() {
            // tokio-websockets validated the UTF-8 (1007 otherwise).
            Received::Frame(Frame::Text(Bytes::from(msg.into_payload())))
        } else if msg.is_binary() {
            Received::Frame(Frame::Binary(Bytes::from(msg.into_payload())))
        } else if msg.is_ping() {
            Received::Ping
        } else if msg.is_pong() {
            Received::Pong(Bytes::from(msg.into_payload()))
        } else if let Some((code, reason)) = msg.as_close() {
            let code = u16::from(code);
            // 1005 (no status) is how tokio-websockets reports a close frame without a code.
            Received::Close {
                code: (code != 1005).then_some(code),
                reason: reason.to_owned(),
            }
        } else {
            Received::Close {
                code: None,
                reason: String::new(),
            }
        };
        Poll::Ready(Some(Ok(received)))
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        Pin::new(&mut self.ws).poll_ready(cx).map_err(map_error)
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), ConnectionError> {
        let msg = match frame {
            Frame::Text(b) => Message::text(b),
            Frame::Binary(b) => Message::binary(b),
        };
        Pin::new(&mut self.ws).start_send(msg).map_err(map_error)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(map_error)
    }

    fn supports_ping(&self) -> bool {
        true
    }

    fn start_ping(&mut self, payload: Bytes) -> Result<(), ConnectionError> {
        Pin::new(&mut self.ws)
            .start_send(Message::ping(payload))
            .map_err(map_error)
    }

    fn start_close(&mut self, code: u16, reason: &str) -> Result<(), ConnectionError> {
        let code = CloseCode::try_from(code).ok();
        Pin::new(&mut self.ws)
            .start_send(Message::close(code, reason))
            .map_err(map_error)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(map_error)
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [0u8; 4096];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(self.ws.get_mut()).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
