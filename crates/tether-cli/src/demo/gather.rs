//! The Gather scene: `GatherClient` setting its text status through the hub's `gather`
//! engine (found through `gather-api`); every action is acknowledged by a
//! `transactionStatus`, and unacknowledged ones are replayed with their txnId.

use serde_json::json;
use tether::{
    ClientConfig, Frame, Outgoing, Started,
    gather::{Action, GatherClient, ServerEvent, action_to_json, decode_action},
};
use tether_hub::Hub;

use super::scene::{Scene, demo_number};

/// `gather` in the space `demo`.
#[derive(Default)]
pub struct GatherScene {
    client: Option<GatherClient>,
}

impl Scene for GatherScene {
    type Event = ServerEvent;

    fn name(&self) -> &'static str {
        "gather"
    }

    fn endpoint(&self) -> &'static str {
        "gather"
    }

    fn acks(&self) -> bool {
        true
    }

    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<ServerEvent>, String> {
        let api = hub.url("gather-api").ok_or("hub has no gather-api")?;
        let client = GatherClient::builder("demo-api-key", "demo")
            .config(config)
            .api_root(api)
            .build();
        let events = client.connect().map_err(|e| e.to_string())?;
        let engine = client.engine().ok_or("the gather client did not start")?;
        self.client = Some(client);
        Ok((engine, events))
    }

    fn message(&self, n: u64) -> Outgoing {
        let client = self.client.as_ref().expect("started");
        let action = Action::from_json(
            "set_text_status",
            &json!({"text_status": format!("demo {n}")}),
        )
        .expect("a valid set_text_status");
        client.outgoing(&action).1
    }

    fn number_in(&self, frame: &Frame) -> Option<u64> {
        let action = decode_action(frame.payload()).ok()?;
        demo_number(&action_to_json(&action).to_string())
    }
}
