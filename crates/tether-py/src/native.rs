//! `NativeClient`: one engine client (raw or datadivr) and its queue to Python.

use std::{
    collections::HashMap,
    future::Future,
    os::fd::AsRawFd,
    os::unix::net::UnixStream,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    sync::PyOnceLock,
    types::{PyBytes, PyDict, PyList, PyString},
};
use tether::{
    AckKey, AckOutcome, BackoffConfig, BatchReceipt, Client, ClientConfig, Event, Events, Frame,
    Outgoing, Policy, Receipt, SendAllError, SendError, State, StatsSnapshot,
    datadivr::{self, Datadivr},
    gather, hiven, moobius,
    raw::{Raw, RawMessage},
    transport::deflate::Compression,
};
use tokio::{runtime::Handle, task::AbortHandle};

use crate::{
    convert::{self, DatadivrMessage, Message},
    inbox::{Inbox, Item},
    platforms, runtime,
};

/// Items the pump lets wait for Python before it stops taking events from the engine
/// (whose own bounded event queue then pauses reading from the socket).
const INBOX_HIGH_WATER: usize = 4096;
/// Events the pump moves per turn.
const PUMP_BATCH: usize = 512;

/// The engine handle of either platform.
#[derive(Clone)]
pub(crate) enum Engine {
    Raw(Client<RawMessage>),
    Datadivr(Client<datadivr::Message>),
    Moobius(Client<moobius::Payload>),
    /// The engine of a Hiven client, and the client (its REST queue).
    Hiven(Client<hiven::SwarmMessage>, hiven::HivenClient),
    /// The engine of a Gather client, and the client (its txnIds).
    Gather(Client<gather::ServerEvent>, gather::GatherClient),
}

/// A receipt of either platform.
pub(crate) enum Rcpt {
    Raw(Receipt<RawMessage>),
    Datadivr(Receipt<datadivr::Message>),
    Moobius(Receipt<moobius::Payload>),
    Hiven(Receipt<hiven::SwarmMessage>),
    Gather(Receipt<gather::ServerEvent>),
}

impl Rcpt {
    async fn wait(self) -> Result<(), SendError> {
        match self {
            Rcpt::Raw(r) => r.await.map(|_| ()),
            Rcpt::Datadivr(r) => r.await.map(|_| ()),
            Rcpt::Moobius(r) => r.await.map(|_| ()),
            Rcpt::Hiven(r) => r.await.map(|_| ()),
            Rcpt::Gather(r) => r.await.map(|_| ()),
        }
    }
}

impl Engine {
    pub(crate) async fn close(&self) -> State {
        match self {
            Engine::Raw(c) => c.close().await,
            Engine::Datadivr(c) => c.close().await,
            Engine::Moobius(c) => c.close().await,
            Engine::Hiven(c, _) => c.close().await,
            Engine::Gather(c, _) => c.close().await,
        }
    }

    async fn send(&self, message: Outgoing) -> Result<Rcpt, SendError> {
        match self {
            Engine::Raw(c) => c.send(message).await.map(Rcpt::Raw),
            Engine::Datadivr(c) => c.send(message).await.map(Rcpt::Datadivr),
            Engine::Moobius(c) => c.send(message).await.map(Rcpt::Moobius),
            Engine::Hiven(c, _) => c.send(message).await.map(Rcpt::Hiven),
            Engine::Gather(c, _) => c.send(message).await.map(Rcpt::Gather),
        }
    }

    async fn send_all(&self, messages: Vec<Outgoing>) -> Result<BatchReceipt, SendAllError> {
        match self {
            Engine::Raw(c) => c.send_all(messages).await,
            Engine::Datadivr(c) => c.send_all(messages).await,
            Engine::Moobius(c) => c.send_all(messages).await,
            Engine::Hiven(c, _) => c.send_all(messages).await,
            Engine::Gather(c, _) => c.send_all(messages).await,
        }
    }

