//! JSON ↔ Gather messages through the schema's descriptor (prost-reflect): actions built
//! from JSON arguments (the CLI's `action_name {json args}` lines) are validated against
//! the action's fields; events print in the protobuf JSON mapping (as the SDK's
//! `json_format` does: camelCase names, enums by name, 64-bit integers as strings).

use std::sync::OnceLock;

use prost::{Message as _, encoding::WireType};
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::Value;

use super::{
    actions::{ActionInfo, find_action},
    model::{Action, ServerEvent},
    proto::{ClientServerAction, ServerClientBatch, ServerClientEvent},
};

/// Why JSON arguments do not make an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// No action has this name.
    #[error("unknown action {0:?} (`tether gather actions` lists them)")]
    UnknownAction(String),
    /// The action has no such argument.
    #[error("{action} has no argument {argument:?} (arguments: {expected})")]
    UnknownArgument {
        /// The action.
        action: String,
        /// The key given.
        argument: String,
        /// Its arguments.
        expected: String,
    },
    /// More positional arguments than the action has fields.
    #[error("{action} takes at most {max} arguments, {given} given")]
    TooManyArguments {
        /// The action.
        action: String,
        /// How many were given.
        given: usize,
        /// How many it takes.
        max: usize,
    },
    /// Arguments are neither an object nor an array (nor absent).
    #[error("arguments of {action} must be a JSON object (or an array of positional arguments)")]
    NotAnObject {
        /// The action.
        action: String,
    },
    /// A value does not fit its field's type.
    #[error("invalid arguments for {action}: {reason}")]
    InvalidArguments {
        /// The action.
        action: String,
        /// What was wrong.
        reason: String,
    },
}

/// The schema's `FileDescriptorSet` (protobuf bytes), as `build.rs` compiled it: what
/// another runtime (Python's `protobuf`) needs to build the same message classes.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/gather_descriptor.bin"));

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTOR_SET).expect("the descriptor set build.rs wrote decodes")
    })
}

pub(super) fn message(name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(name)
        .expect("the message is in the schema")
}

/// The SDK's `snake_to_camel` (`text_status` → `textStatus`).
fn snake_to_camel(s: &str) -> String {
    let mut out = String::new();
    for word in s.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    let mut chars = out.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => out,
    }
}

