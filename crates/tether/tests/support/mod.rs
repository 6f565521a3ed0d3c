#![allow(dead_code)]
pub mod duplex;

use std::time::Duration;

use tether::{BackoffConfig, ClientConfig};

/// The configuration of the paused-time engine tests: heartbeat 5 s, dead after 3 s more,
/// backoff 100 ms to 1 s with a fixed seed.
pub fn config() -> ClientConfig {
    ClientConfig::default()
        .heartbeat(Duration::from_secs(5))
        .dead_after(Duration::from_secs(3))
        .backoff(BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: None,
            seed: Some(1),
        })
}
