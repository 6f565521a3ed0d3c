//! A Hiven echo bot: answers every message it did not write with `echo: <text>`, through
//! the REST API, and survives Swarm restarts (it logs in again and is ready again).
//!
//! Run `tether serve` first, then
//! `cargo run -p tether --example hiven_bot -- [SWARM_URL] [API_URL]`
//! (defaults: the hub's `ws://127.0.0.1:8780/socket` and `http://127.0.0.1:8781/v1`).
//! The token comes from `HIVEN_TOKEN` (132 letters and digits for a bot; the hub takes
//! any well-formed token, so a demo token is used when it is unset). Talk to it with
//! `echo hi | tether connect ws://127.0.0.1:8780/socket --profile hiven --token <128 chars>
//! --api http://127.0.0.1:8781/v1 --room 100000000000000011`. Ctrl-C stops it.

use std::time::Duration;

use tether::hiven::{
    EventHandler, HandlerResult, HivenClient, HivenError, House, Message, ReadyInfo,
};

struct EchoBot;

impl EventHandler for EchoBot {
    async fn on_house_join(&self, _: &HivenClient, house: &House) -> HandlerResult {
        println!("joined {} ({} rooms)", house.name, house.rooms.len());
        Ok(())
    }

    async fn on_ready(&self, client: &HivenClient, ready: &ReadyInfo) -> HandlerResult {
        println!(
            "ready as {} in {} houses (startup {:?})",
            ready.user.username,
            ready.house_ids.len(),
            client.startup_time()
        );
        Ok(())
    }

    async fn on_message_create(&self, client: &HivenClient, message: &Message) -> HandlerResult {
        let me = client.user().map(|u| u.id);
        if Some(&message.author_id) == me.as_ref() {
            return Ok(()); // our own echo
        }
        println!("{}: {}", message.author_id, message.content);
        let reply = format!("echo: {}", message.content);
        // Dry run: the exact request `send_message` makes.
        println!(
            "-> {}",
            client
                .http_client()
                .build_send_message(&message.room_id, &reply)?
        );
        client.send_message(&message.room_id, &reply).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let swarm = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:8780/socket".into());
    let api = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8781/v1".into());
    let token = std::env::var("HIVEN_TOKEN").unwrap_or_else(|_| "EchoB0t".repeat(18) + "echoBo");
    let client = HivenClient::builder(token)
        .swarm_url(swarm)
        .api_url(api)
        .ping_interval(Duration::from_secs(10))
        .ping_timeout(Duration::from_secs(5))
        .build()?;
    println!("{client:?}"); // the token shows as <redacted>
    let stopper = client.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stopper.close().await;
    });
    match client.run(EchoBot).await {
        Ok(()) => Ok(()),
        Err(e @ HivenError::Stopped(_)) => {
            eprintln!("stopped: {e}");
            std::process::exit(3)
        }
        Err(e) => Err(e.into()),
    }
}
