//! # tether-hub
//!
//! A local server that speaks every tether platform (and plain echo), with fault
//! injection, so examples, tests and benchmarks run offline on one machine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tether_hub::{Fault, Hub};
//! let hub = Hub::builder().ephemeral().start().await?;
//! let echo = hub.url("echo").unwrap();          // ws://127.0.0.1:PORT/
//! hub.fault("echo", &Fault::Drop { code: None })?; // reset every connection
//! hub.fault("echo", &Fault::Stall { secs: Some(5.0) })?;
//! hub.resume(None)?;
//! # Ok(()) }
//! ```
//!
//! Endpoints are [`Service`]s: a sans-IO [`Session`] per connection (frames in, frames
//! out) driven by the hub's per-connection loop, which applies faults, batches writes
//! and bounds every queue (a client too slow to take what is routed to it is
//! disconnected).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod conn_stats;
mod control;
mod dashboard;
mod datadivr;
mod echo;
mod endpoint;
mod fault;
mod gather;
mod hiven;
mod hpx;
mod hub;
mod listener;
mod moobius;
mod registry;
mod service;
mod stats;

pub use dashboard::TOKEN_HEADER;
pub use datadivr::{DATADIVR_PATH, DATADIVR_PORT, Datadivr};
pub use echo::{Echo, EchoAck, Sink};
pub use endpoint::{EndpointSpec, Transport};
pub use fault::{DEFAULT_OVERSIZE, Fault, Garbage};
pub use gather::{
    GATHER_API_PORT, GATHER_API_ROOT, GATHER_PORT, Gather, REFUSED as GATHER_REFUSED,
    api_key_accepted,
};
pub use hiven::{
    CLOSE_DECODE_ERROR, CLOSE_HEARTBEAT_TIMEOUT, CLOSE_INVALID_TOKEN, HIVEN_API_PORT,
    HIVEN_API_PREFIX, HIVEN_PATH, HIVEN_PORT, HOUSE_JOIN_DELAY, Hiven, MIN_HEARTBEAT_MS, OWNER_ID,
};
pub use hpx::{HPX_PASSWORD, HPX_PORT, HPX_USER, Hpx, TlsSetupError};
pub use hub::{CONTROL_PORT, Hub, HubBuilder, HubError};
pub use moobius::{MOOBIUS_PATH, MOOBIUS_PORT, Moobius};
pub use registry::{PUSH_QUEUE, Registry, RouteError};
pub use service::{Close, ConnInfo, Service, Session};
pub use stats::{EndpointStats, RECEIVE_LOG_LIMIT};
