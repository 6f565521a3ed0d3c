//! Bare baseline clients for the benchmark suite.
//!
//! Every baseline binary speaks the same command-line contract as `tether bench`
//! (see [`args::BenchArgs`]) and prints one JSON object (see [`report::Report`]).
//! The workloads ([`workload`]) are written once over the small [`conn::Conn`] trait;
//! each binary only says how its library connects, sends and receives.

pub mod args;
pub mod conn;
pub mod control;
pub mod payload;
pub mod process;
pub mod report;
pub mod workload;

pub use args::BenchArgs;
pub use conn::{Conn, Connector, Incoming, Outgoing};

/// Parses the arguments, runs the chosen workload with the connector `make` builds from
/// them, and prints the report.
///
/// `client` names the baseline in the report (e.g. `bare-tokio-websockets`).
pub async fn main_with<C: Connector>(
    client: &str,
    make: impl FnOnce(&BenchArgs) -> C,
) -> anyhow::Result<()> {
    use clap::Parser;
    let args = BenchArgs::parse();
    process::raise_fd_limit();
    let connector = std::sync::Arc::new(make(&args));
    let report = workload::run(client, &args, connector).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
