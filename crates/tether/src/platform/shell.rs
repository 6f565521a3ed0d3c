//! The lifecycle every typed platform client shares: one engine at a time, started by
//! `connect`, awaited by `ready`, stopped by `close`, with the handlers registered before
//! `connect` installed on each engine it starts.
//!
//! A platform client is its SDK's surface (names, arguments, errors) over a [`Shell`];
//! the shell holds no platform knowledge and the engine does the connection work.
// Each platform uses a part of it: with only some enabled, the rest is unused.
#![cfg_attr(
    not(all(
        feature = "datadivr",
        feature = "moobius",
        feature = "hiven",
        feature = "gather",
        feature = "hpx"
    )),
    allow(dead_code)
)]

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{
    client::{BuildError, Client, ClientBuilder, Started},
    event::Events,
    outgoing::Outgoing,
    protocol::Protocol,
    router::BoxError,
    state::State,
};

/// Why a lifecycle call failed; each platform error has a variant for each.
#[derive(Debug)]
pub(crate) enum Lifecycle {
    /// No engine is attached: `connect` was not called, or `close` undid it.
    NotConnected,
    /// `connect` while an engine is attached.
    AlreadyConnected,
    /// The engine stopped for good before it was ready; its final state.
    Stopped(State),
    /// The engine could not start (a bad URL or configuration).
    Build(BuildError),
}

/// The engine a client runs now, with what the client keeps beside it for this
/// connection (`X`: a platform's status feed, or nothing).
struct Attached<E, X> {
    engine: Client<E>,
    extra: X,
}

/// One engine slot.
pub(crate) struct Shell<E, X = ()> {
    slot: Mutex<Option<Attached<E, X>>>,
}

impl<E, X> Default for Shell<E, X> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<E, X> Shell<E, X> {
    fn lock(&self) -> MutexGuard<'_, Option<Attached<E, X>>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an engine with `start` and attaches it, unless one is attached already
    /// (a stopped one counts as free when `replace_stopped`). Returns its event stream.
    pub(crate) fn attach(
        &self,
        replace_stopped: bool,
        start: impl FnOnce() -> Result<(Started<E>, X), BuildError>,
    ) -> Result<Events<E>, Lifecycle> {
        let mut slot = self.lock();
        if let Some(attached) = &*slot {
            let stopped = attached.engine.state().borrow().is_closed();
            if !(replace_stopped && stopped) {
                return Err(Lifecycle::AlreadyConnected);
            }
        }
        let ((engine, events), extra) = start().map_err(Lifecycle::Build)?;
        *slot = Some(Attached { engine, extra });
        Ok(events)
    }

    /// The attached engine.
    pub(crate) fn engine(&self) -> Option<Client<E>> {
        self.lock().as_ref().map(|a| a.engine.clone())
    }

    /// Reads what was kept beside the attached engine.
    pub(crate) fn extra<R>(&self, read: impl FnOnce(&X) -> R) -> Option<R> {
        self.lock().as_ref().map(|a| read(&a.extra))
    }

    /// The attached engine's state.
    pub(crate) fn state(&self) -> Option<State> {
        self.lock()
            .as_ref()
            .map(|a| a.engine.state().borrow().clone())
    }

    /// Whether an engine is attached (running or stopped, not closed by the client).
    pub(crate) fn is_attached(&self) -> bool {
        self.lock().is_some()
    }

    /// Waits until the attached engine is ready.
    pub(crate) async fn ready(&self) -> Result<(), Lifecycle> {
        let engine = self.engine().ok_or(Lifecycle::NotConnected)?;
        engine.ready().await.map_err(Lifecycle::Stopped)
    }

    /// Detaches the engine without waiting for it (to close it elsewhere).
    pub(crate) fn detach(&self) -> Option<Client<E>> {
        self.lock().take().map(|a| a.engine)
    }

    /// Detaches the engine and closes it (close handshake); its final state, `None` when
    /// none was attached.
    pub(crate) async fn close(&self) -> Option<State> {
        let engine = self.detach()?;
        Some(engine.close().await)
    }
}

