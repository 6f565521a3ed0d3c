//! What a bench run measures about its own process: CPU time, resident memory, and the
//! latency histogram's summary.

use std::time::Duration;

use hdrhistogram::Histogram;

/// User + system CPU time this process has used so far.
#[must_use]
pub fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        // SAFETY: getrusage with a valid pointer to a zeroed local struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) } == 0 {
            let tv = |t: libc::timeval| {
                Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
            };
            return tv(usage.ru_utime) + tv(usage.ru_stime);
        }
    }
    Duration::ZERO
}

/// This process's resident set size now, in KiB (Linux `/proc/self/statm`; elsewhere 0).
#[must_use]
pub fn rss_kib() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    #[cfg(unix)]
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    #[cfg(not(unix))]
    let page = 4096;
    pages * page / 1024
}

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
#[must_use]
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of a latency histogram, in µs.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Latency {
    /// The summary of `h` (all zero when it is empty).
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut h = latency_histogram();
        for us in 1..=1000 {
            h.record(us).unwrap();
        }
        let l = Latency::of(&h);
        assert!((495..=505).contains(&l.p50_us), "{l:?}");
        assert!((985..=995).contains(&l.p99_us), "{l:?}");
        assert!((999..=1001).contains(&l.max_us), "{l:?}");
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let start = cpu_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(std::hint::black_box(x) > 0);
        assert!(cpu_time() > start);
        assert!(rss_kib() > 100);
    }
}
