//! Transaction ids: random-looking, and never repeated by one client.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

/// A source of `txnId`s.
///
/// The SDK draws `randint(0, 2³²-1)` for every action, so two pending actions may share an
/// id, and an acknowledgement would then resolve the wrong one. Here each id is a counter
/// passed through a bijection of the 32-bit integers keyed with random numbers drawn when
/// the source is made: ids look random (they are not predictable without the keys) and
/// one source never repeats an id within 2³² actions, so an id is unique among pending
/// actions by construction. Clones share the counter.
///
/// ```
/// use tether::gather::TxnIds;
/// let ids = TxnIds::new();
/// let a = ids.next();
/// let b = ids.clone().next();
/// assert_ne!(a, b);
/// ```
#[derive(Clone)]
pub struct TxnIds {
    counter: Arc<AtomicU32>,
    keys: [u32; 3],
}

impl std::fmt::Debug for TxnIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnIds").finish_non_exhaustive()
    }
}

impl Default for TxnIds {
    fn default() -> Self {
        Self::new()
    }
}

impl TxnIds {
    /// A source keyed from the OS's randomness.
    #[must_use]
    pub fn new() -> Self {
        Self::seeded(fastrand::u64(..))
    }

    /// A source with reproducible ids (tests).
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        Self {
            counter: Arc::new(AtomicU32::new(rng.u32(..))),
            keys: [rng.u32(..), rng.u32(..), rng.u32(..)],
        }
    }

    /// The next id.
    #[must_use]
    pub fn next(&self) -> u32 {
        self.permute(self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Every step is a bijection of u32 (xor, multiplication by an odd number, addition,
    /// xor with a right shift of itself), so the whole is one.
    fn permute(&self, mut x: u32) -> u32 {
        x ^= self.keys[0];
        x = x.wrapping_mul(0x9e37_79b1);
        x ^= x >> 15;
        x = x.wrapping_add(self.keys[1]).wrapping_mul(0x85eb_ca6b);
        x ^= x >> 13;
        x = x.wrapping_mul(0xc2b2_ae35);
        x ^= x >> 16;
        x ^ self.keys[2]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_do_not_repeat_across_a_long_run_and_clones() {
        let ids = TxnIds::seeded(7);
        let other = ids.clone();
        let mut seen = HashSet::new();
        for i in 0..200_000 {
            let id = if i % 2 == 0 { ids.next() } else { other.next() };
            assert!(seen.insert(id), "txnId {id} repeated after {i} ids");
        }
    }

    #[test]
    fn ids_are_spread_over_the_range_and_differ_between_sources() {
        let a: Vec<u32> = {
            let ids = TxnIds::seeded(1);
            (0..1000).map(|_| ids.next()).collect()
        };
        let b: Vec<u32> = {
            let ids = TxnIds::seeded(2);
            (0..1000).map(|_| ids.next()).collect()
        };
        assert_ne!(a, b);
        // Consecutive ids are not consecutive numbers, and they use the high bits too.
        assert!(a.windows(2).all(|w| w[0].abs_diff(w[1]) > 1));
        assert!(a.iter().filter(|&&x| x > u32::MAX / 2).count() > 400);
    }
}
