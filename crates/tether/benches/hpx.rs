//! HPX codec and JSON numbers: `cargo bench -p tether --bench hpx` (add
//! `--features hpx-simd-json` to compare simd-json with serde_json).
//!
//! For three replies (a function list of ~1 KiB, 64 KiB of mixed objects, and
//! `get_large`'s 1 MiB string) it prints the median of several runs of: the Python-exact
//! encoder, gzip level 5 + `<EOF>` (the codec's encode), the codec's decode (inflate), and
//! parsing with serde_json and with the parser `parse_json` uses.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use bytes::BytesMut;
use tether::hpx::{HpxCodec, JSON_PARSER, parse_json, to_python_json};
use tether::{json, json::Value};
use tokio_util::codec::{Decoder, Encoder};

/// Median time of one call of `f`, over `rounds` rounds of `iters` calls.
fn median(rounds: usize, iters: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / u32::try_from(iters).unwrap_or(1)
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

fn mib_per_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / t.as_secs_f64()
}

fn main() {
    let functions: Vec<Value> = (0..12)
        .map(|i| json!({"fname": "get_item", "data": {"id": i, "title": format!("Gallery {i}"), "tags": ["a", "b"], "rating": 4.5}}))
        .collect();
    let mixed: Vec<Value> = (0..600)
        .map(|i| json!({"id": i, "name": format!("item-\u{e9}-{i}"), "score": i as f64 / 7.0, "flags": [true, false, null], "nested": {"k": i}}))
        .collect();
    let cases = [
        (
            "function list",
            json!({"session": "abc", "name": "server", "data": functions}),
        ),
        (
            "64 KiB objects",
            json!({"session": "abc", "name": "server", "data": mixed}),
        ),
        (
            "1 MiB string",
            json!({"session": "abc", "name": "server", "data": [{"fname": "get_large", "data": "HappyPanda X large payload; ".repeat(37_450)}]}),
        ),
    ];
    println!("parser behind parse_json: {JSON_PARSER}");
    for (name, value) in cases {
        let text = to_python_json(&value);
        let size = text.len();
        let (rounds, iters) = if size > 500_000 { (9, 5) } else { (9, 200) };
        let encode_json = median(rounds, iters, || {
            black_box(to_python_json(black_box(&value)));
        });
        let mut codec = HpxCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(text.as_bytes(), &mut wire).unwrap();
        let compressed = wire.len();
        let gzip = median(rounds, iters, || {
            let mut out = BytesMut::new();
            codec.encode(black_box(text.as_bytes()), &mut out).unwrap();
            black_box(out);
        });
        let inflate = median(rounds, iters, || {
            let mut buf = wire.clone();
            black_box(codec.decode(&mut buf).unwrap());
        });
        let serde = median(rounds, iters, || {
            black_box(serde_json::from_slice::<Value>(black_box(text.as_bytes())).unwrap());
        });
        let chosen = median(rounds, iters, || {
            black_box(parse_json(black_box(text.as_bytes())).unwrap());
        });
        println!(
            "{name}: {size} B JSON, {compressed} B on the wire\n  \
             python-json encode {encode_json:?} ({:.0} MiB/s), gzip+<EOF> {gzip:?} ({:.0} MiB/s), \
             inflate {inflate:?} ({:.0} MiB/s)\n  \
             parse: serde_json {serde:?} ({:.0} MiB/s), {JSON_PARSER} {chosen:?} ({:.0} MiB/s)",
            mib_per_s(size, encode_json),
            mib_per_s(size, gzip),
            mib_per_s(size, inflate),
            mib_per_s(size, serde),
            mib_per_s(size, chosen),
        );
    }
}
