//! The server side of the model, shared with the hub: routing by `to` and the real
//! server's built-in handlers (`sum_event`, `get_node_info`), as recorded from datadivr 0.3.

use crate::{json, json::Value};

use super::model::{FROM_SERVER, Message, TO_ALL, TO_OTHERS};

/// Who receives a message the server routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// Every connected client, the sender included (`to: "all"`).
    All,
    /// Every connected client but the sender (`to: "others"`).
    Others,
    /// The client with this id; nobody if there is none (no error is sent).
    Client(&'a str),
}

impl<'a> Route<'a> {
    /// The recipients among `clients` (connected client ids) of a message from `sender`.
    pub fn recipients<'c>(
        &self,
        sender: &str,
        clients: impl IntoIterator<Item = &'c str>,
    ) -> Vec<&'c str> {
        clients
            .into_iter()
            .filter(|id| match self {
                Route::All => true,
                Route::Others => *id != sender,
                Route::Client(to) => id == to,
            })
            .collect()
    }

    /// Reads a message's `to`.
    #[must_use]
    pub fn of(to: &'a str) -> Self {
        match to {
            TO_ALL => Route::All,
            TO_OTHERS => Route::Others,
            id => Route::Client(id),
        }
    }
}

/// What the server routes for one valid inbound message from client `sender`: the reply
/// of a built-in handler, or else the message itself with `from_id` overwritten by the
/// sender's id (a spoofed `from_id` is ignored).
#[must_use]
pub fn process(mut request: Message, sender: &str) -> Message {
    request.from_id = sender.to_owned();
    handle(&request, sender).unwrap_or(request)
}

/// The reply of a built-in server handler to `request` from client `sender`, or `None`
/// when the event has no server handler (the request itself is then routed, with its
/// `from_id` set to the sender). Replies go to the sender only.
#[must_use]
pub fn handle(request: &Message, sender: &str) -> Option<Message> {
    match request.event_name.as_str() {
        "sum_event" => Some(sum_event(&request.payload, sender)),
        "get_node_info" => Some(
            Message::new("get_node_info_result")
                .payload(json!({"error": "No project is currently open"}))
                .to(sender),
        ),
        _ => None,
    }
}

/// The `sum_event` handler: `sum(float(n) for n in payload["numbers"])`, replied as
/// `sum_handler_result` (an integer `0` for an empty list, a float otherwise), or an
/// `error` message with the server's exact text.
///
/// A sum that is not finite (e.g. `["inf"]`) cannot be held in a JSON value; it is
/// replied as `null` where Python would write `Infinity`.
#[must_use]
pub fn sum_event(payload: &Value, sender: &str) -> Message {
    let Value::Object(map) = payload else {
        return error_message("Invalid payload format", sender);
    };
    let Some(Value::Array(numbers)) = map.get("numbers") else {
        return error_message("Payload must contain a list of numbers", sender);
    };
    if numbers.is_empty() {
        return Message::new("sum_handler_result").payload(0).to(sender);
    }
    let mut sum = 0.0;
    for n in numbers {
        match python_float(n) {
            Ok(f) => sum += f,
            Err(e) => return error_message(&format!("Error: {e}"), sender),
        }
    }
    Message::new("sum_handler_result")
        .payload(serde_json::Number::from_f64(sum).map_or(Value::Null, Value::Number))
        .to(sender)
}

/// The server's error reply (`event_name: "error"`, the text in `message`).
#[must_use]
pub fn error_message(text: &str, sender: &str) -> Message {
    Message::new("error")
        .to(sender)
        .from_id(FROM_SERVER)
        .message(text)
}

/// Python's `float(value)` for a JSON value, with Python's error text.
fn python_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|_| !s.trim().is_empty())
            .ok_or_else(|| format!("could not convert string to float: {}", python_repr(s))),
        Value::Null => Err(type_error("NoneType")),
        Value::Array(_) => Err(type_error("list")),
        Value::Object(_) => Err(type_error("dict")),
    }
}

fn type_error(type_name: &str) -> String {
    format!("float() argument must be a string or a real number, not '{type_name}'")
}

/// Python's `repr` of a string: single quotes unless it holds `'` and no `"`.
fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_to() {
        assert_eq!(Route::of("all"), Route::All);
        assert_eq!(Route::of("others"), Route::Others);
        assert_eq!(Route::of("client-B"), Route::Client("client-B"));
    }

    #[test]
    fn sum_errors_carry_python_texts() {
        let text = |payload: Value| sum_event(&payload, "A").message.unwrap();
        assert_eq!(
            text(json!({"numbers": [null]})),
            "Error: float() argument must be a string or a real number, not 'NoneType'"
        );
        assert_eq!(
            text(json!({"numbers": ["it's"]})),
            "Error: could not convert string to float: \"it's\""
        );
        assert_eq!(
            text(json!({"numbers": [""]})),
            "Error: could not convert string to float: ''"
        );
        assert_eq!(text(json!({})), "Payload must contain a list of numbers");
        assert_eq!(text(json!("x")), "Invalid payload format");
    }

    #[test]
    fn sum_accepts_what_python_float_accepts() {
        let sum = |payload: Value| sum_event(&payload, "A").payload;
        assert_eq!(sum(json!({"numbers": [" 2 ", "1e1", false]})), json!(12.0));
        assert!(sum(json!({"numbers": [391, 29]})).is_f64());
        assert!(sum(json!({"numbers": []})).is_u64());
    }

    #[test]
    fn unhandled_events_have_no_reply() {
        assert!(handle(&Message::new("unhandled"), "A").is_none());
        let info = handle(&Message::new("get_node_info"), "A").unwrap();
        assert_eq!(
            info.server_wire_text(),
            r#"{"event_name":"get_node_info_result","payload":{"error":"No project is currently open"},"to":"A","from_id":"server","message":null}"#
        );
    }
}
