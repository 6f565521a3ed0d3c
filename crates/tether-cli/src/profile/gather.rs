//! `--profile gather`.

use serde_json::Value;
use tether::{
    Outgoing,
    gather::{Action, GatherClient, ServerEvent, event_to_json},
};

use super::Profile;

/// `--profile gather`: a line is `action_name [json args]`, the action named as the SDK
/// names it (`set_text_status`) or as the schema does (`setTextStatus`), its arguments a
/// JSON object (SDK keywords or field names), an array of positional arguments, or
/// nothing. Each line is validated against the action's fields, sent with a fresh
/// `txnId`, and stays pending until the server's `transactionStatus` (replayed after a
/// reconnect). Received events print one per line in the protobuf JSON mapping,
/// `{"playerChats": {...}}`.
pub struct GatherProfile {
    /// The typed client, whose `txnId` source the lines use.
    pub client: GatherClient,
}

impl GatherProfile {
    /// The action a line stands for.
    ///
    /// # Errors
    /// Why the line is not a valid action.
    pub fn action(line: &str) -> Result<Action, String> {
        let line = line.trim();
        let (name, args) = match line.split_once(char::is_whitespace) {
            Some((name, rest)) => {
                let args: Value = serde_json::from_str(rest.trim())
                    .map_err(|e| format!("arguments after {name:?} are not JSON: {e}"))?;
                (name, args)
            }
            None => (line, Value::Null),
        };
        if name.is_empty() {
            return Err("no action name".into());
        }
        Action::from_json(name, &args).map_err(|e| e.to_string())
    }
}

impl Profile for GatherProfile {
    type Event = ServerEvent;

    fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        let action = Self::action(line)?;
        Ok(self.client.outgoing(&action).1)
    }

    fn push_data(&self, event: &ServerEvent, line: &mut String) {
        line.push_str(",\"data\":");
        line.push_str(&event_to_json(event).to_string());
    }

    fn pretty(&self, event: &ServerEvent) -> String {
        let json = event_to_json(event);
        let body = json.get(event.name()).cloned().unwrap_or(Value::Null);
        format!("{} {body}", event.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether::gather::{decode_action, proto::Ready};

    #[test]
    fn lines_name_an_action_with_json_arguments() {
        assert_eq!(
            GatherProfile::action(r#"set_text_status {"text_status": "hi"}"#).unwrap(),
            Action::set_text_status("hi", None)
        );
        assert_eq!(
            GatherProfile::action(r#"setTextStatus ["hi", "p2"]"#).unwrap(),
            Action::set_text_status("hi", Some("p2".into()))
        );
        assert_eq!(
            GatherProfile::action("  shoot_confetti ").unwrap(),
            Action::shoot_confetti(None)
        );
    }

    #[test]
    fn lines_the_typed_builders_reject_are_rejected_with_a_reason() {
        for (line, reason) in [
            ("fly {}", "unknown action"),
            (r#"set_text_status {"status": "x"}"#, "has no argument"),
            (r#"set_text_status {"text_status": 5}"#, "invalid arguments"),
            ("set_text_status {broken", "not JSON"),
            (r#"move {"dir": "Sideways"}"#, "invalid arguments"),
            ("   ", "no action name"),
        ] {
            let err = GatherProfile::action(line).unwrap_err();
            assert!(err.contains(reason), "{line:?}: {err}");
        }
    }

    #[test]
    fn a_line_becomes_an_acknowledged_binary_action_and_events_print_as_json() {
        let profile = GatherProfile {
            client: GatherClient::new("k", "s"),
        };
        let message = profile.encode_line("exit").unwrap();
        let decoded = decode_action(message.frame().payload()).unwrap();
        assert_eq!(decoded.action, Some(Action::exit()));
        assert_eq!(
            message.ack().unwrap().as_str(),
            decoded.txn_id.unwrap().to_string()
        );
        let mut line = String::new();
        let ready = ServerEvent::Ready(Ready { id: "u1".into() });
        profile.push_data(&ready, &mut line);
        assert_eq!(line, r#","data":{"ready":{"id":"u1"}}"#);
        assert_eq!(profile.pretty(&ready), r#"ready {"id":"u1"}"#);
    }
}
