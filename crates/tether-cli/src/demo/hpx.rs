//! The HappyPanda X scene: the `Hpx` protocol over TCP against the hub's `hpx` endpoint,
//! logged in as a guest; each request is acknowledged by its reply.

use tether::json;
use tether::{
    Client, ClientConfig, Frame, Outgoing, Started,
    hpx::{Credentials, Hpx, Reply, session_request},
};
use tether_hub::Hub;

use super::scene::{Scene, demo_number};

/// The client's name in the envelope.
const NAME: &str = "tether-demo";

/// `hpx` as a guest, calling the hub's `echo` function.
pub struct HpxScene;

impl HpxScene {
    pub fn new() -> Self {
        Self
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
        Client::builder(Hpx::new(NAME).login(Credentials::Guest))
            .url(url)
            .config(config)
            .start()
            .map_err(|e| e.to_string())
    }

    fn message(&self, n: u64) -> Outgoing {
        session_request(NAME, json!([{"fname": "echo", "msg": format!("demo {n}")}]))
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        demo_number(frame.as_text()?)
    }
}
