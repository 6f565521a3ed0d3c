//! The event stream's queue: the actor's side ([`EventSink`]) batches events and hands
//! them over under one lock per poll; the consumer's side is [`crate::Events`].
//!
//! It replaces a tokio `mpsc` channel, which allocates a block of 32 slots per client up
//! front (~3 KiB for `Event<RawMessage>`, a quarter of an idle client's memory); this
//! queue allocates nothing until the first event and takes one lock per burst on the
//! actor's side instead of a reservation per event.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll},
    time::Duration,
};

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

use crate::event::Event;

/// What the actor and the consumer share.
pub(crate) struct EventQueue<E> {
    inner: Mutex<Inner<E>>,
    /// Events handed over at most (the stream's capacity).
    capacity: usize,
    /// Wakes the consumer: events arrived, or the stream ended.
    consumer: AtomicWaker,
    /// Wakes the actor: room appeared after it found the queue full, or the consumer
    /// went away.
    producer: AtomicWaker,
}

struct Inner<E> {
    events: VecDeque<Event<E>>,
    /// The actor is gone: once `events` is empty, the stream ends.
    ended: bool,
    /// The consumer is gone: events are discarded.
    unread: bool,
    /// The actor found the queue full and waits for room.
    producer_waiting: bool,
}

impl<E> EventQueue<E> {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                ended: false,
                unread: false,
                producer_waiting: false,
            }),
            capacity: capacity.max(1),
            consumer: AtomicWaker::new(),
            producer: AtomicWaker::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<E>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The consumer's side: moves up to `limit` events into `buffer`, or registers to be
    /// woken. `Ready(0)` when the stream has ended (or `limit` is 0).
    pub(crate) fn poll_recv_many(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut Vec<Event<E>>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        let mut inner = self.lock();
        if inner.events.is_empty() {
            if inner.ended {
                return Poll::Ready(0);
            }
            // Registered under the lock: the actor wakes after it pushes under the same
            // lock, so no event can slip between this check and the registration.
            self.consumer.register(cx.waker());
            return Poll::Pending;
        }
        let n = limit.min(inner.events.len());
        buffer.extend(inner.events.drain(..n));
        self.room_made(&mut inner);
        Poll::Ready(n)
    }

    /// The consumer's side: one event if one is ready, or registers to be woken.
    /// `Ready(None)` when the stream has ended.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Event<E>>> {
        let mut inner = self.lock();
        match inner.events.pop_front() {
            Some(event) => {
                self.room_made(&mut inner);
                Poll::Ready(Some(event))
            }
            None if inner.ended => Poll::Ready(None),
            None => {
                self.consumer.register(cx.waker());
                Poll::Pending
            }
        }
    }

    /// The consumer's side: one event if one is ready now.
    pub(crate) fn try_recv(&self) -> Option<Event<E>> {
        let mut inner = self.lock();
        let event = inner.events.pop_front();
        if event.is_some() {
            self.room_made(&mut inner);
        }
        event
    }

    /// The consumer went away: discard what it did not read and let the actor know.
    pub(crate) fn close_consumer(&self) {
        let dropped = {
            let mut inner = self.lock();
            inner.unread = true;
            std::mem::take(&mut inner.events)
        };
        drop(dropped);
        self.producer.wake();
    }

    fn room_made(&self, inner: &mut Inner<E>) {
        if inner.producer_waiting && inner.events.len() < self.capacity {
            inner.producer_waiting = false;
            self.producer.wake();
        }
    }
}

/// The actor's side of the event stream, with a backlog the actor owns.
pub(crate) struct EventSink<E> {
    queue: Option<Arc<EventQueue<E>>>,
    pending: VecDeque<Event<E>>,
    pub(crate) capacity: usize,
    /// A pause for the consumer was already logged.
    pub(crate) warned: bool,
    /// Since when reading has been paused for the consumer.
    pub(crate) paused_since: Option<Instant>,
    /// Events discarded past the hard bound.
    overflowed: u64,
}

impl<E> EventSink<E> {
    pub(crate) fn new(queue: Arc<EventQueue<E>>) -> Self {
        Self {
            capacity: queue.capacity,
            queue: Some(queue),
            pending: VecDeque::new(),
            warned: false,
            paused_since: None,
            overflowed: 0,
        }
    }

