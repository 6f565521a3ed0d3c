//! `--profile hiven`: the typed Hiven client logs in to the Swarm (op 2, op 3 heartbeats
//! at the hello's interval, ready after every house joined); stdin lines are room
//! messages posted through the REST API; Swarm frames print as messages.

use std::{io::Write, time::Duration};

use serde_json::{Value, json};
use tether::{
    Event, Events, Frame, State,
    hiven::{HivenClient, HivenHttp, HttpRequest, PostRetry, SwarmMessage},
};
use tokio::{io::AsyncBufReadExt, sync::mpsc};

use crate::{
    connect::{ConnectArgs, exit},
    output,
};

/// How many times a post that failed on the network or with 408/429/5xx is tried.
const POST_ATTEMPTS: u32 = 5;

/// The post queue's retries from the backoff flags.
fn post_retry(args: &ConnectArgs) -> PostRetry {
    let base = args.min_backoff.max(Duration::from_millis(50));
    PostRetry {
        attempts: POST_ATTEMPTS,
        base,
        cap: args.max_backoff.max(base),
    }
}

/// `--profile hiven`: a stdin line is `{"room_id": ID, "content": TEXT}`, or plain text
/// for the `--room` room.
#[derive(Debug, Clone, Default)]
pub struct HivenProfile {
    /// Room of plain-text lines.
    pub room: Option<String>,
}

impl HivenProfile {
    /// The REST request a line stands for, through the client's typed builder (the dry
    /// run of `send_message`).
    ///
    /// # Errors
    /// Why the line cannot be sent.
    pub fn request(&self, http: &HivenHttp, line: &str) -> Result<HttpRequest, String> {
        let trimmed = line.trim();
        let (room, content) = if trimmed.starts_with('{') {
            let value: Value =
                serde_json::from_str(trimmed).map_err(|e| format!("not JSON: {e}"))?;
            let Value::Object(map) = value else {
                return Err("not a JSON object".into());
            };
            if let Some(key) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "room_id" | "content"))
            {
                return Err(format!(
                    "unknown field {key:?}: a line is {{\"room_id\", \"content\"}}"
                ));
            }
            let room = match map.get("room_id") {
                Some(Value::String(r)) => r.clone(),
                Some(_) => return Err("room_id must be a string".into()),
                None => self.room.clone().ok_or("no room_id and no --room")?,
            };
            let content = match map.get("content") {
                Some(Value::String(c)) => c.clone(),
                _ => return Err("content must be a string".into()),
            };
            (room, content)
        } else {
            let room = self
                .room
                .clone()
                .ok_or("no room: pass --room ID, or send {\"room_id\", \"content\"}")?;
            (room, line.to_owned())
        };
        http.build_send_message(&room, &content)
            .map_err(|e| e.to_string())
    }

    /// Appends `,"data":D` with the Swarm frame verbatim; `false` for the synthetic ready
    /// (no frame: the `ready` state line stands for it).
    pub fn push_data(message: &SwarmMessage, line: &mut String) -> bool {
        match &message.raw {
            Some(raw) => {
                output::push_data(line, &Frame::text(raw.to_string()), Some(true));
                true
            }
            None => false,
        }
    }
}

