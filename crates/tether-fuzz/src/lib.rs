//! Fuzz harnesses: one function per decoder that takes bytes from the network. Each feeds
//! arbitrary input to the platform's sans-IO state machine (the same calls the engine
//! makes) and must never panic, whatever the bytes. `fuzz/` (cargo fuzz, nightly) drives
//! them with libFuzzer; `tests/corpus.rs` replays every corpus file on stable Rust.
//!
//! Input shape: the bytes are split at NUL into successive WebSocket messages (a NUL
//! cannot occur inside valid JSON text, so seeds stay readable), each a text message when
//! it is UTF-8 and a binary one otherwise, so the fuzzer can reach states that need several
//! frames (a hello, then a login reply, then events).
//!
//! The HPX targets read a byte stream instead (HPX runs over TCP): see [`hpx_codec`].
#![warn(missing_docs)]

use bytes::BytesMut;
use tether::{Frame, Output, Protocol};
use tokio_util::codec::Decoder;

/// A harness: takes any bytes, must not panic.
pub type Harness = fn(&[u8]);

/// The harnesses by name (the names of the `fuzz/fuzz_targets` and corpus folders).
pub const TARGETS: &[(&str, Harness)] = &[
    ("raw", raw),
    ("datadivr", datadivr),
    ("hiven", hiven),
    ("moobius", moobius),
    ("gather", gather),
    ("hpx_codec", hpx_codec),
    ("hpx_server", hpx_server),
    ("hub", hub),
    ("ws_inflate", ws_inflate),
];

/// Splits the input into frames (see the crate docs).
fn frames(data: &[u8]) -> impl Iterator<Item = Frame> + '_ {
    data.split(|b| *b == 0)
        .map(|piece| match std::str::from_utf8(piece) {
            Ok(text) => Frame::text(text),
            Err(_) => Frame::binary(piece.to_vec()),
        })
}

/// Opens a connection on `protocol` and feeds it every frame of `data`.
fn drive<P: Protocol>(mut protocol: P, data: &[u8]) {
    let mut out = Output::default();
    protocol.on_open(&mut out);
    for frame in frames(data) {
        let mut out = Output::default();
        let _ = protocol.on_frame(frame, &mut out);
        let _ = protocol.heartbeat();
    }
}

/// The raw platform with acks and routing on (JSON parse, ack and event fields).
pub fn raw(data: &[u8]) {
    drive(
        tether::raw::Raw::json().ack_field("id").event_field("type"),
        data,
    );
}

/// datadivr's `WebSocketMessage` decoder.
pub fn datadivr(data: &[u8]) {
    drive(tether::datadivr::Datadivr, data);
}

/// The Hiven Swarm state machine (hello, INIT_STATE, HOUSE_JOIN, the 22 events).
pub fn hiven(data: &[u8]) {
    drive(tether::hiven::Swarm::new("fuzz-token"), data);
}

/// The Moobius client protocol (user mode: login, then a `join_channel`) fed the frames,
/// and each text frame parsed as a [`tether::moobius::Payload`] and read as a handler
/// reads it (`message()`, its content text).
pub fn moobius(data: &[u8]) {
    use tether::moobius::{Mode, Moobius, Payload};
    drive(
        Moobius::new(
            Mode::User {
                channels: vec![("fuzz-user".into(), "fuzz-channel".into())],
            },
            "fuzz-token",
        ),
        data,
    );
    for frame in frames(data) {
        if let Some(text) = frame.as_text()
            && let Ok(payload) = Payload::parse(text)
        {
            let _ = payload.text();
            if let Some(message) = payload.message() {
                let _ = format!("{message:?}");
            }
        }
    }
}

/// The Gather protocol (`init`, then `ready`, then batches acknowledging actions) fed
/// the frames (binary ones are `ServerClientBatch`es), and each batch that decodes
/// turned into JSON as the CLI prints it (`batch_to_json`, `event_to_json`) and encoded
/// again.
pub fn gather(data: &[u8]) {
    use tether::gather::{Gather, batch_to_json, decode_batch, encode_batch, event_to_json};
    drive(Gather::new("fuzz/space", "fuzz-api-key"), data);
    for frame in frames(data) {
        if let Ok(batch) = decode_batch(frame.payload()) {
            let _ = batch_to_json(&batch).to_string();
            let events: Vec<_> = batch.events.into_iter().filter_map(|e| e.event).collect();
            for event in &events {
                let _ = event_to_json(event).to_string();
            }
            let _ = encode_batch(events);
        }
    }
}

