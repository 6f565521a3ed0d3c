//! The ordered, bounded outbox: queued messages, messages written but not yet
//! acknowledged (or flushed), and their replay after a reconnect.
//!
//! Sequence numbers give every message its place. Three queues, each ordered by
//! sequence number, hold every message until it is resolved:
//! - `unsent`: waiting to be written;
//! - `unflushed`: written on this connection without an ack key, delivered at the next
//!   completed flush;
//! - `inflight`: written with an ack key, delivered when the acknowledgement arrives.
//!
//! When a connection ends, `unflushed` and `inflight` merge back in front of `unsent`,
//! so the replay keeps the original order and comes before anything newer.
//! Capacity is enforced by the client (a semaphore of permits), not here.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
};

use tokio::time::Instant;

use crate::{
    error::SendError, frame::Frame, outgoing::AckKey, outgoing::Outgoing, receipt::Notify,
};

/// Refusals kept for reporting between two runs of the actor (each refused message also
/// went straight back to its sender with the error).
pub(crate) const REFUSALS_KEPT: usize = 4096;

/// What a receipt resolves to when the message is delivered.
#[derive(Debug, Clone)]
pub struct Delivered<E> {
    /// The acknowledgement or reply, when the message was acknowledged by one.
    pub reply: Option<E>,
}

/// One message in the outbox.
#[derive(Debug)]
pub(crate) struct Entry<E> {
    pub(crate) seq: u64,
    pub(crate) message: Outgoing,
    pub(crate) receipt: Notify<E>,
}

impl<E> Entry<E> {
    /// Resolves the sender's receipt (if anyone still waits on it).
    pub(crate) fn resolve(mut self, result: Result<Delivered<E>, SendError>) {
        std::mem::take(&mut self.receipt).resolve(result);
    }
}

impl<E> Drop for Entry<E> {
    /// An entry that leaves without being resolved (the client and its actor gone) hands
    /// its message back as `Closed`, so receipts need no copy of their message.
    fn drop(&mut self) {
        if !self.receipt.is_nobody() {
            let message = std::mem::replace(&mut self.message, Outgoing::new(Frame::text("")));
            std::mem::take(&mut self.receipt).resolve(Err(SendError::Closed(message)));
        }
    }
}

/// The three queues plus deadline bookkeeping.
#[derive(Debug)]
pub(crate) struct Outbox<E> {
    unsent: VecDeque<Entry<E>>,
    unflushed: VecDeque<Entry<E>>,
    inflight: VecDeque<Entry<E>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    next_seq: u64,
    /// Messages dropped by senders under `DropOldest`, for the engine to report.
    pub(crate) dropped: Vec<Outgoing>,
    /// Messages refused at `send` (full outbox, too large) and why, for the engine to
    /// report as `undelivered` events; at most [`REFUSALS_KEPT`] between two reports.
    pub(crate) refused: Vec<(Outgoing, &'static str)>,
    /// No new messages are accepted.
    pub(crate) closed: bool,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Self {
            unsent: VecDeque::new(),
            unflushed: VecDeque::new(),
            inflight: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            next_seq: 0,
            dropped: Vec::new(),
            refused: Vec::new(),
            closed: false,
        }
    }
}

impl<E> Outbox<E> {
    /// Every message held: queued, written-unflushed and awaiting ack.
    pub(crate) fn len(&self) -> usize {
        self.unsent.len() + self.unflushed.len() + self.inflight.len()
    }

    /// Messages written and awaiting their acknowledgement.
    pub(crate) fn awaiting_ack(&self) -> usize {
        self.inflight.len()
    }

    /// Messages not yet written on the current connection.
    pub(crate) fn unsent_len(&self) -> usize {
        self.unsent.len()
    }

    /// Appends a message; returns its sequence number. `now` is called only when the
    /// message has a deadline.
    pub(crate) fn push(
        &mut self,
        message: Outgoing,
        now: impl FnOnce() -> Instant,
        receipt: Notify<E>,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        // The clock is read only for a message with a deadline (it is a hot path).
        let deadline = message.deadline().map(|d| now() + d);
        if let Some(at) = deadline {
            self.deadlines.push(Reverse((at, seq)));
        }
        self.unsent.push_back(Entry {
            seq,
            message,
            receipt,
        });
        seq
    }

