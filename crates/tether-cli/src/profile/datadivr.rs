//! `--profile datadivr`: the typed datadivr client; lines are messages.

use tether::{
    Client,
    datadivr::{DatadivrClient, Message},
    json::Value,
};

use super::{Delivery, Profile, Started, queue};
use crate::connect::ConnectArgs;

/// `--profile datadivr`: a line is a full message (a JSON object with `event_name`), or
/// the shorthand `event_name [payload-json]`, sent to `--to` (default `others`).
pub struct DatadivrProfile {
    /// Recipient of shorthand lines.
    pub to: String,
}

impl DatadivrProfile {
    /// The message a line stands for.
    ///
    /// # Errors
    /// Why the line is not a datadivr message.
    pub fn message(&self, line: &str) -> Result<Message, String> {
        let line = line.trim();
        if line.starts_with('{') {
            return Message::parse(line).map_err(|e| format!("not a datadivr message: {e}"));
        }
        let (event_name, payload) = match line.split_once(char::is_whitespace) {
            Some((name, rest)) => {
                let payload: Value = serde_json::from_str(rest.trim())
                    .map_err(|e| format!("payload after {name:?} is not JSON: {e}"))?;
                (name, payload)
            }
            None => (line, Value::Null),
        };
        if event_name.is_empty() {
            return Err("no event name".into());
        }
        Ok(DatadivrClient::message(payload, event_name, None, &self.to))
    }
}

impl Profile for DatadivrProfile {
    type Event = Message;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        // The typed client: its protocol, its builders; the engine handle for the rest.
        let typed = DatadivrClient::new(&args.url).config(args.config());
        let events = typed.connect().map_err(|e| e.to_string())?;
        let client = typed.engine().ok_or("the datadivr client did not start")?;
        Ok(Started {
            client,
            events,
            profile: DatadivrProfile {
                to: args.to.clone(),
            },
        })
    }

    async fn deliver(&self, client: &Client<Message>, line: &str) -> Delivery {
        queue(
            client,
            self.message(line).map(|m| DatadivrClient::outgoing(&m)),
        )
        .await
    }

    fn push_data(&self, event: &Message, line: &mut String) {
        line.push_str(",\"data\":");
        line.push_str(&event.server_wire_text());
    }

    fn pretty(&self, event: &Message) -> String {
        let mut text = format!(
            "{} from {} to {}",
            event.event_name, event.from_id, event.to
        );
        if !event.payload.is_null() {
            text.push_str(&format!(": {}", event.payload));
        }
        if let Some(m) = &event.message {
            text.push_str(&format!(" ({m})"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dd() -> DatadivrProfile {
        DatadivrProfile {
            to: "others".into(),
        }
    }

    #[test]
    fn datadivr_shorthand_and_full_messages() {
        let m = dd().message(r#"sum_event {"numbers": [391, 29]}"#).unwrap();
        assert_eq!(m.event_name, "sum_event");
        assert_eq!(m.payload, tether::json!({"numbers": [391, 29]}));
        assert_eq!(m.to, "others");
        let m = dd().message("ping").unwrap();
        assert!(m.payload.is_null());
        let m = dd()
            .message(r#"{"event_name":"msg","to":"all","message":"hi"}"#)
            .unwrap();
        assert_eq!((m.to.as_str(), m.message.as_deref()), ("all", Some("hi")));
    }

    #[test]
    fn datadivr_rejects_what_its_builders_reject() {
        assert!(
            dd().message(r#"{"payload":1}"#)
                .unwrap_err()
                .contains("not a datadivr message")
        );
        assert!(dd().message(r#"{"event_name":"x","to":null}"#).is_err());
        assert!(
            dd().message("sum_event {broken")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(dd().message("   ").is_err());
    }
}
