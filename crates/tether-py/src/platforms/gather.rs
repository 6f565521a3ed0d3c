//! Gather: the engine client is tether's [`GatherClient`] (discovery, `init` → `ready`
//! on every connection, `clientHeartbeat`, actions acknowledged by `transactionStatus`
//! and replayed with their txnId after a reconnect). Actions are built by
//! [`Action::from_scalars`] when every argument is a scalar of its field's type, else by
//! the descriptor-driven [`Action::from_json`], and encoded by prost; each server event
//! reaches Python as the bytes of a one-event `ServerClientBatch`, which Python's
//! `protobuf` parses with classes made from [`DESCRIPTOR_SET`].

use std::time::Duration;

use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyTuple},
};
use tether::{
    ClientConfig, Events, Outgoing,
    gather::{
        Action, ActionError, DESCRIPTOR_SET, GatherClient, Scalar, ServerEvent, available_actions,
        encode_batch,
    },
};

use crate::{convert, inbox::Item};

use super::{opt_str, req_str};

/// A started Gather client and its events, or why it did not start.
pub(crate) type Started = Result<(GatherClient, Events<ServerEvent>), tether::gather::GatherError>;

/// Starts a Gather client with `platform_options`: `api_key`, `space_id`, `api_root`
/// (discovery) or `engine_url` (no discovery), `heartbeat_interval` (seconds).
pub(crate) fn start(
    config: ClientConfig,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Started> {
    let mut builder =
        GatherClient::builder(req_str(options, "api_key")?, req_str(options, "space_id")?)
            .config(config);
    if let Some(root) = opt_str(options, "api_root")? {
        builder = builder.api_root(root);
    }
    if let Some(url) = opt_str(options, "engine_url")? {
        builder = builder.engine_url(url);
    }
    if let Some(v) = options
        .map(|o| o.get_item("heartbeat_interval"))
        .transpose()?
        .flatten()
        .filter(|v| !v.is_none())
    {
        let secs: f64 = v.extract()?;
        builder = builder.heartbeat_interval(Duration::try_from_secs_f64(secs).map_err(|_| {
            PyValueError::new_err("hearbeat_interval must be a non-negative number of seconds")
        })?);
    }
    let client = builder.build();
    Ok(client.connect().map(|events| (client, events)))
}

/// One server event for Python: a `ServerClientBatch` holding it.
pub(crate) fn item(event: ServerEvent) -> Item {
    Item::Binary(encode_batch([event]))
}

/// The txnId and outbox entry for the action `name` with `args` (a tuple of positional
/// arguments or a dict of keyword ones, merged into one dict by the caller when both).
pub(crate) fn outgoing(
    client: &GatherClient,
    name: &str,
    args: &Bound<'_, PyAny>,
) -> PyResult<(u32, Outgoing)> {
    if let Some(action) = from_scalars(name, args) {
        return Ok(client.outgoing(&action));
    }
    let value = convert::to_value(args)?;
    let action = Action::from_json(name, &value).map_err(|e| match e {
        ActionError::UnknownAction(_)
        | ActionError::UnknownArgument { .. }
        | ActionError::TooManyArguments { .. }
        | ActionError::NotAnObject { .. } => PyTypeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    })?;
    Ok(client.outgoing(&action))
}

/// The action from arguments that are all scalars (`str`, `bool`, `int`, `float`) of their
/// fields' types, without JSON ([`Action::from_scalars`]); `None` for anything else, which
/// [`Action::from_json`] builds or explains.
fn from_scalars(name: &str, args: &Bound<'_, PyAny>) -> Option<Action> {
    if let Ok(tuple) = args.cast::<PyTuple>() {
        let items: Vec<Bound<'_, PyAny>> = tuple.iter().collect();
        let values = items.iter().map(scalar).collect::<Option<Vec<_>>>()?;
        return Action::from_scalars(name, &values, &[]);
    }
    let dict = args.cast::<PyDict>().ok()?;
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = dict.iter().collect();
    let keywords = items
        .iter()
        .map(|(k, v)| Some((k.cast::<PyString>().ok()?.to_str().ok()?, scalar(v)?)))
        .collect::<Option<Vec<_>>>()?;
    Action::from_scalars(name, &[], &keywords)
}

fn scalar<'a>(obj: &'a Bound<'_, PyAny>) -> Option<Scalar<'a>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str().ok().map(Scalar::Str);
    }
    if obj.is_instance_of::<PyBool>() {
        return obj.is_truthy().ok().map(Scalar::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    obj.cast::<PyFloat>().ok().map(|f| Scalar::Float(f.value()))
}

/// `gather_descriptor() -> bytes`: the schema's `FileDescriptorSet`.
#[pyfunction]
pub(crate) fn gather_descriptor(py: Python<'_>) -> Bound<'_, PyBytes> {
    PyBytes::new(py, DESCRIPTOR_SET)
}

/// `gather_actions() -> [(name, field, doc)]`: every action in the SDK's order, with
/// its SDK method name, its `ClientServerAction` field and the SDK's docstring.
#[pyfunction]
pub(crate) fn gather_actions() -> Vec<(&'static str, &'static str, String)> {
    available_actions()
        .iter()
        .map(|a| (a.name, a.field, a.doc()))
        .collect()
}
