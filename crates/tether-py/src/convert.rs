//! Python objects to JSON text and back, the lazy inbound message types, and the
//! exceptions of `tether.errors`.

use std::sync::Arc;

use pyo3::{
    exceptions::{PyRuntimeError, PyTypeError, PyValueError},
    prelude::*,
    sync::PyOnceLock,
    types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple},
};
use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use tether::{Frame, RequestError, SendError, Transmission, datadivr, raw::RawMessage};

/// Nesting deeper than this is refused (as `json.dumps` refuses a recursive structure).
const MAX_DEPTH: u32 = 256;

/// A Python object serialized as JSON, in its own key order, as `json.dumps` would (the
/// same values; compact separators).
pub(crate) struct PyJson<'a, 'py>(pub &'a Bound<'py, PyAny>, pub u32);

fn key_text(key: &Bound<'_, PyAny>) -> Result<String, String> {
    if let Ok(s) = key.cast::<PyString>() {
        return s
            .to_cow()
            .map(|c| c.into_owned())
            .map_err(|e| e.to_string());
    }
    if key.is_none() {
        return Ok("null".into());
    }
    if key.is_instance_of::<PyBool>() {
        return Ok(if key.is_truthy().unwrap_or(false) {
            "true".into()
        } else {
            "false".into()
        });
    }
    if key.is_instance_of::<PyInt>() || key.is_instance_of::<PyFloat>() {
        return key
            .str()
            .map(|s| s.to_string_lossy().into_owned())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "keys must be str, int, float, bool or None, not {}",
        type_name(key)
    ))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

impl Serialize for PyJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let obj = self.0;
        if self.1 > MAX_DEPTH {
            return Err(S::Error::custom(
                "nesting too deep (or a recursive structure)",
            ));
        }
        if let Ok(v) = obj.cast::<PyString>() {
            return s.serialize_str(&v.to_cow().map_err(S::Error::custom)?);
        }
        if obj.is_none() {
            return s.serialize_unit();
        }
        if obj.is_instance_of::<PyBool>() {
            return s.serialize_bool(obj.is_truthy().map_err(S::Error::custom)?);
        }
        if obj.is_instance_of::<PyInt>() {
            if let Ok(v) = obj.extract::<i64>() {
                return s.serialize_i64(v);
            }
            if let Ok(v) = obj.extract::<u64>() {
                return s.serialize_u64(v);
            }
            return Err(S::Error::custom("integer does not fit in 64 bits"));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            if !v.is_finite() {
                return Err(S::Error::custom(
                    "out of range float values are not JSON compliant",
                ));
            }
            return s.serialize_f64(v);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            let mut map = s.serialize_map(Some(d.len()))?;
            for (k, v) in d.iter() {
                let key = key_text(&k).map_err(S::Error::custom)?;
                map.serialize_entry(&key, &PyJson(&v, self.1 + 1))?;
            }
            return map.end();
        }
        if let Ok(l) = obj.cast::<PyList>() {
            let mut seq = s.serialize_seq(Some(l.len()))?;
            for v in l.iter() {
                seq.serialize_element(&PyJson(&v, self.1 + 1))?;
            }
            return seq.end();
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            let mut seq = s.serialize_seq(Some(t.len()))?;
            for v in t.iter() {
                seq.serialize_element(&PyJson(&v, self.1 + 1))?;
            }
            return seq.end();
        }
        Err(S::Error::custom(format!(
            "Object of type {} is not JSON serializable",
            type_name(obj)
        )))
    }
}

/// Compact JSON text of a Python object.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    serde_json::to_string(&PyJson(obj, 0)).map_err(json_error)
}

/// A Python object as a JSON value (what [`to_json`] would write, without the text).
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    serde_json::to_value(PyJson(obj, 0)).map_err(json_error)
}

/// A type the JSON mapping has no place for is a `TypeError`, a value it refuses a
/// `ValueError`, as Python's `json` says.
fn json_error(e: serde_json::Error) -> PyErr {
    let text = e.to_string();
    if text.contains("not JSON serializable") || text.starts_with("keys must be") {
        PyTypeError::new_err(text)
    } else {
        PyValueError::new_err(text)
    }
}

