//! `tether fault`: drives a running hub's control API.

use crate::exit::Exit;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  tether fault drop echo --code 1011\n  tether fault drop echo          (TCP reset, no close frame)\n  tether fault stall echo --secs 5\n  tether fault garbage echo --garbage invalid-utf8\n  tether fault resume"
)]
pub struct FaultArgs {
    /// The hub's control API.
    #[arg(long, default_value = "http://127.0.0.1:8790", global = true)]
    pub control: String,
    /// The control token `tether serve` printed (needed off loopback, or with
    /// `serve --control-token`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TETHER_CONTROL_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Drop every connection of ENDPOINT: with a close frame (--code) or a TCP reset.
    Drop {
        /// Endpoint name.
        endpoint: String,
        /// Close code; without it the TCP connections are reset.
        #[arg(long)]
        code: Option<u16>,
    },
    /// Stop reading and writing (sockets stay open), for --secs or until resumed.
    Stall {
        /// Endpoint name.
        endpoint: String,
        /// Auto-resume after this many seconds.
        #[arg(long)]
        secs: Option<f64>,
    },
    /// Delay every message the endpoint sends (0 clears).
    Delay {
        /// Endpoint name.
        endpoint: String,
        /// Milliseconds.
        #[arg(long)]
        ms: u64,
    },
    /// Send one bad frame on every connection.
    Garbage {
        /// Endpoint name.
        endpoint: String,
        /// Which bad frame.
        #[arg(long, value_enum, default_value = "invalid-json")]
        garbage: GarbageArg,
        /// Size of an oversize frame.
        #[arg(long)]
        bytes: Option<usize>,
    },
    /// Refuse new connections for --secs.
    Refuse {
        /// Endpoint name.
        endpoint: String,
        /// Seconds.
        #[arg(long)]
        secs: f64,
    },
    /// Crash the endpoint (no close frames) and bring its listener back on the same port.
    Restart {
        /// Endpoint name.
        endpoint: String,
    },
    /// Clear stall and delay (one endpoint, or all).
    Resume {
        /// Endpoint name (default: all).
        endpoint: Option<String>,
    },
    /// Print the hub's counters.
    Stats,
}

/// A bad frame kind.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GarbageArg {
    /// Text that is not JSON.
    InvalidJson,
    /// Text that is not UTF-8.
    InvalidUtf8,
    /// A frame over the default size limit.
    Oversize,
}

fn request(action: &Action) -> (&'static str, Option<Value>) {
    match action {
        Action::Drop { endpoint, code } => (
            "/fault",
            Some(json!({"endpoint": endpoint, "kind": "drop", "code": code})),
        ),
        Action::Stall { endpoint, secs } => (
            "/fault",
            Some(json!({"endpoint": endpoint, "kind": "stall", "secs": secs})),
        ),
        Action::Delay { endpoint, ms } => (
            "/fault",
            Some(json!({"endpoint": endpoint, "kind": "delay", "ms": ms})),
        ),
        Action::Garbage {
            endpoint,
            garbage,
            bytes,
        } => {
            let garbage = match garbage {
                GarbageArg::InvalidJson => "invalid-json",
                GarbageArg::InvalidUtf8 => "invalid-utf8",
                GarbageArg::Oversize => "oversize",
            };
            (
                "/fault",
                Some(
                    json!({"endpoint": endpoint, "kind": "garbage", "garbage": garbage, "bytes": bytes}),
                ),
            )
        }
        Action::Refuse { endpoint, secs } => (
            "/fault",
            Some(json!({"endpoint": endpoint, "kind": "refuse", "secs": secs})),
        ),
        Action::Restart { endpoint } => (
            "/fault",
            Some(json!({"endpoint": endpoint, "kind": "restart"})),
        ),
        Action::Resume { endpoint } => ("/resume", Some(json!({"endpoint": endpoint}))),
        Action::Stats => ("/stats", None),
    }
}

/// Sends the request; prints the hub's answer; returns the exit code.
pub async fn run(args: FaultArgs) -> Exit {
    let (path, body) = request(&args.action);
    let url = format!("{}{path}", args.control.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let mut builder = match body {
        Some(body) => client.post(&url).json(&body),
        None => client.get(&url),
    };
    if let Some(token) = &args.token {
        builder = builder.header(tether_hub::TOKEN_HEADER, token);
    }
    let sent = builder.send().await;
    match sent {
        Err(e) => {
            eprintln!("tether fault: cannot reach the hub's control API at {url}: {e}");
            Exit::FAILED
        }
        Ok(response) => {
            let ok = response.status().is_success();
            let text = response.text().await.unwrap_or_default();
            if ok {
                println!("{text}");
                Exit::Ok
            } else {
                eprintln!("tether fault: {text}");
                Exit::FAILED
            }
        }
    }
}
