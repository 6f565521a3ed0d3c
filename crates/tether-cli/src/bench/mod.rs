//! `tether bench`: a load generator for any WebSocket server (default: a hub started
//! from this binary as its own process). It goes through tether's public `send` and event
//! stream — outbox, heartbeat, watchdog and routing on — so its figures are tether's.

mod datadivr;
mod gather;
mod measure;
mod server;
mod workload;

use crate::exit::Exit;
use std::{
    sync::{Arc, atomic::AtomicU64, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use tether::{Client, raw::RawMessage};

use crate::connect::CompressionArg;
use measure::{Latency, cpu_time, latency_histogram, rss_kib};
use server::Target;
use workload::Plan;

/// `tether bench` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Workloads: pipelined echo (default), --send-only (into a sink; done when \
the sink has counted every message, read through --control), --idle N (RSS per \
connection); --profile datadivr: the echo workload as datadivr sum_event round trips \
through DatadivrClient.\n\
Without URL, a hub is started from this binary as a child process (its echo, its sink \
with --send-only, its datadivr endpoint with --profile datadivr), so the figures are the \
client's alone."
)]
pub struct BenchArgs {
    /// WebSocket URL of an echo server (or a sink with --send-only).
    pub url: Option<String>,
    /// Concurrent clients (connections).
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Messages in total, spread over the clients.
    #[arg(long, default_value = "100000")]
    pub messages: u64,
    /// Message size in bytes.
    #[arg(long, default_value = "100")]
    pub size: usize,
    /// Echo: messages outstanding per client (1 = sequential round trips).
    #[arg(long, default_value = "1000", value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
    /// Binary frames instead of JSON text.
    #[arg(long)]
    pub binary: bool,
    /// Total send rate in messages per second (default: as fast as possible).
    #[arg(long, value_name = "MSGS_PER_S")]
    pub rate: Option<f64>,
    /// Run for this many seconds instead of a message count.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Open N idle connections (heartbeat and outbox on) and report RSS per connection.
    #[arg(long, value_name = "N")]
    pub idle: Option<u32>,
    /// Write only, into a sink.
    #[arg(long)]
    pub send_only: bool,
    /// Hand messages over in bursts with `Client::send_all` (one call per refill of the
    /// window, or per 1,024 messages with --send-only) and take events with
    /// `Events::recv_many`, instead of one `send` and one `recv` per message. Raw profile;
    /// not with --rate.
    #[arg(long, conflicts_with = "rate")]
    pub batch: bool,
    /// The hub's control API, to read the sink's count (--send-only with a URL).
    #[arg(long, value_name = "URL")]
    pub control: Option<String>,
    /// Send through a platform profile: `datadivr` runs the echo workload as `sum_event`
    /// round trips through the typed `DatadivrClient` (against a datadivr server, e.g.
    /// the hub's `datadivr` endpoint); `gather` as `set_text_status` actions through
    /// `GatherClient`, each acknowledged by `transactionStatus` (against a Gather engine
    /// URL, e.g. the hub's `gather`). --size and --binary do not apply.
    #[arg(long, value_enum, default_value_t = Profile::Raw)]
    pub profile: Profile,
    /// permessage-deflate: `on` (the default, as every tether client) offers it, `off`
    /// does not. Messages of at least 1 KiB are compressed when the server accepts.
    #[arg(long, value_enum, default_value = "on")]
    pub compression: CompressionArg,
    /// Send the lines of this file as text messages, in turn (instead of --size padded
    /// JSON); raw profile.
    #[arg(long, value_name = "PATH", conflicts_with = "binary")]
    pub messages_from: Option<std::path::PathBuf>,
    /// With --idle: after measuring, send one message (--size) on every connection, wait
    /// for its echo and measure again (`rss_kib_per_conn_after_message`).
    #[arg(long, requires = "idle")]
    pub idle_echo: bool,
    /// With --idle-echo: seconds to wait after the echoes before measuring again (past two
    /// heartbeats, 31 s by default, an idle connection has freed its compressor).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 1.0,
        requires = "idle_echo"
    )]
    pub idle_settle: f64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What the messages go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Raw frames through `Client<RawMessage>`.
    Raw,
    /// datadivr `sum_event` requests through `DatadivrClient`.
    Datadivr,
    /// Gather `set_text_status` actions through `GatherClient`, acknowledged by
    /// `transactionStatus`.
    Gather,
}

