//! The control endpoint: a small HTTP API over the hub's faults and counters.
//!
//! - `GET /endpoints` → `{"echo": "ws://127.0.0.1:8700/", …}`
//! - `GET /stats` → `{"echo": {"accepted": 1, "active": 1, "received": 10, …, "listening": true}, …}`
//! - `POST /fault` with `{"endpoint": "echo", "kind": "drop", "code": 1011}` (see [`Fault`]);
//!   with `"conn": ID` (an id from `/snapshot`) `drop`, `stall`, `delay` and `garbage` act
//!   on that one connection
//! - `GET /received?endpoint=echo[&since=SEQ][&conn=ID][&limit=N]` (hub started with
//!   `record`) → `{"endpoint": "echo", "frames": [{"seq": 0, "conn": 1, "text": "…"},
//!   {"seq": 1, "conn": 1, "binary": "0a1f…"}], "next": 2, "missed": 0}`: the frames
//!   the endpoint received (binary ones in hex), oldest first, from number `since` on
//!   (default 0), at most `limit` (default and cap [`RECEIVED_PAGE`]); `next` is the
//!   `since` of the next page, and of a later call that wants only what comes after;
//!   `missed` counts frames from `since` on that the log's bound let go. A frame's `seq`
//!   is the endpoint's `received` count (`/stats`) before it arrived: that count, taken
//!   before acting, is the `since` of what comes after
//! - `POST /resume` with `{"endpoint": "echo"}` (and optionally `"conn": ID`) or `{}` for
//!   every endpoint
//! - the dashboard's page and feed (`/`, `/snapshot`, `/events`: see `dashboard`)
//!
//! Every route is behind the access rules of `dashboard::auth` (token, JSON-only
//! requests that act, read-only mode).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Fault,
    dashboard::{self, Dashboard, auth::Access},
    endpoint::ConnFaultError,
    hub::HubInner,
};

#[derive(Debug, Deserialize)]
struct FaultRequest {
    endpoint: String,
    /// One connection of the endpoint, instead of all of them.
    #[serde(default)]
    conn: Option<u64>,
    #[serde(flatten)]
    fault: Fault,
}

/// Frames one `GET /received` returns at most.
pub(crate) const RECEIVED_PAGE: usize = 10_000;

/// The query of `GET /received`.
#[derive(Debug, Default, PartialEq)]
struct ReceivedQuery {
    endpoint: String,
    since: u64,
    conn: Option<u64>,
    limit: Option<usize>,
}

impl ReceivedQuery {
    /// Reads `endpoint=NAME&since=N&conn=ID&limit=N` (names are taken as they are: the
    /// hub's have no characters that need escaping); the error names the bad pair.
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut out = Self::default();
        let number = |key: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{key}={value:?} is not a whole number"))
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "endpoint" => value.clone_into(&mut out.endpoint),
                "since" => out.since = number(key, value)?,
                "conn" => out.conn = Some(number(key, value)?),
                "limit" => {
                    out.limit = Some(usize::try_from(number(key, value)?).unwrap_or(usize::MAX));
                }
                // The dashboard's `token=`, and anything else, is not ours.
                _ => {}
            }
        }
        if out.endpoint.is_empty() {
            return Err("name the endpoint: /received?endpoint=NAME".to_owned());
        }
        Ok(out)
    }
}

#[derive(Debug, Deserialize, Default)]
struct ResumeRequest {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    conn: Option<u64>,
}

pub(crate) fn router(hub: Arc<HubInner>, dashboard: Arc<Dashboard>, access: Access) -> Router {
    Router::new()
        .route("/endpoints", get(endpoints))
        .route("/stats", get(stats))
        .route("/received", get(received))
        .route("/fault", post(fault))
        .route("/resume", post(resume))
        .with_state(hub)
        .merge(dashboard::router(dashboard))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            dashboard::auth::guard,
        ))
}

async fn endpoints(State(hub): State<Arc<HubInner>>) -> Json<Value> {
    let map: serde_json::Map<String, Value> = hub
        .endpoints
        .iter()
        .map(|e| (e.spec.name.clone(), Value::String(e.url())))
        .chain(
            hub.apis
                .iter()
                .map(|(name, url)| (name.clone(), Value::String(url.clone()))),
        )
        .collect();
    Json(Value::Object(map))
}

