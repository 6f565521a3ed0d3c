//! State shared by the client handles and the connection actor.

use std::{
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::Waker,
};

use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, Semaphore, watch};

use crate::{
    config::{ClientConfig, Policy},
    error::SendError,
    outbox::{Delivered, Entry, Outbox},
    secret::Secret,
    state::{State, Statistics},
};

pub(crate) struct Shared<E> {
    outbox: Mutex<Outbox<E>>,
    /// One permit per free outbox slot.
    pub(crate) permits: Semaphore,
    /// Wakes the actor when a message is queued or a close is requested.
    pub(crate) waker: EngineWaker,
    pub(crate) state: watch::Sender<State>,
    pub(crate) stats: Statistics,
    /// Notified whenever the outbox becomes empty.
    pub(crate) emptied: Notify,
    pub(crate) close_requested: AtomicBool,
    /// [`crate::Client::reconnect`] asked to drop the current connection.
    pub(crate) reconnect_requested: AtomicBool,
    pub(crate) policy: Policy,
    pub(crate) capacity: usize,
    pub(crate) max_message_size: usize,
    pub(crate) request_timeout: std::time::Duration,
    secrets: Vec<Secret>,
}

impl<E> Shared<E> {
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let mut secrets: Vec<Secret> = config.token.iter().cloned().collect();
        secrets.extend(config.headers.iter().map(|(_, v)| v.clone()));
        secrets.extend(config.redact.iter().cloned());
        // A configured proxy URL, and the password in it (the environment's is read at
        // connect time; its errors print the proxy redacted).
        if let crate::transport::ProxySetting::Url(url) = &config.proxy {
            secrets.push(url.clone());
            if let Some(password) = crate::transport::Proxy::parse(url.expose())
                .ok()
                .and_then(|p| p.password().cloned())
                .filter(|p| !p.expose().is_empty())
            {
                secrets.push(password);
            }
        }
        Self {
            outbox: Mutex::new(Outbox::default()),
            permits: Semaphore::new(config.outbox_capacity),
            waker: EngineWaker::default(),
            state: watch::Sender::new(State::Connecting),
            stats: Statistics::default(),
            emptied: Notify::new(),
            close_requested: AtomicBool::new(false),
            reconnect_requested: AtomicBool::new(false),
            policy: config.policy,
            capacity: config.outbox_capacity,
            max_message_size: config.max_message_size,
            request_timeout: config.request_timeout,
            secrets,
        }
    }

    /// Locks the outbox. A poisoned lock (a panic while holding it) is recovered: the
    /// outbox's queues are always left consistent between statements.
    pub(crate) fn outbox(&self) -> MutexGuard<'_, Outbox<E>> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Resolves entries that left the outbox and frees their slots.
    pub(crate) fn finish(
        &self,
        entries: impl IntoIterator<Item = (Entry<E>, Result<Delivered<E>, SendError>)>,
    ) {
        let mut n = 0;
        for (entry, result) in entries {
            entry.resolve(result);
            n += 1;
        }
        if n > 0 {
            self.permits.add_permits(n);
            if self.outbox().len() == 0 {
                self.emptied.notify_waiters();
            }
        }
    }

    pub(crate) fn is_close_requested(&self) -> bool {
        self.close_requested.load(Ordering::SeqCst)
    }

    pub(crate) fn request_close(&self) {
        // SeqCst, as the actor's `woken` flag: a wake-up skipped because the actor was
        // already woken still finds the request set when that poll reads it.
        self.close_requested.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    pub(crate) fn request_reconnect(&self) {
        self.reconnect_requested.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Takes a pending reconnect request.
    pub(crate) fn take_reconnect_request(&self) -> bool {
        // A load first: this runs on every poll, and a swap would write the line each time.
        self.reconnect_requested.load(Ordering::SeqCst)
            && self.reconnect_requested.swap(false, Ordering::SeqCst)
    }

    /// Removes every configured secret from text bound for a log, an error or an event.
    pub(crate) fn redact(&self, text: impl Into<String>) -> String {
        let mut text = text.into();
        for s in &self.secrets {
            text = s.scrub(&text);
        }
        text
    }
}

/// Wakes the connection actor, once per poll of it: the senders after the first find it
/// already woken and skip the waker (a burst of `send`s pays for one wake-up).
///
/// Why no wake-up is lost: the actor clears `woken` right after registering, before it
/// looks at the outbox, and a sender looks at `woken` after queueing under the outbox
/// lock. If the sender's critical section comes first, the actor's look finds the message;
/// if the actor's comes first, its clearing happens before the sender's look (the lock
/// orders them), so the sender sees `false` and wakes it.
#[derive(Debug, Default)]
pub(crate) struct EngineWaker {
    waker: AtomicWaker,
    woken: AtomicBool,
}

impl EngineWaker {
    /// Called by the actor at the start of each poll, before it reads the outbox.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
        self.woken.store(false, Ordering::SeqCst);
    }

    /// Wakes the actor unless it was woken since its last poll began.
    pub(crate) fn wake(&self) {
        if !self.woken.load(Ordering::SeqCst) && !self.woken.swap(true, Ordering::SeqCst) {
            self.waker.wake();
        }
    }
}
