//! The raw platform's scene: JSON over the hub's `echo-ack` endpoint, acknowledged by `id`.

use serde_json::json;
use tether::{Client, ClientConfig, Frame, Outgoing, Started, raw::Raw, raw::RawMessage};
use tether_hub::Hub;

use super::scene::Scene;

/// `raw` against `echo-ack`.
pub struct RawScene {
    raw: Raw,
}

impl RawScene {
    pub fn new() -> Self {
        Self {
            raw: Raw::json().ack_field("id"),
        }
    }
}

impl Scene for RawScene {
    type Event = RawMessage;

    fn name(&self) -> &'static str {
        "raw"
    }

    fn endpoint(&self) -> &'static str {
        "echo-ack"
    }

    fn acks(&self) -> bool {
        true
    }

    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<RawMessage>, String> {
        let url = hub
            .url(self.endpoint())
            .ok_or("hub has no echo-ack endpoint")?;
        Client::builder(self.raw.clone())
            .url(url)
            .config(config)
            .start()
            .map_err(|e| e.to_string())
    }

    fn message(&self, n: u64) -> Outgoing {
        self.raw.encode(&json!({"id": n, "text": "hello"}))
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        let value: serde_json::Value = serde_json::from_str(frame.as_text()?).ok()?;
        value["id"].as_u64()
    }
}
