//! `tether connect URL`: the session driver every `--profile` runs through: stdin lines
//! → the profile's messages, received messages and events → stdout JSON lines, and the
//! exit code. What is platform-specific lives in `profile/<name>.rs`.

use std::{
    io::{IsTerminal, Write},
    sync::Arc,
};

use serde_json::json;
use tether::{Client, Event, Events, State};
use tokio::{
    io::AsyncBufReadExt,
    sync::{mpsc, oneshot},
};

use crate::{
    exit::Exit,
    interactive, output,
    profile::{
        DatadivrProfile, Delivery, GatherProfile, HivenProfile, HpxProfile, MoobiusProfile,
        Profile, RawProfile, Started,
    },
};

mod args;

pub use args::{CompressionArg, ConnectArgs, MoobiusMode, ProfileName};

/// Runs the subcommand; returns the exit code.
pub async fn run(args: ConnectArgs) -> Exit {
    match args.profile {
        ProfileName::Raw => session::<RawProfile>(&args).await,
        ProfileName::Datadivr => session::<DatadivrProfile>(&args).await,
        ProfileName::Gather => session::<GatherProfile>(&args).await,
        ProfileName::Hiven => session::<HivenProfile>(&args).await,
        ProfileName::Moobius => session::<MoobiusProfile>(&args).await,
        ProfileName::Hpx => session::<HpxProfile>(&args).await,
    }
}

/// Reports a usage error.
pub fn usage(error: &dyn std::fmt::Display) -> Exit {
    eprintln!("tether connect: {error}");
    Exit::Usage
}

/// Starts the profile's client, then runs the line editor (stdin and stdout both
/// terminals) or the pipe session: stdin → messages, events → stdout.
async fn session<P: Profile>(args: &ConnectArgs) -> Exit {
    let Started {
        client,
        events,
        profile,
    } = match P::start(args) {
        Ok(started) => started,
        Err(e) => return usage(&e),
    };
    let profile = Arc::new(profile);
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return interactive::run(client, events, profile).await;
    }
    let (undelivered_tx, undelivered_rx) = oneshot::channel();
    let (lines_tx, lines_rx) = mpsc::channel(1024);
    let printer = tokio::spawn(print_events(
        events,
        lines_rx,
        args.events,
        profile.clone(),
        undelivered_tx,
    ));
    let mut report = Report {
        with_events: args.events,
        lines: lines_tx,
        undelivered: 0,
    };
    let code = pump_stdin(&client, &*profile, args, &mut report).await;
    let final_state = client.close().await;
    let Report {
        lines, undelivered, ..
    } = report;
    drop(lines);
    // Handed back (`undelivered` events: a deadline passed, refused at send, closed with
    // it pending) or dropped by a drop-oldest outbox (counted by the client: the event
    // stream may have had to drop some of those events), plus the lines that were never
    // sent (invalid, or a failed post).
    let handed_back = printer_result(printer, undelivered_rx).await;
    let dropped = usize::try_from(client.stats().dropped).unwrap_or(usize::MAX);
    final_code(
        code,
        &final_state,
        handed_back
            .saturating_add(dropped)
            .saturating_add(undelivered),
    )
}

async fn printer_result(
    printer: tokio::task::JoinHandle<()>,
    count: oneshot::Receiver<usize>,
) -> usize {
    let _ = printer.await;
    count.await.unwrap_or(0)
}

/// The exit code from the drain's result, the final state and how many messages ended
/// undelivered.
fn final_code(code: Option<Exit>, state: &State, undelivered: usize) -> Exit {
    if let State::Closed {
        reason,
        fatal: true,
    } = state
    {
        eprintln!("tether connect: {reason}");
        return Exit::Fatal;
    }
    // A drain that ended with an empty outbox still leaves the messages that were handed
    // back, dropped or never sent on the way undelivered.
    if let Some(code) = code.filter(|&code| code != Exit::Ok) {
        return code;
    }
    if undelivered > 0 {
        eprintln!("tether connect: {undelivered} message(s) undelivered");
        return Exit::Undelivered;
    }
    Exit::Ok
}

/// What the session says about lines itself (the engine's events say the rest): stderr
/// always, with `--events` a JSON line through the printer.
struct Report {
    with_events: bool,
    lines: mpsc::Sender<String>,
    /// Lines that were never sent, or whose post failed.
    undelivered: usize,
}

impl Report {
    /// Reports what became of stdin line `n`.
    async fn delivery(&mut self, n: usize, line: &str, delivery: Delivery) {
        let event = match delivery {
            Delivery::Queued => None,
            Delivery::Refused(e) => {
                // The engine's `undelivered` event reports and counts it.
                eprintln!("stdin line {n}: not sent: {e}");
                None
            }
            Delivery::Invalid(e) => {
                eprintln!("stdin line {n}: {e}");
                self.undelivered += 1;
                Some(output::event(
                    "undelivered",
                    vec![
                        ("line", json!(n)),
                        ("data", json!(line)),
                        ("reason", json!("invalid_line")),
                        ("error", json!(e)),
                        ("transmission", json!("not_sent")),
                    ],
                ))
            }
            Delivery::Acked(key) => Some(output::event(
                "ack",
                vec![
                    ("key", json!(key)),
                    ("accepted", json!(true)),
                    ("line", json!(n)),
                ],
            )),
            Delivery::Failed { data, error } => {
                eprintln!("stdin line {n}: not sent: {error}");
                self.undelivered += 1;
                Some(output::event(
                    "undelivered",
                    vec![
                        ("line", json!(n)),
                        ("data", data),
                        ("reason", json!("post_failed")),
                        ("error", json!(error)),
                    ],
                ))
            }
        };
        if let Some(event) = event.filter(|_| self.with_events) {
            let _ = self.lines.send(event).await;
        }
    }
}

