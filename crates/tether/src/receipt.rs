//! How a sender learns what became of its messages: a [`Receipt`] per message from
//! [`Client::send`](crate::Client::send), one [`BatchReceipt`] for a whole
//! [`Client::send_all`](crate::Client::send_all).

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use futures_util::task::AtomicWaker;

use crate::{error::SendError, outbox::Delivered, outgoing::Outgoing};

/// Where an outbox entry reports its outcome.
#[derive(Debug, Default)]
pub(crate) enum Notify<E> {
    /// Nobody waits (a handler's reply).
    #[default]
    Nobody,
    /// The receipt of one `send`.
    One(oneshot::Sender<Result<Delivered<E>, SendError>>),
    /// The shared receipt of a `send_all`.
    Batch(Arc<BatchState>),
}

impl<E> Notify<E> {
    /// Reports the outcome (to nobody, if the receipt was dropped).
    pub(crate) fn resolve(self, result: Result<Delivered<E>, SendError>) {
        match self {
            Notify::Nobody => {}
            Notify::One(tx) => {
                let _ = tx.send(result);
            }
            Notify::Batch(batch) => batch.resolve(result.err()),
        }
    }

    /// Whether anyone is told.
    pub(crate) fn is_nobody(&self) -> bool {
        matches!(self, Notify::Nobody)
    }
}

/// Resolves when a queued message is delivered, or fails with the message.
///
/// Dropping a receipt does not withdraw the message.
#[derive(Debug)]
pub struct Receipt<E> {
    pub(crate) rx: oneshot::AsyncReceiver<Result<Delivered<E>, SendError>>,
    pub(crate) seq: u64,
}

impl<E> Future for Receipt<E> {
    type Output = Result<Delivered<E>, SendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            // An entry reports `Closed` with its message when it is dropped unresolved, so
            // this is only reached if the runtime went away mid-report.
            // Nothing is known of the message then: it may have been written.
            Poll::Ready(Err(_)) => Poll::Ready(Err(SendError::Closed {
                message: Outgoing::new(crate::Frame::text("")),
                transmission: crate::error::Transmission::Unconfirmed,
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The outcomes of a batch, shared by its entries and its receipt.
#[derive(Debug, Default)]
pub(crate) struct BatchState {
    /// Messages queued and not resolved yet.
    remaining: AtomicUsize,
    /// The failures so far, in the order they happened.
    failures: Mutex<Vec<SendError>>,
    waker: AtomicWaker,
}

impl BatchState {
    /// Counts `n` more messages as queued (before they can be resolved).
    pub(crate) fn add(&self, n: usize) {
        self.remaining.fetch_add(n, Ordering::AcqRel);
    }

    /// Takes back `n` counted messages that were not queued after all.
    pub(crate) fn unqueue(&self, n: usize) {
        if self.remaining.fetch_sub(n, Ordering::AcqRel) == n {
            self.waker.wake();
        }
    }

    fn resolve(&self, failure: Option<SendError>) {
        if let Some(error) = failure {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(error);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waker.wake();
        }
    }
}

/// Resolves once every message of a [`Client::send_all`](crate::Client::send_all) is
/// delivered or has failed: `Ok(n)` when all `n` were delivered, otherwise the error of
/// each one that failed (carrying the message; the others were delivered).
///
/// Dropping it does not withdraw anything. Replies to individual messages are not kept:
/// read them from the event stream, or use [`Client::request`](crate::Client::request).
#[derive(Debug)]
pub struct BatchReceipt {
    pub(crate) state: Arc<BatchState>,
    pub(crate) count: usize,
}

impl BatchReceipt {
    /// How many messages the batch queued.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch was empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Messages of the batch not resolved yet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.state.remaining.load(Ordering::Acquire)
    }
}

impl Future for BatchReceipt {
    type Output = Result<usize, Vec<SendError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.pending() > 0 {
            self.state.waker.register(cx.waker());
            if self.pending() > 0 {
                return Poll::Pending;
            }
        }
        let failures = std::mem::take(
            &mut *self
                .state
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if failures.is_empty() {
            Poll::Ready(Ok(self.count))
        } else {
            Poll::Ready(Err(failures))
        }
    }
}
