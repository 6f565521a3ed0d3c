//! Per-endpoint counters and the optional receive log.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

use serde::Serialize;
use tether::Frame;

/// Frames kept in a receive log by default ([`crate::HubBuilder::record_limit`]); past
/// it, the oldest go (the counters keep counting).
pub const RECEIVE_LOG_LIMIT: usize = 4_000_000;

/// Close codes kept at most.
const CLOSE_CODES_LIMIT: usize = 4_000_000;

/// One frame of a receive log.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// Its number in the endpoint's log: 0 for the first frame ever received, then one
    /// more for each (numbers of frames the bound let go are not reused).
    pub(crate) seq: u64,
    /// The connection it came on (the ids of the dashboard's `/snapshot`).
    pub(crate) conn: u64,
    /// When it arrived.
    pub(crate) at: Instant,
    /// The frame (a copy).
    pub(crate) frame: Frame,
}

/// The last frames an endpoint received, at most `limit`.
#[derive(Debug)]
pub(crate) struct ReceiveLog {
    frames: VecDeque<Logged>,
    next_seq: u64,
    limit: usize,
}

impl Default for ReceiveLog {
    fn default() -> Self {
        Self {
            frames: VecDeque::new(),
            next_seq: 0,
            limit: RECEIVE_LOG_LIMIT,
        }
    }
}

/// Part of a receive log: see [`ReceiveLog::page`].
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// The frames, oldest first.
    pub(crate) frames: Vec<Logged>,
    /// Where the next page starts (`since` of the next call).
    pub(crate) next: u64,
    /// Frames at or after `since` that the bound let go before this call.
    pub(crate) missed: u64,
}

impl ReceiveLog {
    fn push(&mut self, conn: u64, frame: &Frame) {
        if self.limit == 0 {
            self.next_seq += 1;
            return;
        }
        if self.frames.len() >= self.limit {
            self.frames.pop_front();
        }
        // A copy: a slice of the connection's read buffer would keep all of it alive.
        let frame = match frame {
            Frame::Text(b) => Frame::Text(bytes::Bytes::copy_from_slice(b)),
            Frame::Binary(b) => Frame::Binary(bytes::Bytes::copy_from_slice(b)),
        };
        self.frames.push_back(Logged {
            seq: self.next_seq,
            conn,
            at: Instant::now(),
            frame,
        });
        self.next_seq += 1;
    }

    /// Up to `limit` frames numbered `since` or later (of connection `conn` only, if
    /// given), oldest first.
    pub(crate) fn page(&self, since: u64, conn: Option<u64>, limit: usize) -> Page {
        let oldest = self.frames.front().map_or(self.next_seq, |f| f.seq);
        let missed = oldest.saturating_sub(since);
        // Sequence numbers are contiguous in the deque: start at `since`'s place.
        let skip = usize::try_from(since.saturating_sub(oldest)).unwrap_or(usize::MAX);
        let mut frames = Vec::new();
        let mut next = self.next_seq;
        for logged in self.frames.iter().skip(skip) {
            if conn.is_some_and(|c| c != logged.conn) {
                continue;
            }
            if frames.len() == limit {
                next = logged.seq;
                break;
            }
            frames.push(logged.clone());
        }
        Page {
            frames,
            next: next.max(since),
            missed,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    accepted: AtomicU64,
    active: AtomicU64,
    received: AtomicU64,
    received_bytes: AtomicU64,
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    refusals: AtomicU64,
    /// Set while the listener is closed (a `Refuse` fault, or a failed re-bind).
    not_listening: AtomicBool,
    log: Mutex<ReceiveLog>,
    /// When the current `Refuse` fault ends.
    refusing_until: Mutex<Option<Instant>>,
    close_codes: Mutex<Vec<Option<u16>>>,
}

/// A copy of one endpoint's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndpointStats {
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Messages received from clients.
    pub received: u64,
    /// Payload bytes received.
    pub received_bytes: u64,
    /// Messages sent to clients.
    pub sent: u64,
    /// Payload bytes sent.
    pub sent_bytes: u64,
    /// `Refuse` faults the listener has begun (each closes it for a while).
    pub refusals: u64,
    /// Whether the endpoint accepts connections now: false while a `Refuse` fault lasts,
    /// or if its port could not be bound again after one.
    pub listening: bool,
}

impl Stats {
    pub(crate) fn connected(&self) {
        self.accepted.fetch_add(1, Relaxed);
        self.active.fetch_add(1, Relaxed);
    }

    pub(crate) fn disconnected(&self) {
        self.active.fetch_sub(1, Relaxed);
    }

