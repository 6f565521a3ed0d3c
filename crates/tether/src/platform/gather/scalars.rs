//! Actions from scalar arguments without JSON: the fast way to what
//! [`Action::from_json`] builds when every argument is a string, integer, boolean or
//! float its field takes as it is (what tether's Python package hands over for
//! `client.set_text_status("hi")`). The arguments are written as the action message's
//! protobuf fields and decoded by prost, so the action is the one `from_json` builds from
//! the same values; anything else is left to `from_json`, which says what is wrong.

use std::{collections::HashMap, sync::OnceLock};

use prost::{
    Message as _,
    encoding::{WireType, encode_key, encode_varint},
};
use prost_reflect::{EnumDescriptor, Kind};

use super::{actions::available_actions, json::message, model::Action, proto::ClientServerAction};

/// One scalar argument of an action, for [`Action::from_scalars`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// A string: a `string` field, or an enum value by name.
    Str(&'a str),
    /// An integer: any integer field, or an enum value by number.
    Int(i64),
    /// A boolean: a `bool` field.
    Bool(bool),
    /// A floating-point number: a `double` or `float` field.
    Float(f64),
}

/// How one field of an action's message is written from a scalar, if it can be.
#[derive(Debug)]
enum FieldKind {
    Double,
    Float,
    /// `int32`, `int64`, `uint32`, `uint64`: a varint within these bounds.
    Varint {
        min: i64,
        max: i64,
    },
    /// `sint32`, `sint64`: a zigzag varint within these bounds.
    Zigzag {
        min: i64,
        max: i64,
    },
    /// `fixed32`, `sfixed32`: four bytes within these bounds.
    Fixed32 {
        min: i64,
        max: i64,
    },
    /// `fixed64`, `sfixed64`: eight bytes (`uint64` values above `i64::MAX` go by JSON).
    Fixed64 {
        min: i64,
    },
    Bool,
    String,
    /// An enum: by name, or any `int32` (the schema's enums are open).
    Enum(EnumDescriptor),
    /// Bytes, messages, lists and maps: not from a scalar.
    NotScalar,
}

#[derive(Debug)]
struct FieldPlan {
    keyword: &'static str,
    field: &'static str,
    json_name: String,
    number: u32,
    kind: FieldKind,
}

#[derive(Debug)]
struct ActionPlan {
    number: u32,
    fields: Vec<FieldPlan>,
}

fn kind_of(field: &prost_reflect::FieldDescriptor) -> FieldKind {
    if field.is_list() || field.is_map() {
        return FieldKind::NotScalar;
    }
    let (i32_min, i32_max) = (i64::from(i32::MIN), i64::from(i32::MAX));
    let u32_max = i64::from(u32::MAX);
    match field.kind() {
        Kind::Double => FieldKind::Double,
        Kind::Float => FieldKind::Float,
        Kind::Int32 => FieldKind::Varint {
            min: i32_min,
            max: i32_max,
        },
        Kind::Int64 => FieldKind::Varint {
            min: i64::MIN,
            max: i64::MAX,
        },
        Kind::Uint32 => FieldKind::Varint {
            min: 0,
            max: u32_max,
        },
        Kind::Uint64 => FieldKind::Varint {
            min: 0,
            max: i64::MAX,
        },
        Kind::Sint32 => FieldKind::Zigzag {
            min: i32_min,
            max: i32_max,
        },
        Kind::Sint64 => FieldKind::Zigzag {
            min: i64::MIN,
            max: i64::MAX,
        },
        Kind::Fixed32 => FieldKind::Fixed32 {
            min: 0,
            max: u32_max,
        },
        Kind::Sfixed32 => FieldKind::Fixed32 {
            min: i32_min,
            max: i32_max,
        },
        Kind::Fixed64 => FieldKind::Fixed64 { min: 0 },
        Kind::Sfixed64 => FieldKind::Fixed64 { min: i64::MIN },
        Kind::Bool => FieldKind::Bool,
        Kind::String => FieldKind::String,
        Kind::Enum(e) => FieldKind::Enum(e),
        Kind::Bytes | Kind::Message(_) => FieldKind::NotScalar,
    }
}

