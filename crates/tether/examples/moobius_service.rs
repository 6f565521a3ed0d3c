//! A Moobius service: answers every `message_up` with a `message_down` echoing its text
//! to the sender, and a button for them to press.
//!
//! Run `tether serve` (the hub's `moobius` endpoint is `ws://127.0.0.1:8785/`) first,
//! then `cargo run -p tether --example moobius_service -- [URL] [SERVICE_ID]`, with the
//! access token in `MOOBIUS_TOKEN` (default `dev-token`; the hub takes any). Stop with
//! Ctrl-C. Talk to it as a user with
//! `tether connect ws://127.0.0.1:8785/ --profile moobius --mode user --token t
//! --user-id u1 --channel ch-1` and a line like
//! `message_up {"service_id": "svc-1", "channel_id": "ch-1", "recipients": "svc-1",
//! "subtype": "text", "content": {"text": "hi"}}`.

use tether::{
    Event,
    moobius::{Builders, Button, MessageContent, MoobiusClient, Outbound, Payload, kind},
};

/// The answer to one `message_up`: the echo, then a button (the handler returns the
/// first; the second is queued behind it by the caller).
fn answer(b: &Builders, service_id: &str, payload: &Payload) -> Option<(Outbound, Outbound)> {
    let body = payload.message()?;
    let sender = body.sender.as_deref().or(payload.user_id.as_deref())?;
    let text = format!("you said: {}", body.text().unwrap_or("(no text)"));
    let echo = b
        .message_down(
            service_id,
            service_id,
            &body.channel_id,
            sender,
            "text",
            MessageContent::text(text),
            service_id,
            None,
        )
        .ok()??;
    let button = b
        .send_buttons(
            Button::new("again", "Say it again"),
            service_id,
            &body.channel_id,
            sender,
        )
        .ok()??;
    Some((echo, button))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let uri = args.next().unwrap_or_else(|| "ws://127.0.0.1:8785/".into());
    let service_id = args.next().unwrap_or_else(|| "svc-1".into());
    let token = std::env::var("MOOBIUS_TOKEN").unwrap_or_else(|_| "dev-token".into());

    let client = MoobiusClient::service(&uri, &service_id, token);
    // Dry run: what the first heartbeat will look like.
    println!(
        "heartbeats look like {}",
        client.dry_run().heartbeat().wire_text()
    );
    let mut events = client.connect()?;
    client.ready().await?;
    println!("{service_id} logged in at {uri}; waiting for users (Ctrl-C stops)");

    let builders = client.dry_run().clone();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::Message(payload)) if payload.kind == kind::MESSAGE_UP => {
                    println!("message_up: {}", payload.text());
                    if let Some((echo, button)) = answer(&builders, &service_id, &payload) {
                        // Queued in order; each receipt resolves once written and flushed.
                        client.send(echo).await?;
                        client.send(button).await?;
                    }
                }
                Some(Event::Message(payload)) => println!("{}: {}", payload.kind, payload.text()),
                Some(Event::State(state)) => println!("state: {}", state.name()),
                Some(Event::Undelivered(error)) => println!("undelivered: {error}"),
                Some(_) => {}
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    client.disconnect().await;
    Ok(())
}
