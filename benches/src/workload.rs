//! The three workloads, written once over [`Conn`]: echo, send-only, idle.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use crate::{
    args::BenchArgs,
    conn::{Conn, Connector, Incoming},
    control, payload, process,
    report::{self, Report},
};

/// Connections opened at once by the idle workload.
const IDLE_CONNECT_CONCURRENCY: usize = 256;
/// How long the sink may take to count what was sent.
const SINK_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause before the idle workload reads RSS, so that lazy allocations have happened.
const IDLE_SETTLE: Duration = Duration::from_secs(1);

/// Runs the workload the arguments choose and returns its report.
pub async fn run<C: Connector>(
    client: &str,
    args: &BenchArgs,
    connector: Arc<C>,
) -> anyhow::Result<Report> {
    let mut report = Report {
        client: format!(
            "{client}{}{}",
            if args.batch { "-batch" } else { "" },
            if args.nodelay { "-nodelay" } else { "" }
        ),
        clients: args.clients.max(1),
        size: args.size,
        window: args.window.max(1),
        ..Report::default()
    };
    let args = Arc::new(args.clone());
    let counts_writes = connector.counts_writes();
    if let Some(n) = args.idle {
        report.workload = "idle".into();
        idle(&mut report, &args, connector, n).await?;
    } else if args.send_only {
        report.workload = "send-only".into();
        send_only(&mut report, &args, connector).await?;
    } else {
        report.workload = "echo".into();
        echo(&mut report, &args, connector).await?;
    }
    if !counts_writes {
        report.writes_per_msg = None;
    }
    Ok(report)
}

/// Opens `args.clients` connections concurrently.
async fn connect_all<C: Connector>(
    args: &BenchArgs,
    connector: &Arc<C>,
) -> anyhow::Result<Vec<C::Conn>> {
    let mut set = JoinSet::new();
    for _ in 0..args.clients.max(1) {
        let (connector, url) = (connector.clone(), args.url.clone());
        set.spawn(async move { connector.connect(&url).await });
    }
    let mut conns = Vec::new();
    while let Some(joined) = set.join_next().await {
        conns.push(joined?.with_context(|| format!("connecting to {}", args.url))?);
    }
    Ok(conns)
}

/// Echo: each client keeps at most `window` messages outstanding; latency per message is
/// echo receipt minus send, matched in order.
async fn echo<C: Connector>(
    report: &mut Report,
    args: &Arc<BenchArgs>,
    connector: Arc<C>,
) -> anyhow::Result<()> {
    let conns = connect_all(args, &connector).await?;
    let start = report::Start::now();
    let mut set = JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (args, count) = (args.clone(), args.share(i));
        set.spawn(async move { echo_client(conn, count, &args).await });
    }
    let mut latency = report::latency_histogram();
    let mut end = start.at;
    while let Some(joined) = set.join_next().await {
        let (h, done_at) = joined??;
        latency.add(&h)?;
        end = end.max(done_at);
    }
    report.messages = latency.len();
    report::fill(report, start, end, Some(&latency));
    Ok(())
}

/// One echo connection's bookkeeping: send times in order, latencies.
struct EchoTrack {
    binary: bool,
    sent_at: VecDeque<Instant>,
    latency: Histogram<u64>,
    done: u64,
}

impl EchoTrack {
    /// Takes one echo: checks it is the next in order and records its latency.
    fn take(&mut self, msg: Incoming) -> anyhow::Result<()> {
        let seq = payload::seq_of(msg.bytes(), self.binary)?;
        if seq != self.done {
            bail!("echo out of order: got {seq}, expected {}", self.done);
        }
        let at = self
            .sent_at
            .pop_front()
            .context("echo of a message never sent")?;
        self.latency.record(at.elapsed().as_nanos().max(1) as u64)?;
        self.done += 1;
        Ok(())
    }
}