/// A handler a platform client registers: it reads an inbound `In` and may answer with
/// an `Out`, which the client turns into an outbox message.
pub(crate) type Handler<In, Out> =
    Box<dyn FnMut(&In) -> Result<Option<Out>, BoxError> + Send + 'static>;

/// A handler shared by every engine the client starts.
type SharedHandler<In, Out> = Arc<Mutex<Handler<In, Out>>>;

/// Handlers registered on a client before `connect`, by event name (`None`: the
/// fallback), installed on every engine the client starts.
pub(crate) struct Handlers<In, Out> {
    list: Vec<(Option<String>, SharedHandler<In, Out>)>,
}

impl<In, Out> Default for Handlers<In, Out> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

impl<In, Out> Clone for Handlers<In, Out> {
    fn clone(&self) -> Self {
        Self {
            list: self.list.clone(),
        }
    }
}

impl<In: 'static, Out: 'static> Handlers<In, Out> {
    /// Adds a handler for `event` (`None`: for what no named handler takes).
    pub(crate) fn add(&mut self, event: Option<String>, handler: Handler<In, Out>) {
        self.list.push((event, Arc::new(Mutex::new(handler))));
    }

    /// Installs every handler on `builder`; a handler's answer becomes `reply(answer)`.
    pub(crate) fn install<P>(
        &self,
        mut builder: ClientBuilder<P>,
        reply: impl Fn(&Out) -> Outgoing + Clone + Send + 'static,
    ) -> ClientBuilder<P>
    where
        P: Protocol<Event = In>,
    {
        for (event, handler) in &self.list {
            let handler = handler.clone();
            let reply = reply.clone();
            let run = move |inbound: &In| {
                let mut handler = handler.lock().unwrap_or_else(PoisonError::into_inner);
                handler(inbound).map(|answer| answer.as_ref().map(&reply))
            };
            builder = match event {
                Some(name) => builder.on(name.clone(), run),
                None => builder.on_any(run),
            };
        }
        builder
    }
}

#[cfg(all(test, feature = "raw"))]
mod tests {
    use super::*;
    use crate::raw::{Raw, RawMessage};

    fn start_raw() -> Result<(Started<RawMessage>, ()), BuildError> {
        let started = Client::builder(Raw::text())
            .url("ws://127.0.0.1:9/")
            .start()?;
        Ok((started, ()))
    }

    #[tokio::test]
    async fn one_engine_at_a_time_until_closed() {
        let shell: Shell<RawMessage> = Shell::default();
        assert!(matches!(shell.ready().await, Err(Lifecycle::NotConnected)));
        assert!(shell.close().await.is_none());
        let _events = shell.attach(false, start_raw).unwrap();
        assert!(shell.is_attached());
        assert!(matches!(
            shell.attach(false, start_raw),
            Err(Lifecycle::AlreadyConnected)
        ));
        assert!(shell.close().await.unwrap().is_closed());
        assert!(!shell.is_attached() && shell.engine().is_none());
        let _events = shell.attach(false, start_raw).unwrap();
        assert!(shell.close().await.is_some());
    }

    #[tokio::test]
    async fn a_stopped_engine_is_replaced_only_when_asked() {
        let shell: Shell<RawMessage> = Shell::default();
        let _events = shell.attach(false, start_raw).unwrap();
        shell.engine().unwrap().close().await;
        assert!(matches!(
            shell.attach(false, start_raw),
            Err(Lifecycle::AlreadyConnected)
        ));
        let _events = shell.attach(true, start_raw).unwrap();
        assert!(!shell.state().unwrap().is_closed(), "a fresh engine");
        shell.close().await;
    }

    #[tokio::test]
    async fn a_bad_url_is_a_build_error_and_attaches_nothing() {
        let shell: Shell<RawMessage> = Shell::default();
        let err = shell
            .attach(false, || {
                let started = Client::builder(Raw::text()).url("nope://x").start()?;
                Ok((started, ()))
            })
            .unwrap_err();
        assert!(matches!(err, Lifecycle::Build(_)), "{err:?}");
        assert!(!shell.is_attached());
    }
}
