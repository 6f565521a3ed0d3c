//! `tether gather`: Gather helpers (`tether gather actions`).

use std::io::Write;

use clap::{Args, Subcommand};
use tether::{json, json::Value};

use crate::exit::Exit;
use tether::gather::{available_actions, find_action};

/// `tether gather …`.
#[derive(Debug, Args)]
pub struct GatherArgs {
    #[command(subcommand)]
    command: GatherCommand,
}

#[derive(Debug, Subcommand)]
enum GatherCommand {
    /// List the actions (129) with their arguments, as `tether connect --profile gather`
    /// lines take them: `action_name {"argument": value, ...}`.
    Actions(ActionsArgs),
}

#[derive(Debug, Args)]
struct ActionsArgs {
    /// Show one action (SDK name `set_text_status` or field `setTextStatus`) with the
    /// SDK's docstring.
    name: Option<String>,
    /// Print JSON: one array of `{name, field, number, message, args: [{name, field,
    /// type, sdk_type}]}`.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: GatherArgs) -> Exit {
    match args.command {
        GatherCommand::Actions(args) => actions(&args),
    }
}

fn actions(args: &ActionsArgs) -> Exit {
    let list: Vec<_> = match &args.name {
        Some(name) => match find_action(name) {
            Some(info) => vec![info],
            None => {
                eprintln!("tether gather actions: unknown action {name:?}");
                return Exit::Usage;
            }
        },
        None => available_actions().iter().collect(),
    };
    // A closed stdout (`| head`) ends the listing quietly.
    let mut out = std::io::stdout().lock();
    if args.json {
        let value: Vec<Value> = list
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "field": a.field,
                    "number": a.number,
                    "message": a.message,
                    "args": a.args.iter().map(|arg| json!({
                        "name": arg.name,
                        "field": arg.field,
                        "type": arg.proto_type,
                        "sdk_type": arg.sdk_type,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let _ = writeln!(out, "{}", Value::Array(value));
    } else if args.name.is_some() {
        for a in list {
            let _ = writeln!(out, "{}\n{a}", a.doc());
        }
    } else {
        for a in list {
            if writeln!(out, "{a}").is_err() {
                break;
            }
        }
    }
    Exit::Ok
}
