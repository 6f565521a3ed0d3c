//! Byte-stream transport: a platform's [`FrameCodec`] over TCP (or TLS over TCP).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::{BoxTransport, Received, Transport};
use crate::{
    error::ConnectionError,
    frame::Frame,
    protocol::{CodecError, FrameCodec},
};

struct CodecAdapter(Box<dyn FrameCodec>);

impl Decoder for CodecAdapter {
    type Item = Received;
    type Error = CodecError;

    /// A frame, or the report of one that could not be decoded: a decode *error* would
    /// end the stream (`Framed` yields nothing after one), though the codec is in step.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Received>, CodecError> {
        match self.0.decode(src) {
            Ok(frame) => Ok(frame.map(Received::Frame)),
            Err(CodecError::Undecodable(reason)) => Ok(Some(Received::Undecodable { reason })),
            Err(e) => Err(e),
        }
    }
}

impl Encoder<Frame> for CodecAdapter {
    type Error = CodecError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.0.encode(&item, dst)
    }
}

struct FramedTransport<S> {
    framed: Framed<S, CodecAdapter>,
    /// After `start_close`: our write side is shut down before reading on to EOF.
    shutdown: Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    Open,
    Requested,
    Done,
}

fn map_codec(e: CodecError) -> ConnectionError {
    match e {
        CodecError::Io(io) => ConnectionError::from(io),
        CodecError::TooLarge { limit } => ConnectionError::ProtocolViolation {
            code: 1009,
            detail: format!("frame exceeds the limit of {limit} bytes"),
        },
        CodecError::Malformed(detail) | CodecError::Undecodable(detail) => {
            ConnectionError::ProtocolViolation { code: 1002, detail }
        }
    }
}

/// A transport that frames `stream` with `codec`.
pub fn framed<S>(stream: S, codec: Box<dyn FrameCodec>) -> BoxTransport
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut framed = Framed::new(stream, CodecAdapter(codec));
    framed.set_backpressure_boundary(256 * 1024);
    Box::new(FramedTransport {
        framed,
        shutdown: Shutdown::Open,
    })
}

/// Turns TCP keepalive on, probing after `idle` of silence, so a dead peer is noticed
/// on protocols without a heartbeat.
pub(crate) fn set_keepalive(stream: &tokio::net::TcpStream, idle: Duration) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(idle);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

impl<S> FramedTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_shut_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        if self.shutdown != Shutdown::Done {
            let result =
                std::task::ready!(Pin::new(&mut self.framed).poll_close(cx)).map_err(map_codec);
            self.shutdown = Shutdown::Done;
            return Poll::Ready(result);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S> Transport for FramedTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Received, ConnectionError>>> {
        if self.shutdown == Shutdown::Requested {
            // The TCP close handshake: flush, shut our side, then read until the peer's EOF.
            if let Err(e) = std::task::ready!(self.poll_shut_write(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
        }
        Pin::new(&mut self.framed)
            .poll_next(cx)
            .map(|o| o.map(|r| r.map_err(map_codec)))
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        Pin::new(&mut self.framed).poll_ready(cx).map_err(map_codec)
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), ConnectionError> {
        Pin::new(&mut self.framed)
            .start_send(frame)
            .map_err(map_codec)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        Pin::new(&mut self.framed).poll_flush(cx).map_err(map_codec)
    }

    fn supports_ping(&self) -> bool {
        false
    }

    fn start_ping(&mut self, _payload: Bytes) -> Result<(), ConnectionError> {
        Ok(())
    }

    fn start_close(&mut self, _code: u16, _reason: &str) -> Result<(), ConnectionError> {
        if self.shutdown == Shutdown::Open {
            self.shutdown = Shutdown::Requested;
        }
        Ok(())
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectionError>> {
        self.poll_shut_write(cx)
    }
}
