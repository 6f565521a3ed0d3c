//! Routes inbound messages to handlers by event name, with a catch-all, isolating
//! handler errors and panics.

use std::{
    collections::HashMap,
    panic::{AssertUnwindSafe, catch_unwind},
};

use crate::outgoing::Outgoing;

/// A handler's error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a handler returns: optionally a reply to send.
pub type HandlerResult = Result<Option<Outgoing>, BoxError>;

type Handler<E> = Box<dyn FnMut(&E) -> HandlerResult + Send + 'static>;

/// A handler failed; the client goes on.
#[derive(Debug)]
pub(crate) struct HandlerFailure {
    pub(crate) event: Option<String>,
    pub(crate) error: String,
}

/// Handlers by event name, plus catch-alls for events no named handler takes.
pub(crate) struct Router<E> {
    by_name: HashMap<String, Vec<Handler<E>>>,
    fallback: Vec<Handler<E>>,
}

impl<E> Default for Router<E> {
    fn default() -> Self {
        Self {
            by_name: HashMap::new(),
            fallback: Vec::new(),
        }
    }
}

impl<E> std::fmt::Debug for Router<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("events", &self.by_name.keys().collect::<Vec<_>>())
            .field("catch_all", &self.fallback.len())
            .finish()
    }
}

impl<E> Router<E> {
    pub(crate) fn on(&mut self, name: String, handler: Handler<E>) {
        self.by_name.entry(name).or_default().push(handler);
    }

    pub(crate) fn on_any(&mut self, handler: Handler<E>) {
        self.fallback.push(handler);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty() && self.fallback.is_empty()
    }

    /// Runs the handlers for one event; replies and failures are pushed to the vectors.
    pub(crate) fn dispatch(
        &mut self,
        name: Option<&str>,
        event: &E,
        replies: &mut Vec<Outgoing>,
        failures: &mut Vec<HandlerFailure>,
    ) {
        let named = name.and_then(|n| self.by_name.get_mut(n));
        let (handlers, label) = match named {
            Some(list) => (list, name.map(str::to_owned)),
            None => (&mut self.fallback, None),
        };
        for handler in handlers.iter_mut() {
            match catch_unwind(AssertUnwindSafe(|| handler(event))) {
                Ok(Ok(Some(reply))) => replies.push(reply),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => failures.push(HandlerFailure {
                    event: label.clone(),
                    error: error.to_string(),
                }),
                Err(panic) => failures.push(HandlerFailure {
                    event: label.clone(),
                    error: format!("handler panicked: {}", panic_message(&*panic)),
                }),
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frame;
    use std::sync::{Arc, Mutex};

    #[test]
    fn named_handlers_take_their_events_and_catch_all_the_rest() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut router: Router<u32> = Router::default();
        let s = seen.clone();
        router.on(
            "a".into(),
            Box::new(move |e| {
                s.lock().unwrap().push(format!("a{e}"));
                Ok(None)
            }),
        );
        let s = seen.clone();
        router.on_any(Box::new(move |e| {
            s.lock().unwrap().push(format!("any{e}"));
            Ok(None)
        }));
        let (mut r, mut f) = (Vec::new(), Vec::new());
        router.dispatch(Some("a"), &1, &mut r, &mut f);
        router.dispatch(Some("b"), &2, &mut r, &mut f);
        router.dispatch(None, &3, &mut r, &mut f);
        assert_eq!(*seen.lock().unwrap(), ["a1", "any2", "any3"]);
        assert!(f.is_empty());
    }

    #[test]
    fn errors_and_panics_are_isolated_and_reported() {
        let mut router: Router<u32> = Router::default();
        router.on("x".into(), Box::new(|_| Err("boom".into())));
        router.on("x".into(), Box::new(|_| panic!("kaput")));
        router.on(
            "x".into(),
            Box::new(|_| Ok(Some(Outgoing::new(Frame::text("reply"))))),
        );
        let (mut r, mut f) = (Vec::new(), Vec::new());
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        router.dispatch(Some("x"), &1, &mut r, &mut f);
        std::panic::set_hook(hook);
        assert_eq!(r.len(), 1, "the handler after the failing ones still ran");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].error, "boom");
        assert!(f[1].error.contains("kaput"));
        assert_eq!(f[1].event.as_deref(), Some("x"));
    }
}
