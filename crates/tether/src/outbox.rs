//! The ordered, bounded outbox: queued messages, messages written but not yet
//! acknowledged (or flushed), and their replay after a reconnect.
//!
//! Sequence numbers give every message its place. Three queues, each ordered by
//! sequence number, hold every message until it is resolved:
//! - `unsent`: waiting to be written;
//! - `unflushed`: written on this connection without an ack key, delivered at the next
//!   completed flush;
//! - `inflight`: written with an ack key, delivered when the acknowledgement arrives
//!   (found through an index by key, not by a scan).
//!
//! When a connection ends, `unflushed` and `inflight` merge back in front of `unsent`,
//! so the replay keeps the original order and comes before anything newer.
//! Capacity is enforced by the client (a semaphore of permits), not here.
//!
//! # What a removal reports
//! Every entry remembers whether its frame was ever handed to a connection
//! ([`Entry::sent`]). That flag is set under the outbox lock in
//! [`Outbox::take_unsent`], the only place a frame leaves for the wire, and every
//! removal (a drop, a deadline, a request's timeout, the close) happens under the same
//! lock and reads it: an entry reported [`Transmission::NotSent`] was never copied to any
//! connection and never will be; anything else is [`Transmission::Unconfirmed`]. No
//! window exists between "copied to the wire" and "handed back".

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
};

use tokio::time::Instant;

use crate::{
    error::{SendError, Transmission},
    frame::Frame,
    outgoing::AckKey,
    outgoing::Outgoing,
    receipt::Notify,
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
    /// Its frame was handed to a connection (this one or an earlier one).
    pub(crate) sent: bool,
}

impl<E> Entry<E> {
    /// Resolves the sender's receipt (if anyone still waits on it).
    pub(crate) fn resolve(mut self, result: Result<Delivered<E>, SendError>) {
        std::mem::take(&mut self.receipt).resolve(result);
    }

    /// What is known of its transmission.
    pub(crate) fn transmission(&self) -> Transmission {
        if self.sent {
            Transmission::Unconfirmed
        } else {
            Transmission::NotSent
        }
    }
}

impl<E> Drop for Entry<E> {
    /// An entry that leaves without being resolved (the client and its actor gone) hands
    /// its message back as `Closed`, so receipts need no copy of their message.
    fn drop(&mut self) {
        if !self.receipt.is_nobody() {
            let transmission = self.transmission();
            let message = std::mem::replace(&mut self.message, Outgoing::new(Frame::text("")));
            std::mem::take(&mut self.receipt).resolve(Err(SendError::Closed {
                message,
                transmission,
            }));
        }
    }
}

/// Entries ordered by sequence number, removable by sequence number in O(log n): a
/// removal from the middle leaves a hole, skipped by `pop_front` and compacted away
/// once holes outnumber entries.
#[derive(Debug)]
struct SeqQueue<E> {
    slots: VecDeque<(u64, Option<Entry<E>>)>,
    live: usize,
}

impl<E> Default for SeqQueue<E> {
    fn default() -> Self {
        Self {
            slots: VecDeque::new(),
            live: 0,
        }
    }
}

impl<E> SeqQueue<E> {
    fn len(&self) -> usize {
        self.live
    }

    fn push_back(&mut self, entry: Entry<E>) {
        debug_assert!(self.slots.back().is_none_or(|(s, _)| *s < entry.seq));
        self.slots.push_back((entry.seq, Some(entry)));
        self.live += 1;
    }

    /// Puts an entry older than every one held in front.
    fn push_front(&mut self, entry: Entry<E>) {
        debug_assert!(self.slots.front().is_none_or(|(s, _)| *s > entry.seq));
        self.slots.push_front((entry.seq, Some(entry)));
        self.live += 1;
    }

    fn pop_front(&mut self) -> Option<Entry<E>> {
        while let Some((_, slot)) = self.slots.pop_front() {
            if let Some(entry) = slot {
                self.live -= 1;
                return Some(entry);
            }
        }
        None
    }

    /// The oldest entry's sequence number.
    fn front_seq(&self) -> Option<u64> {
        self.slots
            .iter()
            .find(|(_, e)| e.is_some())
            .map(|(seq, _)| *seq)
    }

