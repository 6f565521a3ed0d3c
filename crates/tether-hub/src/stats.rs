//! Per-endpoint counters and the optional receive log.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

use serde::Serialize;
use tether::Frame;

/// Frames kept in a receive log at most; past it, only counters grow.
pub const RECEIVE_LOG_LIMIT: usize = 4_000_000;

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
    log: Mutex<Vec<(Instant, Frame)>>,
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

    pub(crate) fn received(&self, frame: &Frame, record: bool) {
        self.received.fetch_add(1, Relaxed);
        self.received_bytes.fetch_add(frame.len() as u64, Relaxed);
        if record {
            let mut log = self
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if log.len() < RECEIVE_LOG_LIMIT {
                // A copy: a slice of the connection's read buffer would keep all of it alive.
                let copy = match frame {
                    Frame::Text(b) => Frame::Text(bytes::Bytes::copy_from_slice(b)),
                    Frame::Binary(b) => Frame::Binary(bytes::Bytes::copy_from_slice(b)),
                };
                log.push((Instant::now(), copy));
            }
        }
    }

    pub(crate) fn client_closed(&self, code: Option<u16>) {
        let mut codes = self
            .close_codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if codes.len() < RECEIVE_LOG_LIMIT {
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
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn clear_log(&self) {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}
