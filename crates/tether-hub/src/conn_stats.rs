//! Per-connection counters and a small ring of the last messages, for the dashboard.
//!
//! The hot path pays a few relaxed atomic adds per message and, for the ring, a
//! `try_lock` and a copy of at most [`EXCERPT`] bytes into a preallocated slot: no
//! allocation, and never a wait (a message arriving while a snapshot reads the ring is
//! simply not kept).

use std::{
    net::SocketAddr,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime},
};

use tether::Frame;
use tokio::time::Instant;

/// Bytes of a message kept in the ring.
pub(crate) const EXCERPT: usize = 160;
/// Messages kept per connection.
pub(crate) const RING: usize = 8;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the client.
    In,
    /// To the client.
    Out,
}

#[derive(Clone, Copy)]
struct Slot {
    /// 1-based message number within its direction; 0: empty.
    number: u64,
    direction: Direction,
    binary: bool,
    len: usize,
    kept: usize,
    bytes: [u8; EXCERPT],
}

const EMPTY: Slot = Slot {
    number: 0,
    direction: Direction::In,
    binary: false,
    len: 0,
    kept: 0,
    bytes: [0; EXCERPT],
};

struct Ring {
    slots: [Slot; RING],
    next: usize,
}

/// One message as the ring kept it (an excerpt, not yet redacted).
#[derive(Debug, Clone)]
pub(crate) struct Excerpt {
    /// Which way.
    pub(crate) direction: Direction,
    /// Its number within its direction on this connection.
    pub(crate) number: u64,
    /// A binary frame.
    pub(crate) binary: bool,
    /// The whole message's length.
    pub(crate) len: usize,
    /// Its first bytes.
    pub(crate) bytes: Vec<u8>,
}

/// The live state of one connection.
pub(crate) struct ConnStats {
    pub(crate) peer: SocketAddr,
    pub(crate) since: SystemTime,
    received: AtomicU64,
    received_bytes: AtomicU64,
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    /// Stalled: 0 no, `u64::MAX` until resumed, else until this many ms after `opened`.
    stalled_until_ms: AtomicU64,
    delay_ms: AtomicU64,
    opened: Instant,
    ring: Mutex<Ring>,
}

/// A copy of a connection's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnCounters {
    pub(crate) received: u64,
    pub(crate) received_bytes: u64,
    pub(crate) sent: u64,
    pub(crate) sent_bytes: u64,
}

impl ConnStats {
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            since: SystemTime::now(),
            received: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            stalled_until_ms: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
            opened: Instant::now(),
            ring: Mutex::new(Ring {
                slots: [EMPTY; RING],
                next: 0,
            }),
        }
    }

    /// A message from the client.
    pub(crate) fn received(&self, frame: &Frame) {
        let number = self.received.fetch_add(1, Relaxed) + 1;
        self.received_bytes.fetch_add(frame.len() as u64, Relaxed);
        self.keep(Direction::In, number, frame);
    }

    /// A message to the client.
    pub(crate) fn sent(&self, frame: &Frame) {
        let number = self.sent.fetch_add(1, Relaxed) + 1;
        self.sent_bytes.fetch_add(frame.len() as u64, Relaxed);
        self.keep(Direction::Out, number, frame);
    }

    fn keep(&self, direction: Direction, number: u64, frame: &Frame) {
        let Ok(mut ring) = self.ring.try_lock() else {
            return;
        };
        let (binary, data) = match frame {
            Frame::Text(b) => (false, &b[..]),
            Frame::Binary(b) => (true, &b[..]),
        };
        let kept = data.len().min(EXCERPT);
        let at = ring.next;
        ring.next = (at + 1) % RING;
        let slot = &mut ring.slots[at];
        slot.number = number;
        slot.direction = direction;
        slot.binary = binary;
        slot.len = data.len();
        slot.kept = kept;
        slot.bytes[..kept].copy_from_slice(&data[..kept]);
    }

    /// The kept messages, oldest first.
    pub(crate) fn last_messages(&self) -> Vec<Excerpt> {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (0..RING)
            .map(|i| &ring.slots[(ring.next + i) % RING])
            .filter(|s| s.number > 0)
            .map(|s| Excerpt {
                direction: s.direction,
                number: s.number,
                binary: s.binary,
                len: s.len,
                bytes: s.bytes[..s.kept].to_vec(),
            })
            .collect()
    }

    pub(crate) fn counters(&self) -> ConnCounters {
        ConnCounters {
            received: self.received.load(Relaxed),
            received_bytes: self.received_bytes.load(Relaxed),
            sent: self.sent.load(Relaxed),
            sent_bytes: self.sent_bytes.load(Relaxed),
        }
    }

    /// The connection's stall (from the driver, which applies it).
    pub(crate) fn set_stalled(&self, stalled: Option<Option<Instant>>) {
        let value = match stalled {
            None => 0,
            Some(None) => u64::MAX,
            Some(Some(at)) => u64::try_from(at.saturating_duration_since(self.opened).as_millis())
                .unwrap_or(u64::MAX - 1)
                .max(1),
        };
        self.stalled_until_ms.store(value, Relaxed);
    }

    /// The connection's delay (from the driver).
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// `None`: not stalled; `Some(None)`: until resumed; `Some(Some(left))`.
    pub(crate) fn stall_left(&self) -> Option<Option<Duration>> {
        match self.stalled_until_ms.load(Relaxed) {
            0 => None,
            u64::MAX => Some(None),
            ms => {
                let until = self.opened + Duration::from_millis(ms);
                let left = until.saturating_duration_since(Instant::now());
                (!left.is_zero()).then_some(Some(left))
            }
        }
    }

    /// The delay on the connection's outgoing messages.
    pub(crate) fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_messages_as_short_excerpts() {
        let conn = ConnStats::new("127.0.0.1:1".parse().unwrap());
        for i in 0..20 {
            conn.received(&Frame::text(format!("message {i} {}", "x".repeat(500))));
        }
        conn.sent(&Frame::text("reply"));
        let last = conn.last_messages();
        assert_eq!(last.len(), RING);
        assert!(last.iter().all(|m| m.bytes.len() <= EXCERPT));
        assert_eq!(last.last().unwrap().direction, Direction::Out);
        assert_eq!(last.last().unwrap().bytes, b"reply");
        assert!(last[0].bytes.starts_with(b"message 13 "));
        assert_eq!(last[0].len, "message 13 ".len() + 500);
        assert_eq!(conn.counters().received, 20);
        assert_eq!(conn.counters().sent, 1);
    }
}
