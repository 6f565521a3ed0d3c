//! The hub's control API, as much as the send-only workload needs: the sink's count.
//!
//! A plain HTTP/1.0 GET over a TCP stream, so the baselines need no HTTP client.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often the sink's count is polled.
const POLL_EVERY: Duration = Duration::from_millis(2);

/// `received` of endpoint `name` in `GET {control}/stats`.
pub async fn received(control: &str, name: &str) -> anyhow::Result<u64> {
    let stats = get_json(control, "/stats").await?;
    stats[name]["received"]
        .as_u64()
        .with_context(|| format!("no {name}.received in {control}/stats"))
}

/// Waits until endpoint `name` has received `target` messages in all, or `timeout` passes.
pub async fn wait_received(
    control: &str,
    name: &str,
    target: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let got = received(control, name).await?;
        if got >= target {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{name} counted {got} of {target} messages after {timeout:?}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn get_json(control: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let authority = control
        .strip_prefix("http://")
        .with_context(|| format!("control URL {control:?} is not http://"))?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {control}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8(response).context("control answer is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("control answer has no body")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "GET {control}{path}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    serde_json::from_str(body).context("control answer is not JSON")
}

/// The name of the hub endpoint serving `url` (from `GET {control}/endpoints`).
pub async fn endpoint_name(control: &str, url: &str) -> anyhow::Result<String> {
    let endpoints = get_json(control, "/endpoints").await?;
    let wanted = url.trim_end_matches('/');
    endpoints
        .as_object()
        .and_then(|map| {
            map.iter()
                .find(|(_, v)| v.as_str().map(|s| s.trim_end_matches('/')) == Some(wanted))
                .map(|(name, _)| name.clone())
        })
        .with_context(|| format!("no endpoint of {control} serves {url}"))
}
