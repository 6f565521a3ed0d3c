//! The command-line contract shared by `tether bench` and every baseline.

use clap::Parser;

/// `PROGRAM URL [--clients N] [--messages M] [--size B] [--window W] [--binary]
/// [--send-only] [--idle N] [--control URL] [--batch] --json`
#[derive(Debug, Clone, Parser)]
#[command(about = "A bare WebSocket baseline client for the tether benchmark suite.")]
pub struct BenchArgs {
    /// The server: an echo endpoint, or the sink endpoint with --send-only.
    pub url: String,
    /// Concurrent connections sharing the messages.
    #[arg(long, default_value_t = 1)]
    pub clients: usize,
    /// Messages in all (split evenly over the clients).
    #[arg(long, default_value_t = 100_000)]
    pub messages: u64,
    /// Bytes per message (JSON text padded to this size, or binary).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Echo: messages outstanding per client at most.
    #[arg(long, default_value_t = 1000)]
    pub window: usize,
    /// Send binary messages instead of JSON texts.
    #[arg(long)]
    pub binary: bool,
    /// Only send (to a sink); done when the sink has counted them (needs --control).
    #[arg(long)]
    pub send_only: bool,
    /// Open N idle connections and report RSS per connection.
    #[arg(long, value_name = "N")]
    pub idle: Option<usize>,
    /// The hub's control API (for the sink's count with --send-only).
    #[arg(long, value_name = "URL")]
    pub control: Option<String>,
    /// Write many messages per flush (the reference figure) instead of one flush each.
    #[arg(long)]
    pub batch: bool,
    /// Disable Nagle's algorithm (TCP_NODELAY) on the client socket. Not the library's
    /// default, so not the usual way; tether sets it, and this shows what it is worth.
    #[arg(long)]
    pub nodelay: bool,
    /// Print one JSON object (the only output form; accepted for the shared contract).
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// The messages client `index` sends: an even share, the first ones taking the rest.
    pub fn share(&self, index: usize) -> u64 {
        let clients = self.clients.max(1) as u64;
        let base = self.messages / clients;
        base + u64::from((index as u64) < self.messages % clients)
    }
}