/// Renames keys to the schema's field names (accepting the field name, its JSON name,
/// or the SDK's snake_case keyword), down through nested messages.
fn normalize(desc: &MessageDescriptor, value: Value, action: &str) -> Result<Value, ActionError> {
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let mut out = serde_json::Map::new();
    for (key, v) in map {
        let field = desc
            .get_field_by_name(&key)
            .or_else(|| desc.get_field_by_json_name(&key))
            .or_else(|| desc.get_field_by_name(&snake_to_camel(&key)))
            .ok_or_else(|| ActionError::UnknownArgument {
                action: action.to_owned(),
                argument: key.clone(),
                expected: desc
                    .fields()
                    .map(|f| f.name().to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let v = match field.kind() {
            Kind::Message(inner) if field.is_map() => {
                let value_field = inner.map_entry_value_field();
                match (value_field.kind(), v) {
                    (Kind::Message(m), Value::Object(entries)) => Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| Ok((k, normalize(&m, v, action)?)))
                            .collect::<Result<_, ActionError>>()?,
                    ),
                    (_, v) => v,
                }
            }
            Kind::Message(inner) => match v {
                Value::Array(items) => Value::Array(
                    items
                        .into_iter()
                        .map(|item| normalize(&inner, item, action))
                        .collect::<Result<_, _>>()?,
                ),
                v => normalize(&inner, v, action)?,
            },
            _ => v,
        };
        out.insert(field.name().to_owned(), v);
    }
    Ok(Value::Object(out))
}

impl Action {
    /// Builds the action named `name` (SDK name `set_text_status` or field
    /// `setTextStatus`) from JSON arguments: an object keyed by SDK keywords
    /// (`text_status`) or field names (`textStatus`), an array of positional arguments in
    /// declaration order (as the SDK's `*args`), or `null` for none. Values follow the
    /// protobuf JSON mapping (enums by name or number, 64-bit integers as numbers or
    /// strings). Anything the action's fields do not accept is an error.
    ///
    /// ```
    /// use serde_json::json;
    /// use tether::gather::Action;
    /// let a = Action::from_json("set_text_status", &json!({"text_status": "hi"})).unwrap();
    /// assert_eq!(a, Action::set_text_status("hi", None));
    /// assert!(Action::from_json("set_text_status", &json!({"status": "hi"})).is_err());
    /// assert!(Action::from_json("set_text_status", &json!({"text_status": 5})).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ActionError`] saying what does not fit.
    pub fn from_json(name: &str, args: &Value) -> Result<Action, ActionError> {
        let info: &ActionInfo =
            find_action(name).ok_or_else(|| ActionError::UnknownAction(name.to_owned()))?;
        let desc = message(info.message);
        let args = match args {
            Value::Null => Value::Object(serde_json::Map::new()),
            Value::Object(_) => args.clone(),
            Value::Array(items) => {
                if items.len() > info.args.len() {
                    return Err(ActionError::TooManyArguments {
                        action: info.name.to_owned(),
                        given: items.len(),
                        max: info.args.len(),
                    });
                }
                Value::Object(
                    info.args
                        .iter()
                        .zip(items)
                        .map(|(arg, v)| (arg.field.to_owned(), v.clone()))
                        .collect(),
                )
            }
            _ => {
                return Err(ActionError::NotAnObject {
                    action: info.name.to_owned(),
                });
            }
        };
        let args = normalize(&desc, args, info.name)?;
        let invalid = |reason: String| ActionError::InvalidArguments {
            action: info.name.to_owned(),
            reason,
        };
        let options = DeserializeOptions::new().deny_unknown_fields(true);
        let inner = DynamicMessage::deserialize_with_options(desc, args, &options)
            .map_err(|e| invalid(e.to_string()))?;
        // The `ClientServerAction` with only this oneof field, written by hand: a dynamic
        // `ClientServerAction` would clear its 129 oneof fields on every set.
        let inner_len = inner.encoded_len();
        let mut outer = Vec::with_capacity(inner_len + 16);
        prost::encoding::encode_key(info.number, WireType::LengthDelimited, &mut outer);
        prost::encoding::encode_varint(inner_len as u64, &mut outer);
        inner
            .encode(&mut outer)
            .map_err(|e| invalid(e.to_string()))?;
        ClientServerAction::decode(outer.as_slice())
            .map_err(|e| invalid(e.to_string()))?
            .action
            .ok_or_else(|| invalid("no action".into()))
    }
}

fn to_json<M: prost::Message>(name: &str, message: &M) -> Value {
    let bytes = message.encode_to_vec();
    let Ok(dynamic) = DynamicMessage::decode(self::message(name), bytes.as_slice()) else {
        return Value::Null;
    };
    let options = SerializeOptions::new().skip_default_fields(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(Value::Null)
}

/// A `ClientServerAction` in the protobuf JSON mapping:
/// `{"setTextStatus": {"textStatus": "hi"}, "txnId": 7}` (the dry run's readable form).
#[must_use]
pub fn action_to_json(action: &ClientServerAction) -> Value {
    to_json("ClientServerAction", action)
}

/// A batch in the protobuf JSON mapping: `{"events": [{"ready": {"id": "user-123"}}]}`.
#[must_use]
pub fn batch_to_json(batch: &ServerClientBatch) -> Value {
    to_json("ServerClientBatch", batch)
}

/// One event in the protobuf JSON mapping: `{"playerChats": {"contents": "hi", …}}`.
///
/// ```
/// use tether::gather::{ServerEvent, event_to_json, proto::Ready};
/// let event = ServerEvent::Ready(Ready { id: "u1".into() });
/// assert_eq!(event_to_json(&event), serde_json::json!({"ready": {"id": "u1"}}));
/// ```
#[must_use]
pub fn event_to_json(event: &ServerEvent) -> Value {
    to_json(
        "ServerClientEvent",
        &ServerClientEvent {
            event: Some(event.clone()),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::gather::proto::{PlayerInitInfo, move_direction_enum};

    #[test]
    fn keywords_field_names_and_positional_arguments_give_the_same_action() {
        let want = Action::set_text_status("for other", Some("player-2".into()));
        for args in [
            json!({"text_status": "for other", "target_id": "player-2"}),
            json!({"textStatus": "for other", "targetId": "player-2"}),
            json!(["for other", "player-2"]),
        ] {
            assert_eq!(Action::from_json("set_text_status", &args).unwrap(), want);
        }
        assert_eq!(
            Action::from_json("shootConfetti", &Value::Null).unwrap(),
            Action::shoot_confetti(None)
        );
    }

    /// `from_json`'s former wrapping through a dynamic `ClientServerAction`.
    fn reference_wrap(info: &ActionInfo, inner: DynamicMessage) -> Action {
        let mut outer = DynamicMessage::new(message("ClientServerAction"));
        outer
            .try_set_field_by_name(info.field, prost_reflect::Value::Message(inner))
            .unwrap();
        ClientServerAction::decode(outer.encode_to_vec().as_slice())
            .unwrap()
            .action
            .unwrap()
    }

    #[test]
    fn the_hand_written_wrapping_equals_the_dynamic_one_for_every_action() {
        for info in crate::gather::available_actions() {
            let inner = DynamicMessage::new(message(info.message));
            assert_eq!(
                Action::from_json(info.name, &Value::Null).unwrap(),
                reference_wrap(info, inner),
                "{}",
                info.name
            );
        }
        let info = find_action("set_text_status").unwrap();
        let inner = DynamicMessage::deserialize(
            message(info.message),
            json!({"textStatus": "h\u{e9}", "targetId": "p"}),
        )
        .unwrap();
        assert_eq!(
            Action::from_json("set_text_status", &json!(["h\u{e9}", "p"])).unwrap(),
            reference_wrap(info, inner)
        );
    }

    #[test]
    fn enums_maps_and_nested_messages_follow_the_json_mapping() {
        let m = Action::from_json("move", &json!({"dir": "Right", "input_id": 7})).unwrap();
        assert_eq!(
            m,
            Action::r#move(move_direction_enum::Enum::Right, false, 7, None)
        );
        let subs = Action::from_json(
            "update_subscriptions",
            &json!({"subscriptions": {"chat": true}, "map_update_ids": {"office": 5}}),
        )
        .unwrap();
        assert_eq!(
            subs,
            Action::update_subscriptions(
                BTreeMap::from([("chat".to_owned(), true)]),
                BTreeMap::from([("office".to_owned(), 5)])
            )
        );
        let enter = Action::from_json(
            "enter",
            &json!({"info": {"name": "Bot", "x": 1, "y": 2, "map": "office", "is_npc": true}}),
        )
        .unwrap();
        let Action::Enter(enter) = enter else {
            panic!("{enter:?}")
        };
        let info: PlayerInitInfo = enter.info.unwrap();
        assert_eq!(
            (info.name.as_deref(), info.is_npc),
            (Some("Bot"), Some(true))
        );
    }

    #[test]
    fn what_the_fields_do_not_accept_is_refused_with_a_reason() {
        let err = |name: &str, args: Value| Action::from_json(name, &args).unwrap_err();
        assert!(matches!(
            err("fly", json!({})),
            ActionError::UnknownAction(_)
        ));
        assert!(matches!(
            err("set_text_status", json!({"status": "x"})),
            ActionError::UnknownArgument { .. }
        ));
        assert!(matches!(
            err("set_text_status", json!({"text_status": 5})),
            ActionError::InvalidArguments { .. }
        ));
        assert!(matches!(
            err("set_text_status", json!(["a", "b", "c"])),
            ActionError::TooManyArguments {
                given: 3,
                max: 2,
                ..
            }
        ));
        assert!(matches!(
            err("set_text_status", json!("hi")),
            ActionError::NotAnObject { .. }
        ));
        assert!(matches!(
            err("move", json!({"dir": "Sideways"})),
            ActionError::InvalidArguments { .. }
        ));
        assert!(matches!(
            err("ghost", json!({"ghost": -1})),
            ActionError::InvalidArguments { .. }
        ));
    }
}
