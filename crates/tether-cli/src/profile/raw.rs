//! `--profile raw`.

use tether::{
    Outgoing,
    raw::{Raw, RawMessage},
};

use super::Profile;
use crate::output::push_data;

/// `--profile raw`: JSON values (or `--text` lines).
pub struct RawProfile(pub Raw);

impl Profile for RawProfile {
    type Event = RawMessage;

    fn encode_line(&self, line: &str) -> Result<Outgoing, String> {
        self.0.encode_line(line).map_err(|e| e.to_string())
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
