//! An ordered JSON value: objects keep their keys in insertion order, as Python dicts do.
//!
//! The platforms whose wire format is written by Python (`datadivr`, `moobius`, `hpx`)
//! must keep key order byte for byte. serde_json keeps it only with its `preserve_order`
//! feature, which Cargo's feature unification would turn on for a user's whole program;
//! tether keeps it in its own [`Value`] instead, so serde_json behaves as the rest of the
//! program expects.
//!
//! Build a value with [`json!`](crate::json!) (same syntax as `serde_json::json!`, keys in
//! the order written), parse one with [`str::parse`] or [`from_str`], or convert a
//! `serde_json::Value` with [`From`] (its order is then serde_json's).
//!
//! ```
//! use tether::json::Value;
//! let v: Value = tether::json!({"b": 1, "a": [true, null]});
//! assert_eq!(v.to_string(), r#"{"b":1,"a":[true,null]}"#);
//! assert_eq!(v["a"][0], true);
//! let plain: serde_json::Value = v.clone().into();
//! assert_eq!(Value::from(plain), v); // equality ignores key order, as dict equality does
//! ```

mod access;
mod convert;
mod de;
mod macros;
mod ser;

pub use access::ValueIndex;
pub use convert::ToValue;
pub use serde_json::Number;

/// A JSON object: keys in insertion order (an [`indexmap::IndexMap`]). `Map<String, Value>`
/// spells the same type, as with `serde_json::Map`.
pub type Map<K = String, V = Value> = indexmap::IndexMap<K, V>;

/// Any JSON value, objects in key order.
///
/// Mirrors `serde_json::Value`: the same variants, accessors (`get`, `as_str`, indexing
/// with `v["key"]` / `v[0]`, …), `Display` as compact JSON (`{:#}` pretty), `FromStr`,
/// `Serialize` / `Deserialize`, and it is a `Deserializer` itself (see [`from_value`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (serde_json's [`Number`]).
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in insertion order.
    Object(Map),
}

/// Parses JSON text, keeping object key order.
///
/// # Errors
/// serde_json's error for text that is not one JSON value.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

/// Parses JSON bytes, keeping object key order.
///
/// # Errors
/// serde_json's error for bytes that are not one JSON value.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Any `Serialize` value as a [`Value`], struct fields and map entries in the order they
/// are serialized (through JSON text).
///
/// # Errors
/// serde_json's error for a value JSON cannot hold (a map with non-string keys, …).
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
    from_slice(&serde_json::to_vec(value)?)
}

/// Deserializes a `T` from a [`Value`] (the value is the deserializer, as with
/// `serde_json::from_value`).
///
/// # Errors
/// serde_json's error when the value does not fit `T`.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(value)
}
