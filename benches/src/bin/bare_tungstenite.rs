//! Baseline: a bare `tokio-tungstenite` client used the usual way (`connect_async`,
//! `send` = write + flush per message); `--batch` feeds many messages per flush.

use std::time::Duration;

use anyhow::Context;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tether_benches::{Conn, Connector, Incoming, Outgoing};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// How long `close` waits for the server's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects with `connect_async` (the library's defaults), or with TCP_NODELAY set
/// (`--nodelay`).
struct Tungstenite {
    nodelay: bool,
}

struct TungConn(WebSocketStream<MaybeTlsStream<TcpStream>>);

fn message(msg: Outgoing) -> Message {
    match msg {
        Outgoing::Text(t) => Message::text(t),
        Outgoing::Binary(b) => Message::binary(b),
    }
}

/// A data message, `None` for a control frame, an error for a close.
fn incoming(msg: Message) -> anyhow::Result<Option<Incoming>> {
    match msg {
        Message::Text(t) => Ok(Some(Incoming::Text(t.into()))),
        Message::Binary(b) => Ok(Some(Incoming::Binary(b))),
        Message::Close(c) => anyhow::bail!("server closed: {c:?}"),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

impl Conn for TungConn {
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
        self.0.close(None).await?;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(_)) = self.0.next().await {}
        })
        .await;
        Ok(())
    }
}

impl Connector for Tungstenite {
    type Conn = TungConn;

    fn counts_writes(&self) -> bool {
        false // std's TcpStream writes with send(2)
    }

    async fn connect(&self, url: &str) -> anyhow::Result<TungConn> {
        let (stream, _) =
            tokio_tungstenite::connect_async_with_config(url, None, self.nodelay).await?;
        Ok(TungConn(stream))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tether_benches::main_with("bare-tungstenite", |args| Tungstenite {
        nodelay: args.nodelay,
    })
    .await
}
