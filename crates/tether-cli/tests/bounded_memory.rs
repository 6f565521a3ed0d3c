//! Bounded memory (issue 10): a server that accepts and never reads. The client — the
//! `tether` binary in its own process — is fed 1 KiB lines as fast as it takes them; its
//! outbox fills to capacity and the policy applies, and its anonymous RSS, sampled over
//! time, stays under a stated bound and does not grow.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

/// The client's anonymous RSS (what it allocated: outbox 1,000 × 1 KiB, the bounded event
/// backlog, buffers, runtime) must stay under this. File-backed pages are left out: they
/// are the binary's code as it is paged in (~21 MiB of a debug build at idle, growing with
/// every feature compiled in), not memory the client holds.
const RSS_BOUND_KIB: u64 = 32 * 1024;
/// Growth tolerated from the first third of the run to the last: the bounded event
/// backlog filling up. Each dropped message goes back on the event stream as a `dropped`
/// event carrying it (1 KiB here); the stream holds at most 1,024 of them plus 4,096
/// pending in the client (past that they are counted, not kept), ~5.5 MiB, and it fills
/// whenever the event printer falls behind the drops, early or late in the run (a step
/// of ~6 MiB, measured at 0.8 s in one run and at 4 s in another). A leak would keep
/// growing: over the ~2-4 GB fed in 6 s, even 0.5% retained is 10 MiB or more.
const FLAT_SLACK_KIB: u64 = 8 * 1024;

/// A WebSocket server that completes the handshake and then never reads.
fn never_reading_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok((_req, ws)) = ServerBuilder::new().accept(tcp).await {
                    held.push(ws); // never polled again: nothing is read
                }
            }
        });
    });
    format!("ws://{}/", rx.recv().unwrap())
}

/// The child's anonymous resident memory (`RssAnon`), KiB.
fn rss_kib(child: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_never_reading_server_fills_the_outbox_to_capacity_and_memory_stays_bounded_and_flat() {
    let url = never_reading_server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args([
            "connect",
            &url,
            "--text",
            "--queue",
            "1000",
            "--policy",
            "drop-oldest",
            "--events",
            "--drain",
            "--drain-timeout",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tether runs");

    // Count `dropped` events (and keep stdout flowing).
    let dropped = Arc::new(AtomicU64::new(0));
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let counter = dropped.clone();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.contains("\"dropped\"") {
                counter.fetch_add(1, Relaxed);
            }
        }
    });

    // Feed lines as fast as the client takes them.
    let mut stdin = child.stdin.take().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let (stop_w, written_w) = (stop.clone(), written.clone());
    let writer = std::thread::spawn(move || {
        let line = format!("{}\n", "x".repeat(1023));
        while !stop_w.load(Relaxed) {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
            written_w.fetch_add(1, Relaxed);
        }
        drop(stdin); // EOF: --drain gives up after 1 s
    });

    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
        samples.push(rss_kib(&child));
    }
    stop.store(true, Relaxed);
    writer.join().unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();

    let lines = written.load(Relaxed);
    let dropped = dropped.load(Relaxed);
    let third = samples.len() / 3;
    let early = samples[..third].iter().copied().max().unwrap_or(0);
    let late = samples[2 * third..].iter().copied().max().unwrap_or(0);
    let peak = samples.iter().copied().max().unwrap_or(0);
    eprintln!(
        "{lines} lines of 1 KiB fed in 6 s, {dropped} dropped (outbox 1000, drop-oldest); \
         anonymous RSS KiB samples {samples:?}: first third max {early}, last third max {late}, peak {peak}"
    );
    assert!(lines > 20_000, "the client kept taking lines ({lines})");
    // Far more than the outbox and the socket buffers hold went in, at flat memory: the
    // policy dropped them. (The event stream is bounded too: past its bound, `dropped`
    // events are counted rather than kept, so fewer are printed than were dropped.)
    assert!(
        dropped > 1000,
        "the policy applied: {dropped} dropped of {lines}"
    );
    assert!(
        peak > 0 && peak < RSS_BOUND_KIB,
        "anonymous RSS {peak} KiB, bound {RSS_BOUND_KIB} KiB"
    );
    assert!(
        late <= early + FLAT_SLACK_KIB,
        "RSS grew from {early} KiB to {late} KiB"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "exit 1: messages undelivered at the drain timeout"
    );
}
