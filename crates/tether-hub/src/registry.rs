//! The live connections of one endpoint: commands to each, routing and broadcast.

use std::{
    collections::HashMap,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tether::Frame;
use tokio::{sync::mpsc, task::AbortHandle};

use crate::{conn::Command, conn_stats::ConnStats};

/// Frames queued for one connection by others (routing, broadcast). A client that lets
/// this many pile up is too slow and is disconnected.
pub const PUSH_QUEUE: usize = 1024;

pub(crate) struct ConnHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) push: mpsc::Sender<Frame>,
    pub(crate) abort: Option<AbortHandle>,
    /// Already told to go for being too slow.
    pub(crate) slow: AtomicBool,
    /// Its counters and last messages (the dashboard reads them).
    pub(crate) stats: std::sync::Arc<ConnStats>,
}

/// Why a frame could not be routed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No such connection.
    #[error("no such connection")]
    Unknown,
    /// The connection's queue was full: it is being disconnected.
    #[error("connection too slow: disconnected")]
    TooSlow,
}

/// The live connections of one endpoint.
#[derive(Default)]
pub struct Registry {
    conns: Mutex<HashMap<u64, ConnHandle>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connections", &self.len())
            .finish()
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, ConnHandle>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn insert(&self, id: u64, handle: ConnHandle) {
        self.lock().insert(id, handle);
    }

    pub(crate) fn set_abort(&self, id: u64, abort: AbortHandle) {
        if let Some(h) = self.lock().get_mut(&id) {
            h.abort = Some(abort);
        }
    }

    pub(crate) fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Live connections.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of the live connections.
    #[must_use]
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.lock().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Queues a frame for connection `id`. A connection whose queue is full is
    /// disconnected (never buffered without limit).
    ///
    /// # Errors
    /// [`RouteError`] when the connection is gone or too slow.
    pub fn send_to(&self, id: u64, frame: Frame) -> Result<(), RouteError> {
        let conns = self.lock();
        let handle = conns.get(&id).ok_or(RouteError::Unknown)?;
        match handle.push.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(RouteError::Unknown),
            Err(mpsc::error::TrySendError::Full(_)) => {
                if handle.slow.swap(true, Ordering::Relaxed) {
                    return Err(RouteError::TooSlow);
                }
                tracing::warn!(conn = id, "client too slow: disconnecting");
                if handle
                    .commands
                    .try_send(Command::Close(1008, "too slow: queue full".into()))
                    .is_err()
                    && let Some(abort) = &handle.abort
                {
                    abort.abort();
                }
                Err(RouteError::TooSlow)
            }
        }
    }

    /// Queues a frame for every connection except `except`; returns how many got it.
    pub fn broadcast(&self, frame: &Frame, except: Option<u64>) -> usize {
        let ids: Vec<u64> = self
            .ids()
            .into_iter()
            .filter(|id| Some(*id) != except)
            .collect();
        ids.into_iter()
            .filter(|id| self.send_to(*id, frame.clone()).is_ok())
            .count()
    }

    /// Closes connection `id` with a close frame (a session's own timer, such as a
    /// heartbeat watchdog, uses it); one that cannot take the command is aborted.
    pub(crate) fn close(&self, id: u64, code: u16, reason: &str) {
        if let Some(handle) = self.lock().get(&id)
            && handle
                .commands
                .try_send(Command::Close(code, reason.into()))
                .is_err()
            && let Some(abort) = &handle.abort
        {
            abort.abort();
        }
    }

    /// Every live connection's id and counters, by id.
    pub(crate) fn stats(&self) -> Vec<(u64, std::sync::Arc<ConnStats>)> {
        let mut all: Vec<(u64, std::sync::Arc<ConnStats>)> = self
            .lock()
            .iter()
            .map(|(id, h)| (*id, h.stats.clone()))
            .collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// Sends a command to connection `id` (one that cannot take it is aborted); `false`
    /// if there is no such connection.
    pub(crate) fn command(&self, id: u64, command: Command) -> bool {
        let conns = self.lock();
        let Some(handle) = conns.get(&id) else {
            return false;
        };
        if handle.commands.try_send(command).is_err()
            && let Some(abort) = &handle.abort
        {
            abort.abort();
        }
        true
    }

    /// Sends a command to every live connection (one that cannot take it is aborted).
    pub(crate) fn command_all(&self, command: &Command) {
        for handle in self.lock().values() {
            if handle.commands.try_send(command.clone()).is_err()
                && let Some(abort) = &handle.abort
            {
                abort.abort();
            }
        }
    }
}
