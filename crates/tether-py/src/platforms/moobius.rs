//! Moobius: the engine client (the Rust [`Moobius`] protocol: login on every connect,
//! the app heartbeat) and `moobius_build`, every `WSClient` builder's dry run through
//! tether's [`Builders`] (the Python package adds only the SDK's argument checks).

use std::time::Duration;

use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    types::PyDict,
};
use tether::{
    Client, ClientConfig, Events, Secret,
    json::{self, Map, Value},
    moobius::{
        Builders, Button, CanvasItem, ChannelInfo, Item, Items, MenuItem, MessageContent, Mode,
        ModelError, Moobius, Outbound, Payload, StyleItem,
    },
};

use crate::convert;

use super::{opt_str, req_str};

/// A started engine client and its events, or why it did not start.
pub(crate) type Started = Result<(Client<Payload>, Events<Payload>), tether::BuildError>;

/// Starts a Moobius engine client for `url` that logs in as `platform_options` say:
/// `service_id` (service mode) or none (user mode, with `channels`: `(user_id,
/// channel_id)` pairs joined after every login), `access_token`, and `app_heartbeat`
/// (seconds; `None`: no heartbeat message).
pub(crate) fn start(
    url: &str,
    config: ClientConfig,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Started> {
    let token = Secret::new(req_str(options, "access_token")?);
    let mode = match opt_str(options, "service_id")? {
        Some(service_id) => Mode::Service { service_id },
        None => {
            let channels: Vec<(String, String)> = match options
                .map(|o| o.get_item("channels"))
                .transpose()?
                .flatten()
            {
                Some(v) if !v.is_none() => v.extract()?,
                _ => Vec::new(),
            };
            Mode::User { channels }
        }
    };
    let heartbeat = match options
        .map(|o| o.get_item("app_heartbeat"))
        .transpose()?
        .flatten()
    {
        Some(v) if !v.is_none() => {
            let secs: f64 = v.extract()?;
            Some(Duration::try_from_secs_f64(secs).map_err(|_| {
                PyValueError::new_err("heartbeat must be a non-negative number of seconds")
            })?)
        }
        _ => None,
    };
    let protocol = Moobius::new(mode, token.clone()).heartbeat_every(heartbeat);
    Ok(Client::builder(protocol)
        .url(url)
        .config(config.redact(token))
        .start())
}

fn arg<'a>(kwargs: &'a Value, key: &str) -> PyResult<&'a Value> {
    kwargs
        .get(key)
        .ok_or_else(|| PyTypeError::new_err(format!("missing argument {key:?}")))
}

fn text<'a>(kwargs: &'a Value, key: &str) -> PyResult<&'a str> {
    arg(kwargs, key)?
        .as_str()
        .ok_or_else(|| PyTypeError::new_err(format!("{key} must be a str")))
}

fn optional_list(kwargs: &Value, key: &str) -> PyResult<Option<Vec<Value>>> {
    match kwargs.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(_) => Err(PyTypeError::new_err(format!(
            "{key} must be a list or None"
        ))),
    }
}

fn context(kwargs: &Value) -> Option<Map<String, Value>> {
    kwargs.get("context").and_then(Value::as_object).cloned()
}

