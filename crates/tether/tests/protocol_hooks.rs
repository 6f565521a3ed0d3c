//! The engine's calls into a platform beyond frames in: the outbound hook stamps every
//! write (and a replay afresh on its new connection), an undecodable frame reaches the
//! platform and the connection reads on, and `Client::reconnect` starts a fresh
//! connection that replays what was not acknowledged.
#![cfg(feature = "raw")]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Buf, BufMut, BytesMut};
use futures_util::SinkExt;
use support::{
    config,
    duplex::{network, next_text},
};
use tether::{
    Ack, AckKey, Client, CodecError, ConnectionError, DecodeError, Event, Frame, FrameCodec,
    Inbound, Outbound, Outgoing, Output, Protocol, transport,
};
use tokio_websockets::Message;

/// A platform whose messages are `key:text`, acknowledged by `ack:key`. It greets with
/// `hello` (a control frame), and stamps stamped messages with the connection number.
#[derive(Default)]
struct Stamping {
    connection: u32,
    /// Undecodable reports it was given.
    undecodable: Arc<Mutex<Vec<String>>>,
}

fn message(key: &str, text: &str) -> Outgoing {
    Outgoing::new(Frame::text(format!("{key}:{text}"))).with_ack(AckKey::new(key))
}

impl Protocol for Stamping {
    type Event = String;

    fn name(&self) -> &'static str {
        "stamping"
    }

    fn on_open(&mut self, out: &mut Output<String>) {
        self.connection += 1;
        out.send(Frame::text("hello"));
        out.ready();
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<String>) -> Result<(), DecodeError> {
        let text = frame.as_text().ok_or_else(|| DecodeError::new("binary"))?;
        let inbound = Inbound::new(text.to_owned());
        out.deliver(match text.strip_prefix("ack:") {
            Some(key) => inbound.acking(Ack::accepted(AckKey::new(key))),
            None => inbound,
        });
        Ok(())
    }

    fn on_undecodable(&mut self, reason: &str, out: &mut Output<String>) {
        self.undecodable.lock().unwrap().push(reason.to_owned());
        // It answers the request `bad` stands for, as HPX pairs an unreadable reply.
        out.deliver(Inbound::new(String::new()).acking(Ack::accepted(AckKey::new("asked"))));
    }

    fn before_write(&mut self, frame: Frame, origin: Outbound) -> Frame {
        match origin {
            Outbound::Message { stamp: true } => Frame::text(format!(
                "c{}|{}",
                self.connection,
                frame.as_text().unwrap_or_default()
            )),
            _ => frame,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stamps_each_write_and_a_replay_afresh_on_its_new_connection() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, _events) = Client::builder(Stamping::default())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let stamped = client.send(message("a", "one").stamped()).await.unwrap();
    let plain = client.send(message("b", "two")).await.unwrap();

    let mut first = net.servers.recv().await.unwrap();
    assert_eq!(
        next_text(&mut first).await.unwrap(),
        "hello",
        "control frames pass as they are"
    );
    assert_eq!(next_text(&mut first).await.unwrap(), "c1|a:one");
    assert_eq!(next_text(&mut first).await.unwrap(), "b:two");
    drop(first); // lost before any ack

    let mut second = net.servers.recv().await.unwrap();
    assert_eq!(next_text(&mut second).await.unwrap(), "hello");
    assert_eq!(
        next_text(&mut second).await.unwrap(),
        "c2|a:one",
        "the outbox kept it unstamped: the replay carries the new connection's stamp"
    );
    assert_eq!(next_text(&mut second).await.unwrap(), "b:two");
    second.send(Message::text("ack:a")).await.unwrap();
    second.send(Message::text("ack:b")).await.unwrap();
    stamped.await.unwrap();
    plain.await.unwrap();
    client.close().await;
}

/// Lines; a line `bad` cannot be decoded (but is consumed whole).
struct Lines;

impl FrameCodec for Lines {
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        let Some(end) = src.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = src.split_to(end);
        src.advance(1);
        if &line[..] == b"bad" {
            return Err(CodecError::Undecodable("a bad line".into()));
        }
        Ok(Some(Frame::text(
            String::from_utf8_lossy(&line).into_owned(),
        )))
    }

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.put_slice(frame.payload());
        dst.put_u8(b'\n');
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_frame_reaches_the_platform_and_the_connection_reads_on() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let slot = Arc::new(Mutex::new(Some(client_side)));
    let connector = move || {
        let stream = slot.lock().unwrap().take();
        async move {
            let stream = stream.ok_or(ConnectionError::Eof)?;
            Ok(transport::framed(stream, Box::new(Lines)))
        }
    };
    let protocol = Stamping::default();
    let undecodable = protocol.undecodable.clone();
    let (client, mut events) = Client::builder(protocol)
        .config(config().heartbeat(Duration::from_secs(3600)))
        .connector(connector)
        .start()
        .unwrap();
    let asked = client.send(message("asked", "q")).await.unwrap();
    let (read, mut write) = tokio::io::split(server_side);
    let mut lines = BufReader::new(read).lines();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "hello");
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "asked:q");
    write.write_all(b"bad\nafter\n").await.unwrap();

    asked
        .await
        .expect("the platform paired the undecodable frame with the request");
    let mut reported = None;
    let mut after = false;
    while reported.is_none() || !after {
        match events.recv().await.unwrap() {
            Event::DecodeError { reason, .. } => reported = Some(reason),
            Event::Message(text) if text == "after" => after = true,
            Event::Disconnected { error, .. } => panic!("the connection ended: {error}"),
            _ => {}
        }
    }
    assert!(reported.unwrap().contains("a bad line"));
    assert_eq!(*undecodable.lock().unwrap(), ["a bad line"]);
    assert_eq!(client.stats().decode_errors, 1);
    assert_eq!(client.stats().connects, 1, "the same connection read on");
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_drops_the_connection_and_replays_what_was_not_acknowledged() {
    let cfg = config();
    let (connector, mut net) = network(64 * 1024, cfg.clone());
    let (client, mut events) = Client::builder(Stamping::default())
        .config(cfg)
        .connector(connector)
        .start()
        .unwrap();
    let pending = client.send(message("x", "late")).await.unwrap();
    let mut first = net.servers.recv().await.unwrap();
    assert_eq!(next_text(&mut first).await.unwrap(), "hello");
    assert_eq!(next_text(&mut first).await.unwrap(), "x:late");

    client.reconnect();
    let error = loop {
        if let Event::Disconnected { error, fatal } = events.recv().await.unwrap() {
            assert!(!fatal);
            break error;
        }
    };
    assert_eq!(error, ConnectionError::ReconnectRequested);
    assert_eq!(
        next_text(&mut first).await,
        None,
        "the old connection is gone"
    );

    let mut second = net.servers.recv().await.unwrap();
    assert_eq!(next_text(&mut second).await.unwrap(), "hello");
    assert_eq!(next_text(&mut second).await.unwrap(), "x:late", "replayed");
    second.send(Message::text("ack:x")).await.unwrap();
    pending.await.unwrap();
    assert_eq!(client.stats().reconnects, 1);
    client.close().await;
}
