//! The wire model: one `ClientServerAction` per binary frame from the client, one
//! `ServerClientBatch` per binary frame from the server. Shared with the hub.

use prost::Message as _;

use crate::outgoing::AckKey;

use super::proto::{ClientServerAction, ServerClientBatch, ServerClientEvent};

/// One action: the `ClientServerAction.action` oneof. Build it with its generated
/// constructors ([`Action::set_text_status`], …) or from any action message
/// (`Action::from(SetTextStatus { .. })`).
pub type Action = super::proto::client_server_action::Action;

/// One server event: the `ServerClientEvent.event` oneof (`ready`, `playerChats`,
/// `transactionStatus`, …); [`ServerEvent::name`] gives its field name.
pub type ServerEvent = super::proto::server_client_event::Event;

/// The SDK's space id rule: every `/` becomes `\`, in the discovery URL and in `init`.
///
/// ```
/// assert_eq!(tether::gather::space_id("AbCdEf/My Space"), "AbCdEf\\My Space");
/// ```
#[must_use]
pub fn space_id(space: &str) -> String {
    space.replace('/', "\\")
}

/// The ack key of an action with this `txnId`: `transactionStatus` events carry it.
#[must_use]
pub fn ack_key(txn_id: u32) -> AckKey {
    // The decimal digits on the stack, then one allocation (the key's own), where
    // `to_string` would allocate a String and then copy it into the key.
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = txn_id;
    loop {
        at -= 1;
        // `rest % 10` is a single digit.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (rest % 10) as u8;
        digits[at] = b'0' + digit;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    AckKey::new(std::str::from_utf8(&digits[at..]).unwrap_or_default())
}

/// The bytes of one `ClientServerAction` (what the client sends in a binary frame).
///
/// prost writes the oneof before `txnId` whatever its number; Python writes fields in
/// number order. The bytes are equal for actions numbered below 100 and differ in order
/// only above it; both decode to the same message.
///
/// ```
/// use tether::gather::{Action, encode_action};
/// let bytes = encode_action(&Action::client_heartbeat(), Some(123_456_789));
/// assert_eq!(bytes, [0x0a, 0x00, 0xa0, 0x06, 0x95, 0x9a, 0xef, 0x3a]);
/// ```
#[must_use]
pub fn encode_action(action: &Action, txn_id: Option<u32>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(encoded_action_len(action, txn_id));
    encode_action_to(action, txn_id, &mut buf);
    buf
}

/// The size of [`encode_action`]'s bytes.
#[must_use]
pub fn encoded_action_len(action: &Action, txn_id: Option<u32>) -> usize {
    action.encoded_len()
        + txn_id.map_or(0, |id| {
            prost::encoding::uint32::encoded_len(TXN_ID_FIELD, &id)
        })
}

/// Appends [`encode_action`]'s bytes to `buf`, without copying the action: the bytes
/// `ClientServerAction { txn_id, action }` encodes to (the oneof first, then `txnId`, as
/// prost writes them). A growable buffer, so it never runs out of room.
pub fn encode_action_to(action: &Action, txn_id: Option<u32>, buf: &mut Vec<u8>) {
    action.encode(buf);
    if let Some(id) = txn_id {
        prost::encoding::uint32::encode(TXN_ID_FIELD, &id, buf);
    }
}

/// `ClientServerAction.txnId`'s field number.
const TXN_ID_FIELD: u32 = 100;

/// Decodes one `ClientServerAction` (the hub's side).
///
/// # Errors
/// The protobuf decode error.
pub fn decode_action(bytes: &[u8]) -> Result<ClientServerAction, prost::DecodeError> {
    ClientServerAction::decode(bytes)
}

/// The bytes of one `ServerClientBatch` (the hub's side).
#[must_use]
pub fn encode_batch(events: impl IntoIterator<Item = ServerEvent>) -> Vec<u8> {
    ServerClientBatch {
        events: events
            .into_iter()
            .map(|event| ServerClientEvent { event: Some(event) })
            .collect(),
    }
    .encode_to_vec()
}

/// Decodes one `ServerClientBatch`.
///
/// # Errors
/// The protobuf decode error.
pub fn decode_batch(bytes: &[u8]) -> Result<ServerClientBatch, prost::DecodeError> {
    ServerClientBatch::decode(bytes)
}

impl Action {
    /// The full `ClientServerAction` with this `txnId` (the dry run of a send).
    #[must_use]
    pub fn with_txn_id(self, txn_id: u32) -> ClientServerAction {
        ClientServerAction {
            txn_id: Some(txn_id),
            action: Some(self),
        }
    }

    /// The SDK's method name of this action (`set_text_status`).
    #[must_use]
    pub fn method_name(&self) -> &'static str {
        let field = self.field_name();
        super::actions::ACTIONS
            .iter()
            .find(|a| a.field == field)
            .map_or(field, |a| a.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::proto::{Ready, TransactionStatus};

    #[test]
    fn set_text_status_encodes_like_the_sdk() {
        let bytes = encode_action(
            &Action::set_text_status("new status text", None),
            Some(123_456_789),
        );
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ca01110a0f6e6577207374617475732074657874a006959aef3a");
    }

    #[test]
    fn encode_action_writes_what_prost_writes_for_every_action() {
        for info in crate::gather::available_actions() {
            let action = Action::from_json(info.name, &serde_json::Value::Null).unwrap();
            for txn_id in [None, Some(0), Some(7), Some(u32::MAX)] {
                let want = ClientServerAction {
                    txn_id,
                    action: Some(action.clone()),
                }
                .encode_to_vec();
                let got = encode_action(&action, txn_id);
                assert_eq!(got, want, "{} {txn_id:?}", info.name);
                assert_eq!(encoded_action_len(&action, txn_id), want.len());
            }
        }
        let action = Action::set_text_status("s\u{e9}", Some("target".into()));
        assert_eq!(
            encode_action(&action, Some(123)),
            action.clone().with_txn_id(123).encode_to_vec()
        );
    }

    #[test]
    fn ack_keys_are_the_decimal_txn_ids() {
        for id in [0, 1, 9, 10, 99, 100, 123_456_789, 4_000_000_000, u32::MAX] {
            assert_eq!(ack_key(id).as_str(), id.to_string());
        }
    }

    #[test]
    fn batches_round_trip_and_names_come_from_the_schema() {
        let bytes = encode_batch([
            ServerEvent::Ready(Ready {
                id: "user-1".into(),
            }),
            ServerEvent::TransactionStatus(TransactionStatus {
                txn_id: 5,
                succeeded: true,
                reason: None,
            }),
        ]);
        let batch = decode_batch(&bytes).unwrap();
        let names: Vec<&str> = batch
            .events
            .iter()
            .filter_map(|e| e.event.as_ref())
            .map(ServerEvent::name)
            .collect();
        assert_eq!(names, ["ready", "transactionStatus"]);
        assert!(decode_batch(b"\xff\xff").is_err());
    }

    #[test]
    fn actions_know_their_sdk_names() {
        assert_eq!(
            Action::map_set_use_drawn_b_g(String::new(), false, None).method_name(),
            "map_set_use_drawn_b_g"
        );
        assert_eq!(Action::shoot_confetti(None).field_name(), "shootConfetti");
    }
}
