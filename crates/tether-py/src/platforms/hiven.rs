//! Hiven: the engine client is tether's [`HivenClient`] (login, the op 3 heartbeat,
//! ready once every house joined, reconnect with re-login), its Swarm frames handed to
//! Python as their text; `NativeHivenPoster` posts through its ordered REST queue.

use std::time::Duration;

use pyo3::{exceptions::PyValueError, prelude::*, types::PyDict};
use tether::{
    ClientConfig, Events,
    hiven::{ClientType, HivenClient, HivenError, SwarmEvent, SwarmMessage, validate_token},
};

use crate::{inbox::Item, runtime};

use super::{opt_str, req_str};

/// The text Python gets for the synthetic ready event (every house joined), which has
/// no frame of its own.
const READY_TEXT: &str = r#"{"op": -1, "e": "READY", "d": null}"#;

/// A started Hiven client and its events, or why it did not start.
pub(crate) type Started = Result<(HivenClient, Events<SwarmMessage>), HivenError>;

/// The `tether.hiven` exception for `e` (`InvalidToken`, `InvalidClientType`, or
/// `HivenError` with the text, which never has the token).
pub(crate) fn hiven_err(py: Python<'_>, e: &HivenError) -> PyErr {
    let class = match e {
        HivenError::InvalidToken(_) => "InvalidToken",
        HivenError::WrongClientType { .. } => "InvalidClientType",
        _ => "HivenError",
    };
    match py
        .import("tether.hiven")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call1((e.to_string(),)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

fn client_type(name: Option<&str>) -> PyResult<Option<ClientType>> {
    match name {
        None => Ok(None),
        Some("bot") => Ok(Some(ClientType::Bot)),
        Some("user") => Ok(Some(ClientType::User)),
        Some(other) => Err(PyValueError::new_err(format!(
            "client_type must be 'bot' or 'user', not {other:?}"
        ))),
    }
}

/// `hiven_check_token(token, client_type=None) -> "bot" | "user"`: checks the token
/// before any I/O, as openhivenpy does.
#[pyfunction]
#[pyo3(signature = (token, client_type = None))]
pub(crate) fn hiven_check_token(
    py: Python<'_>,
    token: &str,
    client_type: Option<&str>,
) -> PyResult<String> {
    let by_length = validate_token(token).map_err(|e| hiven_err(py, &e.into()))?;
    let given = self::client_type(client_type)?.unwrap_or(by_length);
    if given != by_length {
        return Err(hiven_err(
            py,
            &HivenError::WrongClientType {
                given,
                want: given.token_len(),
            },
        ));
    }
    Ok(given.to_string())
}

/// Starts a Hiven client for the Swarm at `url` with `platform_options`: `token`,
/// `client_type`, `api_url`, `heartbeat` (ms), `log_ws_output`. `config.reconnect` is
/// openhivenpy's `restart`.
pub(crate) fn start(
    url: &str,
    config: ClientConfig,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Started> {
    let token = req_str(options, "token")?;
    let mut builder = HivenClient::builder(token).swarm_url(url).config(config);
    if let Some(t) = client_type(opt_str(options, "client_type")?.as_deref())? {
        builder = builder.client_type(t);
    }
    if let Some(api) = opt_str(options, "api_url")? {
        builder = builder.api_url(api);
    }
    let get = |key: &str| options.map(|o| o.get_item(key)).transpose();
    if let Some(ms) = get("heartbeat")?.flatten().filter(|v| !v.is_none()) {
        builder = builder.heartbeat(Duration::from_millis(ms.extract()?));
    }
    if let Some(on) = get("log_ws_output")?.flatten().filter(|v| !v.is_none()) {
        builder = builder.log_ws_output(on.extract()?);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    Ok(client.connect().map(|events| (client, events)))
}

/// One Swarm event for Python: the frame's text (the synthetic ready as [`READY_TEXT`]).
pub(crate) fn item(message: SwarmMessage) -> Item {
    match (message.raw, &message.event) {
        (Some(raw), _) => Item::Text(raw.to_string()),
        (None, SwarmEvent::Ready(_)) => Item::Text(READY_TEXT.to_owned()),
        (None, _) => Item::Text(String::new()),
    }
}

/// Posts through a client's ordered REST queue; see `_native.pyi`.
#[pyclass(frozen, module = "tether._native")]
pub struct NativeHivenPoster {
    pub(crate) client: HivenClient,
}

#[pymethods]
impl NativeHivenPoster {
    /// Queues `content` for `room_id` and waits (without the GIL) until it is posted;
    /// the created message as JSON text.
    fn post(&self, py: Python<'_>, room_id: String, content: String) -> PyResult<String> {
        let handle = runtime::handle(py)?;
        let client = self.client.clone();
        let out = py.detach(move || {
            handle.block_on(async move {
                let receipt = client.queue_message(&room_id, &content).await?;
                let message = receipt.await?;
                Ok::<_, HivenError>(
                    serde_json::to_string(&message).unwrap_or_else(|_| "null".to_owned()),
                )
            })
        });
        out.map_err(|e| hiven_err(py, &e))
    }
}
