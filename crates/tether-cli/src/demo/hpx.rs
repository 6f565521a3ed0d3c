//! The HappyPanda X scene: the `Hpx` protocol over TCP against the hub's `hpx` endpoint,
//! logged in as a guest; each request is acknowledged by its reply.

use serde_json::json;
use tether::{
    Client, ClientConfig, Frame, Outgoing, Started,
    hpx::{Credentials, Hpx, Reply},
};
use tether_hub::Hub;

use super::scene::{Scene, demo_number};

/// `hpx` as a guest, calling the hub's `echo` function.
pub struct HpxScene {
    protocol: Hpx,
}

impl HpxScene {
    pub fn new() -> Self {
        Self {
            protocol: Hpx::new("tether-demo").login(Credentials::Guest),
        }
    }
}

impl Scene for HpxScene {
    type Event = Reply;

    fn name(&self) -> &'static str {
        "hpx"
    }

    fn endpoint(&self) -> &'static str {
        "hpx"
    }

    fn acks(&self) -> bool {
        true
    }

    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<Reply>, String> {
        let url = hub.url(self.endpoint()).ok_or("hub has no hpx endpoint")?;
        Client::builder(self.protocol.clone())
            .url(url)
            .config(config)
            .start()
            .map_err(|e| e.to_string())
    }

    fn message(&self, n: u64) -> Outgoing {
        self.protocol
            .request(json!([{"fname": "echo", "msg": format!("demo {n}")}]))
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        demo_number(frame.as_text()?)
    }
}
