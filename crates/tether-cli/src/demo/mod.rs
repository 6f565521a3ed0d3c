//! `tether demo`: the embedded hub plus a client of each landed platform, through a short
//! scripted story with injected faults; ends with a summary table and an exit code that
//! says whether every promise held.

mod datadivr;
mod gather;
mod hiven;
mod hpx;
mod moobius;
mod raw;
mod scene;
mod story;

use crate::exit::Exit;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tether_hub::Hub;

use story::EXCHANGE;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the summary as JSON on stdout (the live story goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Messages per fault phase (at least 100 are in flight when each fault fires).
    #[arg(long, default_value = "200", value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub burst: u32,
    /// Keep the demo's hub up after the story (until Ctrl-C) and print its dashboard's
    /// URL, to watch it live and to inject faults by hand.
    #[arg(long)]
    pub dashboard: bool,
}

/// What one platform's scene measured.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    platform: &'static str,
    sent: usize,
    delivered: usize,
    received_by_hub: usize,
    reconnects: u64,
    in_flight_at_drop: usize,
    in_flight_at_stall: usize,
    stall_noticed_ms: Option<u64>,
    time_to_ready_ms: Option<f64>,
    rtt_p50_us: Option<u64>,
    /// Where the RTT comes from: `request` (request/reply round trips, p50) or `ping`
    /// (the WebSocket ping's round trip, for platforms without request/reply).
    rtt_source: &'static str,
    failures: Vec<String>,
}

/// Live output: one line per happening, above a progress bar.
#[derive(Clone)]
struct Ui {
    bar: ProgressBar,
}

impl Ui {
    fn new(json: bool, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        if json {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:32}] {pos}/{len} delivered {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }

    fn say(&self, platform: &str, text: &str) {
        let line = format!("{platform:>9} │ {text}");
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

/// Runs the demo; returns the exit code.
pub async fn run(args: DemoArgs) -> Exit {
    let hub = match Hub::builder().ephemeral().record(true).start().await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("tether demo: cannot start the hub: {e}");
            return Exit::FAILED;
        }
    };
    if args.dashboard {
        crate::serve::print_dashboard(&hub, "tether demo", false);
    }
    let burst = args.burst as usize;
    let ui = Ui::new(args.json, (EXCHANGE + 2 * burst) as u64);
    ui.say(
        "hub",
        &format!(
            "listening: {}",
            hub.endpoints()
                .iter()
                .map(|(n, u)| format!("{n} {u}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let reports = vec![
        story::run(raw::RawScene::new(), &hub, &ui, burst).await,
        story::run(datadivr::DatadivrScene::default(), &hub, &ui, burst).await,
        story::run(moobius::MoobiusScene::default(), &hub, &ui, burst).await,
        story::run(gather::GatherScene::default(), &hub, &ui, burst).await,
        hiven::run(&hub, &ui, burst).await,
        story::run(hpx::HpxScene::new(), &hub, &ui, burst).await,
    ];
    ui.bar.finish_and_clear();

    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.platform))
        })
        .collect();
    if args.json {
        // Straight from the structs: fields in their declared order.
        let summary = Summary {
            ok: failures.is_empty(),
            platforms: &reports,
            failures: &failures,
        };
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        print_table(&reports);
        if failures.is_empty() {
            println!(
                "\nevery promise held: nothing lost, order kept, dead peer noticed, reconnected."
            );
        } else {
            println!("\npromises broken:");
            for f in &failures {
                println!("  - {f}");
            }
        }
    }
    if args.dashboard {
        crate::serve::print_dashboard(&hub, "tether demo", false);
        eprintln!("tether demo: the hub stays up for the dashboard; Ctrl-C stops it");
        let _ = tokio::signal::ctrl_c().await;
    }
    hub.shutdown().await;
    if failures.is_empty() {
        Exit::Ok
    } else {
        Exit::FAILED
    }
}

/// `tether demo --json`: the whole run as one JSON object.
#[derive(Serialize)]
struct Summary<'a> {
    /// Whether every promise held.
    ok: bool,
    /// One report per platform.
    platforms: &'a [Report],
    /// What did not hold, `platform: what`.
    failures: &'a [String],
}

fn print_table(reports: &[Report]) {
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ms"));
    println!(
        "\n{:<10} {:>6} {:>10} {:>9} {:>11} {:>14} {:>10} {:>9}",
        "platform",
        "sent",
        "delivered",
        "hub got",
        "reconnects",
        "time to ready",
        "RTT p50",
        "stall"
    );
    let footnote = reports.iter().any(|r| r.rtt_source == "ping");
    for r in reports {
        println!(
            "{:<10} {:>6} {:>10} {:>9} {:>11} {:>14} {:>10} {:>9}",
            r.platform,
            r.sent,
            r.delivered,
            r.received_by_hub,
            r.reconnects,
            r.time_to_ready_ms
                .map_or("-".into(), |v| format!("{v:.1} ms")),
            r.rtt_p50_us.map_or("-".into(), |v| match r.rtt_source {
                "ping" => format!("{v} µs*"),
                _ => format!("{v} µs"),
            }),
            ms(r.stall_noticed_ms),
        );
    }
    if footnote {
        println!("* WebSocket ping round trip (the platform has no request/reply)");
    }
}