    /// Whether the oldest entry has a sequence number up to `seq`.
    fn front_at_most(&mut self, seq: u64) -> bool {
        self.trim();
        self.slots.front().is_some_and(|(s, _)| *s <= seq)
    }

    fn remove(&mut self, seq: u64) -> Option<Entry<E>> {
        let index = self.slots.binary_search_by_key(&seq, |(s, _)| *s).ok()?;
        let entry = self.slots[index].1.take()?;
        self.live -= 1;
        self.trim();
        let holes = self.slots.len() - self.live;
        if holes > 64 && holes > 2 * self.live {
            self.slots.retain(|(_, e)| e.is_some());
        }
        Some(entry)
    }

    /// Drops the holes at both ends.
    fn trim(&mut self) {
        while self.slots.front().is_some_and(|(_, e)| e.is_none()) {
            self.slots.pop_front();
        }
        while self.slots.back().is_some_and(|(_, e)| e.is_none()) {
            self.slots.pop_back();
        }
    }

    /// Takes every entry, in order.
    fn drain(&mut self) -> impl Iterator<Item = Entry<E>> + '_ {
        self.live = 0;
        self.slots.drain(..).filter_map(|(_, e)| e)
    }
}

/// The three queues plus deadline and acknowledgement bookkeeping.
#[derive(Debug)]
pub(crate) struct Outbox<E> {
    unsent: SeqQueue<E>,
    unflushed: SeqQueue<E>,
    inflight: SeqQueue<E>,
    /// The sequence numbers in `inflight` awaiting each key, oldest first.
    awaiting: HashMap<AckKey, VecDeque<u64>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    next_seq: u64,
    /// Messages dropped by senders under `DropOldest`, for the engine to report.
    pub(crate) dropped: Vec<(Outgoing, Transmission)>,
    /// Messages refused at `send` (full outbox, too large), for the engine to report as
    /// `undelivered` events; at most [`REFUSALS_KEPT`] between two reports.
    pub(crate) refused: Vec<SendError>,
    /// No new messages are accepted.
    pub(crate) closed: bool,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Self {
            unsent: SeqQueue::default(),
            unflushed: SeqQueue::default(),
            inflight: SeqQueue::default(),
            awaiting: HashMap::new(),
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
            sent: false,
        });
        seq
    }

    /// Notes a refusal at `send`, for an `undelivered` event.
    pub(crate) fn refuse(&mut self, error: &SendError) {
        if self.refused.len() < REFUSALS_KEPT {
            self.refused.push(error.clone());
        }
    }

    /// Removes the message `DropOldest` gives up: the oldest queued one, or — only when
    /// nothing is queued — the oldest written one (which may have arrived).
    pub(crate) fn pop_oldest(&mut self) -> Option<Entry<E>> {
        if let Some(entry) = self.unsent.pop_front() {
            return Some(entry);
        }
        let oldest = [self.unflushed.front_seq(), self.inflight.front_seq()]
            .into_iter()
            .flatten()
            .min()?;
        self.remove(oldest)
    }

    /// Moves up to `max` queued messages to the written side and returns their frames
    /// in order, with their sequence numbers. From here on they count as sent.
    pub(crate) fn take_unsent(&mut self, max: usize, out: &mut VecDeque<(u64, Frame, bool)>) {
        for _ in 0..max {
            let Some(mut entry) = self.unsent.pop_front() else {
                break;
            };
            entry.sent = true;
            out.push_back((
                entry.seq,
                entry.message.frame().clone(),
                entry.message.is_stamped(),
            ));
            if let Some(key) = entry.message.ack() {
                self.awaiting
                    .entry(key.clone())
                    .or_default()
                    .push_back(entry.seq);
                self.inflight.push_back(entry);
            } else {
                self.unflushed.push_back(entry);
            }
        }
    }

    /// A flush completed after writing every frame up to `seq`: the messages without
    /// ack key among them are delivered.
    pub(crate) fn flushed_through(&mut self, seq: u64, delivered: &mut Vec<Entry<E>>) {
        while self.unflushed.front_at_most(seq) {
            delivered.extend(self.unflushed.pop_front());
        }
    }

    /// The written message awaiting `key`, oldest first.
    pub(crate) fn take_acked(&mut self, key: &AckKey) -> Option<Entry<E>> {
        let seqs = self.awaiting.get_mut(key)?;
        let seq = seqs.pop_front();
        if seqs.is_empty() {
            self.awaiting.remove(key);
        }
        self.inflight.remove(seq?)
    }

    /// The connection ended: everything written but not resolved goes back in front of
    /// the queue, in original order. Returns how many will be replayed.
    pub(crate) fn requeue_written(&mut self) -> usize {
        let mut merged = Vec::with_capacity(self.unflushed.len() + self.inflight.len());
        merged.extend(self.unflushed.drain());
        merged.extend(self.inflight.drain());
        self.awaiting.clear();
        merged.sort_unstable_by_key(|e| e.seq);
        let n = merged.len();
        for entry in merged.into_iter().rev() {
            self.unsent.push_front(entry);
        }
        n
    }

    /// Removes a message by sequence number, wherever it is.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Entry<E>> {
        if let Some(entry) = self.unsent.remove(seq) {
            return Some(entry);
        }
        if let Some(entry) = self.unflushed.remove(seq) {
            return Some(entry);
        }
        let entry = self.inflight.remove(seq)?;
        if let Some(key) = entry.message.ack()
            && let Some(seqs) = self.awaiting.get_mut(key)
        {
            seqs.retain(|s| *s != seq);
            if seqs.is_empty() {
                self.awaiting.remove(key);
            }
        }
        Some(entry)
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
        self.unsent.drain().collect()
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

    fn texts(frames: &VecDeque<(u64, Frame, bool)>) -> Vec<String> {
        frames
            .iter()
            .map(|(_, f, _)| f.as_text().unwrap().to_owned())
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
    fn drop_oldest_takes_a_queued_message_before_a_written_one() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("a", true), || now, Notify::Nobody);
        ob.push(msg("b", false), || now, Notify::Nobody);
        ob.push(msg("c", false), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(1, &mut wire);
        let e = ob.pop_oldest().unwrap();
        assert_eq!(
            e.message.frame().as_text(),
            Some("b"),
            "b is the oldest queued"
        );
        assert_eq!(e.transmission(), Transmission::NotSent);
        let e = ob.pop_oldest().unwrap();
        assert_eq!(e.message.frame().as_text(), Some("c"));
        let e = ob.pop_oldest().unwrap();
        assert_eq!(
            e.message.frame().as_text(),
            Some("a"),
            "written, taken last"
        );
        assert_eq!(e.transmission(), Transmission::Unconfirmed);
        assert!(ob.pop_oldest().is_none());
        assert!(ob.take_acked(&AckKey::new("a")).is_none(), "index cleaned");
    }

    #[test]
    fn a_replayed_message_counts_as_unconfirmed_while_queued_again() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        ob.push(msg("a", true), || now, Notify::Nobody);
        ob.push(msg("b", true), || now, Notify::Nobody);
        let mut wire = VecDeque::new();
        ob.take_unsent(1, &mut wire);
        ob.requeue_written();
        let a = ob.pop_oldest().unwrap();
        assert_eq!(a.message.frame().as_text(), Some("a"));
        assert_eq!(
            a.transmission(),
            Transmission::Unconfirmed,
            "written on the lost connection, it may have arrived"
        );
        assert_eq!(
            ob.pop_oldest().unwrap().transmission(),
            Transmission::NotSent
        );
    }

    #[test]
    fn acks_out_of_order_find_their_message_and_holes_are_compacted() {
        let now = Instant::now();
        let mut ob: Outbox<()> = Outbox::default();
        for i in 0..1000 {
            ob.push(msg(&i.to_string(), true), || now, Notify::Nobody);
        }
        let mut wire = VecDeque::new();
        ob.take_unsent(1000, &mut wire);
        // Every ack but the first one's, newest first.
        for i in (1..1000).rev() {
            let e = ob.take_acked(&AckKey::new(i.to_string())).unwrap();
            assert_eq!(e.seq, i);
        }
        assert_eq!(ob.awaiting_ack(), 1);
        assert!(ob.inflight.slots.len() < 200, "holes compacted");
        ob.requeue_written();
        wire.clear();
        ob.take_unsent(10, &mut wire);
        assert_eq!(texts(&wire), ["0"]);
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
        assert_eq!(ob.awaiting_ack(), 1);
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