/// Sends stdin lines until EOF, then drains or waits; `Some(code)` when the outcome is
/// already decided (drain result), `None` to decide from the final state.
async fn pump_stdin<P: Profile>(
    client: &Client<P::Event>,
    profile: &P,
    args: &ConnectArgs,
    report: &mut Report,
) -> Option<Exit> {
    let (tx, mut lines) = mpsc::channel::<(usize, String)>(1024);
    tokio::spawn(async move {
        let mut reader =
            tokio::io::BufReader::with_capacity(256 * 1024, tokio::io::stdin()).lines();
        let mut n = 0;
        while let Ok(Some(line)) = reader.next_line().await {
            n += 1;
            if tx.send((n, line)).await.is_err() {
                break;
            }
        }
    });
    let mut state = client.state();
    loop {
        tokio::select! {
            biased;
            line = lines.recv() => match line {
                Some((_, line)) if line.trim().is_empty() => {}
                Some((n, line)) => {
                    let delivery = profile.deliver(client, &line).await;
                    report.delivery(n, &line, delivery).await;
                }
                None => break,
            },
            _ = state.wait_for(State::is_closed) => return None,
            _ = tokio::signal::ctrl_c() => return None,
        }
    }
    if args.drain {
        return match client.drain(args.drain_timeout).await {
            Ok(()) => Some(Exit::Ok),
            Err(n) => {
                eprintln!(
                    "tether connect: {n} message(s) undelivered after the drain timeout of {:?}",
                    args.drain_timeout
                );
                Some(Exit::Undelivered)
            }
        };
    }
    tokio::select! {
        _ = client.closed() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    None
}

/// One thing to print: an engine event, or a line the session made.
enum Printed<E> {
    Event(Event<E>),
    Line(String),
}

/// Prints events and the session's own lines as JSON lines, one writer for both;
/// reports how many messages the engine handed back.
async fn print_events<P: Profile>(
    mut events: Events<P::Event>,
    mut lines: mpsc::Receiver<String>,
    with_events: bool,
    profile: Arc<P>,
    undelivered: oneshot::Sender<usize>,
) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout);
    let mut count = 0usize;
    let mut ok = true;
    let (mut events_open, mut lines_open) = (true, true);
    while events_open || lines_open {
        let first = tokio::select! {
            event = events.recv(), if events_open => match event {
                Some(event) => Printed::Event(event),
                None => { events_open = false; continue; }
            },
            line = lines.recv(), if lines_open => match line {
                Some(line) => Printed::Line(line),
                None => { lines_open = false; continue; }
            },
        };
        let mut next = Some(first);
        // Write everything already waiting, then flush once.
        while let Some(printed) = next {
            let line = match printed {
                Printed::Line(line) => Some(line),
                Printed::Event(Event::Message(m)) if !profile.is_shown(&m) => None,
                Printed::Event(event) => {
                    if matches!(event, Event::Undelivered { .. }) {
                        count += 1;
                    }
                    output::event_line(&event, with_events, |m, line| profile.push_data(m, line))
                }
            };
            if let (true, Some(line)) = (ok, line) {
                ok = writeln!(out, "{line}").is_ok();
            }
            next = events.try_recv().map(Printed::Event);
        }
        if ok {
            ok = out.flush().is_ok();
        }
    }
    let _ = out.flush();
    let _ = undelivered.send(count);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(fatal: bool) -> State {
        State::Closed {
            reason: tether::CloseReason::Requested,
            fatal,
        }
    }

    #[test]
    fn a_drain_that_emptied_the_outbox_still_exits_1_for_messages_handed_back_on_the_way() {
        assert_eq!(final_code(Some(Exit::Ok), &closed(false), 0), Exit::Ok);
        assert_eq!(
            final_code(Some(Exit::Ok), &closed(false), 2),
            Exit::Undelivered
        );
        assert_eq!(final_code(None, &closed(false), 1), Exit::Undelivered);
        assert_eq!(final_code(None, &closed(false), 0), Exit::Ok);
    }

    #[test]
    fn a_drain_timeout_exits_1_and_a_fatal_close_exits_3_whatever_else() {
        assert_eq!(
            final_code(Some(Exit::Undelivered), &closed(false), 0),
            Exit::Undelivered
        );
        assert_eq!(final_code(Some(Exit::Ok), &closed(true), 5), Exit::Fatal);
        assert_eq!(final_code(None, &closed(true), 0), Exit::Fatal);
    }
}