/// What a run reports (`--json`).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    workload: &'static str,
    url: String,
    clients: u32,
    messages: u64,
    size: usize,
    seconds: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    #[serde(flatten)]
    latency: Latency,
    cpu_s_per_100k: f64,
    rss_kib: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rss_kib_per_conn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rss_kib_per_conn_after_message: Option<f64>,
    /// Connections on which permessage-deflate was negotiated (raw profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    deflate_connections: Option<u64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    wire: Option<Wire>,
}

/// Bytes on the wire against payload bytes, every client of the run added up (the
/// clients' [`tether::StatsSnapshot`]).
#[derive(Debug, Default, Serialize)]
struct Wire {
    payload_bytes_out: u64,
    payload_bytes_in: u64,
    wire_bytes_out: u64,
    wire_bytes_in: u64,
    /// Wire bytes both ways per message sent.
    wire_bytes_per_msg: f64,
}

impl Wire {
    fn of<E>(clients: &[Client<E>], messages: u64) -> Self {
        let mut w = Self::default();
        for stats in clients.iter().map(Client::stats) {
            w.payload_bytes_out += stats.bytes_out;
            w.payload_bytes_in += stats.bytes_in;
            w.wire_bytes_out += stats.wire_bytes_out;
            w.wire_bytes_in += stats.wire_bytes_in;
        }
        #[allow(clippy::cast_precision_loss)]
        {
            w.wire_bytes_per_msg =
                (w.wire_bytes_out + w.wire_bytes_in) as f64 / messages.max(1) as f64;
        }
        w
    }
}

/// Connections of `clients` on which permessage-deflate was negotiated.
fn deflate_connections<E>(clients: &[Client<E>]) -> u64 {
    clients.iter().map(|c| c.stats().deflate_connects).sum()
}

/// Runs the subcommand; returns the exit code.
pub async fn run(args: BenchArgs) -> Exit {
    crate::raise_fd_limit();
    match bench(&args).await {
        Ok(report) => {
            print(&report, args.json);
            Exit::Ok
        }
        Err(e) => {
            eprintln!("tether bench: {e}");
            Exit::FAILED
        }
    }
}

