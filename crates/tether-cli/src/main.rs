//! `tether`: connect to realtime servers from the shell.
//!
//! Subcommands: `connect` (stdin lines out, JSON lines in), `serve` (the local hub),
//! `fault` (drive the hub's faults), `demo` (the embedded default), `bench` (a load
//! generator).

mod bench;
mod connect;
mod demo;
mod exit;
mod fault;
mod gather;
mod interactive;
mod output;
mod profile;
mod serve;

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
    /// Run the hub: a local server for every platform (and echo, echo-ack, sink), with
    /// fault injection through its control API.
    Serve(Box<serve::ServeArgs>),
    /// The embedded default: an in-process hub and a client of each platform through a
    /// scripted story with injected faults, then a summary table.
    Demo(demo::DemoArgs),
    /// Inject a fault into a running hub (drop, stall, delay, garbage, refuse, restart).
    Fault(fault::FaultArgs),
    /// Load generator: pipelined echo, send-only or idle connections against any WebSocket
    /// server (default: a hub started from this binary); throughput, latency, CPU, RSS.
    Bench(bench::BenchArgs),
    /// Gather helpers: `tether gather actions` lists the actions and their arguments.
    Gather(gather::GatherArgs),
}

/// Keeps glibc's malloc from handing memory back to the OS (and page-faulting it in again)
/// on every large message. By default it trims the heap whenever 128 KiB at its top are
/// free and maps blocks over a moving threshold (128 KiB to 32 MiB) on their own, so a
/// client that moves 64 KiB messages gives its pages back and faults them in again for
/// nearly every message: twice the CPU per message (issue 9, W3). Here up to 2 MiB of
/// freed memory stays for reuse, and only blocks of 1 MiB or more get their own mapping
/// (returned as soon as they are freed).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    // The demo and the bench report failures themselves; elsewhere warnings go to stderr.
    init_logging(
        if matches!(cli.command, Command::Demo(_) | Command::Bench(_)) {
            "error"
        } else {
            "warn"
        },
    );
    // The load generator runs its clients on one thread (see `bench`), the rest on all cores.
    let mut builder = if matches!(cli.command, Command::Bench(_)) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tether: cannot start the runtime: {e}");
            return exit::Exit::FAILED.into();
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Connect(args) => connect::run(*args).await,
            Command::Serve(args) => serve::run(*args).await,
            Command::Fault(args) => fault::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Gather(args) => gather::run(args),
        }
    });
    // Do not wait for the blocking stdin reader thread.
    runtime.shutdown_background();
    code.into()
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: `default`), coloured only when
/// stderr is a terminal and `NO_COLOR` is unset or empty.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(log_colours(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
        ))
        .with_target(false)
        .init();
}

/// Whether logs are coloured: on a terminal, unless `NO_COLOR` is set to a non-empty
/// value (<https://no-color.org>).
fn log_colours(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Raises the soft open-file limit to the hard limit (a hub with 10,000 clients needs it).
pub(crate) fn raise_fd_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_colours;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some("".into())));
        assert!(!log_colours(true, Some("1".into())));
        assert!(!log_colours(false, None));
    }
}