    /// `Client::try_send_deferred` of the engine: queued without waking it.
    fn try_send_deferred(&self, message: Outgoing) -> Result<Rcpt, SendError> {
        match self {
            Engine::Raw(c) => c.try_send_deferred(message).map(Rcpt::Raw),
            Engine::Datadivr(c) => c.try_send_deferred(message).map(Rcpt::Datadivr),
            Engine::Moobius(c) => c.try_send_deferred(message).map(Rcpt::Moobius),
            Engine::Hiven(c, _) => c.try_send_deferred(message).map(Rcpt::Hiven),
            Engine::Gather(c, _) => c.try_send_deferred(message).map(Rcpt::Gather),
        }
    }

    fn wake(&self) {
        match self {
            Engine::Raw(c) => c.wake(),
            Engine::Datadivr(c) => c.wake(),
            Engine::Moobius(c) => c.wake(),
            Engine::Hiven(c, _) => c.wake(),
            Engine::Gather(c, _) => c.wake(),
        }
    }

    fn state(&self) -> State {
        match self {
            Engine::Raw(c) => c.state().borrow().clone(),
            Engine::Datadivr(c) => c.state().borrow().clone(),
            Engine::Moobius(c) => c.state().borrow().clone(),
            Engine::Hiven(c, _) => c.state().borrow().clone(),
            Engine::Gather(c, _) => c.state().borrow().clone(),
        }
    }

    fn stats(&self) -> StatsSnapshot {
        match self {
            Engine::Raw(c) => c.stats(),
            Engine::Datadivr(c) => c.stats(),
            Engine::Moobius(c) => c.stats(),
            Engine::Hiven(c, _) => c.stats(),
            Engine::Gather(c, _) => c.stats(),
        }
    }

    fn pending(&self) -> usize {
        match self {
            Engine::Raw(c) => c.pending(),
            Engine::Datadivr(c) => c.pending(),
            Engine::Moobius(c) => c.pending(),
            Engine::Hiven(c, _) => c.pending(),
            Engine::Gather(c, _) => c.pending(),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Engine::Raw(c) => c.capacity(),
            Engine::Datadivr(c) => c.capacity(),
            Engine::Moobius(c) => c.capacity(),
            Engine::Hiven(c, _) => c.capacity(),
            Engine::Gather(c, _) => c.capacity(),
        }
    }
}

/// What a client shares with its tasks and with the exit hook.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) inbox: Arc<Inbox>,
}

/// Polls `future` once here; if it is not done, runs it on the runtime and reports its
/// output through `report`. The common case (room in the outbox) costs no thread hop.
fn now_or_spawn<T: Send + 'static>(
    handle: &Handle,
    future: impl Future<Output = T> + Send + 'static,
    report: impl FnOnce(T) + Send + 'static,
) -> Option<T> {
    let mut future = Box::pin(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => {
            handle.spawn(async move { report(future.await) });
            None
        }
    }
}

fn seconds(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        PyValueError::new_err(format!("{name} must be a non-negative number of seconds"))
    })
}

/// A `send`'s receipt, before it is awaited.
#[pyclass(frozen, module = "tether._native")]
pub struct NativeReceipt {
    rcpt: Mutex<Option<Rcpt>>,
}

impl NativeReceipt {
    fn new(rcpt: Rcpt) -> Self {
        Self {
            rcpt: Mutex::new(Some(rcpt)),
        }
    }
}

/// A `send_many`'s receipt, before it is awaited.
#[pyclass(frozen, module = "tether._native")]
pub struct NativeBatch {
    batch: Mutex<Option<BatchReceipt>>,
    /// How many messages it queued.
    #[pyo3(get)]
    count: usize,
}

impl NativeBatch {
    fn new(batch: BatchReceipt) -> Self {
        Self {
            count: batch.len(),
            batch: Mutex::new(Some(batch)),
        }
    }
}

/// One engine client. The Python classes in `tether` wrap it; see `_native.pyi`.
#[pyclass(frozen, module = "tether._native")]
pub struct NativeClient {
    shared: Arc<Shared>,
    handle: Handle,
    watch: UnixStream,
    ack_field: Option<String>,
    event_field: Option<String>,
    json: bool,
    requests: Arc<Mutex<HashMap<u64, AbortHandle>>>,
}

