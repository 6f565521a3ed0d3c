//! A datadivr bot: asks the server to add numbers and prints what arrives.
//!
//! Run `tether serve` (or the real datadivr server) first, then
//! `cargo run -p tether --example datadivr -- ws://127.0.0.1:8765/ws`.

use std::time::Duration;

use serde_json::json;
use tether::{
    ClientConfig, Event,
    datadivr::{DatadivrClient, Message},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8765/ws".into());
    let client = DatadivrClient::new(uri)
        .config(ClientConfig::default().heartbeat(Duration::from_secs(10)))
        // Handlers by event name; a returned Message is sent back.
        .on("sum_handler_result", |msg: &Message| {
            println!("the server says the sum is {}", msg.payload);
            Ok(None)
        })
        .on("msg", |msg: &Message| {
            println!("{} says {:?}", msg.from_id, msg.message);
            Ok(Some(
                Message::new("msg")
                    .to(msg.from_id.clone())
                    .message("thanks"),
            ))
        });
    // Dry run: the exact text the next call sends.
    println!(
        "sending {}",
        DatadivrClient::build_message(json!({"numbers": [391, 29]}), "sum_event", None, "all")
    );
    let mut events = client.connect()?;
    client.ready().await?;
    client
        .send_message(json!({"numbers": [391, 29]}), "sum_event", None, "all")
        .await?;
    // Watch for two seconds, then leave politely.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(event) = events.recv().await {
            if let Event::State(state) = event {
                println!("state: {}", state.name());
            }
        }
    })
    .await;
    client.disconnect().await;
    Ok(())
}
