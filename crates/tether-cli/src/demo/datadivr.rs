//! The datadivr scene: the typed `DatadivrClient` against the hub's `datadivr` endpoint.
//! datadivr has no acknowledgements: delivered means flushed.

use serde_json::json;
use tether::{
    ClientConfig, Frame, Outgoing, Started,
    datadivr::{DatadivrClient, Message},
};
use tether_hub::Hub;

use super::scene::Scene;

/// `datadivr` against the hub's datadivr server.
#[derive(Default)]
pub struct DatadivrScene {
    client: Option<DatadivrClient>,
}

impl Scene for DatadivrScene {
    type Event = Message;

    fn name(&self) -> &'static str {
        "datadivr"
    }

    fn endpoint(&self) -> &'static str {
        "datadivr"
    }

    fn acks(&self) -> bool {
        false
    }

    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<Message>, String> {
        let url = hub
            .url(self.endpoint())
            .ok_or("hub has no datadivr endpoint")?;
        let client = DatadivrClient::new(url).config(config);
        let events = client.connect().map_err(|e| e.to_string())?;
        let engine = client.engine().ok_or("the datadivr client did not start")?;
        self.client = Some(client);
        Ok((engine, events))
    }

    fn message(&self, n: u64) -> Outgoing {
        let message = DatadivrClient::message(json!({"n": n}), "demo", None, "others");
        DatadivrClient::outgoing(&message)
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        let message = Message::parse(frame.as_text()?).ok()?;
        (message.event_name == "demo")
            .then(|| message.payload["n"].as_u64())
            .flatten()
    }
}