fn convert_event<E>(event: Event<E>, wrap: &impl Fn(E) -> Item, acks: Acks) -> Option<Item> {
    Some(match event {
        Event::Message(m) => wrap(m),
        Event::Ack { .. } if acks == Acks::Skip => return None,
        Event::State(s) => Item::State(s),
        Event::Disconnected { error, fatal } => Item::Disconnected {
            code: error.close_code(),
            error: error.to_string(),
            fatal,
        },
        Event::Ack { key, outcome } => Item::Ack {
            key: key.to_string(),
            refused: match outcome {
                AckOutcome::Accepted => None,
                AckOutcome::Rejected(r) => Some(r),
            },
        },
        Event::Dropped {
            message,
            transmission,
        } => Item::Dropped {
            message,
            transmission,
        },
        Event::DecodeError { reason, excerpt } => Item::DecodeError { reason, excerpt },
        Event::Undelivered(e) => Item::Undelivered(e),
        _ => return None,
    })
}

/// Whether the engine's ack events cross to Python.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acks {
    /// As `("ack", key, refused)` items (`Acked` events).
    Forward,
    /// Not at all: the platform's Python side learns of acks from the messages
    /// themselves (Gather's `transactionStatus` events reach the callback).
    Skip,
}

/// Moves the engine's events into the inbox, in batches, pausing while Python lags.
pub(crate) async fn pump<E>(
    mut events: Events<E>,
    inbox: Arc<Inbox>,
    wrap: impl Fn(E) -> Item,
    acks: Acks,
) {
    let mut buffer = Vec::with_capacity(PUMP_BATCH);
    loop {
        let n = events.recv_many(&mut buffer, PUMP_BATCH).await;
        if n == 0 {
            inbox.push(Item::End);
            return;
        }
        inbox.extend(
            buffer
                .drain(..)
                .filter_map(|e| convert_event(e, &wrap, acks)),
        );
        while inbox.len() >= INBOX_HIGH_WATER {
            inbox.space.notified().await;
        }
    }
}

fn state_tuple<'py>(py: Python<'py>, state: &State) -> PyResult<Bound<'py, PyAny>> {
    let detail: Option<String> = match state {
        State::Closed { reason, .. } => Some(reason.to_string()),
        State::Reconnecting { attempt, delay } => {
            Some(format!("attempt {attempt} in {:.3} s", delay.as_secs_f64()))
        }
        _ => None,
    };
    let fatal = matches!(state, State::Closed { fatal: true, .. });
    Ok(("state", state.name(), detail, fatal)
        .into_pyobject(py)?
        .into_any())
}

