//! The queue from the engine to Python: what tokio tasks report, taken by the asyncio
//! loop in batches.
//!
//! A task pushes under a short lock, without the GIL; the first push after Python's last
//! `take` writes one byte to a socket the loop watches (`loop.add_reader`), later pushes
//! write nothing until Python takes again. So the loop wakes at most once per batch, and
//! not at all while items wait to be taken.

use std::{
    collections::VecDeque,
    io::Write,
    os::unix::net::UnixStream,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use tether::{
    BatchReceipt, RequestError, SendAllError, SendError, State, Transmission, datadivr,
    raw::RawMessage,
};

use crate::native::Rcpt;

/// One thing for Python.
pub(crate) enum Item {
    /// An inbound raw message.
    Raw(RawMessage),
    /// An inbound datadivr message.
    Datadivr(datadivr::Message),
    /// An inbound message handed to Python as its text (Moobius: the SDK's `handle`
    /// gets the raw text).
    Text(String),
    /// An inbound message handed to Python as bytes (Gather: a `ServerClientBatch`).
    Binary(Vec<u8>),
    /// The state changed.
    State(State),
    /// A connection was lost.
    Disconnected {
        error: String,
        fatal: bool,
        code: Option<u16>,
    },
    /// A message was acknowledged (`reason` when refused).
    Ack {
        key: String,
        refused: Option<String>,
    },
    /// Dropped from a full outbox (drop-oldest).
    Dropped {
        message: tether::Outgoing,
        transmission: Transmission,
    },
    /// An inbound frame could not be decoded.
    DecodeError { reason: String, excerpt: String },
    /// A message left the outbox undelivered.
    Undelivered(SendError),
    /// The event stream ended (the client closed).
    End,
    /// A waiting `send` queued its message.
    Queued(u64, Result<Rcpt, SendError>),
    /// A receipt resolved.
    Delivered(u64, Result<(), SendError>),
    /// A `send_many` queued its messages.
    BatchQueued(u64, Result<BatchReceipt, SendAllError>),
    /// A batch receipt resolved.
    BatchDelivered(u64, Result<usize, Vec<SendError>>),
    /// A request got its reply.
    Reply(u64, Result<RawMessage, RequestError>),
    /// A `close` finished.
    Closed(u64, State),
}

/// See the module documentation.
pub(crate) struct Inbox {
    items: Mutex<VecDeque<Item>>,
    /// A wake-up byte is written and Python has not taken since.
    notified: AtomicBool,
    wake: UnixStream,
    /// Signalled when Python takes (the event pump waits for room).
    pub(crate) space: tokio::sync::Notify,
}

impl Inbox {
    /// The inbox and the socket end for the loop to watch.
    pub(crate) fn new() -> std::io::Result<(Self, UnixStream)> {
        let (wake, watch) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        watch.set_nonblocking(true)?;
        Ok((
            Self {
                items: Mutex::new(VecDeque::new()),
                notified: AtomicBool::new(false),
                wake,
                space: tokio::sync::Notify::new(),
            },
            watch,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Item>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one item.
    pub(crate) fn push(&self, item: Item) {
        self.lock().push_back(item);
        self.notify();
    }

    /// Queues many items with one lock and at most one wake-up.
    pub(crate) fn extend(&self, items: impl IntoIterator<Item = Item>) {
        self.lock().extend(items);
        self.notify();
    }

    fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A full socket buffer means a byte is already waiting: nothing lost.
            let _ = (&self.wake).write(&[1]);
        }
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Takes up to `max` items. Clears the wake-up flag first, so an item pushed after it
    /// is either taken now or wakes the loop again.
    pub(crate) fn take(&self, max: usize) -> Vec<Item> {
        self.notified.store(false, Ordering::Release);
        let mut items = self.lock();
        let n = items.len().min(max);
        let taken: Vec<Item> = items.drain(..n).collect();
        let more = !items.is_empty();
        drop(items);
        if more {
            self.notify();
        }
        self.space.notify_one();
        taken
    }
}