    /// A frame from connection `conn`; kept in the log when `record` is on.
    pub(crate) fn received(&self, conn: u64, frame: &Frame, record: bool) {
        self.received.fetch_add(1, Relaxed);
        self.received_bytes.fetch_add(frame.len() as u64, Relaxed);
        if record {
            self.lock_log().push(conn, frame);
        }
    }

    /// Keeps at most the last `limit` received frames (before any arrive).
    pub(crate) fn set_log_limit(&self, limit: usize) {
        self.lock_log().limit = limit;
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, ReceiveLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Part of the receive log: see [`ReceiveLog::page`].
    pub(crate) fn log_page(&self, since: u64, conn: Option<u64>, limit: usize) -> Page {
        self.lock_log().page(since, conn, limit)
    }

    pub(crate) fn client_closed(&self, code: Option<u16>) {
        let mut codes = self
            .close_codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if codes.len() < CLOSE_CODES_LIMIT {
            codes.push(code);
        }
    }

    pub(crate) fn close_codes(&self) -> Vec<Option<u16>> {
        self.close_codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The listener closed for a `Refuse` fault.
    pub(crate) fn refusing(&self, period: std::time::Duration) {
        self.refusals.fetch_add(1, Relaxed);
        self.not_listening.store(true, Relaxed);
        *self
            .refusing_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now() + period);
    }

    /// How long the current `Refuse` fault still lasts (`None`: not refusing).
    pub(crate) fn refusing_left(&self) -> Option<std::time::Duration> {
        if !self.not_listening.load(Relaxed) {
            return None;
        }
        let until = *self
            .refusing_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the listener is open (after binding, or failing to bind, again).
    pub(crate) fn set_listening(&self, listening: bool) {
        self.not_listening.store(!listening, Relaxed);
    }

    pub(crate) fn sent(&self, frame: &Frame) {
        self.sent.fetch_add(1, Relaxed);
        self.sent_bytes.fetch_add(frame.len() as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            accepted: self.accepted.load(Relaxed),
            active: self.active.load(Relaxed),
            received: self.received.load(Relaxed),
            received_bytes: self.received_bytes.load(Relaxed),
            sent: self.sent.load(Relaxed),
            sent_bytes: self.sent_bytes.load(Relaxed),
            refusals: self.refusals.load(Relaxed),
            listening: !self.not_listening.load(Relaxed),
        }
    }

    pub(crate) fn log(&self) -> Vec<Frame> {
        self.timed_log().into_iter().map(|(_, f)| f).collect()
    }

    pub(crate) fn timed_log(&self) -> Vec<(Instant, Frame)> {
        self.lock_log()
            .frames
            .iter()
            .map(|f| (f.at, f.frame.clone()))
            .collect()
    }

    pub(crate) fn clear_log(&self) {
        self.lock_log().frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(limit: usize, count: u64) -> ReceiveLog {
        let mut log = ReceiveLog {
            limit,
            ..ReceiveLog::default()
        };
        for i in 0..count {
            log.push(i % 2, &Frame::text(format!("m{i}")));
        }
        log
    }

    fn texts(page: &Page) -> Vec<String> {
        page.frames
            .iter()
            .map(|f| f.frame.as_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_bounded_log_keeps_the_last_frames_and_counts_what_it_let_go() {
        let log = log_of(3, 5);
        let page = log.page(0, None, 100);
        assert_eq!(texts(&page), ["m2", "m3", "m4"]);
        assert_eq!(page.missed, 2);
        assert_eq!(page.next, 5);
        assert_eq!(page.frames[0].seq, 2);
    }

    #[test]
    fn pages_follow_on_from_next_and_filter_by_connection() {
        let log = log_of(100, 7);
        let first = log.page(1, None, 2);
        assert_eq!(texts(&first), ["m1", "m2"]);
        assert_eq!(first.next, 3);
        let rest = log.page(first.next, None, 100);
        assert_eq!(texts(&rest), ["m3", "m4", "m5", "m6"]);
        assert_eq!(rest.next, 7);
        let odd = log.page(0, Some(1), 2);
        assert_eq!(texts(&odd), ["m1", "m3"]);
        assert_eq!(odd.next, 5);
        let after_the_end = log.page(9, None, 10);
        assert!(after_the_end.frames.is_empty());
        assert_eq!((after_the_end.next, after_the_end.missed), (9, 0));
    }

    #[test]
    fn a_zero_limit_keeps_nothing_but_still_numbers_frames() {
        let log = log_of(0, 4);
        let page = log.page(0, None, 10);
        assert!(page.frames.is_empty());
        assert_eq!((page.next, page.missed), (4, 4));
    }
}