/// `dumps(obj) -> str`: the exact JSON text `send` would write for `obj` (the dry run).
#[pyfunction]
pub(crate) fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    to_json(obj)
}

/// Writes a function turning a JSON value type (serde_json's, or tether's ordered one:
/// the same variants) into Python objects.
macro_rules! json_to_py {
    ($(#[$doc:meta])* $name:ident, $value:ty) => {
        $(#[$doc])*
        pub(crate) fn $name<'py>(py: Python<'py>, value: &$value) -> PyResult<Bound<'py, PyAny>> {
            type V = $value;
            Ok(match value {
                V::Null => py.None().into_bound(py),
                V::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
                V::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        i.into_pyobject(py)?.into_any()
                    } else if let Some(u) = n.as_u64() {
                        u.into_pyobject(py)?.into_any()
                    } else {
                        PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
                    }
                }
                V::String(s) => PyString::new(py, s).into_any(),
                V::Array(items) => {
                    let list = PyList::empty(py);
                    for item in items {
                        list.append($name(py, item)?)?;
                    }
                    list.into_any()
                }
                V::Object(map) => {
                    let dict = PyDict::new(py);
                    for (k, v) in map {
                        dict.set_item(k, $name(py, v)?)?;
                    }
                    dict.into_any()
                }
            })
        }
    };
}

json_to_py!(
    /// A JSON value as Python objects.
    to_py,
    Value
);
json_to_py!(
    /// An ordered JSON value (a datadivr payload) as Python objects, dict keys in order.
    ordered_to_py,
    tether::json::Value
);

/// A dict key as `json.dumps` writes it, when tether's writer writes the same: `str`,
/// `int` (64 bits), `float` (finite), `bool`, `None`.
fn plain_key(key: &Bound<'_, PyAny>) -> Option<String> {
    if let Ok(s) = key.cast::<PyString>() {
        return s.to_str().ok().map(str::to_owned);
    }
    if key.is_none() {
        return Some("null".into());
    }
    if key.is_instance_of::<PyBool>() {
        return Some(
            if key.is_truthy().ok()? {
                "true"
            } else {
                "false"
            }
            .into(),
        );
    }
    if key.is_instance_of::<PyInt>() {
        return key.extract::<i64>().ok().map(|i| i.to_string());
    }
    if let Ok(f) = key.cast::<PyFloat>() {
        // `json.dumps` writes `float.__repr__`, as `str()` does for a float.
        return f
            .value()
            .is_finite()
            .then(|| key.str().ok())??
            .to_str()
            .ok()
            .map(str::to_owned);
    }
    None
}

