//! `tether connect URL`: stdin lines → messages, received messages → stdout JSON lines.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use clap::{Args, ValueEnum};
use tether::{
    BackoffConfig, Client, ClientConfig, Event, Events, Policy, State,
    datadivr::DatadivrClient,
    gather::GatherClient,
    hpx::{Credentials, Hpx, Limits},
    moobius::{Builders, Mode, MoobiusClient},
    raw::Raw,
    transport::{Endpoint, Scheme},
};
use tokio::{
    io::AsyncBufReadExt,
    sync::{mpsc, oneshot},
};

use crate::{
    interactive, output,
    profile::{
        DatadivrProfile, GatherProfile, HpxProfile, MoobiusProfile, Profile as LineProfile,
        RawProfile,
    },
};

/// Exit codes of the CLI contract.
pub mod exit {
    /// Everything delivered.
    pub const OK: u8 = 0;
    /// Messages undelivered (drain timeout, closed with messages pending).
    pub const UNDELIVERED: u8 = 1;
    /// Bad usage.
    pub const USAGE: u8 = 2;
    /// A fatal error (e.g. token refused).
    pub const FATAL: u8 = 3;
}

/// Which platform's client runs the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// JSON values (or `--text` lines) over WebSocket, JSON lines over tcp:// / tls://.
    Raw,
    /// datadivr: a line is a full message (JSON object with `event_name`) or the
    /// shorthand `event_name [payload-json]`, sent to `--to`.
    Datadivr,
    /// Gather: a line is `action_name [json args]` (`tether gather actions` lists them),
    /// validated against the action's fields and acknowledged by `transactionStatus`;
    /// needs `--space` and `--api-key`, and `--api URL` instead of URL for discovery.
    Gather,
    /// Hiven Swarm: logs in with --token, heartbeats, ready after every house joined;
    /// a line is a room message posted through the REST API (--api): plain text for
    /// --room, or {"room_id", "content"}.
    Hiven,
    /// moobius: logs in (`--mode`, `--token`) on every connect and heartbeats; a line is a
    /// builder call `NAME {kwargs-json}` (e.g. `message_down {"channel_id": "c",
    /// "recipients": "u", "subtype": "text", "content": {"text": "hi"}}`) or a full
    /// message (a JSON object with `type`).
    Moobius,
    /// HappyPanda X over tcp:// or tls://: logs in (guest, or `--user`/`--password`), then
    /// each line is the `data` of one request (JSON, or `fname [kwargs-json]`).
    Hpx,
}

/// Who a moobius client logs in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MoobiusMode {
    /// `service_login` with `--service-id`.
    Service,
    /// `user_login`, then `join_channel` for each `--channel` as `--user-id`.
    User,
}

/// What to do when the outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Wait for room (stdin reading pauses).
    Backpressure,
    /// Refuse the line (reported on stderr).
    Reject,
    /// Drop the oldest queued message (reported as a `dropped` event).
    DropOldest,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 ok, 1 undelivered, 2 usage, 3 fatal (e.g. token refused).\n\
