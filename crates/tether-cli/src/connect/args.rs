//! The flags of `tether connect` and the engine configuration they make.

use std::{path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use tether::{BackoffConfig, ClientConfig, Compression, Policy};

/// Which platform's client runs the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileName {
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

/// permessage-deflate on WebSocket connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// Do not offer it.
    Off,
    /// Offer it; messages of at least --compression-threshold bytes are compressed when
    /// the server accepts.
    On,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 ok, 1 undelivered, 2 usage, 3 fatal (e.g. token refused).\n\
Each stdin line is one message (for raw: one JSON value; --text: the line verbatim); blank lines are skipped.\n\
A line that is not valid gets `stdin line N: reason` on stderr (and, with --events, an `undelivered` line); \
it counts as undelivered (exit 1) and the rest go on."
)]
pub struct ConnectArgs {
    /// Server URL: ws://, wss://, tcp:// or tls:// (gather: the engine's URL; or give
    /// `--api` instead).
    #[arg(required_unless_present = "api", default_value = "")]
    pub url: String,
    /// Platform client to use.
    #[arg(long, value_enum, default_value = "raw")]
    pub profile: ProfileName,
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
    /// Connect through this proxy: http://[user:password@]host:port (CONNECT),
    /// socks5://… or socks5h://… (the proxy resolves the host). Default: from
    /// HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY (either case). Never printed.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, whatever the proxy environment variables say.
    #[arg(long)]
    pub no_proxy: bool,
    /// permessage-deflate (RFC 7692) on ws:// and wss://: offered by default.
    #[arg(long, value_enum, default_value = "on")]
    pub compression: CompressionArg,
    /// Messages shorter than this many bytes are sent uncompressed.
    #[arg(long, value_name = "BYTES", default_value = "1024")]
    pub compression_threshold: usize,
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
    /// The engine configuration the flags make (the token as a bearer header, which a
    /// profile that logs in otherwise removes).
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::default()
            .heartbeat(self.heartbeat.max(Duration::from_millis(1)))
            .dead_after(self.dead_after)
            .connect_timeout(self.connect_timeout)
            .max_message_size(self.max_message_size)
            .compression(match self.compression {
                CompressionArg::Off => Compression::off(),
                CompressionArg::On => Compression::on(self.compression_threshold),
            })
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
        if let Some(proxy) = &self.proxy {
            config = config.proxy(proxy.as_str());
        } else if self.no_proxy {
            config = config.no_proxy();
        }
        if let Some(password) = &self.password {
            // Scrubbed from everything the engine reports.
            config = config.token(password.as_str());
        }
        config
    }
}