/// A Python object as tether's ordered JSON value, when Python's `json.dumps` (default
/// arguments) writes for it exactly what tether's Python-JSON writer writes for the value.
/// `None` for everything else — NaN and infinities (`json.dumps` writes `NaN`), ints past
/// 64 bits, strings with lone surrogates, keys that collide once written (`{1: .., "1": ..}`),
/// types `json` cannot encode — so that the caller falls back to Python's `json` (which
/// writes the SDK's text or raises the SDK's error).
pub(crate) fn to_plain_value(obj: &Bound<'_, PyAny>, depth: u32) -> Option<tether::json::Value> {
    use tether::json::{Map, Number, Value as V};
    if depth > MAX_DEPTH {
        return None;
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str().ok().map(|s| V::String(s.to_owned()));
    }
    if obj.is_none() {
        return Some(V::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Some(V::Bool(obj.is_truthy().ok()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Some(V::Number(i.into()));
        }
        return obj.extract::<u64>().ok().map(|u| V::Number(u.into()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value()).map(V::Number);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            map.insert(plain_key(&k)?, to_plain_value(&v, depth + 1)?);
        }
        return (map.len() == d.len()).then_some(V::Object(map));
    }
    let items = |iter: &mut dyn Iterator<Item = Bound<'_, PyAny>>| {
        iter.map(|v| to_plain_value(&v, depth + 1))
            .collect::<Option<Vec<_>>>()
            .map(V::Array)
    };
    if let Ok(l) = obj.cast::<PyList>() {
        return items(&mut l.iter());
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return items(&mut t.iter());
    }
    None
}

/// `datadivr_wire_text(event_name, payload, to, message) -> str | None`: the text the
/// datadivr SDK's `send_message` writes (`json.dumps` of its model dump), built by tether's
/// datadivr encoder; `None` when only Python's `json` writes it the SDK's way (see
/// [`to_plain_value`]) or an argument is not of the SDK's type.
#[pyfunction]
pub(crate) fn datadivr_wire_text(
    event_name: &Bound<'_, PyAny>,
    payload: &Bound<'_, PyAny>,
    to: &Bound<'_, PyAny>,
    message: &Bound<'_, PyAny>,
) -> Option<String> {
    let text = |o: &Bound<'_, PyAny>| o.cast::<PyString>().ok()?.to_str().ok().map(str::to_owned);
    let (event_name, to) = (text(event_name)?, text(to)?);
    let message = if message.is_none() {
        None
    } else {
        Some(text(message)?)
    };
    let payload = to_plain_value(payload, 0)?;
    Some(
        datadivr::Message {
            event_name,
            payload,
            to,
            from_id: datadivr::FROM_SERVER.to_owned(),
            message,
        }
        .client_wire_text(),
    )
}

/// A frame as Python: its JSON value when `json` and it parses, else its text, else bytes.
pub(crate) fn frame_to_py<'py>(
    py: Python<'py>,
    frame: &Frame,
    json: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match frame.as_text() {
        // Parsed as tether's ordered value: dicts keep the wire's key order, as
        // `json.loads` gives them.
        Some(text) if json => match tether::json::from_str(text) {
            Ok(v) => ordered_to_py(py, &v),
            Err(_) => Ok(PyString::new(py, text).into_any()),
        },
        Some(text) => Ok(PyString::new(py, text).into_any()),
        None => Ok(PyBytes::new(py, frame.payload()).into_any()),
    }
}

/// An inbound message of the raw platform. Its payload is decoded on first access.
#[pyclass(frozen, module = "tether._native")]
pub struct Message {
    pub(crate) frame: Frame,
    pub(crate) json: Option<Arc<Value>>,
    pub(crate) name: Option<String>,
    pub(crate) data: PyOnceLock<Py<PyAny>>,
}

impl Message {
    pub(crate) fn new(message: RawMessage, event_field: Option<&str>) -> Self {
        let name = event_field.and_then(|f| {
            message
                .json
                .as_deref()
                .and_then(|v| v.get(f))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        Self {
            frame: message.frame,
            json: message.json,
            name,
            data: PyOnceLock::new(),
        }
    }
}

#[pymethods]
impl Message {
    /// The decoded JSON value (JSON mode), else the text (or bytes of a binary frame).
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.data
            .get_or_try_init(py, || {
                Ok::<_, PyErr>(match &self.json {
                    // The engine's parse (serde_json's map) sorts keys: parsed again,
                    // ordered, so that the dict keeps the wire's key order.
                    Some(v) => match self.frame.as_text().map(tether::json::from_str) {
                        Some(Ok(ordered)) => ordered_to_py(py, &ordered)?.unbind(),
                        _ => to_py(py, v)?.unbind(),
                    },
                    None => frame_to_py(py, &self.frame, false)?.unbind(),
                })
            })
            .map(|d| d.clone_ref(py))
    }

    /// The frame's text (`None` for a binary frame).
    #[getter]
    fn text(&self) -> Option<&str> {
        self.frame.as_text()
    }

    /// The frame's bytes.
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.frame.payload())
    }

    /// The event name (the `event_field`'s string value), if any.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the frame was valid JSON (JSON mode).
    #[getter]
    fn is_json(&self) -> bool {
        self.json.is_some()
    }

    /// `data[key]` for a JSON object.
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Ok(self.data(py)?.bind(py).get_item(key)?.unbind())
    }

    /// Never shows the payload (it may carry a secret).
    fn __repr__(&self) -> String {
        match &self.name {
            Some(n) => format!("Message(name={n:?}, {} bytes)", self.frame.len()),
            None => format!("Message({} bytes)", self.frame.len()),
        }
    }
}