Each stdin line is one message (for raw: one JSON value; --text: the line verbatim); blank lines are skipped.\n\
A line that is not valid gets `stdin line N: reason` on stderr and the rest go on."
)]
pub struct ConnectArgs {
    /// Server URL: ws://, wss://, tcp:// or tls:// (gather: the engine's URL; or give
    /// `--api` instead).
    #[arg(required_unless_present = "api", default_value = "")]
    pub url: String,
    /// Platform client to use.
    #[arg(long, value_enum, default_value = "raw")]
    pub profile: Profile,
    /// datadivr: recipient of shorthand lines (`all`, `others` or a client id).
    #[arg(long, default_value = "others")]
    pub to: String,
    /// hiven: the room of plain-text lines.
    #[arg(long, value_name = "ID")]
    pub room: Option<String>,
    /// moobius: log in as a service or as a user.
    #[arg(long, value_enum, default_value = "service")]
    pub mode: MoobiusMode,
    /// moobius: the service id (service mode; also the default `service_id` and `sender`
    /// of builder calls).
    #[arg(long, value_name = "ID")]
    pub service_id: Option<String>,
    /// moobius: the user id (user mode: joins `--channel`s as it; the default `user_id` of
    /// builder calls).
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,
    /// moobius, user mode: a channel to join after every login (repeatable).
    #[arg(long = "channel", value_name = "ID")]
    pub channels: Vec<String>,
    /// moobius: the `heartbeat` message interval in seconds (0: none).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub app_heartbeat: Duration,
    /// moobius: each message's delivery deadline in seconds (0: none); past it the
    /// message is reported `undelivered`.
    #[arg(long, value_name = "SECS", default_value = "16", value_parser = parse_secs)]
    pub send_timeout: Duration,
    /// gather: the space id (`/` is sent as `\`, as the SDK does).
    #[arg(long, value_name = "ID")]
    pub space: Option<String>,
    /// The platform's HTTP API: hiven: the REST base URL lines are posted to (default
    /// the hub's); gather: the API root for game-server discovery (e.g. the hub's
    /// http://127.0.0.1:8776/api/v2/), instead of an engine URL.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// gather: the API key (sent in `init` and to the discovery route; `--token` is used
    /// when it is absent). Never printed.
    #[arg(long, env = "TETHER_GATHER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Send stdin lines verbatim as text frames (raw profile).
    #[arg(long)]
    pub text: bool,
    /// hpx: log in as this user (default: as a guest).
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// hpx: the user's password. Never printed.
    #[arg(long, env = "TETHER_HPX_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// hpx: the client name sent in every message.
    #[arg(long, default_value = "tether")]
    pub name: String,
    /// hpx: each request's deadline in seconds (HPX has no heartbeat: this, and TCP
    /// keepalive, notice a stalled server).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub request_timeout: Duration,
    /// Token; for raw over WebSocket it is sent as `Authorization: Bearer T`; hiven logs
    /// in with it (and sends it to the REST API); for moobius it is the access token of
    /// the login message. Never printed.
    #[arg(long, env = "TETHER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Extra trusted CA certificates (PEM) for wss:// and tls://.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// WebSocket ping interval in seconds.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = parse_secs)]
    pub heartbeat: Duration,
    /// Silence tolerated past a heartbeat before the connection is presumed dead, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub dead_after: Duration,
    /// Connect timeout in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub connect_timeout: Duration,
    /// Do not reconnect: the first lost connection ends the command.
    #[arg(long)]
    pub no_reconnect: bool,
    /// First reconnect delay bound in seconds (doubles per attempt, full jitter).
    #[arg(long, value_name = "SECS", default_value = "0.25", value_parser = parse_secs)]
    pub min_backoff: Duration,
    /// Largest reconnect delay in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub max_backoff: Duration,
    /// Acknowledgements: an outgoing JSON object with this top-level field stays pending
    /// until a received message has an equal value in it; replayed after reconnects.
    #[arg(long, value_name = "FIELD")]
    pub ack_field: Option<String>,
    /// Outbox capacity (queued plus awaiting ack).
    #[arg(long, value_name = "N", default_value = "1024", value_parser = clap::value_parser!(u32).range(1..))]
    pub queue: u32,
    /// What to do when the outbox is full.
    #[arg(long, value_enum, default_value = "backpressure")]
    pub policy: PolicyArg,
    /// Largest message in bytes, either direction.
    #[arg(long, value_name = "BYTES", default_value = "16777216")]
    pub max_message_size: usize,
    /// Print events too (state, ack, dropped, decode_error, handler_error, undelivered),
    /// each line with "at" (Unix epoch ms).
    #[arg(long)]
    pub events: bool,
    /// At stdin EOF, exit once every message is delivered (acked where acks are on).
    #[arg(long)]
    pub drain: bool,
    /// With --drain: give up after this many seconds, exit 1 saying how many are undelivered.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub drain_timeout: Duration,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?} must be a non-negative number of seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

impl ConnectArgs {
    pub(crate) fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::default()
            .heartbeat(self.heartbeat.max(Duration::from_millis(1)))
            .dead_after(self.dead_after)
            .connect_timeout(self.connect_timeout)
            .max_message_size(self.max_message_size)
            .outbox(
                self.queue as usize,
                match self.policy {
                    PolicyArg::Backpressure => Policy::Backpressure,
                    PolicyArg::Reject => Policy::Reject,
                    PolicyArg::DropOldest => Policy::DropOldest,
                },
            )
            .backoff(BackoffConfig {
                base: self.min_backoff,
                cap: self.max_backoff.max(self.min_backoff),
                ..BackoffConfig::default()
            });
        if self.no_reconnect {
            config = config.no_reconnect();
        }
        if let Some(token) = &self.token {
            config = config.token(token.as_str());
        }
        if let Some(ca) = &self.ca_file {
            config = config.ca_file(ca);
        }
        if let Some(password) = &self.password {
            // Scrubbed from everything the engine reports.
            config = config.token(password.as_str());
        }
        config
    }

