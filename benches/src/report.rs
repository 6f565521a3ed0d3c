//! The one JSON object every program prints.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Figures of one run. Latencies are `null` where the workload measures none.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The program (e.g. `bare-tokio-websockets`, `bare-tokio-websockets-batch`).
    pub client: String,
    /// `echo`, `send-only` or `idle`.
    pub workload: String,
    /// Connections used.
    pub clients: usize,
    /// Messages echoed back (echo) or counted by the sink (send-only).
    pub messages: u64,
    /// Bytes per message.
    pub size: usize,
    /// Outstanding messages per client at most (echo).
    pub window: usize,
    /// Wall time from the first connect to the last message done.
    pub seconds: f64,
    /// `messages / seconds`.
    pub msgs_per_s: f64,
    /// Payload megabytes (10^6 bytes) sent per second, one way.
    pub mb_per_s: f64,
    /// Latency percentiles, send to echo receipt, in microseconds.
    pub p50_us: Option<f64>,
    /// 90th percentile.
    pub p90_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
    /// 99.9th percentile.
    pub p999_us: Option<f64>,
    /// Largest latency.
    pub max_us: Option<f64>,
    /// Process user + system CPU seconds over the run, per 100,000 messages.
    pub cpu_s_per_100k: Option<f64>,
    /// Write system calls per message over the run (1.0 = one write per message).
    pub writes_per_msg: Option<f64>,
    /// Resident set size at the end, KiB.
    pub rss_kib: u64,
    /// Peak resident set size, KiB.
    pub rss_peak_kib: u64,
    /// Idle: connections open at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Idle: RSS growth per open connection, KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_kib_per_conn: Option<f64>,
}

/// A latency histogram in nanoseconds (1 ns to 100 s, 3 significant digits).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// What the process had spent when a measured run started.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// When the run started.
    pub at: std::time::Instant,
    /// CPU time used by then.
    pub cpu: Duration,
    /// Write system calls made by then.
    pub writes: u64,
}

impl Start {
    /// Now.
    pub fn now() -> Self {
        Self {
            at: std::time::Instant::now(),
            cpu: crate::process::cpu_time(),
            writes: crate::process::write_syscalls(),
        }
    }
}

/// Fills the throughput, CPU, syscall and latency fields for a run from `start` that
/// ended at `end` (wall clock; CPU time and syscalls are read now).
pub fn fill(
    report: &mut Report,
    start: Start,
    end: std::time::Instant,
    latency: Option<&Histogram<u64>>,
) {
    let elapsed = end - start.at;
    let cpu = crate::process::cpu_time() - start.cpu;
    let writes = crate::process::write_syscalls().saturating_sub(start.writes);
    let seconds = elapsed.as_secs_f64();
    report.seconds = round(seconds, 4);
    if seconds > 0.0 {
        report.msgs_per_s = round(report.messages as f64 / seconds, 0);
        report.mb_per_s = round(
            report.messages as f64 * report.size as f64 / seconds / 1e6,
            2,
        );
    }
    if report.messages > 0 {
        report.cpu_s_per_100k = Some(round(
            cpu.as_secs_f64() * 100_000.0 / report.messages as f64,
            4,
        ));
        report.writes_per_msg = Some(round(writes as f64 / report.messages as f64, 3));
    }
    if let Some(h) = latency.filter(|h| !h.is_empty()) {
        let us = |ns: u64| Some(round(ns as f64 / 1000.0, 1));
        report.p50_us = us(h.value_at_quantile(0.50));
        report.p90_us = us(h.value_at_quantile(0.90));
        report.p99_us = us(h.value_at_quantile(0.99));
        report.p999_us = us(h.value_at_quantile(0.999));
        report.max_us = us(h.max());
    }
    report.rss_kib = crate::process::rss_kib();
    report.rss_peak_kib = crate::process::peak_rss_kib();
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}
