//! Fuzz harnesses: one function per decoder that takes bytes from the network. Each feeds
//! arbitrary input to the platform's sans-IO state machine (the same calls the engine
//! makes) and must never panic, whatever the bytes. `fuzz/` (cargo fuzz, nightly) drives
//! them with libFuzzer; `tests/corpus.rs` replays every corpus file on stable Rust.
//!
//! Input shape: the bytes are split at NUL into successive WebSocket messages (a NUL
//! cannot occur inside valid JSON text, so seeds stay readable), each a text message when
//! it is UTF-8 and a binary one otherwise, so the fuzzer can reach states that need several
//! frames (a hello, then a login reply, then events).
#![warn(missing_docs)]

use tether::{Frame, Output, Protocol};

/// A harness: takes any bytes, must not panic.
pub type Harness = fn(&[u8]);

/// The harnesses by name (the names of the `fuzz/fuzz_targets` and corpus folders).
pub const TARGETS: &[(&str, Harness)] = &[("raw", raw), ("datadivr", datadivr), ("hiven", hiven)];

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
