//! Autobahn|Testsuite client driver: runs every case of a fuzzing server through tether's
//! WebSocket transport and engine (the `raw` platform in text mode, a handler that echoes
//! every text and binary message), then asks the server to write its reports.
//!
//! ```text
//! cargo run -p tether --example autobahn -- ws://127.0.0.1:9001
//! ```
//! `scripts/test.sh` runs it against the fast spec (see `scripts/autobahn/README.md`).

use std::time::Duration;

use tether::{Client, ClientConfig, Compression, Event, Outgoing, State, raw::Raw};

const AGENT: &str = "tether";

fn config() -> ClientConfig {
    ClientConfig::default()
        .no_reconnect()
        .max_message_size(64 * 1024 * 1024)
        .heartbeat(Duration::from_secs(60))
        .dead_after(Duration::from_secs(60))
        .close_timeout(Duration::from_secs(5))
        // permessage-deflate offered (the 12.* and 13.* cases accept it), and every echo
        // compressed, however short, so that both directions are exercised.
        .compression(Compression::on(0))
}

/// Runs one connection to the end; the text messages it received.
async fn session(url: &str, echo: bool) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut builder = Client::builder(Raw::text()).url(url).config(config());
    if echo {
        builder = builder.on_any(|msg| Ok(Some(Outgoing::new(msg.frame.clone()))));
    }
    let (client, mut events) = builder.start()?;
    let mut texts = Vec::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Message(m) if !echo => texts.extend(m.text().map(str::to_owned)),
            Event::State(State::Closed { .. }) => break,
            _ => {}
        }
    }
    drop(client);
    Ok(texts)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let count: u32 = session(&format!("{base}/getCaseCount"), false)
        .await?
        .first()
        .ok_or("no case count")?
        .parse()?;
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        if let Err(e) = tokio::time::timeout(Duration::from_secs(60), session(&url, true)).await {
            eprintln!("case {case}: {e}");
        }
    }
    session(&format!("{base}/updateReports?agent={AGENT}"), false).await?;
    println!("ran {count} cases");
    Ok(())
}
