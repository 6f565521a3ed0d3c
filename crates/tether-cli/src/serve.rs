//! `tether serve`: the hub, with every endpoint on its default local port.

use crate::exit::Exit;
use std::net::{IpAddr, SocketAddr};

use clap::Args;
use tether_hub::{Hiven, Hub};

/// Exit code when the hub cannot start.
const CANNOT_START: Exit = Exit::FAILED;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints one `NAME URL` line per endpoint, then `ready` (or one JSON object with --json).\n\
Logs go to stderr (RUST_LOG=info for connection logs). Ctrl-C stops the hub.\n\
Faults: `tether fault --help`, or POST /fault to the control endpoint."
)]
pub struct ServeArgs {
    /// Host for endpoints without an explicit address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Bind every endpoint on port 0 (free ports chosen by the OS).
    #[arg(long)]
    pub ephemeral: bool,
    /// Print the endpoints as one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Address of the echo endpoint (default 127.0.0.1:8700).
    #[arg(long, value_name = "ADDR")]
    pub echo: Option<SocketAddr>,
    /// Address of the echo-ack endpoint (default 127.0.0.1:8701).
    #[arg(long = "echo-ack", value_name = "ADDR")]
    pub echo_ack: Option<SocketAddr>,
    /// Address of the sink endpoint (default 127.0.0.1:8702).
    #[arg(long, value_name = "ADDR")]
    pub sink: Option<SocketAddr>,
    /// Address of the datadivr endpoint (default 127.0.0.1:8765, path /ws).
    #[arg(long, value_name = "ADDR")]
    pub datadivr: Option<SocketAddr>,
    /// Address of the hiven Swarm endpoint (default 127.0.0.1:8780, path /socket).
    #[arg(long, value_name = "ADDR")]
    pub hiven: Option<SocketAddr>,
    /// Address of the hiven REST API (default 127.0.0.1:8781, base /v1).
    #[arg(long = "hiven-api", value_name = "ADDR")]
    pub hiven_api: Option<SocketAddr>,
    /// hiven: accept only this token (with or without "Bot "); default: any well-formed
    /// token (128 or 132 ASCII letters and digits). A refused token closes with 4001.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TETHER_HIVEN_TOKEN",
        hide_env_values = true
    )]
    pub hiven_token: Option<String>,
    /// Address of the moobius endpoint (default 127.0.0.1:8785, path /).
    #[arg(long, value_name = "ADDR")]
    pub moobius: Option<SocketAddr>,
    /// Address of the gather engine endpoint (default 127.0.0.1:8775, path /).
    #[arg(long, value_name = "ADDR")]
    pub gather: Option<SocketAddr>,
    /// Address of the Gather HTTP API, game-server assignment (default 127.0.0.1:8776, root /api/v2/).
    #[arg(long = "gather-api", value_name = "ADDR")]
    pub gather_api: Option<SocketAddr>,
    /// Address of the hpx endpoint (default 127.0.0.1:7007, TCP).
    #[arg(long, value_name = "ADDR")]
    pub hpx: Option<SocketAddr>,
    /// Serve hpx over TLS (`tls://`) with this certificate chain (PEM); needs --hpx-key.
    #[arg(long, value_name = "PEM", requires = "hpx_key")]
    pub hpx_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --hpx-cert.
    #[arg(long, value_name = "PEM", requires = "hpx_cert")]
    pub hpx_key: Option<std::path::PathBuf>,
    /// Address of the control API (default 127.0.0.1:8790).
    #[arg(long, value_name = "ADDR")]
    pub control: Option<SocketAddr>,
    /// Keep a log of received messages per endpoint (for tests; costs memory), read with
    /// `GET /received?endpoint=NAME` on the control API.
    #[arg(long)]
    pub record: bool,
    /// With --record, keep at most the last N messages per endpoint.
    #[arg(long, value_name = "N", default_value_t = tether_hub::RECEIVE_LOG_LIMIT, requires = "record")]
    pub record_limit: usize,
    /// Require this token on the control API and the dashboard (default: none on
    /// loopback, a generated one, printed at start, on any other address).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TETHER_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,
    /// permessage-deflate on the WebSocket endpoints: accepted when a client offers it
    /// (`on`, the default; the hub then compresses its messages of 1 KiB or more).
    #[arg(long, value_enum, default_value = "on")]
    pub compression: crate::connect::CompressionArg,
    /// Refuse faults: the control API and the dashboard only show the hub.
    #[arg(long)]
    pub read_only: bool,
    /// Serve the dashboard's dashboard.html and dashboard.js from this folder, read on
    /// every request (while editing them; e.g. crates/tether-hub/src/dashboard).
    #[arg(long, value_name = "DIR")]
    pub dashboard_dir: Option<std::path::PathBuf>,
}