    pub(crate) fn push(&mut self, event: Event<E>) {
        if self.queue.is_none() {
            return;
        }
        // Reading pauses at `capacity`, so only events that do not come from the socket
        // (drops under DropOldest, expired deadlines) can pile up past it while nobody
        // reads the stream. Past a hard bound they are counted, not kept: each such message
        // also went back to its sender through its receipt.
        if self.pending.len() >= self.capacity.saturating_mul(4).max(4096) {
            self.overflowed += 1;
            if self.overflowed == 1 {
                tracing::warn!(
                    capacity = self.capacity,
                    "event stream unread: discarding events past its bound"
                );
            }
            return;
        }
        self.pending.push_back(event);
    }

    /// Whether the actor may take in more (reading pauses otherwise).
    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < self.capacity
    }

    /// Hands over as many pending events as the queue has room for, under one lock, and
    /// wakes the consumer once.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) {
        if self.pending.is_empty() {
            return;
        }
        let Some(queue) = self.queue.as_ref() else {
            return;
        };
        // Registered before looking, so room made after the look wakes this task.
        queue.producer.register(cx.waker());
        let moved = {
            let mut inner = queue.lock();
            if inner.unread {
                drop(inner);
                self.disable();
                return;
            }
            let room = queue.capacity.saturating_sub(inner.events.len());
            let n = room.min(self.pending.len());
            inner.events.extend(self.pending.drain(..n));
            inner.producer_waiting = !self.pending.is_empty();
            n
        };
        if moved > 0 {
            queue.consumer.wake();
        }
    }

    fn disable(&mut self) {
        self.queue = None;
        self.pending.clear();
    }

    /// Hands over what is pending, waiting for room up to `limit`.
    pub(crate) async fn flush_within(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(
            limit,
            std::future::poll_fn(|cx| {
                self.poll_flush(cx);
                if self.pending.is_empty() || self.queue.is_none() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        )
        .await;
    }
}

impl<E> Drop for EventSink<E> {
    /// The actor is gone: the stream ends once the consumer has read what was handed over.
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.lock().ended = true;
            queue.consumer.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{event::Events, state::State};

    fn event(n: u64) -> Event<u64> {
        Event::Message(n)
    }

    fn pair(capacity: usize) -> (EventSink<u64>, Events<u64>) {
        let queue = EventQueue::new(capacity);
        (EventSink::new(queue.clone()), Events { queue })
    }

    #[tokio::test]
    async fn events_arrive_in_order_and_the_stream_ends_after_the_last_one_once_the_actor_is_gone()
    {
        let (mut sink, mut events) = pair(4);
        for n in 0..3 {
            sink.push(event(n));
        }
        std::future::poll_fn(|cx| {
            sink.poll_flush(cx);
            Poll::Ready(())
        })
        .await;
        drop(sink);
        let mut got = Vec::new();
        while let Some(Event::Message(n)) = events.recv().await {
            got.push(n);
        }
        assert_eq!(got, [0, 1, 2]);
        assert!(events.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_rest_back_until_the_consumer_reads() {
        let (mut sink, mut events) = pair(2);
        for n in 0..5 {
            sink.push(event(n));
        }
        let flush = |sink: &mut EventSink<u64>| {
            let waker = futures_util::task::noop_waker();
            sink.poll_flush(&mut Context::from_waker(&waker));
        };
        flush(&mut sink);
        assert_eq!(sink.pending.len(), 3, "only the capacity was handed over");
        let mut buffer = Vec::new();
        assert_eq!(events.recv_many(&mut buffer, 10).await, 2);
        flush(&mut sink);
        assert_eq!(events.recv_many(&mut buffer, 10).await, 2);
        flush(&mut sink);
        assert_eq!(
            events.try_recv().map(|e| matches!(e, Event::Message(4))),
            Some(true)
        );
        assert!(events.try_recv().is_none());
        assert_eq!(buffer.len(), 4);
    }

    #[tokio::test]
    async fn a_dropped_stream_discards_events_and_the_actor_stops_keeping_them() {
        let (mut sink, events) = pair(2);
        sink.push(Event::State(State::Ready));
        drop(events);
        let waker = futures_util::task::noop_waker();
        sink.poll_flush(&mut Context::from_waker(&waker));
        assert!(sink.queue.is_none(), "the actor learned the stream is gone");
        sink.push(event(1));
        assert!(sink.pending.is_empty());
        assert!(
            sink.has_room(),
            "reading never pauses for a stream nobody reads"
        );
    }
}