    /// Notes a message refused at `send`, for an `undelivered` event.
    pub(crate) fn refuse(&mut self, message: &Outgoing, reason: &'static str) {
        if self.refused.len() < REFUSALS_KEPT {
            self.refused.push((message.clone(), reason));
        }
    }

    /// Removes the oldest message (queued first, else the oldest written one).
    pub(crate) fn pop_oldest(&mut self) -> Option<Entry<E>> {
        let candidates = [
            self.inflight.front().map(|e| e.seq),
            self.unflushed.front().map(|e| e.seq),
            self.unsent.front().map(|e| e.seq),
        ];
        let oldest = candidates.into_iter().flatten().min()?;
        self.remove(oldest)
    }

    /// Moves up to `max` queued messages to the written side and returns their frames
    /// in order, with their sequence numbers.
    pub(crate) fn take_unsent(&mut self, max: usize, out: &mut VecDeque<(u64, Frame)>) {
        for _ in 0..max {
            let Some(entry) = self.unsent.pop_front() else {
                break;
            };
            out.push_back((entry.seq, entry.message.frame().clone()));
            if entry.message.ack().is_some() {
                self.inflight.push_back(entry);
            } else {
                self.unflushed.push_back(entry);
            }
        }
    }

    /// A flush completed after writing every frame up to `seq`: the messages without
    /// ack key among them are delivered.
    pub(crate) fn flushed_through(&mut self, seq: u64, delivered: &mut Vec<Entry<E>>) {
        while self.unflushed.front().is_some_and(|e| e.seq <= seq) {
            delivered.extend(self.unflushed.pop_front());
        }
    }

    /// The written message awaiting `key`, oldest first.
    pub(crate) fn take_acked(&mut self, key: &AckKey) -> Option<Entry<E>> {
        let index = self
            .inflight
            .iter()
            .position(|e| e.message.ack() == Some(key))?;
        self.inflight.remove(index)
    }

    /// The connection ended: everything written but not resolved goes back in front of
    /// the queue, in original order. Returns how many will be replayed.
    pub(crate) fn requeue_written(&mut self) -> usize {
        let mut merged = Vec::with_capacity(self.unflushed.len() + self.inflight.len());
        merged.extend(self.unflushed.drain(..));
        merged.extend(self.inflight.drain(..));
        merged.sort_unstable_by_key(|e| e.seq);
        let n = merged.len();
        for entry in merged.into_iter().rev() {
            self.unsent.push_front(entry);
        }
        n
    }