fn model(e: ModelError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn items<T>(kwargs: &Value, key: &str) -> PyResult<Items<T>>
where
    Items<T>: From<Value>,
{
    Ok(Items::from(arg(kwargs, key)?.clone()))
}

fn item<T>(kwargs: &Value, key: &str) -> PyResult<Item<T>>
where
    Item<T>: From<Value>,
{
    Ok(Item::from(arg(kwargs, key)?.clone()))
}

/// Builds `builder`'s message from `kwargs` (JSON-able; dataclasses already turned into
/// dicts) with this request id and clock; its wire text (Python JSON, the SDK's
/// `WSClient.dumps`), or `None` where the SDK builds nothing (no recipients).
pub(crate) fn build(
    builder: &str,
    kwargs: &Value,
    request_id: &str,
    timestamp_ms: u64,
) -> PyResult<Option<Outbound>> {
    let b = Builders::pinned(request_id, timestamp_ms);
    let kw = kwargs;
    Ok(match builder {
        "heartbeat" => Some(b.heartbeat()),
        "service_login" => Some(b.service_login(
            text(kw, "service_id")?,
            &Secret::new(text(kw, "access_token")?),
        )),
        "user_login" => Some(b.user_login(&Secret::new(text(kw, "access_token")?))),
        "join_channel" => Some(b.join_channel(text(kw, "user_id")?, text(kw, "channel_id")?)),
        "leave_channel" => Some(b.leave_channel(text(kw, "user_id")?, text(kw, "channel_id")?)),
        "refresh_as_user" => Some(b.refresh_as_user(text(kw, "user_id")?, text(kw, "channel_id")?)),
        "send_characters" => b.send_characters(
            text(kw, "characters")?,
            text(kw, "service_id")?,
            text(kw, "channel_id")?,
            text(kw, "recipients")?,
        ),
        "send_buttons" => b
            .send_buttons(
                items::<Button>(kw, "buttons")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                text(kw, "recipients")?,
            )
            .map_err(model)?,
        "send_menu" => b
            .send_menu(
                items::<MenuItem>(kw, "menu_items")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                text(kw, "recipients")?,
            )
            .map_err(model)?,
        "send_style" => b
            .send_style(
                items::<StyleItem>(kw, "style_items")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                text(kw, "recipients")?,
            )
            .map_err(model)?,
        "update_canvas" => b
            .update_canvas(
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                items::<CanvasItem>(kw, "canvas_items")?,
                text(kw, "recipients")?,
            )
            .map_err(model)?,
        "update_channel_info" => Some(
            b.update_channel_info(
                item::<ChannelInfo>(kw, "channel_info")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
            )
            .map_err(model)?,
        ),
        "update" => Some(
            b.update(
                arg(kw, "data")?.clone(),
                text(kw, "target_client_id")?,
                text(kw, "service_id")?,
            )
            .map_err(model)?,
        ),
        "message_up" => b
            .message_up(
                text(kw, "user_id")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                text(kw, "recipients")?,
                text(kw, "subtype")?,
                item::<MessageContent>(kw, "content")?,
                context(kw),
            )
            .map_err(model)?,
        "message_down" => b
            .message_down(
                text(kw, "user_id")?,
                text(kw, "service_id")?,
                text(kw, "channel_id")?,
                text(kw, "recipients")?,
                text(kw, "subtype")?,
                item::<MessageContent>(kw, "content")?,
                text(kw, "sender")?,
                context(kw),
            )
            .map_err(model)?,
        "send_button_click" => Some(b.send_button_click(
            text(kw, "button_id")?,
            text(kw, "bottom_button_id")?,
            optional_list(kw, "button_args")?,
            text(kw, "channel_id")?,
            text(kw, "user_id")?,
        )),
        "send_menu_item_click" => Some(
            b.send_menu_item_click(
                text(kw, "menu_item_id")?,
                text(kw, "bottom_button_id")?,
                optional_list(kw, "button_args")?,
                arg(kw, "the_message")?.clone(),
                text(kw, "channel_id")?,
                text(kw, "user_id")?,
            )
            .map_err(model)?,
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "no Moobius builder named {other:?}"
            )));
        }
    })
}

/// `moobius_build(builder, kwargs, request_id, timestamp_ms) -> str | None`: the wire text
/// of the SDK builder `builder` called with `kwargs`, or `None` when it sends nothing.
#[pyfunction]
pub(crate) fn moobius_build(
    builder: &str,
    kwargs: &Bound<'_, PyDict>,
    request_id: &str,
    timestamp_ms: u64,
) -> PyResult<Option<String>> {
    let value = json::from_str(&convert::to_json(kwargs.as_any())?)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(build(builder, &value, request_id, timestamp_ms)?.map(|m| m.wire_text()))
}