/// One echo connection; returns its latencies and when its last echo arrived.
async fn echo_client<C: Conn>(
    mut conn: C,
    count: u64,
    args: &BenchArgs,
) -> anyhow::Result<(Histogram<u64>, Instant)> {
    let window = args.window.max(1) as u64;
    let mut track = EchoTrack {
        binary: args.binary,
        sent_at: VecDeque::with_capacity(window as usize),
        latency: report::latency_histogram(),
        done: 0,
    };
    let mut sent = 0u64;
    while track.done < count {
        let room = (window - (sent - track.done)).min(count - sent);
        for _ in 0..room {
            let msg = payload::message(sent, args.size, args.binary);
            track.sent_at.push_back(Instant::now());
            if args.batch {
                conn.feed(msg).await?;
            } else {
                conn.send(msg).await?;
            }
            sent += 1;
        }
        if args.batch && room > 0 {
            conn.flush().await?;
        }
        track.take(conn.recv().await?)?;
        while track.done < sent {
            match conn.try_recv() {
                Some(msg) => track.take(msg?)?,
                None => break,
            }
        }
    }
    let finished = Instant::now();
    conn.close().await?;
    Ok((track.latency, finished))
}

/// Send-only: write the messages; done when the sink endpoint has counted them all.
async fn send_only<C: Connector>(
    report: &mut Report,
    args: &Arc<BenchArgs>,
    connector: Arc<C>,
) -> anyhow::Result<()> {
    let control = args
        .control
        .clone()
        .context("--send-only needs --control URL (the hub's control API)")?;
    let endpoint = control::endpoint_name(&control, &args.url).await?;
    let before = control::received(&control, &endpoint).await?;
    let conns = connect_all(args, &connector).await?;
    let start = report::Start::now();
    let mut set = JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let (args, count) = (args.clone(), args.share(i));
        set.spawn(async move {
            for seq in 0..count {
                let msg = payload::message(seq, args.size, args.binary);
                if args.batch {
                    conn.feed(msg).await?;
                } else {
                    conn.send(msg).await?;
                }
            }
            conn.flush().await?;
            anyhow::Ok(conn)
        });
    }
    let mut conns = Vec::new();
    while let Some(joined) = set.join_next().await {
        conns.push(joined??);
    }
    control::wait_received(&control, &endpoint, before + args.messages, SINK_TIMEOUT).await?;
    report.messages = args.messages;
    report::fill(report, start, Instant::now(), None);
    for conn in conns {
        conn.close().await?;
    }
    Ok(())
}

/// Idle: open `n` connections, each with a task waiting for a message (as a client
/// waiting for events would), and report the RSS growth per connection.
async fn idle<C: Connector>(
    report: &mut Report,
    args: &Arc<BenchArgs>,
    connector: Arc<C>,
    n: usize,
) -> anyhow::Result<()> {
    let rss_before = process::rss_kib();
    let start = report::Start::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(IDLE_CONNECT_CONCURRENCY));
    let (opened_tx, mut opened) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(n.max(1));
    let mut holders = JoinSet::new();
    for _ in 0..n {
        let (connector, url) = (connector.clone(), args.url.clone());
        let (permits, opened_tx) = (permits.clone(), opened_tx.clone());
        holders.spawn(async move {
            let permit = permits.acquire_owned().await;
            match connector.connect(&url).await {
                Ok(mut conn) => {
                    drop(permit);
                    let _ = opened_tx.send(Ok(())).await;
                    let _ = conn.recv().await;
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e)).await;
                }
            }
        });
    }
    drop(opened_tx);
    for i in 0..n {
        match opened.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.context(format!("opening idle connection {}", i + 1))),
            None => bail!("idle connections ended before all were open"),
        }
    }
    let opened_at = Instant::now();
    tokio::time::sleep(IDLE_SETTLE).await;
    let rss_after = process::rss_kib();
    report::fill(report, start, opened_at, None);
    report.cpu_s_per_100k = None;
    report.connections = Some(n);
    report.rss_kib_per_conn = Some(
        ((rss_after.saturating_sub(rss_before)) as f64 / n.max(1) as f64 * 100.0).round() / 100.0,
    );
    holders.abort_all();
    Ok(())
}
