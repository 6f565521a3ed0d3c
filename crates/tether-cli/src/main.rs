//! `tether`: connect to realtime servers from the shell.
//!
//! Subcommands: `connect` (stdin lines out, JSON lines in). `serve`, `demo` and `bench`
//! arrive with the hub and benchmark issues.

mod connect;
mod interactive;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps clients attached to realtime servers.
#[derive(Debug, Parser)]
#[command(name = "tether", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to a server: stdin lines are sent in order (queued across reconnects),
    /// received messages are printed as JSON lines on stdout.
    Connect(Box<connect::ConnectArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tether: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Connect(args) => connect::run(*args).await,
        }
    });
    // Do not wait for the blocking stdin reader thread.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
