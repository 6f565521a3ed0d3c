//! The README's quick start (kept compiling). Run `tether serve` first, then
//! `cargo run -p tether --example quickstart`.

use serde_json::json;
use std::time::Duration;
use tether::{Client, ClientConfig, Event, Policy, raw::Raw};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // JSON over WebSocket; a reply carrying the same "id" acknowledges a message.
    let raw = Raw::json().ack_field("id").event_field("type");
    let config = ClientConfig::default()
        .heartbeat(Duration::from_secs(15))
        .dead_after(Duration::from_secs(10))
        .outbox(1024, Policy::Backpressure);
    let (client, mut events) = Client::builder(raw.clone())
        .url("ws://127.0.0.1:8701/")
        .config(config)
        .on("chat", |msg| {
            println!("chat: {:?}", msg.text());
            Ok(None)
        })
        .start()?;

    // Returns once queued; the receipt resolves when the hub acknowledges id 1.
    let receipt = client
        .send(raw.encode(&json!({"id": 1, "type": "chat", "text": "hi"})))
        .await?;
    receipt.await?;

    // Request/reply: the inbound message with the same id, or a timeout error that hands
    // the request back.
    let reply = client
        .request(raw.encode(&json!({"id": 2, "type": "chat"})))
        .await?;
    println!("reply: {:?}", reply.text());

    // A burst: one call, one lock and one wake-up per run of free outbox slots, one
    // receipt for the whole batch (Ok(n) once every message is delivered).
    let batch = client
        .send_all((3..100).map(|id| raw.encode(&json!({"id": id, "type": "chat"}))))
        .await?;
    println!(
        "delivered: {:?}",
        batch.await.map_err(|failed| failed.len())
    );

    client.close().await;
    // `recv_many` takes every ready event at once; `recv` one at a time.
    let mut ready = Vec::new();
    while events.recv_many(&mut ready, 256).await > 0 {
        for event in ready.drain(..) {
            if let Event::State(state) = event {
                println!("{state:?}");
            }
        }
    }
    Ok(())
}