/// Every action's plan, in schema order, and where to find it by SDK name and by field name.
struct Plans {
    plans: Vec<ActionPlan>,
    by_name: HashMap<&'static str, usize>,
}

fn plan(name: &str) -> Option<&'static ActionPlan> {
    static PLANS: OnceLock<Plans> = OnceLock::new();
    let plans = PLANS.get_or_init(|| {
        let mut by_name = HashMap::new();
        let plans = available_actions()
            .iter()
            .enumerate()
            .map(|(i, info)| {
                by_name.insert(info.name, i);
                by_name.insert(info.field, i);
                let desc = message(info.message);
                let fields = info
                    .args
                    .iter()
                    .filter_map(|arg| {
                        let field = desc.get_field_by_name(arg.field)?;
                        Some(FieldPlan {
                            keyword: arg.name,
                            field: arg.field,
                            json_name: field.json_name().to_owned(),
                            number: field.number(),
                            kind: kind_of(&field),
                        })
                    })
                    .collect();
                ActionPlan {
                    number: info.number,
                    fields,
                }
            })
            .collect();
        Plans { plans, by_name }
    });
    plans.by_name.get(name).map(|&i| &plans.plans[i])
}

/// Writes `value` as field `plan`; `None` when the field does not take it as it is.
fn write(plan: &FieldPlan, value: Scalar<'_>, buf: &mut Vec<u8>) -> Option<()> {
    let n = plan.number;
    match (&plan.kind, value) {
        (FieldKind::Double, Scalar::Float(v)) if v.is_finite() => {
            encode_key(n, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        (FieldKind::Float, Scalar::Float(v)) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => {
            encode_key(n, WireType::ThirtyTwoBit, buf);
            // In range (checked above): the nearest f32, as the JSON mapping rounds it.
            #[allow(clippy::cast_possible_truncation)]
            buf.extend_from_slice(&(v as f32).to_le_bytes());
        }
        (FieldKind::Varint { min, max }, Scalar::Int(v)) if (*min..=*max).contains(&v) => {
            encode_key(n, WireType::Varint, buf);
            // Two's complement: a negative int32/int64 is its 64-bit sign extension.
            #[allow(clippy::cast_sign_loss)]
            encode_varint(v as u64, buf);
        }
        (FieldKind::Zigzag { min, max }, Scalar::Int(v)) if (*min..=*max).contains(&v) => {
            encode_key(n, WireType::Varint, buf);
            #[allow(clippy::cast_sign_loss)]
            encode_varint(((v << 1) ^ (v >> 63)) as u64, buf);
        }
        (FieldKind::Fixed32 { min, max }, Scalar::Int(v)) if (*min..=*max).contains(&v) => {
            encode_key(n, WireType::ThirtyTwoBit, buf);
            // In range (checked above): the low four bytes are the value.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            buf.extend_from_slice(&(v as u32).to_le_bytes());
        }
        (FieldKind::Fixed64 { min }, Scalar::Int(v)) if v >= *min => {
            encode_key(n, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        (FieldKind::Bool, Scalar::Bool(v)) => {
            encode_key(n, WireType::Varint, buf);
            encode_varint(u64::from(v), buf);
        }
        (FieldKind::String, Scalar::Str(s)) => {
            encode_key(n, WireType::LengthDelimited, buf);
            encode_varint(s.len() as u64, buf);
            buf.extend_from_slice(s.as_bytes());
        }
        (FieldKind::Enum(e), Scalar::Str(name)) => {
            let number = e.get_value_by_name(name)?.number();
            encode_key(n, WireType::Varint, buf);
            #[allow(clippy::cast_sign_loss)]
            encode_varint(i64::from(number) as u64, buf);
        }
        (FieldKind::Enum(_), Scalar::Int(v)) => {
            // Any int32: the schema's enums are open (an unknown number is kept).
            i32::try_from(v).ok()?;
            encode_key(n, WireType::Varint, buf);
            #[allow(clippy::cast_sign_loss)]
            encode_varint(v as u64, buf);
        }
        _ => return None,
    }
    Some(())
}

impl Action {
    /// Builds the action `name` (SDK name `set_text_status` or field `setTextStatus`)
    /// from scalar arguments: `positional` in field order, then `keywords` by SDK keyword
    /// (`text_status`), field name or JSON name. The action is the one
    /// [`Action::from_json`] builds from the same values, without JSON; `None` unless every
    /// argument is a scalar its field takes as it is (not for an unknown action or key, a
    /// field given twice, a list, map, message or bytes field, a value outside its field's
    /// range, an enum name the enum lacks, an integer for a float field): then
    /// `from_json` builds it or says what is wrong.
    ///
    /// ```
    /// use tether::gather::{Action, Scalar};
    /// let a = Action::from_scalars("set_text_status", &[Scalar::Str("hi")], &[]).unwrap();
    /// assert_eq!(a, Action::set_text_status("hi", None));
    /// let b = Action::from_scalars("set_text_status", &[], &[("target_id", Scalar::Str("u1"))]);
    /// assert_eq!(b, Some(Action::set_text_status("", Some("u1".into()))));
    /// assert_eq!(Action::from_scalars("set_text_status", &[Scalar::Int(5)], &[]), None);
    /// ```
    #[must_use]
    pub fn from_scalars(
        name: &str,
        positional: &[Scalar<'_>],
        keywords: &[(&str, Scalar<'_>)],
    ) -> Option<Action> {
        let plan = plan(name)?;
        if positional.len() > plan.fields.len() || plan.fields.len() > 64 {
            return None;
        }
        let mut inner = Vec::with_capacity(32);
        let mut given = 0u64;
        for (i, (field, value)) in plan.fields.iter().zip(positional).enumerate() {
            write(field, *value, &mut inner)?;
            given |= 1 << i;
        }
        for (key, value) in keywords {
            let (i, field) = plan
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.keyword == *key || f.field == *key || f.json_name == *key)?;
            if given & (1 << i) != 0 {
                return None;
            }
            write(field, *value, &mut inner)?;
            given |= 1 << i;
        }
        let mut outer = Vec::with_capacity(inner.len() + 8);
        encode_key(plan.number, WireType::LengthDelimited, &mut outer);
        encode_varint(inner.len() as u64, &mut outer);
        outer.extend_from_slice(&inner);
        ClientServerAction::decode(outer.as_slice()).ok()?.action
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn json_of(value: Scalar<'_>) -> Value {
        match value {
            Scalar::Str(s) => json!(s),
            Scalar::Int(v) => json!(v),
            Scalar::Bool(v) => json!(v),
            Scalar::Float(v) => json!(v),
        }
    }

    /// A value for each kind of field, and one its field refuses.
    fn samples(kind: &FieldKind) -> Vec<Scalar<'static>> {
        let mut all = vec![
            Scalar::Str(""),
            Scalar::Str("hé ✓"),
            Scalar::Int(0),
            Scalar::Int(-1),
            Scalar::Int(7),
            Scalar::Int(i64::from(i32::MAX) + 1),
            Scalar::Int(i64::MIN),
            Scalar::Bool(true),
            Scalar::Bool(false),
            Scalar::Float(0.0),
            Scalar::Float(-2.5),
            Scalar::Float(1e300),
        ];
        if let FieldKind::Enum(e) = kind {
            all.extend(e.values().map(|v| Scalar::Str(v.name().to_owned().leak())));
            all.push(Scalar::Str("NO_SUCH_VALUE"));
        }
        all
    }

    /// Whether `value` is of the field's own type and within its range.
    fn natural(kind: &FieldKind, value: Scalar<'_>) -> bool {
        let within = |min: i64, max: i64, v: i64| (min..=max).contains(&v);
        match (kind, value) {
            (FieldKind::String, Scalar::Str(_)) | (FieldKind::Bool, Scalar::Bool(_)) => true,
            (FieldKind::Double, Scalar::Float(_)) => true,
            (FieldKind::Float, Scalar::Float(v)) => v.abs() <= f64::from(f32::MAX),
            (
                FieldKind::Varint { min, max }
                | FieldKind::Zigzag { min, max }
                | FieldKind::Fixed32 { min, max },
                Scalar::Int(v),
            ) => within(*min, *max, v),
            (FieldKind::Fixed64 { min }, Scalar::Int(v)) => v >= *min,
            (FieldKind::Enum(e), Scalar::Str(name)) => e.get_value_by_name(name).is_some(),
            (FieldKind::Enum(_), Scalar::Int(v)) => i32::try_from(v).is_ok(),
            _ => false,
        }
    }

    #[test]
    fn every_scalar_argument_of_every_action_builds_what_from_json_builds() {
        let mut fast = 0;
        for info in available_actions() {
            for (position, field) in plan(info.name).unwrap().fields.iter().enumerate() {
                for value in samples(&field.kind) {
                    let by_scalars =
                        Action::from_scalars(info.name, &[], &[(field.keyword, value)]);
                    let by_json = Action::from_json(
                        info.name,
                        &Value::Object(
                            [(field.keyword.to_owned(), json_of(value))]
                                .into_iter()
                                .collect(),
                        ),
                    );
                    if let Some(action) = &by_scalars {
                        fast += 1;
                        assert_eq!(
                            Ok(action),
                            by_json.as_ref(),
                            "{}.{} = {value:?}",
                            info.name,
                            field.keyword
                        );
                        // Positionally too, after defaults for the fields before it.
                        if position == 0 {
                            assert_eq!(
                                Action::from_scalars(info.name, &[value], &[]).as_ref(),
                                Some(action)
                            );
                        }
                    } else {
                        // Left to from_json (which refuses it, or takes it in a way of its
                        // own: 2.0 for an integer): never a value of the field's own type.
                        assert!(
                            !natural(&field.kind, value),
                            "{}.{} = {value:?} took the slow way",
                            info.name,
                            field.keyword
                        );
                    }
                }
            }
        }
        assert!(fast > 300, "only {fast} arguments took the fast way");
    }

    #[test]
    fn unknown_actions_keys_and_repeated_fields_are_left_to_from_json() {
        assert_eq!(Action::from_scalars("no_such_action", &[], &[]), None);
        let s = Scalar::Str("hi");
        assert_eq!(
            Action::from_scalars("set_text_status", &[], &[("status", s)]),
            None
        );
        assert_eq!(
            Action::from_scalars("set_text_status", &[s], &[("text_status", s)]),
            None
        );
        assert_eq!(
            Action::from_scalars("set_text_status", &[s, s, s], &[]),
            None
        );
        // A list field (map_set_spawns.spawns) takes no scalar.
        assert_eq!(Action::from_scalars("map_set_spawns", &[s, s], &[]), None);
        // By field name and by JSON name as well as by keyword.
        let by_field = Action::from_scalars("setTextStatus", &[], &[("textStatus", s)]);
        assert_eq!(by_field, Some(Action::set_text_status("hi", None)));
    }

    proptest! {
        #[test]
        fn any_text_status_builds_what_from_json_builds(text in ".*", target in proptest::option::of(".*")) {
            let mut keywords = vec![("text_status", Scalar::Str(&text))];
            if let Some(t) = &target {
                keywords.push(("target_id", Scalar::Str(t)));
            }
            let fast = Action::from_scalars("set_text_status", &[], &keywords);
            prop_assert_eq!(fast, Some(Action::set_text_status(text.clone(), target.clone())));
        }
    }
}
