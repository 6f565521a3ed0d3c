//! The control endpoint: a small HTTP API over the hub's faults and counters.
//!
//! - `GET /endpoints` → `{"echo": "ws://127.0.0.1:8700/", …}`
//! - `GET /stats` → `{"echo": {"accepted": 1, "active": 1, "received": 10, …, "listening": true}, …}`
//! - `POST /fault` with `{"endpoint": "echo", "kind": "drop", "code": 1011}` (see [`Fault`])
//! - `POST /resume` with `{"endpoint": "echo"}` or `{}` for every endpoint

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Fault, hub::HubInner};

#[derive(Debug, Deserialize)]
struct FaultRequest {
    endpoint: String,
    #[serde(flatten)]
    fault: Fault,
}

#[derive(Debug, Deserialize, Default)]
struct ResumeRequest {
    #[serde(default)]
    endpoint: Option<String>,
}

pub(crate) fn router(hub: Arc<HubInner>) -> Router {
    Router::new()
        .route("/endpoints", get(endpoints))
        .route("/stats", get(stats))
        .route("/fault", post(fault))
        .route("/resume", post(resume))
        .with_state(hub)
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

async fn fault(
    State(hub): State<Arc<HubInner>>,
    Json(req): Json<FaultRequest>,
) -> (StatusCode, Json<Value>) {
    match hub.endpoint(&req.endpoint) {
        Some(e) => {
            e.apply(&req.fault);
            (
                StatusCode::OK,
                Json(json!({"ok": true, "endpoint": req.endpoint, "fault": req.fault})),
            )
        }
        None => unknown(&hub, &req.endpoint),
    }
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
        Some(name) => match hub.endpoint(&name) {
            Some(e) => {
                e.resume();
                (StatusCode::OK, Json(json!({"ok": true, "endpoint": name})))
            }
            None => unknown(&hub, &name),
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