impl NativeClient {
    fn encode(&self, obj: &Bound<'_, PyAny>, deadline: Option<f64>) -> PyResult<Outgoing> {
        let message = if let Ok(b) = obj.cast::<PyBytes>() {
            Outgoing::new(Frame::binary(b.as_bytes().to_vec()))
        } else if let (Engine::Datadivr(_), Ok(s)) = (&self.shared.engine, obj.cast::<PyString>()) {
            // datadivr: the package hands over the SDK's wire text, built in Python.
            Outgoing::new(Frame::text(s.to_cow()?.into_owned()))
        } else if !self.json {
            let s = obj.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err("a text-mode client sends str (or bytes for a binary frame)")
            })?;
            Outgoing::new(Frame::text(s.to_cow()?.into_owned()))
        } else {
            let text = convert::to_json(obj)?;
            let mut message = Outgoing::new(Frame::text(text));
            if let Some(field) = self.ack_field.as_deref() {
                if let Ok(d) = obj.cast::<PyDict>() {
                    if let Some(v) = d.get_item(field)? {
                        message = message.with_ack(AckKey::new(convert::to_json(&v)?));
                    }
                }
            }
            message
        };
        Ok(match deadline {
            Some(d) => message.with_deadline(seconds("deadline", d)?),
            None => message,
        })
    }

    fn item_to_py<'py>(&self, py: Python<'py>, item: Item) -> PyResult<Bound<'py, PyAny>> {
        let json = self.json;
        Ok(match item {
            Item::Raw(m) => {
                Bound::new(py, Message::new(m, self.event_field.as_deref()))?.into_any()
            }
            Item::Datadivr(m) => Bound::new(
                py,
                DatadivrMessage {
                    message: m,
                    payload: PyOnceLock::new(),
                },
            )?
            .into_any(),
            Item::Text(t) => PyString::new(py, &t).into_any(),
            Item::Binary(b) => PyBytes::new(py, &b).into_any(),
            Item::State(s) => state_tuple(py, &s)?,
            Item::Disconnected { error, fatal, code } => ("disconnected", error, fatal, code)
                .into_pyobject(py)?
                .into_any(),
            Item::Ack { key, refused } => ("ack", key, refused).into_pyobject(py)?.into_any(),
            Item::Dropped {
                message,
                transmission,
            } => {
                let t = match transmission {
                    tether::Transmission::NotSent => "not_sent",
                    tether::Transmission::Unconfirmed => "unconfirmed",
                    tether::Transmission::Refused => "refused",
                };
                (
                    "dropped",
                    convert::frame_to_py(py, message.frame(), json)?,
                    t,
                )
                    .into_pyobject(py)?
                    .into_any()
            }
            Item::DecodeError { reason, excerpt } => ("decode_error", reason, excerpt)
                .into_pyobject(py)?
                .into_any(),
            Item::Undelivered(e) => ("undelivered", convert::send_error_obj(py, &e, json)?)
                .into_pyobject(py)?
                .into_any(),
            Item::End => ("end",).into_pyobject(py)?.into_any(),
            Item::Queued(t, Ok(r)) => {
                let r = Bound::new(py, NativeReceipt::new(r))?;
                ("done", t, true, r).into_pyobject(py)?.into_any()
            }
            Item::Queued(t, Err(e)) | Item::Delivered(t, Err(e)) => {
                ("done", t, false, convert::send_error_obj(py, &e, json)?)
                    .into_pyobject(py)?
                    .into_any()
            }
            Item::Delivered(t, Ok(())) => {
                ("done", t, true, py.None()).into_pyobject(py)?.into_any()
            }
            Item::BatchQueued(t, Ok(b)) => {
                let b = Bound::new(py, NativeBatch::new(b))?;
                ("done", t, true, b).into_pyobject(py)?.into_any()
            }
            Item::BatchQueued(t, Err(e)) => {
                let rest = PyList::empty(py);
                for m in &e.rest {
                    rest.append(convert::frame_to_py(py, m.frame(), json)?)?;
                }
                let err = convert::send_error_obj(py, &e.error, json)?;
                let queued = e.queued;
                let b = Bound::new(py, NativeBatch::new(e.receipt))?;
                ("done", t, false, (queued, b, err, rest))
                    .into_pyobject(py)?
                    .into_any()
            }
            Item::BatchDelivered(t, Ok(n)) => ("done", t, true, n).into_pyobject(py)?.into_any(),
            Item::BatchDelivered(t, Err(failures)) => {
                let list = PyList::empty(py);
                for e in &failures {
                    list.append(convert::send_error_obj(py, e, json)?)?;
                }
                ("done", t, false, list).into_pyobject(py)?.into_any()
            }
            Item::Reply(t, Ok(m)) => {
                let m = Bound::new(py, Message::new(m, self.event_field.as_deref()))?;
                ("done", t, true, m).into_pyobject(py)?.into_any()
            }
            Item::Reply(t, Err(e)) => ("done", t, false, convert::request_error_obj(py, &e, json)?)
                .into_pyobject(py)?
                .into_any(),
            Item::Closed(t, s) => ("done", t, true, state_tuple(py, &s)?)
                .into_pyobject(py)?
                .into_any(),
        })
    }

    /// As `queue_send`, but a message queued at once leaves the engine asleep: Python
    /// wakes it once at the end of the loop's turn (`wake`), for everything of the turn.
    fn queue_deferred(
        &self,
        py: Python<'_>,
        message: Outgoing,
        token: u64,
    ) -> PyResult<Option<NativeReceipt>> {
        match self.shared.engine.try_send_deferred(message) {
            Ok(r) => Ok(Some(NativeReceipt::new(r))),
            Err(SendError::Full(message)) => {
                // No room (Backpressure): the engine must run to make some.
                self.shared.engine.wake();
                self.queue_send(py, message, token)
            }
            Err(e) => Err(convert::send_err(py, &e, self.json)),
        }
    }

    fn queue_send(
        &self,
        py: Python<'_>,
        message: Outgoing,
        token: u64,
    ) -> PyResult<Option<NativeReceipt>> {
        let engine = self.shared.engine.clone();
        let inbox = self.shared.inbox.clone();
        let done = now_or_spawn(
            &self.handle,
            async move { engine.send(message).await },
            move |r| inbox.push(Item::Queued(token, r)),
        );
        match done {
            None => Ok(None),
            Some(Ok(r)) => Ok(Some(NativeReceipt::new(r))),
            Some(Err(e)) => Err(convert::send_err(py, &e, self.json)),
        }
    }
}

