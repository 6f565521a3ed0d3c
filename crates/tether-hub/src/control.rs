//! The control endpoint: a small HTTP API over the hub's faults and counters.
//!
//! - `GET /endpoints` → `{"echo": "ws://127.0.0.1:8700/", …}`
//! - `GET /stats` → `{"echo": {"accepted": 1, "active": 1, "received": 10, …, "listening": true}, …}`
//! - `POST /fault` with `{"endpoint": "echo", "kind": "drop", "code": 1011}` (see [`Fault`]);
//!   with `"conn": ID` (an id from `/snapshot`) `drop`, `stall`, `delay` and `garbage` act
//!   on that one connection
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
