//! [`json!`](crate::json!): `serde_json::json!`'s syntax, building an ordered
//! [`Value`](super::Value).

/// Builds a [`tether::json::Value`](crate::json::Value) with `serde_json::json!`'s syntax;
/// object keys keep the order they are written in.
///
/// Keys are string literals or any expression of a type `String: From<_>` (parenthesize
/// one with more than one token); values are `null`, nested objects and arrays, or any
/// expression whose type implements [`ToValue`](crate::json::ToValue) (scalars, strings,
/// `Option`, `Vec`, slices, `serde_json::Value`, other `Value`s…), read by reference as
/// `serde_json::json!` reads them.
///
/// ```
/// let name = "tether";
/// let v = tether::json!({"z": [1, 2.5, null], "name": name, "nested": {"b": true, "a": -1}});
/// assert_eq!(v.to_string(), r#"{"z":[1,2.5,null],"name":"tether","nested":{"b":true,"a":-1}}"#);
/// ```
#[macro_export]
macro_rules! json {
    // Object members: key tokens up to `:`, then value tokens up to `,`.
    (@object $map:ident ()) => {};
    (@object $map:ident ($($key:tt)+) : $($rest:tt)*) => {
        $crate::json!(@value $map ($($key)+) () $($rest)*);
    };
    (@object $map:ident ($($key:tt)*) $next:tt $($rest:tt)*) => {
        $crate::json!(@object $map ($($key)* $next) $($rest)*);
    };
    (@value $map:ident ($($key:tt)+) ($($value:tt)+) , $($rest:tt)*) => {
        $map.insert(::std::string::String::from($($key)+), $crate::json!($($value)+));
        $crate::json!(@object $map () $($rest)*);
    };
    (@value $map:ident ($($key:tt)+) ($($value:tt)+)) => {
        $map.insert(::std::string::String::from($($key)+), $crate::json!($($value)+));
    };
    (@value $map:ident ($($key:tt)+) ($($value:tt)*) $next:tt $($rest:tt)*) => {
        $crate::json!(@value $map ($($key)+) ($($value)* $next) $($rest)*);
    };
    // Array items: tokens up to `,`.
    (@array [$($done:expr,)*] ()) => {
        ::std::vec![$($done,)*]
    };
    (@array [$($done:expr,)*] ($($item:tt)+)) => {
        ::std::vec![$($done,)* $crate::json!($($item)+)]
    };
    (@array [$($done:expr,)*] ($($item:tt)+) , $($rest:tt)*) => {
        $crate::json!(@array [$($done,)* $crate::json!($($item)+),] () $($rest)*)
    };
    (@array [$($done:expr,)*] ($($item:tt)*) $next:tt $($rest:tt)*) => {
        $crate::json!(@array [$($done,)*] ($($item)* $next) $($rest)*)
    };
    (null) => {
        $crate::json::Value::Null
    };
    ([]) => {
        $crate::json::Value::Array(::std::vec::Vec::new())
    };
    ([ $($items:tt)+ ]) => {
        $crate::json::Value::Array($crate::json!(@array [] () $($items)+))
    };
    ({}) => {
        $crate::json::Value::Object($crate::json::Map::new())
    };
    ({ $($members:tt)+ }) => {
        $crate::json::Value::Object({
            let mut map = $crate::json::Map::new();
            $crate::json!(@object map () $($members)+);
            map
        })
    };
    ($other:expr) => {
        $crate::json::ToValue::to_value(&$other)
    };
}

#[cfg(test)]
mod tests {
    use crate::json::Value;

    #[test]
    fn the_macro_keeps_keys_in_written_order_with_any_value_expression() {
        let n = 2;
        let key = String::from("k");
        let inner = serde_json::json!({"x": 1});
        let v = json!({
            "b": n + 1,
            "a": [n, -1, 2.5, "s", null, true, [], {}, {"d": 1, "c": [null,]},],
            (key): Some("opt"),
            "plain": inner,
            "none": Option::<u8>::None,
        });
        assert_eq!(
            v.to_string(),
            r#"{"b":3,"a":[2,-1,2.5,"s",null,true,[],{},{"d":1,"c":[null]}],"k":"opt","plain":{"x":1},"none":null}"#
        );
        assert_eq!(json!(null), Value::Null);
        assert_eq!(json!("x"), "x");
    }
}