/// How the HPX targets read their input: byte 0 picks options (bit 0: small limits, so
/// the size bounds are reached; bit 1: the client logs in after the greeting; bit 2: it
/// starts with a session id); byte 1 is the read size (0: all at once, else 1 to 255
/// bytes per read, so markers and bodies straddle reads); the rest is the byte stream
/// from the peer (gzip bodies, each followed by `<EOF>`).
struct HpxInput<'a> {
    limits: tether::hpx::Limits,
    login: bool,
    session: bool,
    reads: Vec<&'a [u8]>,
}

impl<'a> HpxInput<'a> {
    fn new(data: &'a [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let chunk = usize::from(data.get(1).copied().unwrap_or(0));
        let stream = data.get(2..).unwrap_or_default();
        let limits = if flags & 1 == 0 {
            tether::hpx::Limits::default()
        } else {
            tether::hpx::Limits {
                max_frame: 64,
                max_payload: 256,
            }
        };
        let reads = if chunk == 0 || stream.is_empty() {
            vec![stream]
        } else {
            stream.chunks(chunk).collect()
        };
        Self {
            limits,
            login: flags & 2 != 0,
            session: flags & 4 != 0,
            reads,
        }
    }
}

/// Decodes `reads` with `codec`, one read at a time, until the stream ends or fails:
/// the payloads, then the error that failed the stream, if any.
fn decode_stream(
    codec: &mut tether::hpx::HpxCodec,
    reads: &[&[u8]],
) -> (Vec<bytes::Bytes>, Option<String>) {
    let mut buffer = BytesMut::new();
    let mut payloads = Vec::new();
    for read in reads {
        buffer.extend_from_slice(read);
        loop {
            match Decoder::decode(codec, &mut buffer) {
                Ok(Some(payload)) => payloads.push(payload),
                Ok(None) => break,
                Err(e) => return (payloads, Some(e.to_string())),
            }
        }
    }
    (payloads, None)
}

/// The HPX client side: the gzip + `<EOF>` codec ([`tether::hpx::HpxCodec`]) fed the
/// stream in reads of the chosen size, which must decode exactly as the whole stream
/// read at once does; then the engine's codec (the one [`tether::hpx::Hpx`] makes, which
/// reports an undecodable body and reads on) feeding every frame, and every undecodable
/// report, to the HPX protocol (greeting, optional login, replies paired with requests,
/// requests stamped through its outbound hook), and every payload
/// parsed as a [`tether::hpx::Message`] and written back as Python JSON.
///
/// # Panics
/// When the split reads decode differently from the whole stream (a codec bug).
pub fn hpx_codec(data: &[u8]) {
    use tether::hpx::{Credentials, Hpx, HpxCodec, Message};
    let input = HpxInput::new(data);
    let whole: Vec<u8> = input.reads.concat();
    let split = decode_stream(&mut HpxCodec::new(input.limits), &input.reads);
    let at_once = decode_stream(&mut HpxCodec::new(input.limits), &[&whole]);
    assert_eq!(
        split,
        at_once,
        "reads of {:?} bytes decode differently from the whole stream",
        input.reads.first().map(|r| r.len())
    );
    for payload in &split.0 {
        if let Ok(message) = Message::parse(payload) {
            let _ = message.to_python_json();
            let _ = message.is_greeting();
        }
    }

    let mut protocol = Hpx::new("fuzz-client").limits(input.limits);
    if input.login {
        protocol = protocol.login(Credentials::User {
            user: "fuzz".into(),
            password: "fuzz-password".into(),
        });
    }
    if input.session {
        protocol = protocol.session_id("fuzz-session");
    }
    let Some(factory) = protocol.codec() else {
        return;
    };
    let mut codec = factory();
    protocol.on_open(&mut Output::default());
    // A request written before anything arrives: a reply has something to answer.
    let mut wire = BytesMut::new();
    let request = protocol.request(tether::json!([{"fname": "get_version"}]));
    let written = protocol.before_write(
        request.frame().clone(),
        tether::Outbound::Message { stamp: true },
    );
    let _ = codec.encode(&written, &mut wire);
    let mut buffer = BytesMut::new();
    'reads: for read in &input.reads {
        buffer.extend_from_slice(read);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    let _ = protocol.on_frame(frame, &mut Output::default());
                }
                Ok(None) => break,
                Err(tether::CodecError::Undecodable(reason)) => {
                    protocol.on_undecodable(&reason, &mut Output::default());
                }
                Err(_) => break 'reads,
            }
        }
    }
    protocol.on_close();
}