    /// The HPX protocol, logging in after every greeting.
    fn hpx(&self) -> Result<Hpx, String> {
        let endpoint = Endpoint::parse(&self.url).map_err(|e| e.to_string())?;
        if !matches!(endpoint.scheme(), Scheme::Tcp | Scheme::Tls) {
            return Err(format!(
                "{}: the hpx profile runs over tcp:// or tls://",
                self.url
            ));
        }
        let credentials = match (&self.user, &self.password) {
            (Some(user), Some(password)) => Credentials::User {
                user: user.clone(),
                password: password.as_str().into(),
            },
            (None, None) => Credentials::Guest,
            (None, Some(_)) => return Err("--password needs --user".into()),
            (Some(_), None) => return Err("--user needs --password".into()),
        };
        let limits = Limits {
            max_frame: self.max_message_size.saturating_add(1024),
            max_payload: self.max_message_size,
        };
        Ok(Hpx::new(self.name.clone())
            .limits(limits)
            .login(credentials))
    }

    fn raw(&self) -> Raw {
        let raw = if self.text { Raw::text() } else { Raw::json() };
        let raw = raw.max_line(self.max_message_size);
        match &self.ack_field {
            Some(field) => raw.ack_field(field),
            None => raw,
        }
    }
}

/// Runs the subcommand; returns the exit code.
pub async fn run(args: ConnectArgs) -> u8 {
    match args.profile {
        Profile::Raw => {
            let raw = args.raw();
            match Client::builder(raw.clone())
                .url(&args.url)
                .config(args.config())
                .start()
            {
                Ok((client, events)) => session(client, events, RawProfile(raw), &args).await,
                Err(e) => usage(&e),
            }
        }
        Profile::Hiven => crate::profile::hiven::run(&args).await,
        Profile::Datadivr => {
            // The typed client: its protocol, its builders; the engine handle for the rest.
            let typed = DatadivrClient::new(&args.url).config(args.config());
            match typed.connect() {
                Ok(events) => match typed.engine() {
                    Some(client) => {
                        let profile = DatadivrProfile {
                            to: args.to.clone(),
                        };
                        session(client, events, profile, &args).await
                    }
                    None => usage(&"the datadivr client did not start"),
                },
                Err(e) => usage(&e),
            }
        }
        Profile::Moobius => match moobius(&args) {
            Ok((typed, profile)) => match typed.connect() {
                Ok(events) => match typed.engine() {
                    Some(client) => session(client, events, profile, &args).await,
                    None => usage(&"the moobius client did not start"),
                },
                Err(e) => usage(&e),
            },
            Err(e) => usage(&e),
        },
        Profile::Gather => gather(&args).await,
        Profile::Hpx => {
            // The typed protocol logs in (and again after each reconnect) before any
            // line flows; lines go through its envelope.
            let hpx = match args.hpx() {
                Ok(hpx) => hpx,
                Err(e) => return usage(&e),
            };
            match Client::builder(hpx.clone())
                .url(&args.url)
                .config(args.config())
                .start()
            {
                Ok((client, events)) => {
                    let profile = HpxProfile {
                        protocol: hpx,
                        deadline: args.request_timeout,
                    };
                    session(client, events, profile, &args).await
                }
                Err(e) => usage(&e),
            }
        }
    }
}

