//! `tether connect` at a terminal: a line editor with history, pretty-printed coloured
//! events, and a few slash commands.

use anstyle::{AnsiColor, Style};
use rustyline::{DefaultEditor, ExternalPrinter, error::ReadlineError};
use std::sync::Arc;

use tether::{AckOutcome, Client, Event, Events, State};
use tokio::sync::mpsc;

use crate::{
    exit::Exit,
    profile::{Delivery, Profile},
};

const HELP: &str = "\
Type a message and press Enter to send it (raw: one JSON value per line).
  /help    this help
  /state   the connection state
  /stats   message and connection counters
  /quit    close the connection and exit (also Ctrl-D)";

fn paint(color: AnsiColor, text: &str) -> String {
    let style = Style::new().fg_color(Some(color.into()));
    format!("{style}{text}{style:#}")
}

fn describe_state(state: &State) -> String {
    match state {
        State::Connecting => paint(AnsiColor::Yellow, "● connecting"),
        State::Open => paint(AnsiColor::Yellow, "● open"),
        State::Ready => paint(AnsiColor::Green, "● ready"),
        State::Reconnecting { attempt, delay } => paint(
            AnsiColor::Yellow,
            &format!(
                "↻ reconnecting (attempt {attempt}, in {} ms)",
                delay.as_millis()
            ),
        ),
        State::Closing => paint(AnsiColor::Yellow, "● closing"),
        State::Closed { reason, fatal } => {
            let color = if *fatal {
                AnsiColor::Red
            } else {
                AnsiColor::BrightBlack
            };
            paint(color, &format!("■ closed: {reason}"))
        }
    }
}

fn describe<P: Profile>(profile: &P, event: &Event<P::Event>) -> Option<String> {
    Some(match event {
        Event::State(state) => describe_state(state),
        Event::Message(m) if !profile.is_shown(m) => return None,
        Event::Message(m) => format!("{} {}", paint(AnsiColor::Cyan, "←"), profile.pretty(m)),
        Event::Ack {
            key,
            outcome: AckOutcome::Accepted,
        } => paint(AnsiColor::Green, &format!("✓ ack {key}")),
        Event::Ack {
            key,
            outcome: AckOutcome::Rejected(r),
        } => paint(AnsiColor::Red, &format!("✗ rejected {key}: {r}")),
        Event::Disconnected { error, .. } => paint(AnsiColor::Red, &format!("✗ {error}")),
        Event::Dropped { message, .. } => paint(
            AnsiColor::Red,
            &format!("✗ dropped: {}", message.frame().excerpt(80)),
        ),
        Event::DecodeError { reason, excerpt } => {
            paint(AnsiColor::Red, &format!("✗ {reason}: {excerpt}"))
        }
        Event::HandlerError { error, .. } => paint(AnsiColor::Red, &format!("✗ handler: {error}")),
        Event::Undelivered(error) => paint(
            AnsiColor::Red,
            &format!("✗ {error}: {}", error.message().frame().excerpt(80)),
        ),
        _ => return None,
    })
}

/// Runs the interactive session; returns the exit code.
pub async fn run<P: Profile>(
    client: Client<P::Event>,
    mut events: Events<P::Event>,
    profile: Arc<P>,
) -> Exit {
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tether connect: cannot start the line editor: {e}");
            return Exit::Usage;
        }
    };
    let history =
        std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".tether_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut printer = match editor.create_external_printer() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tether connect: cannot print while editing: {e}");
            return Exit::Usage;
        }
    };
    println!(
        "{}",
        paint(AnsiColor::BrightBlack, "tether: type /help for commands")
    );
    let (tx, mut lines) = mpsc::channel::<Option<String>>(16);
    std::thread::spawn(move || {
        loop {
            match editor.readline("› ") {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    if tx.blocking_send(Some(line)).is_err() {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted | ReadlineError::Eof) | Err(_) => {
                    let _ = tx.blocking_send(None);
                    break;
                }
            }
        }
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
    });
    // One task owns the terminal output (through the editor's printer, so the prompt
    // line is redrawn below what is printed): events and command answers alike.
    let (say, mut said) = mpsc::channel::<String>(64);
    let printing = profile.clone();
    let printer_task = tokio::spawn(async move {
        let mut events_open = true;
        loop {
            let text = tokio::select! {
                event = events.recv(), if events_open => match event {
                    Some(event) => describe(&*printing, &event),
                    None => { events_open = false; None }
                },
                line = said.recv() => match line {
                    Some(line) => Some(line),
                    None => break,
                },
            };
            if let Some(text) = text {
                let _ = printer.print(text);
            }
        }
    });
    let mut state = client.state();
    loop {
        tokio::select! {
            line = lines.recv() => match line.flatten() {
                None => break,
                Some(line) => {
                    let answer = match line.trim() {
                        "" => None,
                        "/help" => Some(HELP.to_owned()),
                        "/quit" => break,
                        "/state" => Some(describe_state(&client.state().borrow())),
                        "/stats" => Some(format!("{:#?}", client.stats())),
                        text => match profile.deliver(&client, text).await {
                            Delivery::Queued => None,
                            Delivery::Acked(key) => {
                                Some(paint(AnsiColor::Green, &format!("✓ sent: {key}")))
                            }
                            Delivery::Invalid(e)
                            | Delivery::Refused(e)
                            | Delivery::Failed { error: e, .. } => {
                                Some(paint(AnsiColor::Red, &format!("✗ not sent: {e}")))
                            }
                        },
                    };
                    if let Some(answer) = answer {
                        let _ = say.send(answer).await;
                    }
                }
            },
            _ = state.wait_for(State::is_closed) => break,
        }
    }
    drop(say);
    let final_state = client.close().await;
    let _ = printer_task.await;
    match final_state {
        State::Closed { fatal: true, .. } => Exit::Fatal,
        _ => Exit::Ok,
    }
}
