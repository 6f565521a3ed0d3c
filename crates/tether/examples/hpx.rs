//! A HappyPanda X session: connect, log in, call functions, survive a dropped connection.
//!
//! Run `tether serve` (its `hpx` endpoint is tcp://127.0.0.1:7007, user `admin` /
//! password `admin`) first, then
//! `cargo run -p tether --example hpx -- 127.0.0.1 7007 admin admin`
//! (leave out the user and password to log in as a guest).

use std::time::Duration;

use serde_json::json;
use tether::hpx::{HpxClient, HpxError};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = args.next().map_or(Ok(7007), |p| p.parse())?;
    let user = args.next();
    let password = args.next();

    let client = HpxClient::new("tether-example")
        .host(host)
        .port(port)
        .timeout(Duration::from_secs(10))
        // Not in the SDK: reconnect and re-handshake after a lost connection.
        .auto_reconnect(true);
    client.connect().await?;
    println!(
        "connected: server version {}, guests {}",
        client.version().unwrap_or_default(),
        if client.guest_allowed() {
            "allowed"
        } else {
            "not allowed"
        }
    );

    match client
        .handshake(user.as_deref(), password.as_deref(), false)
        .await
    {
        Ok(true) => println!("logged in, session {}", client.session()),
        Ok(false) => println!("the server did not accept the handshake"),
        Err(e @ HpxError::AuthWrongCredentials { .. }) => {
            // The SDK's AuthWrongCredentialsError (411); the password never shows.
            eprintln!("{} ({}): {e}", e.class(), e.code());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }

    // Dry run: what `send` puts on the wire (Python's json.dumps text).
    let data = json!([{"fname": "get_version"}, {"fname": "echo", "msg": "h\u{e9}llo"}]);
    println!("sending {}", client.dry_run(data.clone()).to_python_json());
    let reply = client.send(data).await?;
    // One result per function; a function that failed carries an `error`.
    for result in reply.data.as_array().into_iter().flatten() {
        match result.get("error") {
            Some(error) => println!("{}: error {error}", result["fname"]),
            None => println!("{}: {}", result["fname"], result["data"]),
        }
    }

    let stats = client.engine().map(|e| e.stats());
    println!("engine statistics: {stats:?}");
    client.close().await;
    Ok(())
}
