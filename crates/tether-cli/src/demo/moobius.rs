//! The Moobius scene: a service (`MoobiusClient`, service mode) sending `message_down`s
//! to a user through the hub's `moobius` endpoint. Moobius has no acknowledgements:
//! delivered means flushed.

use tether::{
    ClientConfig, Frame, Outgoing, Started,
    moobius::{MessageContent, MoobiusClient, Payload},
};
use tether_hub::Hub;

use super::scene::{Scene, demo_number};

const SERVICE: &str = "demo-service";
const CHANNEL: &str = "demo-channel";
const USER: &str = "demo-user";

/// `moobius` as a service.
#[derive(Default)]
pub struct MoobiusScene {
    client: Option<MoobiusClient>,
}

impl Scene for MoobiusScene {
    type Event = Payload;

    fn name(&self) -> &'static str {
        "moobius"
    }

    fn endpoint(&self) -> &'static str {
        "moobius"
    }

    fn acks(&self) -> bool {
        false
    }

    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<Payload>, String> {
        let url = hub
            .url(self.endpoint())
            .ok_or("hub has no moobius endpoint")?;
        let client = MoobiusClient::service(url, SERVICE, "demo-token").config(config);
        let events = client.connect().map_err(|e| e.to_string())?;
        let engine = client.engine().ok_or("the moobius client did not start")?;
        self.client = Some(client);
        Ok((engine, events))
    }

    fn message(&self, n: u64) -> Outgoing {
        let client = self.client.as_ref().expect("started");
        let message = client
            .dry_run()
            .message_down(
                USER,
                SERVICE,
                CHANNEL,
                USER,
                "text",
                MessageContent::text(format!("demo {n}")),
                SERVICE,
                None,
            )
            .expect("a valid message_down")
            .expect("recipients given");
        client.outgoing(&message)
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        let text = frame.as_text()?;
        text.contains("message_down")
            .then(|| demo_number(text))
            .flatten()
    }
}