    /// Removes a message by sequence number, wherever it is.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry<E>> {
        for queue in [&mut self.unsent, &mut self.unflushed, &mut self.inflight] {
            if let Ok(index) = queue.binary_search_by_key(&seq, |e| e.seq) {
                return queue.remove(index);
            }
        }
        None
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes every message whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant, expired: &mut Vec<Entry<E>>) {
        while let Some(Reverse((at, seq))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            expired.extend(self.remove(seq));
        }
    }

    /// Stops accepting messages and takes every message still held, in order.
    pub(crate) fn close(&mut self) -> Vec<Entry<E>> {
        self.closed = true;
        self.requeue_written();
        self.deadlines.clear();
        self.unsent.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str, ack: bool) -> Outgoing {
        let m = Outgoing::new(Frame::text(text.to_owned()));
        if ack {
            m.with_ack(AckKey::new(text))
        } else {
            m
        }
    }

    fn texts(frames: &VecDeque<(u64, Frame)>) -> Vec<String> {
        frames
            .iter()
            .map(|(_, f)| f.as_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn replays_unacked_messages_in_order_before_newer_ones() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        for t in ["a", "b", "c", "d"] {
            ob.push(msg(t, true), || now, Notify::Nobody);
        }
        let mut wire = VecDeque::new();
        ob.take_unsent(3, &mut wire);
        assert_eq!(texts(&wire), ["a", "b", "c"]);
        assert!(ob.take_acked(&AckKey::new("b")).is_some());
        ob.push(msg("e", true), || now, Notify::Nobody);
        assert_eq!(ob.requeue_written(), 2);
        wire.clear();
        ob.take_unsent(10, &mut wire);
        assert_eq!(texts(&wire), ["a", "c", "d", "e"]);
        assert_eq!(ob.len(), 4);
    }

    #[test]
    fn unacked_and_unflushed_merge_back_in_sequence_order() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("1", true), || now, Notify::Nobody);
        ob.push(msg("2", false), || now, Notify::Nobody);
        ob.push(msg("3", true), || now, Notify::Nobody);
        ob.push(msg("4", false), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(4, &mut wire);
        ob.requeue_written();
        wire.clear();
        ob.take_unsent(4, &mut wire);
        assert_eq!(texts(&wire), ["1", "2", "3", "4"]);
    }

    #[test]
    fn flush_delivers_only_messages_written_before_it_and_without_ack() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("a", false), || now, Notify::Nobody);
        ob.push(msg("b", true), || now, Notify::Nobody);
        ob.push(msg("c", false), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(3, &mut wire);
        let mut delivered = Vec::new();
        ob.flushed_through(1, &mut delivered);
        assert_eq!(delivered.len(), 1, "c was written after seq 1");
        ob.flushed_through(2, &mut delivered);
        assert_eq!(delivered.len(), 2);
        assert_eq!(ob.len(), 1, "b waits for its ack");
    }

    #[test]
    fn drop_oldest_takes_the_oldest_wherever_it_is() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("a", true), || now, Notify::Nobody);
        ob.push(msg("b", false), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(1, &mut wire);
        let e = ob.pop_oldest().unwrap();
        assert_eq!(e.message.frame().as_text(), Some("a"));
        assert_eq!(
            ob.pop_oldest().unwrap().message.frame().as_text(),
            Some("b")
        );
        assert!(ob.pop_oldest().is_none());
    }

    #[test]
    fn deadlines_expire_only_when_due() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(
            msg("a", false).with_deadline(std::time::Duration::from_secs(2)),
            || now,
            Notify::Nobody,
        );
        ob.push(
            msg("b", false).with_deadline(std::time::Duration::from_secs(1)),
            || now,
            Notify::Nobody,
        );
        ob.push(msg("c", false), || now, Notify::Nobody);
        let mut expired = Vec::new();
        ob.expire(now, &mut expired);
        assert!(expired.is_empty());
        assert_eq!(
            ob.next_deadline(),
            Some(now + std::time::Duration::from_secs(1))
        );
        ob.expire(now + std::time::Duration::from_secs(1), &mut expired);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].message.frame().as_text(), Some("b"));
        ob.expire(now + std::time::Duration::from_secs(5), &mut expired);
        assert_eq!(expired.len(), 2);
        assert_eq!(ob.len(), 1);
    }

    #[test]
    fn an_ack_resolves_the_oldest_message_with_that_key() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("k", true), || now, Notify::Nobody);
        ob.push(msg("k", true), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(2, &mut wire);
        assert_eq!(ob.take_acked(&AckKey::new("k")).unwrap().seq, 0);
        assert_eq!(ob.take_acked(&AckKey::new("k")).unwrap().seq, 1);
        assert!(ob.take_acked(&AckKey::new("k")).is_none());
    }

    #[test]
    fn close_hands_back_everything_in_order() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        for t in ["a", "b", "c"] {
            ob.push(msg(t, t != "b"), || now, Notify::Nobody);
        }
        let mut wire = VecDeque::new();
        ob.take_unsent(2, &mut wire);
        let all: Vec<_> = ob.close().into_iter().map(|e| e.seq).collect();
        assert_eq!(all, [0, 1, 2]);
        assert!(ob.closed);
    }
}