/// An inbound datadivr message (the fields of the SDK's `WebSocketMessage`); the payload
/// is converted on first access.
#[pyclass(frozen, module = "tether._native")]
pub struct DatadivrMessage {
    pub(crate) message: datadivr::Message,
    pub(crate) payload: PyOnceLock<Py<PyAny>>,
}

#[pymethods]
impl DatadivrMessage {
    #[getter]
    fn event_name(&self) -> &str {
        &self.message.event_name
    }
    #[getter]
    fn to(&self) -> &str {
        &self.message.to
    }
    #[getter]
    #[allow(clippy::wrong_self_convention)]
    fn from_id(&self) -> &str {
        &self.message.from_id
    }
    #[getter]
    fn message(&self) -> Option<&str> {
        self.message.message.as_deref()
    }
    #[getter]
    fn payload(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.payload
            .get_or_try_init(py, || {
                Ok::<_, PyErr>(ordered_to_py(py, &self.message.payload)?.unbind())
            })
            .map(|d| d.clone_ref(py))
    }
    fn __repr__(&self) -> String {
        format!(
            "DatadivrMessage(event_name={:?}, to={:?}, from_id={:?})",
            self.message.event_name, self.message.to, self.message.from_id
        )
    }
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn errors(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("tether.errors")?.unbind()))
        .map(|m| m.bind(py))
}

/// An exception of `tether.errors` by class name, with one text argument.
pub(crate) fn named_error(py: Python<'_>, class: &str, text: &str) -> PyErr {
    match errors(py).and_then(|m| m.getattr(class)) {
        Ok(cls) => match cls.call1((text,)) {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

/// A plain runtime error (before `tether.errors` can be imported).
pub(crate) fn error(text: &str) -> PyErr {
    PyRuntimeError::new_err(text.to_owned())
}

fn transmission_name(t: Transmission) -> &'static str {
    match t {
        Transmission::NotSent => "not_sent",
        Transmission::Unconfirmed => "unconfirmed",
        Transmission::Refused => "refused",
    }
}

/// The `tether.errors` exception (an instance, not raised) for a send error.
pub(crate) fn send_error_obj<'py>(
    py: Python<'py>,
    e: &SendError,
    json: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let message = frame_to_py(py, e.message().frame(), json)?;
    let extra: Option<String> = match e {
        SendError::Fatal { reason, .. } => Some(reason.to_string()),
        SendError::Rejected { reason, .. } => Some(reason.clone()),
        _ => None,
    };
    errors(py)?.getattr("_native_error")?.call1((
        e.kind(),
        e.to_string(),
        transmission_name(e.transmission()),
        message,
        extra,
    ))
}

/// The exception instance for a request error.
pub(crate) fn request_error_obj<'py>(
    py: Python<'py>,
    e: &RequestError,
    json: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match e {
        RequestError::Send(e) => send_error_obj(py, e, json),
        RequestError::Timeout {
            message, timeout, ..
        } => errors(py)?.getattr("_native_error")?.call1((
            "timeout",
            e.to_string(),
            transmission_name(e.transmission()),
            frame_to_py(py, message.frame(), json)?,
            timeout.as_secs_f64(),
        )),
        RequestError::NoCorrelation(message) => errors(py)?.getattr("_native_error")?.call1((
            "no_correlation",
            e.to_string(),
            "not_sent",
            frame_to_py(py, message.frame(), json)?,
            py.None(),
        )),
        _ => Ok(named_error(py, "TetherError", &e.to_string())
            .value(py)
            .clone()
            .into_any()),
    }
}

/// Raises a send error.
pub(crate) fn send_err(py: Python<'_>, e: &SendError, json: bool) -> PyErr {
    match send_error_obj(py, e, json) {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}