async fn bench(args: &BenchArgs) -> Result<Report, String> {
    if args.clients == 0 || args.messages < u64::from(args.clients) && args.duration.is_none() {
        return Err("--messages must be at least --clients".into());
    }
    let datadivr = args.profile == Profile::Datadivr;
    let gather = args.profile == Profile::Gather;
    if (datadivr || gather) && (args.send_only || args.idle.is_some()) {
        return Err("a platform --profile runs the echo workload only".into());
    }
    if (datadivr || gather) && (args.batch || args.messages_from.is_some()) {
        return Err("--batch and --messages-from apply to the raw profile only".into());
    }
    let frames = match &args.messages_from {
        Some(path) => workload::messages_from(path)?,
        None => vec![workload::message(args.size, args.binary)],
    };
    let endpoint = match (args.send_only, args.profile) {
        (true, _) => "sink",
        (false, Profile::Datadivr) => "datadivr",
        (false, Profile::Gather) => "gather",
        (false, Profile::Raw) => "echo",
    };
    let target = match &args.url {
        Some(url) => Target::given(url.clone(), args.control.clone()),
        None => Target::child_hub(endpoint).await?,
    };
    let plan = Plan {
        url: target.url.clone(),
        messages: match args.duration {
            Some(_) => u64::MAX,
            None => args.messages / u64::from(args.clients),
        },
        size: frames.iter().map(tether::Frame::len).sum::<usize>() / frames.len(),
        frames: frames.into(),
        window: args.window as usize,
        rate: args.rate.unwrap_or(0.0) / f64::from(args.clients),
        duration: args.duration.map(Duration::from_secs_f64),
        config: workload::config(args.window as usize, args.size.max(1 << 20)).compression(
            match args.compression {
                CompressionArg::On => tether::Compression::default(),
                CompressionArg::Off => tether::Compression::off(),
            },
        ),
        progress: Arc::new(AtomicU64::new(0)),
        batch: args.batch,
    };
    let mut report = Report {
        url: target.url.clone(),
        clients: args.clients,
        size: match args.profile {
            Profile::Datadivr => datadivr::wire_text(0).len(),
            Profile::Gather => gather::wire_size(),
            Profile::Raw => plan.size,
        },
        ..Report::default()
    };
    if let Some(n) = args.idle {
        report.workload = "idle";
        let settle = Duration::try_from_secs_f64(args.idle_settle)
            .map_err(|_| "--idle-settle must be a number of seconds".to_owned())?;
        idle(&plan, n, args.idle_echo.then_some(settle), &mut report).await?;
        return Ok(report);
    }
    let total = plan.messages.saturating_mul(u64::from(args.clients));
    let bar = progress_bar(if args.duration.is_some() { 0 } else { total });
    let ticker = tick(bar.clone(), plan.progress.clone());
    let mut clients = Vec::new();
    let mut typed = Vec::new();
    let mut gathers = Vec::new();
    for _ in 0..args.clients {
        if datadivr {
            typed.push(datadivr::open(&plan).await?);
        } else if gather {
            gathers.push(gather::open(&plan).await?);
        } else {
            clients.push(workload::open(&plan).await?);
        }
    }
    let http = reqwest::Client::new();
    let handles: Vec<Client<RawMessage>> = clients.iter().map(|(c, _)| c.clone()).collect();
    let sink_before = if args.send_only {
        Some(target.sink_count(&http).await?)
    } else {
        None
    };
    let (cpu0, start) = (cpu_time(), Instant::now());
    let mut latency = latency_histogram();
    let mut done = 0u64;
    if args.send_only {
        report.workload = "send-only";
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|(client, _events)| tokio::spawn(workload::send_only(plan.clone(), client)))
            .collect();
        for task in tasks {
            done += task.await.map_err(|e| e.to_string())??;
        }
        let before = sink_before.unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        while target.sink_count(&http).await? < before + done {
            if Instant::now() > deadline {
                return Err("the sink did not count every message within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    } else {
        report.workload = match args.profile {
            Profile::Datadivr => "datadivr",
            Profile::Gather => "gather",
            Profile::Raw => "echo",
        };
        let tasks: Vec<_> = if gather {
            gathers
                .into_iter()
                .map(|(client, engine)| tokio::spawn(gather::echo(plan.clone(), client, engine)))
                .collect()
        } else if datadivr {
            typed
                .into_iter()
                .map(|(client, events)| tokio::spawn(datadivr::echo(plan.clone(), client, events)))
                .collect()
        } else {
            clients
                .into_iter()
                .map(|(client, events)| tokio::spawn(workload::echo(plan.clone(), client, events)))
                .collect()
        };
        for task in tasks {
            let result = task.await.map_err(|e| e.to_string())??;
            done += result.received;
            latency
                .add(&result.latency)
                .map_err(|e| format!("histogram: {e}"))?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    ticker.abort();
    bar.finish_and_clear();
    #[allow(clippy::cast_precision_loss)]
    {
        report.messages = done;
        report.seconds = seconds;
        report.msgs_per_s = done as f64 / seconds;
        report.mb_per_s = (done as f64 * report.size as f64) / seconds / 1e6;
        report.cpu_s_per_100k = if done == 0 {
            0.0
        } else {
            cpu / done as f64 * 100_000.0
        };
    }
    report.latency = Latency::of(&latency);
    report.rss_kib = rss_kib();
    if !handles.is_empty() {
        report.deflate_connections = Some(deflate_connections(&handles));
        report.wire = Some(Wire::of(&handles, done));
    }
    Ok(report)
}

/// Opens `n` clients with the default heartbeat and outbox, waits until all are ready,
/// and reports how much this process grew per connection; with `echo`, also after one
/// message and its echo on every connection.
async fn idle(
    plan: &Plan,
    n: u32,
    echo: Option<Duration>,
    report: &mut Report,
) -> Result<(), String> {
    let bar = progress_bar(u64::from(n));
    let before = rss_kib();
    let start = Instant::now();
    let mut held = Vec::with_capacity(n as usize);
    for _ in 0..n {
        held.push(workload::open(plan).await?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Let the first heartbeats go out so their buffers count too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = held
        .iter()
        .filter(|(c, _)| *c.state().borrow() == tether::State::Ready)
        .count();
    let after = rss_kib();
    report.seconds = start.elapsed().as_secs_f64();
    report.connections = Some(u32::try_from(open).unwrap_or(u32::MAX));
    report.rss_kib = after;
    #[allow(clippy::cast_precision_loss)]
    {
        report.rss_kib_per_conn = Some(after.saturating_sub(before) as f64 / f64::from(n));
    }
    if open < n as usize {
        return Err(format!("only {open} of {n} connections stayed open"));
    }
    let clients: Vec<_> = held.iter().map(|(c, _)| c.clone()).collect();
    report.deflate_connections = Some(deflate_connections(&clients));
    if let Some(settle) = echo {
        for (client, events) in &mut held {
            let receipt = client
                .send(plan.frame(0))
                .await
                .map_err(|e| format!("send failed: {e}"))?;
            drop(receipt);
            loop {
                match events.recv().await {
                    Some(tether::Event::Message(_)) => break,
                    Some(tether::Event::State(s)) if s.is_closed() => {
                        return Err(format!("the connection closed: {s:?}"));
                    }
                    Some(_) => {}
                    None => return Err("the client stopped".into()),
                }
            }
        }
        tokio::time::sleep(settle).await;
        #[allow(clippy::cast_precision_loss)]
        {
            report.rss_kib_per_conn_after_message =
                Some(rss_kib().saturating_sub(before) as f64 / f64::from(n));
        }
        report.wire = Some(Wire::of(&clients, u64::from(n)));
    }
    Ok(())
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:32}] {pos}/{len} {per_sec} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn tick(bar: ProgressBar, progress: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            bar.set_position(progress.load(Relaxed));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn print(report: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
        return;
    }
    if let (Some(conns), Some(per)) = (report.connections, report.rss_kib_per_conn) {
        println!(
            "idle: {conns} connections open, {per:.1} KiB RSS per connection ({} KiB total)",
            report.rss_kib
        );
        if let Some(after) = report.rss_kib_per_conn_after_message {
            println!("  after one message and its echo each: {after:.1} KiB per connection");
        }
        if let Some(d) = report.deflate_connections {
            println!("  permessage-deflate negotiated on {d} connection(s)");
        }
        return;
    }
    let l = &report.latency;
    println!(
        "{}: {} messages of {} B over {} client(s) in {:.2} s",
        report.workload, report.messages, report.size, report.clients, report.seconds
    );
    println!(
        "  throughput  {:.0} msgs/s, {:.1} MB/s",
        report.msgs_per_s, report.mb_per_s
    );
    if matches!(report.workload, "echo" | "datadivr") {
        println!(
            "  latency µs  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
        );
    }
    println!(
        "  cpu         {:.3} s per 100k messages;  rss {} KiB",
        report.cpu_s_per_100k, report.rss_kib
    );
    if let (Some(w), Some(d)) = (&report.wire, report.deflate_connections) {
        println!(
            "  wire        {} B out, {} B in for {} B / {} B of payload; {:.0} B per message; \
             permessage-deflate on {d} connection(s)",
            w.wire_bytes_out,
            w.wire_bytes_in,
            w.payload_bytes_out,
            w.payload_bytes_in,
            w.wire_bytes_per_msg
        );
    }
}