async fn stats(State(hub): State<Arc<HubInner>>) -> Json<Value> {
    let map: serde_json::Map<String, Value> = hub
        .endpoints
        .iter()
        .map(|e| {
            (
                e.spec.name.clone(),
                serde_json::to_value(e.stats.snapshot()).unwrap_or(Value::Null),
            )
        })
        .collect();
    Json(Value::Object(map))
}

async fn received(
    State(hub): State<Arc<HubInner>>,
    uri: axum::http::Uri,
) -> (StatusCode, Json<Value>) {
    let query = match ReceivedQuery::parse(uri.query()) {
        Ok(query) => query,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"ok": false, "error": error})),
            );
        }
    };
    let Some(e) = hub.endpoint(&query.endpoint) else {
        return unknown(&hub, &query.endpoint);
    };
    if !e.record {
        return (
            StatusCode::CONFLICT,
            Json(json!({
                "ok": false,
                "error": "the hub keeps no receive log: start it with --record",
            })),
        );
    }
    let limit = query.limit.unwrap_or(RECEIVED_PAGE).min(RECEIVED_PAGE);
    let page = e.stats.log_page(query.since, query.conn, limit);
    let frames: Vec<Value> = page
        .frames
        .iter()
        .map(|logged| {
            let mut entry = json!({"seq": logged.seq, "conn": logged.conn});
            match &logged.frame {
                tether::Frame::Text(b) => {
                    entry["text"] = Value::String(String::from_utf8_lossy(b).into_owned());
                }
                tether::Frame::Binary(b) => entry["binary"] = Value::String(hex(b)),
            }
            entry
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({
            "endpoint": query.endpoint,
            "frames": frames,
            "next": page.next,
            "missed": page.missed,
        })),
    )
}

/// Lowercase hex, two digits a byte.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

async fn fault(
    State(hub): State<Arc<HubInner>>,
    Json(req): Json<FaultRequest>,
) -> (StatusCode, Json<Value>) {
    let Some(e) = hub.endpoint(&req.endpoint) else {
        return unknown(&hub, &req.endpoint);
    };
    match req.conn {
        None => e.apply(&req.fault),
        Some(conn) => {
            if let Err(error) = e.apply_to(conn, &req.fault) {
                return conn_error(&error);
            }
        }
    }
    (
        StatusCode::OK,
        Json(json!({"ok": true, "endpoint": req.endpoint, "conn": req.conn, "fault": req.fault})),
    )
}

fn conn_error(error: &ConnFaultError) -> (StatusCode, Json<Value>) {
    let status = match error {
        ConnFaultError::UnknownConnection(_) => StatusCode::NOT_FOUND,
        ConnFaultError::EndpointOnly => StatusCode::BAD_REQUEST,
    };
    (
        status,
        Json(json!({"ok": false, "error": error.to_string()})),
    )
}

async fn resume(
    State(hub): State<Arc<HubInner>>,
    body: Option<Json<ResumeRequest>>,
) -> (StatusCode, Json<Value>) {
    let req = body.map(|Json(r)| r).unwrap_or_default();
    match req.endpoint {
        None => {
            hub.endpoints.iter().for_each(|e| e.resume());
            (StatusCode::OK, Json(json!({"ok": true})))
        }
        Some(name) => match (hub.endpoint(&name), req.conn) {
            (Some(e), None) => {
                e.resume();
                (StatusCode::OK, Json(json!({"ok": true, "endpoint": name})))
            }
            (Some(e), Some(conn)) => match e.resume_conn(conn) {
                Ok(()) => (
                    StatusCode::OK,
                    Json(json!({"ok": true, "endpoint": name, "conn": conn})),
                ),
                Err(error) => conn_error(&error),
            },
            (None, _) => unknown(&hub, &name),
        },
    }
}

fn unknown(hub: &HubInner, name: &str) -> (StatusCode, Json<Value>) {
    let known: Vec<&str> = hub.endpoints.iter().map(|e| e.spec.name.as_str()).collect();
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"ok": false, "error": format!("unknown endpoint {name:?}"), "endpoints": known}),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_received_query_reads_every_field_and_names_a_bad_one() {
        let q = ReceivedQuery::parse(Some("endpoint=echo-ack&since=4&conn=2&limit=10&token=t"));
        assert_eq!(
            q,
            Ok(ReceivedQuery {
                endpoint: "echo-ack".into(),
                since: 4,
                conn: Some(2),
                limit: Some(10),
            })
        );
        let bad = ReceivedQuery::parse(Some("endpoint=echo&since=x")).unwrap_err();
        assert!(bad.contains("since"), "{bad}");
        assert!(ReceivedQuery::parse(None).is_err());
    }
}