/// The HPX server side (what the hub runs for each client message): the codec fed the
/// stream in reads of the chosen size, every payload answered by
/// [`tether::hpx::server::HpxServer::handle`] (handshake, sessions, commands, API
/// functions), every undecodable body by its `undecodable` reply, each reply written as
/// Python JSON.
pub fn hpx_server(data: &[u8]) {
    use tether::hpx::{HpxCodec, server::HpxServer};
    let input = HpxInput::new(data);
    let server = HpxServer::new().user("fuzz", "fuzz-password");
    let _ = server.greeting().to_python_json();
    let mut codec = HpxCodec::new(input.limits);
    let mut buffer = BytesMut::new();
    for read in &input.reads {
        buffer.extend_from_slice(read);
        loop {
            let before = buffer.len();
            match Decoder::decode(&mut codec, &mut buffer) {
                Ok(Some(payload)) => {
                    let _ = server.handle(&payload).to_python_json();
                }
                Ok(None) => break,
                // A complete body that is not gzip: answered, the stream goes on.
                Err(_) if buffer.len() < before => {
                    let _ = server.undecodable().to_python_json();
                }
                Err(_) => return,
            }
        }
    }
}

/// The hub's sessions (the server side of the WebSocket platforms, in
/// `crates/tether-hub`): byte 0 picks the service (0 datadivr, 1 Moobius, 2 Gather,
/// 3 Hiven, modulo 4), the rest is the client's frames split at NUL as above. Two
/// connections are opened on one service (the second gets the same frames), so routing
/// between them and shared state (players, channels, client ids) are reached. Hiven's
/// session starts timers: it runs inside a Tokio runtime that never polls them.
pub fn hub(data: &[u8]) {
    use std::sync::Arc;
    use tether_hub::{ConnInfo, Registry, Service};
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let service: Box<dyn Service> = match which % 4 {
        0 => Box::new(tether_hub::Datadivr::default()),
        1 => Box::new(tether_hub::Moobius::default()),
        2 => Box::new(tether_hub::Gather::default()),
        _ => Box::new(tether_hub::Hiven::new()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let _entered = runtime.enter();
    let registry = Arc::new(Registry::default());
    for id in [1, 2] {
        let conn = ConnInfo {
            id,
            peer: std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40000 + u16::try_from(id).unwrap_or(0),
            )),
            path: "/".into(),
            query: Some("token=fuzz-token&client_id=fuzz".into()),
            headers: vec![("authorization".into(), "fuzz-token".into())],
            registry: Arc::clone(&registry),
        };
        let Ok(mut session) = service.open(&conn) else {
            continue;
        };
        let mut out = Vec::new();
        session.on_open(&mut out);
        for frame in frames(rest) {
            let mut out = Vec::new();
            if session.on_frame(frame, &mut out).is_err() {
                break;
            }
        }
        session.on_close();
    }
}

/// The permessage-deflate frame layer under tokio-websockets
/// ([`tether::transport::deflate::InboundFrames`]). Byte 0 picks options (bit 0: the
/// server's side, frames masked; bit 1: no context takeover; bit 2: a 1 KiB limit, so
/// the inflated-size bound is reached); byte 1 is the read size (0: all at once, else 1
/// to 255 bytes per read, so headers and payloads straddle reads); the rest is the byte
/// stream from the peer (frames, compressed ones with RSV1).
///
/// # Panics
/// When reads of the chosen size rewrite the stream differently from the whole stream
/// read at once, or the layer hands on an incomplete header as consumed.
pub fn ws_inflate(data: &[u8]) {
    use tether::transport::deflate::InboundFrames;
    let flags = data.first().copied().unwrap_or(0);
    let chunk = usize::from(data.get(1).copied().unwrap_or(0));
    let stream = data.get(2..).unwrap_or_default();
    let limit = if flags & 4 == 0 { 1 << 20 } else { 1024 };
    let make = || {
        if flags & 1 == 0 {
            InboundFrames::for_client(limit, flags & 2 != 0)
        } else {
            InboundFrames::for_server(limit, flags & 2 != 0)
        }
    };
    let run = |reads: &[&[u8]]| {
        let mut frames = make();
        let mut held = Vec::new();
        let mut out = Vec::new();
        for read in reads {
            held.extend_from_slice(read);
            let n = frames.process(&held, &mut out);
            assert!(n <= held.len(), "consumed more than it was given");
            held.drain(..n);
        }
        (out, held, frames.failure().map(ToString::to_string))
    };
    let at_once = run(&[stream]);
    if chunk > 0 && !stream.is_empty() {
        let reads: Vec<&[u8]> = stream.chunks(chunk).collect();
        assert_eq!(
            run(&reads),
            at_once,
            "reads of {chunk} bytes rewrite differently from the whole stream"
        );
    }
}
