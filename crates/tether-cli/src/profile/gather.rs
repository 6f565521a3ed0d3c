//! `--profile gather`: the typed Gather client (discovery or a direct engine URL); lines
//! are actions, validated by the action builders.

use serde_json::Value;
use tether::{
    Client, Outgoing,
    gather::{Action, GatherClient, ServerEvent, event_to_json},
};

use super::{Delivery, Profile, Started, queue};
use crate::connect::ConnectArgs;

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

    /// The acknowledged message a line stands for (a fresh `txnId`).
    ///
    /// # Errors
    /// Why the line is not a valid action.
    pub fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        let action = Self::action(line)?;
        Ok(self.client.outgoing(&action).1)
    }
}

impl Profile for GatherProfile {
    type Event = ServerEvent;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        let space = args
            .space
            .as_ref()
            .ok_or("--profile gather needs --space ID")?;
        let key = args
            .api_key
            .as_ref()
            .or(args.token.as_ref())
            .ok_or("--profile gather needs --api-key KEY (or TETHER_GATHER_API_KEY)")?;
        let mut config = args.config();
        // The API key is the credential here: no bearer header on the upgrade.
        config.token = None;
        let builder = GatherClient::builder(key.as_str(), space.as_str()).config(config);
        let typed = match &args.api {
            Some(api) => builder.api_root(api),
            None => builder.engine_url(&args.url),
        }
        .build();
        let events = typed.connect().map_err(|e| e.to_string())?;
        let client = typed.engine().ok_or("the gather client did not start")?;
        Ok(Started {
            client,
            events,
            profile: GatherProfile { client: typed },
        })
    }

    async fn deliver(&self, client: &Client<ServerEvent>, line: &str) -> Delivery {
        queue(client, self.encode_line(line)).await
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