/// `--profile gather`: the typed client (discovery or a direct engine URL), its lines
/// validated by the action builders.
async fn gather(args: &ConnectArgs) -> u8 {
    let Some(space) = &args.space else {
        return usage(&"--profile gather needs --space ID");
    };
    let Some(key) = args.api_key.as_ref().or(args.token.as_ref()) else {
        return usage(&"--profile gather needs --api-key KEY (or TETHER_GATHER_API_KEY)");
    };
    let mut config = args.config();
    // The API key is the credential here: no bearer header on the upgrade.
    config.token = None;
    let builder = GatherClient::builder(key.as_str(), space.as_str()).config(config);
    let typed = match &args.api {
        Some(api) => builder.api_root(api),
        None => builder.engine_url(&args.url),
    }
    .build();
    match typed.connect() {
        Ok(events) => match typed.engine() {
            Some(client) => {
                let profile = GatherProfile {
                    client: typed.clone(),
                };
                session(client, events, profile, args).await
            }
            None => usage(&"the gather client did not start"),
        },
        Err(e) => usage(&e),
    }
}

/// The typed moobius client and its line profile, from the flags.
fn moobius(args: &ConnectArgs) -> Result<(MoobiusClient, MoobiusProfile), String> {
    let token = args
        .token
        .clone()
        .ok_or("--profile moobius needs --token (the access token for the login)")?;
    let mode = match args.mode {
        MoobiusMode::Service => Mode::Service {
            service_id: args
                .service_id
                .clone()
                .ok_or("--mode service needs --service-id")?,
        },
        MoobiusMode::User => {
            if !args.channels.is_empty() && args.user_id.is_none() {
                return Err("--channel needs --user-id (who joins)".into());
            }
            let user = args.user_id.clone().unwrap_or_default();
            Mode::User {
                channels: args
                    .channels
                    .iter()
                    .map(|c| (user.clone(), c.clone()))
                    .collect(),
            }
        }
    };
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    // The token goes into the login message, not into an Authorization header.
    let mut config = args.config();
    config.token = None;
    let builders = Builders::new();
    let typed = MoobiusClient::new(&args.url, mode, token.as_str())
        .config(config)
        .builders(builders.clone())
        .heartbeat_every(nonzero(args.app_heartbeat))
        .send_timeout(nonzero(args.send_timeout));
    let profile = MoobiusProfile {
        builders,
        service_id: args.service_id.clone(),
        user_id: args.user_id.clone(),
        token: token.into(),
        send_timeout: nonzero(args.send_timeout),
    };
    Ok((typed, profile))
}

fn usage(error: &dyn std::fmt::Display) -> u8 {
    eprintln!("tether connect: {error}");
    exit::USAGE
}

/// stdin → messages, events → stdout, for any profile.
async fn session<P: LineProfile>(
    client: Client<P::Event>,
    events: Events<P::Event>,
    profile: P,
    args: &ConnectArgs,
) -> u8 {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let profile = Arc::new(profile);
    if interactive {
        return interactive::run(client, events, profile).await;
    }
    let (undelivered_tx, undelivered_rx) = oneshot::channel();
    let printer = tokio::spawn(print_events(
        events,
        args.events,
        profile.clone(),
        undelivered_tx,
    ));
    let code = pump_stdin(&client, &*profile, args).await;
    let final_state = client.close().await;
    // Handed back (`undelivered` events: a deadline passed, refused at send, closed with
    // it pending) or dropped by a drop-oldest outbox (counted by the client: the event
    // stream may have had to drop some of those events).
    let undelivered = printer_result(printer, undelivered_rx).await;
    let dropped = usize::try_from(client.stats().dropped).unwrap_or(usize::MAX);
    final_code(code, &final_state, undelivered.saturating_add(dropped))
}