#[pymethods]
impl NativeClient {
    /// Starts a client; see `_native.pyi` for the arguments.
    #[new]
    #[pyo3(signature = (
        platform, url, *, mode = "json", ack_field = None, event_field = None,
        heartbeat = 15.0, dead_after = 10.0, connect_timeout = 10.0, close_timeout = 5.0,
        outbox_capacity = 1024, policy = "backpressure", backoff_base = 0.25,
        backoff_cap = 30.0, max_attempts = None, reconnect = true, request_timeout = 30.0,
        ca_file = None, token = None, headers = None, max_message_size = 16777216,
        event_capacity = 1024, compression = true, compression_threshold = 1024,
        platform_options = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        platform: &str,
        url: &str,
        mode: &str,
        ack_field: Option<String>,
        event_field: Option<String>,
        heartbeat: f64,
        dead_after: f64,
        connect_timeout: f64,
        close_timeout: f64,
        outbox_capacity: usize,
        policy: &str,
        backoff_base: f64,
        backoff_cap: f64,
        max_attempts: Option<u32>,
        reconnect: bool,
        request_timeout: f64,
        ca_file: Option<std::path::PathBuf>,
        token: Option<String>,
        headers: Option<Vec<(String, String)>>,
        max_message_size: usize,
        event_capacity: usize,
        compression: bool,
        compression_threshold: usize,
        platform_options: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let handle = runtime::handle(py)?;
        let policy = match policy {
            "backpressure" => Policy::Backpressure,
            "reject" => Policy::Reject,
            "drop_oldest" => Policy::DropOldest,
            other => {
                return Err(PyValueError::new_err(format!(
                    "policy must be 'backpressure', 'reject' or 'drop_oldest', not {other:?}"
                )));
            }
        };
        let mut config = ClientConfig::default()
            .heartbeat(seconds("heartbeat", heartbeat)?)
            .dead_after(seconds("dead_after", dead_after)?)
            .connect_timeout(seconds("connect_timeout", connect_timeout)?)
            .close_timeout(seconds("close_timeout", close_timeout)?)
            .outbox(outbox_capacity, policy)
            .backoff(BackoffConfig {
                base: seconds("backoff_base", backoff_base)?,
                cap: seconds("backoff_cap", backoff_cap)?,
                max_attempts,
                seed: None,
            })
            .request_timeout(seconds("request_timeout", request_timeout)?)
            .max_message_size(max_message_size)
            .event_capacity(event_capacity)
            .compression(if compression {
                Compression::on(compression_threshold)
            } else {
                Compression::off()
            });
        config.reconnect = reconnect;
        if let Some(path) = ca_file {
            config = config.ca_file(path);
        }
        if let Some(token) = token {
            config = config.token(token);
        }
        for (name, value) in headers.unwrap_or_default() {
            config = config.header(name, value);
        }
        let (inbox, watch) = Inbox::new().map_err(|e| convert::error(&e.to_string()))?;
        let inbox = Arc::new(inbox);
        let _entered = handle.enter();
        let build_err =
            |e: tether::BuildError| convert::named_error(py, "ConfigError", &e.to_string());
        let (engine, json) = match platform {
            "raw" => {
                let json = match mode {
                    "json" => true,
                    "text" => false,
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "mode must be 'json' or 'text', not {other:?}"
                        )));
                    }
                };
                let mut raw = if json { Raw::json() } else { Raw::text() };
                if let Some(f) = &ack_field {
                    raw = raw.ack_field(f.clone());
                }
                if let Some(f) = &event_field {
                    raw = raw.event_field(f.clone());
                }
                let (client, events) = Client::builder(raw.clone())
                    .url(url)
                    .config(config)
                    .start()
                    .map_err(build_err)?;
                handle.spawn(pump(events, inbox.clone(), Item::Raw, Acks::Forward));
                (Engine::Raw(client), json)
            }
            "datadivr" => {
                let (client, events) = Client::builder(Datadivr)
                    .url(url)
                    .config(config)
                    .start()
                    .map_err(build_err)?;
                handle.spawn(pump(events, inbox.clone(), Item::Datadivr, Acks::Forward));
                (Engine::Datadivr(client), true)
            }
            "moobius" => {
                let (client, events) =
                    platforms::moobius::start(url, config, platform_options.as_ref())?
                        .map_err(build_err)?;
                handle.spawn(pump(
                    events,
                    inbox.clone(),
                    |p: moobius::Payload| Item::Text(p.text().to_owned()),
                    Acks::Forward,
                ));
                (Engine::Moobius(client), false)
            }
            "hiven" => {
                let (hiven, events) =
                    platforms::hiven::start(url, config, platform_options.as_ref())?
                        .map_err(|e| platforms::hiven::hiven_err(py, &e))?;
                let engine = hiven
                    .engine()
                    .ok_or_else(|| convert::error("the Hiven client did not start"))?;
                handle.spawn(pump(
                    events,
                    inbox.clone(),
                    platforms::hiven::item,
                    Acks::Forward,
                ));
                (Engine::Hiven(engine, hiven), false)
            }
            "gather" => {
                let (gather, events) = platforms::gather::start(config, platform_options.as_ref())?
                    .map_err(|e| convert::named_error(py, "ConfigError", &e.to_string()))?;
                let engine = gather
                    .engine()
                    .ok_or_else(|| convert::error("the Gather client did not start"))?;
                handle.spawn(pump(
                    events,
                    inbox.clone(),
                    platforms::gather::item,
                    Acks::Skip,
                ));
                (Engine::Gather(engine, gather), false)
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "platform must be 'raw', 'datadivr', 'moobius', 'hiven' or 'gather', not {other:?}"
                )));
            }
        };
        let shared = Arc::new(Shared { engine, inbox });
        runtime::register(&shared);
        Ok(Self {
            shared,
            handle: handle.clone(),
            watch,
            event_field,
            json,
            requests: Arc::default(),
            ack_field,
        })
    }

    /// A Hiven client's REST poster (its ordered queue).
    fn hiven_poster(&self) -> PyResult<platforms::hiven::NativeHivenPoster> {
        match &self.shared.engine {
            Engine::Hiven(_, client) => Ok(platforms::hiven::NativeHivenPoster {
                client: client.clone(),
            }),
            _ => Err(PyTypeError::new_err(
                "hiven_poster needs the hiven platform",
            )),
        }
    }

    /// Queues the Gather action `name` with `args` (JSON: positional list or keyword
    /// dict), acknowledged by its `transactionStatus`; its txnId, and as `send` otherwise,
    /// except that it leaves the engine asleep: call `wake` once the loop's turn has
    /// queued what it queues (a full outbox wakes it, and the engine's own next turn
    /// writes what nobody woke it for).
    fn send_action(
        &self,
        py: Python<'_>,
        name: &str,
        args: &Bound<'_, PyAny>,
        token: u64,
    ) -> PyResult<(u32, Option<NativeReceipt>)> {
        runtime::handle(py)?;
        let Engine::Gather(_, client) = &self.shared.engine else {
            return Err(PyTypeError::new_err(
                "send_action needs the gather platform",
            ));
        };
        let (txn_id, message) = platforms::gather::outgoing(client, name, args)?;
        Ok((txn_id, self.queue_deferred(py, message, token)?))
    }

    /// Wakes the engine to write what `send_action` or a deferred `send` queued.
    fn wake(&self) {
        self.shared.engine.wake();
    }

    /// The Gather user id (`ready.id` of the current connection), once ready.
    fn gather_user_id(&self) -> Option<String> {
        match &self.shared.engine {
            Engine::Gather(_, client) => client.user_id(),
            _ => None,
        }
    }

    /// The file descriptor the loop watches for readability (one byte per batch).
    fn fileno(&self) -> i32 {
        self.watch.as_raw_fd()
    }

    /// Takes up to `max` waiting items (messages, event tuples, completions), in order.
    #[pyo3(signature = (max = 4096))]
    fn take<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyList>> {
        let items = self.shared.inbox.take(max);
        let list = PyList::empty(py);
        for item in items {
            list.append(self.item_to_py(py, item)?)?;
        }
        Ok(list)
    }

    /// Queues `obj`. Returns the receipt when it was queued at once, `None` when it waits
    /// for room (a `("done", token, ok, receipt_or_error)` item follows); raises the
    /// `tether.errors` exception when it is refused. With `defer`, a message queued at once
    /// leaves the engine asleep until `wake` (one wake-up for what a turn of the loop sends).
    #[pyo3(signature = (obj, token, deadline = None, defer = false))]
    fn send(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        token: u64,
        deadline: Option<f64>,
        defer: bool,
    ) -> PyResult<Option<NativeReceipt>> {
        runtime::handle(py)?;
        let message = self.encode(obj, deadline)?;
        if defer {
            self.queue_deferred(py, message, token)
        } else {
            self.queue_send(py, message, token)
        }
    }

    /// Queues a text frame as it is (datadivr: the SDK's wire text, built in Python).
    fn send_text(
        &self,
        py: Python<'_>,
        text: String,
        token: u64,
    ) -> PyResult<Option<NativeReceipt>> {
        runtime::handle(py)?;
        self.queue_send(py, Outgoing::new(Frame::text(text)), token)
    }

    /// Queues many objects in order; a `("done", token, ok, batch_or_refusal)` item follows
    /// unless it returns the batch at once.
    fn send_many(
        &self,
        py: Python<'_>,
        objs: &Bound<'_, PyAny>,
        token: u64,
    ) -> PyResult<Option<NativeBatch>> {
        runtime::handle(py)?;
        let mut messages = Vec::new();
        for obj in objs.try_iter()? {
            messages.push(self.encode(&obj?, None)?);
        }
        let engine = self.shared.engine.clone();
        let inbox = self.shared.inbox.clone();
        let done = now_or_spawn(
            &self.handle,
            async move { engine.send_all(messages).await },
            move |r| inbox.push(Item::BatchQueued(token, r)),
        );
        match done {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(NativeBatch::new(b))),
            Some(Err(e)) => {
                // Rare (a refusal): report it through the inbox, as the waiting path does.
                self.shared.inbox.push(Item::BatchQueued(token, Err(e)));
                Ok(None)
            }
        }
    }

    /// Reports the receipt's outcome as `("done", token, ok, None_or_error)`.
    fn watch(&self, py: Python<'_>, receipt: &NativeReceipt, token: u64) -> PyResult<()> {
        runtime::handle(py)?;
        let rcpt = receipt
            .rcpt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyValueError::new_err("receipt already awaited"))?;
        let inbox = self.shared.inbox.clone();
        self.handle.spawn(async move {
            let r = rcpt.wait().await;
            inbox.push(Item::Delivered(token, r));
        });
        Ok(())
    }

    /// Reports the batch's outcome as `("done", token, ok, count_or_errors)`.
    fn watch_batch(&self, py: Python<'_>, batch: &NativeBatch, token: u64) -> PyResult<()> {
        runtime::handle(py)?;
        let b = batch
            .batch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyValueError::new_err("batch receipt already awaited"))?;
        let inbox = self.shared.inbox.clone();
        self.handle.spawn(async move {
            let r = b.await;
            inbox.push(Item::BatchDelivered(token, r));
        });
        Ok(())
    }

    /// Sends `obj` and reports its reply as `("done", token, ok, message_or_error)`;
    /// `cancel(token)` withdraws it.
    #[pyo3(signature = (obj, token, timeout = None))]
    fn request(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        token: u64,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        runtime::handle(py)?;
        let Engine::Raw(client) = &self.shared.engine else {
            return Err(PyTypeError::new_err("request needs the raw platform"));
        };
        let message = self.encode(obj, None)?;
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let client = client.clone();
        let inbox = self.shared.inbox.clone();
        let requests = self.requests.clone();
        // Registered before the task can finish (and remove it): the lock is held.
        let mut map = requests.lock().unwrap_or_else(PoisonError::into_inner);
        let task_requests = self.requests.clone();
        let task = self.handle.spawn(async move {
            let r = match timeout {
                Some(t) => client.request_within(message, t).await,
                None => client.request(message).await,
            };
            task_requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&token);
            inbox.push(Item::Reply(token, r));
        });
        map.insert(token, task.abort_handle());
        Ok(())
    }

    /// Withdraws the request `token` (its caller was cancelled). No item follows.
    fn cancel(&self, token: u64) {
        let task = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&token);
        if let Some(task) = task {
            task.abort();
        }
    }

    /// Closes the client; reports `("done", token, True, state)` when it has stopped.
    fn close(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        let handle = runtime::handle(py)?;
        let engine = self.shared.engine.clone();
        let inbox = self.shared.inbox.clone();
        handle.spawn(async move {
            let state = engine.close().await;
            inbox.push(Item::Closed(token, state));
        });
        Ok(())
    }

    /// Asks the client to close without waiting (garbage collection of a live client).
    fn request_close(&self) {
        let engine = self.shared.engine.clone();
        if std::process::id() == self.pid() {
            self.handle.spawn(async move {
                engine.close().await;
            });
        }
    }

    /// `("state", name, detail, fatal)`.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        state_tuple(py, &self.shared.engine.state())
    }

    /// The engine's counters, plus `pending` and `capacity` of the outbox.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.shared.engine.stats();
        let d = PyDict::new(py);
        d.set_item("messages_in", s.messages_in)?;
        d.set_item("messages_out", s.messages_out)?;
        d.set_item("bytes_in", s.bytes_in)?;
        d.set_item("bytes_out", s.bytes_out)?;
        d.set_item("wire_bytes_in", s.wire_bytes_in)?;
        d.set_item("wire_bytes_out", s.wire_bytes_out)?;
        d.set_item("deflate_connects", s.deflate_connects)?;
        d.set_item("connects", s.connects)?;
        d.set_item("reconnects", s.reconnects)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("decode_errors", s.decode_errors)?;
        d.set_item("acked", s.acked)?;
        d.set_item("replayed", s.replayed)?;
        d.set_item("heartbeat_rtt", s.heartbeat_rtt.map(|d| d.as_secs_f64()))?;
        d.set_item(
            "time_to_first_ready",
            s.time_to_first_ready.map(|d| d.as_secs_f64()),
        )?;
        d.set_item("pending", self.shared.engine.pending())?;
        d.set_item("capacity", self.shared.engine.capacity())?;
        Ok(d)
    }

    /// The exact text `send(obj)` would write and its ack key (the dry run).
    fn encode_preview(&self, obj: &Bound<'_, PyAny>) -> PyResult<(Py<PyAny>, Option<String>)> {
        let py = obj.py();
        let m = self.encode(obj, None)?;
        let key = m.ack().map(|k| k.as_str().to_owned());
        let frame = match m.frame().as_text() {
            Some(t) => PyString::new(py, t).into_any().unbind(),
            None => PyBytes::new(py, m.frame().payload()).into_any().unbind(),
        };
        Ok((frame, key))
    }
}

impl NativeClient {
    fn pid(&self) -> u32 {
        runtime::pid()
    }
}
