//! What each `--profile` contributes to `tether connect`: how its client starts from the
//! flags, how a stdin line is sent (through the platform's typed builders), and how a
//! received message prints. The session driver (`connect`) is the same for all.

use std::{fmt::Debug, future::Future};

use tether::{Client, Events, Outgoing};

use crate::connect::ConnectArgs;

mod datadivr;
mod gather;
mod hiven;
mod hpx;
mod moobius;
mod raw;

pub use datadivr::DatadivrProfile;
pub use gather::GatherProfile;
pub use hiven::HivenProfile;
pub use hpx::HpxProfile;
pub use moobius::MoobiusProfile;
pub use raw::RawProfile;

/// A started client and the profile that drives it.
pub struct Started<P: Profile> {
    /// The engine handle (sends, state, stats, close).
    pub client: Client<P::Event>,
    /// Its event stream.
    pub events: Events<P::Event>,
    /// The profile.
    pub profile: P,
}

/// What became of one stdin line.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// In the engine's outbox: its events report what becomes of it.
    Queued,
    /// Not a valid line: never sent (counted undelivered).
    Invalid(String),
    /// Refused by the engine at send (its `undelivered` event reports and counts it).
    Refused(String),
    /// Sent by the profile itself and acknowledged (Hiven: the created message's id).
    Acked(String),
    /// Sent by the profile itself, and it failed (counted undelivered).
    Failed {
        /// What was sent (JSON).
        data: serde_json::Value,
        /// Why it failed.
        error: String,
    },
}

/// Queues an encoded line in the engine's outbox: the delivery of every profile whose
/// lines are engine messages.
pub async fn queue<E>(client: &Client<E>, encoded: Result<Outgoing, String>) -> Delivery
where
    E: Clone + Send + Sync + 'static,
{
    match encoded {
        Err(e) => Delivery::Invalid(e),
        Ok(message) => match client.send(message).await {
            Ok(_) => Delivery::Queued,
            Err(e) => Delivery::Refused(e.to_string()),
        },
    }
}

/// One platform's side of `tether connect`.
pub trait Profile: Send + Sync + Sized + 'static {
    /// The platform's decoded inbound message.
    type Event: Clone + Debug + Send + Sync + 'static;

    /// Starts the platform's client from the flags.
    ///
    /// # Errors
    /// A usage error (a missing or contradictory flag, an invalid URL…).
    fn start(args: &ConnectArgs) -> Result<Started<Self>, String>;

    /// Sends one (non-blank) stdin line.
    fn deliver(
        &self,
        client: &Client<Self::Event>,
        line: &str,
    ) -> impl Future<Output = Delivery> + Send;

    /// Appends `,"data":D` (and `"binary":true` for binary frames) for a received message.
    fn push_data(&self, event: &Self::Event, line: &mut String);

    /// Whether a received message is printed (Hiven's synthetic ready is not: the `ready`
    /// state stands for it).
    fn is_shown(&self, _event: &Self::Event) -> bool {
        true
    }

    /// A human rendering for the terminal.
    fn pretty(&self, event: &Self::Event) -> String;
}
