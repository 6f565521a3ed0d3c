//! The server a bench run talks to: a URL the user gave, or a hub started from this same
//! binary as a child process (so the client's RSS, CPU and file descriptors are its own).

use std::{process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdout, Command},
};

/// Where the bench connects, and how it reads the sink's count.
pub struct Target {
    /// The WebSocket URL.
    pub url: String,
    /// The hub's control API (for the sink's count), if known.
    pub control: Option<String>,
    /// The child hub, killed on drop, and its stdout (kept open so it can always write).
    _child: Option<(Child, BufReader<ChildStdout>)>,
}

impl Target {
    /// The user's URL.
    pub fn given(url: String, control: Option<String>) -> Self {
        Self {
            url,
            control,
            _child: None,
        }
    }

    /// Starts `tether serve --ephemeral --json` and picks `endpoint` (`echo` or `sink`).
    ///
    /// # Errors
    /// When the hub cannot be started or does not print its endpoints.
    pub async fn child_hub(endpoint: &str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find tether itself: {e}"))?;
        let mut child = Command::new(exe)
            .args(["serve", "--ephemeral", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the hub: {e}"))?;
        let stdout = child.stdout.take().ok_or("the hub has no stdout")?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let read = stdout.read_line(&mut line);
        match tokio::time::timeout(Duration::from_secs(20), read).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Err("the hub did not print its endpoints".into()),
        }
        let endpoints: Value =
            serde_json::from_str(&line).map_err(|e| format!("the hub printed {line:?}: {e}"))?;
        let url = |name: &str| {
            endpoints
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(Self {
            url: url(endpoint).ok_or_else(|| format!("the hub has no {endpoint} endpoint"))?,
            control: url("control"),
            _child: Some((child, stdout)),
        })
    }

    /// How many messages the hub's `sink` endpoint has received so far.
    ///
    /// # Errors
    /// Without a control URL, or when it does not answer.
    pub async fn sink_count(&self, http: &reqwest::Client) -> Result<u64, String> {
        let control = self
            .control
            .as_deref()
            .ok_or("no --control URL: cannot read the sink's count")?;
        let stats: Value = http
            .get(format!("{}/stats", control.trim_end_matches('/')))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("control API: {e}"))?
            .json()
            .await
            .map_err(|e| format!("control API: {e}"))?;
        stats
            .pointer("/sink/received")
            .and_then(Value::as_u64)
            .ok_or_else(|| "the control API reports no sink".into())
    }
}
