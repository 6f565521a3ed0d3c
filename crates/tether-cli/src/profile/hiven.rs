//! `--profile hiven`: the typed Hiven client logs in to the Swarm (op 2, op 3 heartbeats
//! at the hello's interval, ready after every house joined); stdin lines are room
//! messages posted through the REST API (the client's post queue); Swarm frames print as
//! messages.

use std::time::Duration;

use serde_json::Value;
use tether::{
    Client, Frame,
    hiven::{HivenClient, HivenHttp, HttpRequest, PostRetry, SwarmMessage},
};

use super::{Delivery, Profile, Started};
use crate::{connect::ConnectArgs, output};

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

/// How a line becomes a room message: `{"room_id": ID, "content": TEXT}`, or plain text
/// for the `--room` room.
#[derive(Debug, Clone, Default)]
pub struct HivenLines {
    /// Room of plain-text lines.
    pub room: Option<String>,
}

impl HivenLines {
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
}

/// `--profile hiven`: the typed client and how its lines read.
pub struct HivenProfile {
    /// The typed client (its REST API and post queue).
    pub client: HivenClient,
    /// How lines read.
    pub lines: HivenLines,
}

impl Profile for HivenProfile {
    type Event = SwarmMessage;

    fn start(args: &ConnectArgs) -> Result<Started<Self>, String> {
        let token = args
            .token
            .as_ref()
            .ok_or("--profile hiven needs --token (or TETHER_TOKEN)")?;
        let typed = HivenClient::builder(token.as_str())
            .swarm_url(&args.url)
            .api_url(args.api.as_deref().unwrap_or(tether::hiven::API_URL))
            .config(args.config())
            .post_retry(post_retry(args))
            .build()
            .map_err(|e| e.to_string())?;
        let events = typed.connect().map_err(|e| e.to_string())?;
        let client = typed.engine().ok_or("the hiven client did not start")?;
        Ok(Started {
            client,
            events,
            profile: HivenProfile {
                client: typed,
                lines: HivenLines {
                    room: args.room.clone(),
                },
            },
        })
    }

    /// Posts the line through the client's post queue (which tries again on network
    /// errors and 408/429/5xx, `--min-backoff` doubling to `--max-backoff`), awaiting the
    /// API's answer.
    async fn deliver(&self, _client: &Client<SwarmMessage>, line: &str) -> Delivery {
        let request = match self.lines.request(self.client.http_client(), line) {
            Ok(request) => request,
            Err(e) => return Delivery::Invalid(e),
        };
        let data = request.body.clone().unwrap_or(Value::Null);
        let posted = match self.client.queue_post(request).await {
            Ok(receipt) => receipt.await,
            Err(e) => Err(e),
        };
        match posted {
            Ok(message) => Delivery::Acked(message.id),
            Err(e) => Delivery::Failed {
                data,
                error: e.to_string(),
            },
        }
    }

    /// The Swarm frame verbatim.
    fn push_data(&self, message: &SwarmMessage, line: &mut String) {
        if let Some(raw) = &message.raw {
            output::push_data(line, &Frame::text(raw.to_string()), Some(true));
        }
    }

    /// Not the synthetic ready (no frame: the `ready` state line stands for it).
    fn is_shown(&self, message: &SwarmMessage) -> bool {
        message.raw.is_some()
    }

    fn pretty(&self, message: &SwarmMessage) -> String {
        message.raw.as_deref().unwrap_or("ready").to_owned()
    }
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
        let p = HivenLines {
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
        let p = HivenLines::default();
        assert!(
            p.request(&http(), "no room")
                .unwrap_err()
                .contains("--room")
        );
        let p = HivenLines {
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
