//! One tokio runtime per process: started on first use, shut down at interpreter exit,
//! refused in a child after `fork` (its threads did not survive the fork).

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError, Weak},
    time::Duration,
};

use pyo3::prelude::*;
use tokio::runtime::Handle;

use crate::native::Shared;

struct Process {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: Handle,
    /// The process that started the runtime.
    pid: u32,
    /// Clients to close at exit.
    clients: Mutex<Vec<Weak<Shared>>>,
}

static PROCESS: OnceLock<Process> = OnceLock::new();

/// Worker threads: `TETHER_WORKER_THREADS`, default 1 (one engine thread beside Python's).
fn worker_threads() -> usize {
    std::env::var("TETHER_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

fn process() -> PyResult<&'static Process> {
    if let Some(p) = PROCESS.get() {
        return Ok(p);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("tether")
        .enable_all()
        .build()
        .map_err(|e| crate::convert::error(&format!("cannot start tether's runtime: {e}")))?;
    let handle = runtime.handle().clone();
    let _ = PROCESS.set(Process {
        runtime: Mutex::new(Some(runtime)),
        handle,
        pid: std::process::id(),
        clients: Mutex::new(Vec::new()),
    });
    Ok(PROCESS.get().expect("just set"))
}

/// The runtime's handle, after checking that this is the process that started it and
/// that it still runs.
pub(crate) fn handle(py: Python<'_>) -> PyResult<Handle> {
    let p = process()?;
    if p.pid != std::process::id() {
        return Err(crate::convert::named_error(
            py,
            "ForkError",
            "tether cannot be used in a process forked from one that had started it: the \
             engine's threads did not survive the fork. Create clients in the child only \
             (start the child before using tether, or use multiprocessing's 'spawn' or \
             'forkserver' start method).",
        ));
    }
    if p.runtime
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_none()
    {
        return Err(crate::convert::named_error(
            py,
            "ClientClosed",
            "tether's runtime has shut down (the interpreter is exiting)",
        ));
    }
    Ok(p.handle.clone())
}

/// The process that started the runtime (0 before it started).
pub(crate) fn pid() -> u32 {
    PROCESS.get().map_or(0, |p| p.pid)
}

/// Remembers a client, to close it at exit.
pub(crate) fn register(shared: &Arc<Shared>) {
    if let Some(p) = PROCESS.get() {
        let mut clients = p.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients.retain(|c| c.strong_count() > 0);
        clients.push(Arc::downgrade(shared));
    }
}

/// Closes every live client (close handshake, at most `timeout` seconds in all) and stops
/// the runtime. Called by the package at interpreter exit; later calls do nothing. In a
/// child after `fork` it only forgets the parent's runtime.
#[pyfunction]
#[pyo3(signature = (timeout = 2.0))]
pub(crate) fn shutdown(py: Python<'_>, timeout: f64) {
    let Some(p) = PROCESS.get() else {
        return;
    };
    let runtime = p
        .runtime
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(runtime) = runtime else {
        return;
    };
    if p.pid != std::process::id() {
        // Its threads live in the parent only: dropping it here would wait for them.
        std::mem::forget(runtime);
        return;
    }
    let clients: Vec<Arc<Shared>> = p
        .clients
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .filter_map(|c| c.upgrade())
        .collect();
    let budget = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::ZERO);
    // Without the GIL: the engine's threads may want it to log while they close.
    py.detach(move || {
        runtime.block_on(async {
            let mut closing = tokio::task::JoinSet::new();
            for client in clients {
                let engine = client.engine.clone();
                closing.spawn(async move {
                    engine.close().await;
                });
            }
            let _ = tokio::time::timeout(budget, async {
                while closing.join_next().await.is_some() {}
            })
            .await;
        });
        runtime.shutdown_timeout(Duration::from_millis(500));
    });
}
