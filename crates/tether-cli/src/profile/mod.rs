//! What each `--profile` contributes to `tether connect`: how a stdin line becomes a
//! message (through the platform's typed builders), and how a received message prints.

use std::fmt::Debug;

use tether::Outgoing;

mod datadivr;
mod gather;
pub mod hiven;
mod hpx;
mod moobius;
mod raw;

pub use datadivr::DatadivrProfile;
pub use gather::GatherProfile;
pub use hpx::HpxProfile;
pub use moobius::MoobiusProfile;
pub use raw::RawProfile;

/// One platform's side of `tether connect`.
pub trait Profile: Send + Sync + 'static {
    /// The platform's decoded inbound message.
    type Event: Clone + Debug + Send + Sync + 'static;

    /// Turns one stdin line into a message, or says why it is not valid.
    ///
    /// # Errors
    /// The reason, printed as `stdin line N: reason`.
    fn encode_line(&self, line: &str) -> Result<Outgoing, String>;

    /// Appends `,"data":D` (and `"binary":true` for binary frames) for a received message.
    fn push_data(&self, event: &Self::Event, line: &mut String);

    /// A human rendering for the terminal.
    fn pretty(&self, event: &Self::Event) -> String;
}