async fn printer_result(
    printer: tokio::task::JoinHandle<()>,
    count: oneshot::Receiver<usize>,
) -> usize {
    let _ = printer.await;
    count.await.unwrap_or(0)
}

fn final_code(code: Option<u8>, state: &State, undelivered: usize) -> u8 {
    if let State::Closed {
        reason,
        fatal: true,
    } = state
    {
        eprintln!("tether connect: {reason}");
        return exit::FATAL;
    }
    // A drain that ended with an empty outbox still leaves the messages that were handed
    // back or dropped on the way undelivered.
    if let Some(code) = code.filter(|&code| code != exit::OK) {
        return code;
    }
    if undelivered > 0 {
        eprintln!("tether connect: {undelivered} message(s) undelivered");
        return exit::UNDELIVERED;
    }
    exit::OK
}

/// Sends stdin lines until EOF, then drains or waits; `Some(code)` when the outcome is
/// already decided (drain result), `None` to decide from the final state.
async fn pump_stdin<P: LineProfile>(
    client: &Client<P::Event>,
    profile: &P,
    args: &ConnectArgs,
) -> Option<u8> {
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
                Some((n, line)) => send_line(client, profile, n, &line).await,
                None => break,
            },
            _ = state.wait_for(State::is_closed) => return None,
            _ = tokio::signal::ctrl_c() => return None,
        }
    }
    if args.drain {
        return match client.drain(args.drain_timeout).await {
            Ok(()) => Some(exit::OK),
            Err(n) => {
                eprintln!(
                    "tether connect: {n} message(s) undelivered after the drain timeout of {:?}",
                    args.drain_timeout
                );
                Some(exit::UNDELIVERED)
            }
        };
    }
    tokio::select! {
        _ = client.closed() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    None
}

async fn send_line<P: LineProfile>(client: &Client<P::Event>, profile: &P, n: usize, line: &str) {
    if line.trim().is_empty() {
        return;
    }
    match profile.encode_line(line) {
        Err(e) => eprintln!("stdin line {n}: {e}"),
        Ok(message) => {
            if let Err(e) = client.send(message).await {
                eprintln!("stdin line {n}: not sent: {e}");
            }
        }
    }
}

/// Prints events as JSON lines; reports how many messages ended undelivered.
async fn print_events<P: LineProfile>(
    mut events: Events<P::Event>,
    with_events: bool,
    profile: Arc<P>,
    undelivered: oneshot::Sender<usize>,
) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout);
    let mut count = 0usize;
    let mut ok = true;
    while let Some(event) = events.recv().await {
        let mut next = Some(event);
        // Write everything already waiting, then flush once.
        while let Some(event) = next {
            if matches!(event, Event::Undelivered { .. }) {
                count += 1;
            }
            let line =
                output::event_line(&event, with_events, |m, line| profile.push_data(m, line));
            if let (true, Some(line)) = (ok, line) {
                ok = writeln!(out, "{line}").is_ok();
            }
            next = events.try_recv();
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
        assert_eq!(final_code(Some(exit::OK), &closed(false), 0), exit::OK);
        assert_eq!(
            final_code(Some(exit::OK), &closed(false), 2),
            exit::UNDELIVERED
        );
        assert_eq!(final_code(None, &closed(false), 1), exit::UNDELIVERED);
        assert_eq!(final_code(None, &closed(false), 0), exit::OK);
    }

    #[test]
    fn a_drain_timeout_exits_1_and_a_fatal_close_exits_3_whatever_else() {
        assert_eq!(
            final_code(Some(exit::UNDELIVERED), &closed(false), 0),
            exit::UNDELIVERED
        );
        assert_eq!(final_code(Some(exit::OK), &closed(true), 5), exit::FATAL);
        assert_eq!(final_code(None, &closed(true), 0), exit::FATAL);
    }
}
