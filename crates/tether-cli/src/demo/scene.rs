//! What a platform contributes to the demo: its typed client, its messages, and how to
//! find them in the hub's receive log.

use std::fmt::Debug;

use tether::{ClientConfig, Frame, Outgoing, Started};
use tether_hub::Hub;

/// One platform's part in the story.
pub trait Scene: Send {
    /// The platform's decoded inbound message.
    type Event: Clone + Debug + Send + Sync + 'static;

    /// The platform's name in the table.
    fn name(&self) -> &'static str;

    /// The hub endpoint its client talks to (faults are injected there).
    fn endpoint(&self) -> &'static str;

    /// Whether the platform acknowledges each message. With acks, delivered means
    /// acknowledged and messages in flight at a fault are replayed; without, delivered
    /// means flushed, so bytes in a socket that dies are nobody's to save and the story
    /// queues its bursts while the connection is down.
    fn acks(&self) -> bool;

    /// Starts the platform's typed client (login, heartbeat, acks are the platform's) and
    /// returns its engine handle.
    ///
    /// # Errors
    /// Why it could not start.
    fn start(&mut self, hub: &Hub, config: ClientConfig) -> Result<Started<Self::Event>, String>;

    /// Message number `n`, built by the platform's typed builders.
    fn message(&self, n: u64) -> Outgoing;

    /// The number carried by a frame of the hub's receive log, if it is a story message.
    fn number_in(&self, frame: &Frame) -> Option<u64>;

    /// Closes the typed client (default: nothing beyond the engine's close).
    fn finish(&mut self) {}
}

/// The number in the first `demo N` of a text: the demo's messages carry it, whatever the
/// platform's envelope around it.
#[must_use]
pub fn demo_number(text: &str) -> Option<u64> {
    let at = text.find("demo ")? + "demo ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
