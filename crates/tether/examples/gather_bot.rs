//! A Gather bot: discovers the engine for a space, logs in, greets the space, answers
//! chats, and leaves after a while — the SDK's `run(producer)` shape.
//!
//! Run `tether serve` first (its `gather-api` is http://127.0.0.1:8776/api/v2/), then
//! `cargo run -p tether --example gather_bot -- [API_ROOT] [SPACE]`. Against the real
//! service: `GATHER_API_KEY=... cargo run -p tether --example gather_bot --
//! https://api.gather.town/api/v2/ 'SpaceId/Space Name'`.

use std::time::Duration;

use tether::gather::{Action, GatherClient, ServerEvent, action_to_json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let api_root = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8776/api/v2/".into());
    let space = args.next().unwrap_or_else(|| "demo/space".into());
    let api_key = std::env::var("GATHER_API_KEY").unwrap_or_else(|_| "local-key".into());

    // Dry run: the action the bot sends first, as the SDK's JSON (txnId 1 for show).
    let greeting = Action::set_text_status("🤖 tether bot online", None);
    println!(
        "will send {}",
        action_to_json(&greeting.clone().with_txn_id(1))
    );

    let client = GatherClient::builder(api_key, space)
        .api_root(api_root)
        .heartbeat_interval(Duration::from_secs(15))
        // Every server event, typed; the callback may act through the client.
        .callback(|client, event| match event {
            ServerEvent::PlayerChats(chat)
                if Some(&chat.sender_id) != client.user_id().as_ref() =>
            {
                println!("{} says {:?}", chat.sender_id, chat.contents);
                let client = client.clone();
                let reply = format!("you said: {}", chat.contents);
                tokio::spawn(async move {
                    if let Err(e) = client
                        .chat("GLOBAL_CHAT", reply, vec![], "", None, None)
                        .await
                    {
                        eprintln!("reply not sent: {e}");
                    }
                });
            }
            ServerEvent::PlayerJoins(join) => println!("player {} joined", join.enc_id),
            ServerEvent::PlayerExits(exit) => println!("player {} left", exit.enc_id),
            _ => {}
        })
        .build();

    client
        .run(|client| async move {
            println!("logged in as {}", client.user_id().unwrap_or_default());
            // Each action resolves once the server's transactionStatus acknowledges it.
            let status = client.act(greeting).await?.await?;
            println!("status set (txnId {})", status.txn_id);
            client.shoot_confetti(None).await?.await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
            client.set_text_status("", None).await?.await?;
            Ok(())
        })
        .await?;
    println!("bye");
    Ok(())
}