/// Runs `tether connect --profile hiven`; returns the exit code.
pub async fn run(args: &ConnectArgs) -> u8 {
    let Some(token) = &args.token else {
        eprintln!("tether connect: --profile hiven needs --token (or TETHER_TOKEN)");
        return exit::USAGE;
    };
    let built = HivenClient::builder(token.as_str())
        .swarm_url(&args.url)
        .api_url(args.api.as_deref().unwrap_or(tether::hiven::API_URL))
        .config(args.config())
        .post_retry(post_retry(args))
        .build();
    let client = match built {
        Ok(client) => client,
        Err(e) => {
            eprintln!("tether connect: {e}");
            return exit::USAGE;
        }
    };
    let events = match client.connect() {
        Ok(events) => events,
        Err(e) => {
            eprintln!("tether connect: {e}");
            return exit::USAGE;
        }
    };
    let Some(engine) = client.engine() else {
        eprintln!("tether connect: the hiven client did not start");
        return exit::USAGE;
    };
    let (lines_out, extra) = mpsc::channel(1024);
    let printer = tokio::spawn(print(events, extra, args.events));
    let profile = HivenProfile {
        room: args.room.clone(),
    };

    let (tx, mut lines) = mpsc::channel::<(usize, String)>(1024);
    tokio::spawn(async move {
        let mut reader = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut n = 0;
        while let Ok(Some(line)) = reader.next_line().await {
            n += 1;
            if tx.send((n, line)).await.is_err() {
                break;
            }
        }
    });
    let mut undelivered = 0usize;
    let mut state = engine.state();
    let mut stopped = false;
    loop {
        tokio::select! {
            biased;
            line = lines.recv() => match line {
                Some((n, line)) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match profile.request(client.http_client(), &line) {
                        Err(e) => eprintln!("stdin line {n}: {e}"),
                        Ok(request) => {
                            if !post(&client, n, request, args, &lines_out).await {
                                undelivered += 1;
                            }
                        }
                    }
                }
                None => break,
            },
            _ = state.wait_for(State::is_closed) => { stopped = true; break; }
            _ = tokio::signal::ctrl_c() => { stopped = true; break; }
        }
    }
    if !stopped && !args.drain {
        // Keep receiving until the client stops for good or Ctrl-C.
        tokio::select! {
            _ = engine.closed() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    drop(state);
    let final_state = engine.close().await;
    drop(lines_out);
    let _ = printer.await;
    if let State::Closed {
        reason,
        fatal: true,
    } = &final_state
    {
        eprintln!("tether connect: {reason}");
        return exit::FATAL;
    }
    if undelivered > 0 {
        eprintln!("tether connect: {undelivered} message(s) undelivered");
        return exit::UNDELIVERED;
    }
    exit::OK
}

/// Posts one message through the client's post queue (which tries again on network
/// errors and 408/429/5xx, `--min-backoff` doubling to `--max-backoff`); `true` once the
/// API created it.
async fn post(
    client: &HivenClient,
    n: usize,
    request: HttpRequest,
    args: &ConnectArgs,
    lines: &mpsc::Sender<String>,
) -> bool {
    let body = request.body.clone();
    let posted = match client.queue_post(request).await {
        Ok(receipt) => receipt.await,
        Err(e) => Err(e),
    };
    match posted {
        Ok(message) => {
            if args.events {
                let line = json!({"type": "ack", "at": output::now_ms(), "key": message.id,
                    "accepted": true, "line": n});
                let _ = lines.send(line.to_string()).await;
            }
            true
        }
        Err(e) => {
            eprintln!("stdin line {n}: not sent: {e}");
            if args.events {
                let line = json!({"type": "undelivered", "at": output::now_ms(),
                    "line": n, "data": body, "reason": e.to_string()});
                let _ = lines.send(line.to_string()).await;
            }
            false
        }
    }
}

/// Prints engine events and the poster's lines as JSON lines, one writer for both.
async fn print(
    mut events: Events<SwarmMessage>,
    mut extra: mpsc::Receiver<String>,
    with_events: bool,
) {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut events_done = false;
    let mut extra_done = false;
    while !(events_done && extra_done) {
        let line = tokio::select! {
            event = events.recv(), if !events_done => match event {
                None => { events_done = true; None }
                Some(Event::Message(m)) if m.raw.is_none() => None,
                Some(event) => output::event_line(&event, with_events, |m, line| {
                    HivenProfile::push_data(m, line);
                }),
            },
            line = extra.recv(), if !extra_done => match line {
                None => { extra_done = true; None }
                some => some,
            },
        };
        if let Some(line) = line
            && (writeln!(out, "{line}").is_err() || out.flush().is_err())
        {
            break;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> HivenHttp {
        HivenHttp::new(
            "http://127.0.0.1:8781/v1",
            "t".into(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            None,
        )
        .unwrap()
    }

    #[test]
    fn lines_become_room_messages_through_the_typed_builder() {
        let p = HivenProfile {
            room: Some("11".into()),
        };
        let req = p.request(&http(), "hello there").unwrap();
        assert_eq!(
            req.to_string(),
            r#"POST http://127.0.0.1:8781/v1/rooms/11/messages {"content":"hello there"}"#
        );
        let req = p
            .request(&http(), r#"{"room_id": "12", "content": "hi"}"#)
            .unwrap();
        assert!(req.url.ends_with("/rooms/12/messages"));
        let req = p.request(&http(), r#"{"content": "x"}"#).unwrap();
        assert!(req.url.ends_with("/rooms/11/messages"), "--room by default");
    }

    #[test]
    fn lines_its_builders_reject_are_rejected() {
        let p = HivenProfile::default();
        assert!(
            p.request(&http(), "no room")
                .unwrap_err()
                .contains("--room")
        );
        let p = HivenProfile {
            room: Some("11".into()),
        };
        for (line, why) in [
            (r#"{"content": ""}"#, "empty"),
            (r#"{"room_id": "a/b", "content": "x"}"#, "room id"),
            (r#"{"room_id": 5, "content": "x"}"#, "string"),
            (r#"{"content": "x", "to": "y"}"#, "unknown field"),
            ("{broken", "not JSON"),
        ] {
            let err = p.request(&http(), line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
