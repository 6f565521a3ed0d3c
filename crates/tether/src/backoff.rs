//! Reconnect delays: exponential backoff with full jitter and a cap.

use std::time::Duration;

use crate::config::BackoffConfig;

/// Produces the delay before each reconnect attempt.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    rng: fastrand::Rng,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Self {
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Self {
            config,
            rng,
            attempt: 0,
        }
    }

    /// The attempt number the next delay is for (from 1).
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether another attempt is allowed.
    pub(crate) fn exhausted(&self) -> bool {
        self.config
            .max_attempts
            .is_some_and(|max| self.attempt >= max)
    }

    /// The upper bound of the delay before attempt `attempt` (from 1).
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.config.base.saturating_mul(factor).min(self.config.cap)
    }

    /// Counts one more failed attempt and returns the delay to wait before the next.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.ceiling(self.attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.u64(0..=nanos))
    }

    /// A connection reached Ready: the next failure starts from the base again.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_attempts: Option<u32>) -> BackoffConfig {
        BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts,
            seed: Some(7),
        }
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let b = Backoff::new(config(None));
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(6), Duration::from_secs(2));
        assert_eq!(b.ceiling(200), Duration::from_secs(2));
    }

    #[test]
    fn every_delay_is_jittered_within_its_ceiling() {
        let mut b = Backoff::new(config(None));
        let mut distinct = std::collections::HashSet::new();
        for n in 1..=50 {
            let d = b.next_delay();
            assert!(d <= b.ceiling(n), "attempt {n}: {d:?}");
            distinct.insert(d);
        }
        assert!(distinct.len() > 40, "full jitter should rarely repeat");
    }

    #[test]
    fn same_seed_gives_same_delays() {
        let mut a = Backoff::new(config(None));
        let mut b = Backoff::new(config(None));
        for _ in 0..10 {
            assert_eq!(a.next_delay(), b.next_delay());
        }
    }

    #[test]
    fn attempt_limit_and_reset() {
        let mut b = Backoff::new(config(Some(2)));
        assert!(!b.exhausted());
        b.next_delay();
        b.next_delay();
        assert!(b.exhausted());
        b.reset();
        assert!(!b.exhausted());
        assert_eq!(b.attempt(), 0);
    }
}
