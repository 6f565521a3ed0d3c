//! `--profile raw`: JSON values (or `--text` lines) over WebSocket, JSON lines over
//! tcp:// / tls://.

use tether::{
    Client, Outgoing,
    raw::{Raw, RawMessage},
};

use super::{Delivery, Profile, Started, queue};
use crate::{connect::ConnectArgs, output::push_data};

/// `--profile raw`: JSON values (or `--text` lines).
pub struct RawProfile(pub Raw);

impl RawProfile {
    /// The raw protocol the flags ask for.
    fn protocol(args: &ConnectArgs) -> Raw {
        let raw = if args.text { Raw::text() } else { Raw::json() };
        let raw = raw.max_line(args.max_message_size);
        match &args.ack_field {
            Some(field) => raw.ack_field(field),
            None => raw,
        }
    }

    /// The message a line stands for.
    ///
    /// # Errors
    /// Why the line is not valid (not JSON, unless `--text`).
    pub fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        self.0.encode_line(line).map_err(|e| e.to_string())
    }
}

impl Profile for RawProfile {
    type Event = RawMessage;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        let raw = Self::protocol(args);
        let (client, events) = Client::builder(raw.clone())
            .url(&args.url)
            .config(args.config())
            .start()
            .map_err(|e| e.to_string())?;
        Ok(Started {
            client,
            events,
            profile: RawProfile(raw),
        })
    }

    async fn deliver(&self, client: &Client<RawMessage>, line: &str) -> Delivery {
        queue(client, self.encode_line(line)).await
    }

    fn push_data(&self, event: &RawMessage, line: &mut String) {
        push_data(line, &event.frame, event.json.as_ref().map(|_| true));
    }

    fn pretty(&self, event: &RawMessage) -> String {
        match (&event.json, event.frame.as_text()) {
            (Some(v), _) => serde_json::to_string_pretty(&**v).unwrap_or_default(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => format!("<{} binary bytes>", event.frame.len()),
        }
    }
}
