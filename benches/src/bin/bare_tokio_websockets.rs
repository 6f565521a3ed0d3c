//! Baseline: a bare `tokio-websockets` client used the usual way (`send` = write + flush
//! per message); `--batch` feeds many messages per flush (the reference figure).

use std::time::Duration;

use anyhow::Context;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tether_benches::{Conn, Connector, Incoming, Outgoing};
use tokio::net::TcpStream;
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message, WebSocketStream};

/// How long `close` waits for the server's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects with the library's defaults, or with TCP_NODELAY set (`--nodelay`).
struct TokioWebsockets {
    nodelay: bool,
}

struct TwsConn(WebSocketStream<MaybeTlsStream<TcpStream>>);

fn message(msg: Outgoing) -> Message {
    match msg {
        Outgoing::Text(t) => Message::text(t),
        Outgoing::Binary(b) => Message::binary(b),
    }
}

/// A data message, `None` for a control frame, an error for a close.
fn incoming(msg: Message) -> anyhow::Result<Option<Incoming>> {
    if msg.is_text() {
        Ok(Some(Incoming::Text(msg.into_payload().into())))
    } else if msg.is_binary() {
        Ok(Some(Incoming::Binary(msg.into_payload().into())))
    } else if msg.is_close() {
        anyhow::bail!("server closed: {:?}", msg.as_close())
    } else {
        Ok(None)
    }
}

impl Conn for TwsConn {
    async fn send(&mut self, msg: Outgoing) -> anyhow::Result<()> {
        Ok(self.0.send(message(msg)).await?)
    }

    async fn feed(&mut self, msg: Outgoing) -> anyhow::Result<()> {
        Ok(self.0.feed(message(msg)).await?)
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        Ok(self.0.flush().await?)
    }

    async fn recv(&mut self) -> anyhow::Result<Incoming> {
        loop {
            let msg = self.0.next().await.context("connection ended")??;
            if let Some(data) = incoming(msg)? {
                return Ok(data);
            }
        }
    }

    fn try_recv(&mut self) -> Option<anyhow::Result<Incoming>> {
        loop {
            match self.0.next().now_or_never()? {
                None => return Some(Err(anyhow::anyhow!("connection ended"))),
                Some(Err(e)) => return Some(Err(e.into())),
                Some(Ok(msg)) => match incoming(msg) {
                    Ok(None) => continue,
                    other => return other.transpose(),
                },
            }
        }
    }

    async fn close(mut self) -> anyhow::Result<()> {
        self.0.close().await?;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(_)) = self.0.next().await {}
        })
        .await;
        Ok(())
    }
}

impl Connector for TokioWebsockets {
    type Conn = TwsConn;

    async fn connect(&self, url: &str) -> anyhow::Result<TwsConn> {
        let builder = ClientBuilder::new().uri(url)?;
        if !self.nodelay {
            let (stream, _) = builder.connect().await?;
            return Ok(TwsConn(stream));
        }
        let uri: http::Uri = url.parse()?;
        let host = uri.host().context("URL without a host")?;
        let port = uri.port_u16().unwrap_or(80);
        let tcp = TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        let (stream, _) = builder.connect_on(MaybeTlsStream::Plain(tcp)).await?;
        Ok(TwsConn(stream))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tether_benches::main_with("bare-tokio-websockets", |args| TokioWebsockets {
        nodelay: args.nodelay,
    })
    .await
}
