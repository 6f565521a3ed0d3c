//! Handler replies to a burst of inbound messages leave together: one write for the
//! burst, not one per reply (over an in-memory stream that counts the writes reaching it).
#![cfg(feature = "raw")]

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tether::{
    Client, ClientConfig, Frame, Outgoing,
    raw::{Raw, RawMessage},
    transport,
};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio_websockets::{Message, ServerBuilder};

/// A stream that counts the write calls reaching it.
struct Counted {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.inner).poll_write(cx, buf);
        if done.is_ready() {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        done
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(start_paused = true)]
async fn replies_to_a_burst_of_requests_leave_in_one_write_in_order() {
    let config = ClientConfig::default().heartbeat(Duration::from_secs(60));
    let writes = Arc::new(AtomicUsize::new(0));
    let (servers_tx, mut servers) = tokio::sync::mpsc::unbounded_channel();
    let connector = {
        let (config, writes) = (config.clone(), writes.clone());
        move || {
            let (client, server) = tokio::io::duplex(1 << 20);
            let _ = servers_tx.send(ServerBuilder::new().serve(server));
            let stream = Counted {
                inner: client,
                writes: writes.clone(),
            };
            let transport = transport::websocket(stream, &config);
            async move { Ok(transport) }
        }
    };
    let (client, _events) = Client::builder(Raw::text())
        .config(config)
        .connector(connector)
        .on_any(|msg: &RawMessage| {
            let text = msg.text().unwrap_or_default();
            Ok(Some(Outgoing::new(Frame::text(format!("re:{text}")))))
        })
        .start()
        .unwrap();
    client.ready().await.unwrap();
    let mut server = servers.recv().await.unwrap();
    let before = writes.load(Ordering::Relaxed);

    // 200 requests in one write: one read burst for the client.
    for i in 0..200 {
        server.feed(Message::text(i.to_string())).await.unwrap();
    }
    server.flush().await.unwrap();
    let mut replies = Vec::new();
    while replies.len() < 200 {
        let msg = server.next().await.unwrap().unwrap();
        if let Some(t) = msg.as_text() {
            replies.push(t.to_owned());
        }
    }
    let expected: Vec<String> = (0..200).map(|i| format!("re:{i}")).collect();
    assert_eq!(replies, expected, "every reply, in order");
    let used = writes.load(Ordering::Relaxed) - before;
    assert!(
        used <= 2,
        "{used} writes for 200 replies: they should leave together"
    );
}