/// Runs the hub until Ctrl-C; returns the exit code.
pub async fn run(args: ServeArgs) -> Exit {
    crate::raise_fd_limit();
    let mut builder = Hub::builder()
        .host(args.host)
        .record(args.record)
        .record_limit(args.record_limit)
        .control_token(args.control_token.clone())
        .read_only(args.read_only)
        .compression(args.compression == crate::connect::CompressionArg::On);
    if let Some(dir) = &args.dashboard_dir {
        builder = builder.dashboard_dir(dir);
    }
    if args.ephemeral {
        builder = builder.ephemeral();
    }
    let addrs = [
        ("echo", args.echo),
        ("echo-ack", args.echo_ack),
        ("sink", args.sink),
        ("datadivr", args.datadivr),
        ("hiven", args.hiven),
        ("hiven-api", args.hiven_api),
        ("moobius", args.moobius),
        ("gather", args.gather),
        ("gather-api", args.gather_api),
        ("hpx", args.hpx),
        ("control", args.control),
    ];
    if let (Some(cert), Some(key)) = (&args.hpx_cert, &args.hpx_key) {
        match tether_hub::Hpx::default().tls_spec_from_pem(cert, key) {
            Ok(spec) => builder = builder.endpoint(spec),
            Err(e) => {
                eprintln!("tether serve: {e}");
                return CANNOT_START;
            }
        }
    }
    for (name, addr) in addrs {
        if let Some(addr) = addr {
            builder = builder.addr(name, addr);
        }
    }
    if let Some(token) = &args.hiven_token {
        if let Err(e) = tether::hiven::validate_token(token.strip_prefix("Bot ").unwrap_or(token)) {
            eprintln!("tether serve: --hiven-token: {e}");
            return CANNOT_START;
        }
        builder = builder.hiven(Hiven::new().token(Some(token.clone())));
    }
    let hub = match builder.start().await {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("tether serve: {e}");
            return CANNOT_START;
        }
    };
    print_dashboard(&hub, "tether serve", args.control_token.is_some());
    let endpoints = hub.endpoints();
    if args.json {
        // In the hub's order, as the text listing.
        let map: tether::json::Value = endpoints.into_iter().collect();
        println!("{map}");
    } else {
        for (name, url) in endpoints {
            println!("{name} {url}");
        }
        println!("ready");
    }
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("tether serve: shutting down");
    hub.shutdown().await;
    Exit::Ok
}

/// Tells where the dashboard is (stderr: stdout keeps its `NAME URL` lines), and the
/// control token when the hub generated one.
pub fn print_dashboard(hub: &Hub, who: &str, token_given: bool) {
    let Some(url) = hub.dashboard_url() else {
        return;
    };
    eprintln!("{who}: dashboard {url}");
    if let (Some(token), false) = (hub.control_token(), token_given) {
        eprintln!(
            "{who}: control token {token} (the control endpoint is not on loopback: the dashboard \
and `tether fault --token` need it)"
        );
    }
}
