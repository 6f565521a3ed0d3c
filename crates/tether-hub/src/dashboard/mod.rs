//! The dashboard: a live web page on the control endpoint.
//!
//! - `GET /` the page, `GET /dashboard.js` its script (both embedded in the binary, or
//!   read from a folder on every request while editing them: [`crate::HubBuilder::dashboard_dir`])
//! - `GET /snapshot` the hub as JSON
//! - `GET /events` server-sent events: a `snapshot`, then a `delta` a second (the
//!   endpoints that changed) and a whole `snapshot` every ten; a page that lags gets a
//!   snapshot with `resync: true`
//!
//! Faults go through the control API's `POST /fault` and `POST /resume`, which take an
//! optional `conn` (one connection's id). Access rules: [`auth`].

pub(crate) mod auth;
mod feed;
mod redact;
mod snapshot;

use std::{path::PathBuf, sync::Arc};

pub use auth::TOKEN_HEADER;
use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
pub(crate) use feed::Feed;

const HTML: &str = include_str!("dashboard.html");
const JS: &str = include_str!("dashboard.js");

/// What the dashboard routes share.
pub(crate) struct Dashboard {
    pub(crate) feed: Arc<Feed>,
    /// Serve the page's files from here instead of the embedded copies.
    pub(crate) assets: Option<PathBuf>,
}

pub(crate) fn router(dashboard: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/dashboard.js", get(script))
        .route("/snapshot", get(snapshot))
        .route("/events", get(events))
        .with_state(dashboard)
}

fn asset(
    dashboard: &Dashboard,
    name: &str,
    embedded: &'static str,
    mime: &'static str,
) -> Response {
    let body = match &dashboard.assets {
        None => embedded.to_owned(),
        Some(dir) => match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(file = %dir.join(name).display(), error = %e, "dashboard asset");
                return (StatusCode::NOT_FOUND, format!("{name}: {e}")).into_response();
            }
        },
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(d): State<Arc<Dashboard>>) -> Response {
    let mut response = asset(&d, "dashboard.html", HTML, "text/html; charset=utf-8");
    // No framing by other sites (clickjacking the fault buttons).
    response.headers_mut().insert(
        header::HeaderName::from_static("content-security-policy"),
        header::HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response.headers_mut().insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    response
}

async fn script(State(d): State<Arc<Dashboard>>) -> Response {
    asset(&d, "dashboard.js", JS, "text/javascript; charset=utf-8")
}

async fn snapshot(State(d): State<Arc<Dashboard>>) -> impl IntoResponse {
    Json(d.feed.snapshot())
}

async fn events(State(d): State<Arc<Dashboard>>) -> impl IntoResponse {
    d.feed.stream()
}
