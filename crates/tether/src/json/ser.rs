//! Writing a [`Value`]: `Serialize`, and `Display` as JSON text.

use std::fmt;

use serde::ser::{Serialize, Serializer};

use super::Value;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(map) => serializer.collect_map(map),
        }
    }
}

/// Compact JSON text (`{"a":1}`); with `{:#}`, pretty (two-space indent), keys in order.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        // A `Value` always serializes (string keys only, finite numbers).
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::json;

    #[test]
    fn display_writes_keys_in_insertion_order() {
        let v = json!({"z": 1, "a": {"y": [1.5, "x"], "b": null}});
        assert_eq!(v.to_string(), r#"{"z":1,"a":{"y":[1.5,"x"],"b":null}}"#);
        assert_eq!(
            format!("{v:#}"),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [\n      1.5,\n      \"x\"\n    ],\n    \"b\": null\n  }\n}"
        );
    }
}
