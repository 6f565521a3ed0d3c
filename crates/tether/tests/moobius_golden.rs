//! The Moobius golden vectors (recorded from the real moobius 1.8.0 `WSClient` with
//! `dry_run=True`, request id and clock pinned) reproduced by tether's builders: all 27,
//! as parsed JSON and as the exact wire text, read from the shared golden file.
//!
//! Arguments the SDK got as dataclasses (`{"__dataclass__": NAME, "fields": {...}}`) go
//! through tether's typed models; plain dicts go through the JSON path (validated, then
//! sent unchanged), as in the SDK.
#![cfg(feature = "moobius")]

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use tether::json::{Map, Value};
use tether::moobius::{
    Builders, Button, CanvasItem, ChannelInfo, Item, Items, MenuItem, MessageContent, Outbound,
    StyleItem,
};

fn golden() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/out/moobius.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the moobius golden file {}: {e} \
             (regenerate it with testdata/golden/gen_golden.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the golden file is JSON")
}

/// A dataclass argument's fields, or `None` for a plain dict.
fn dataclass<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let class = value.get("__dataclass__")?;
    assert_eq!(class, name, "{value}");
    Some(&value["fields"])
}

fn one<T: DeserializeOwned>(value: &Value, name: &str) -> Item<T>
where
    Item<T>: From<Value>,
{
    match dataclass(value, name) {
        Some(fields) => Item::Typed(
            tether::json::from_value(fields.clone())
                .unwrap_or_else(|e| panic!("{name} fields: {e}: {fields}")),
        ),
        None => Item::from(value.clone()),
    }
}

/// A builder's list-or-single argument: typed for dataclasses, JSON for dicts.
fn items<T: DeserializeOwned>(value: &Value, name: &str) -> Items<T>
where
    Item<T>: From<Value>,
    Items<T>: From<Vec<Item<T>>> + From<Value> + From<T>,
{
    match value {
        Value::Array(list) => Items::from(
            list.iter()
                .map(|v| one::<T>(v, name))
                .collect::<Vec<Item<T>>>(),
        ),
        single if dataclass(single, name).is_some() => {
            // A single dataclass, not in a list: the typed single form.
            match one::<T>(single, name) {
                Item::Typed(model) => Items::from(model),
                Item::Json(_) => unreachable!("a dataclass is typed"),
            }
        }
        single => Items::from(single.clone()),
    }
}

fn s<'a>(kwargs: &'a Value, key: &str) -> &'a str {
    kwargs[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {kwargs}"))
}

fn context(kwargs: &Value) -> Option<Map<String, Value>> {
    kwargs.get("context").and_then(Value::as_object).cloned()
}

fn args(kwargs: &Value) -> Option<Vec<Value>> {
    kwargs["button_args"].as_array().cloned()
}

/// Runs the vector's builder with its kwargs.
fn build(b: &Builders, builder: &str, kw: &Value) -> Option<Outbound> {
    let method = builder
        .strip_prefix("WSClient.")
        .expect("a WSClient builder");
    match method {
        "heartbeat" => Some(b.heartbeat()),
        "service_login" => Some(b.service_login(
            s(kw, "service_id"),
            &tether::Secret::new(s(kw, "access_token")),
        )),
        "user_login" => Some(b.user_login(&tether::Secret::new(s(kw, "access_token")))),
        "join_channel" => Some(b.join_channel(s(kw, "user_id"), s(kw, "channel_id"))),
        "leave_channel" => Some(b.leave_channel(s(kw, "user_id"), s(kw, "channel_id"))),
        "refresh_as_user" => Some(b.refresh_as_user(s(kw, "user_id"), s(kw, "channel_id"))),
        "send_characters" => b.send_characters(
            s(kw, "characters"),
            s(kw, "service_id"),
            s(kw, "channel_id"),
            s(kw, "recipients"),
        ),
        "send_buttons" => b
            .send_buttons(
                items::<Button>(&kw["buttons"], "Button"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
                s(kw, "recipients"),
            )
            .expect("valid buttons"),
        "send_menu" => b
            .send_menu(
                items::<MenuItem>(&kw["menu_items"], "MenuItem"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
                s(kw, "recipients"),
            )
            .expect("valid menu items"),
        "send_style" => b
            .send_style(
                items::<StyleItem>(&kw["style_items"], "StyleItem"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
                s(kw, "recipients"),
            )
            .expect("valid style items"),
        "update_canvas" => b
            .update_canvas(
                s(kw, "service_id"),
                s(kw, "channel_id"),
                items::<CanvasItem>(&kw["canvas_items"], "CanvasItem"),
                s(kw, "recipients"),
            )
            .expect("valid canvas items"),
        "update_channel_info" => Some(
            b.update_channel_info(
                one::<ChannelInfo>(&kw["channel_info"], "ChannelInfo"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
            )
            .expect("valid channel info"),
        ),
        "update" => Some(
            b.update(
                kw["data"].clone(),
                s(kw, "target_client_id"),
                s(kw, "service_id"),
            )
            .expect("valid data"),
        ),
        "message_up" => b
            .message_up(
                s(kw, "user_id"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
                s(kw, "recipients"),
                s(kw, "subtype"),
                one::<MessageContent>(&kw["content"], "MessageContent"),
                context(kw),
            )
            .expect("valid content"),
        "message_down" => b
            .message_down(
                s(kw, "user_id"),
                s(kw, "service_id"),
                s(kw, "channel_id"),
                s(kw, "recipients"),
                s(kw, "subtype"),
                one::<MessageContent>(&kw["content"], "MessageContent"),
                s(kw, "sender"),
                context(kw),
            )
            .expect("valid content"),
        "send_button_click" => Some(b.send_button_click(
            s(kw, "button_id"),
            s(kw, "bottom_button_id"),
            args(kw),
            s(kw, "channel_id"),
            s(kw, "user_id"),
        )),
        "send_menu_item_click" => Some(
            b.send_menu_item_click(
                s(kw, "menu_item_id"),
                s(kw, "bottom_button_id"),
                args(kw),
                kw["the_message"].clone(),
                s(kw, "channel_id"),
                s(kw, "user_id"),
            )
            .expect("valid message"),
        ),
        other => panic!("no tether builder for WSClient.{other}"),
    }
}

#[test]
fn every_builder_reproduces_the_sdks_27_vectors_as_json_and_wire_text() {
    let golden = golden();
    let pin = &golden["pinning"];
    let request_id = pin["uuid4"].as_str().expect("the pinned uuid4");
    let seconds = pin["time.time"].as_f64().expect("the pinned time");
    // int(time.time() * 1000), as the SDK computes it.
    let ms = (seconds * 1000.0) as u64;
    assert_eq!(ms, 1_700_000_000_123);
    let builders = Builders::pinned(request_id, ms);

    let vectors = golden["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 27);
    let mut builders_seen = std::collections::BTreeSet::new();
    for vector in vectors {
        let case = vector["case"].as_str().expect("a case name");
        let builder = vector["builder"].as_str().expect("a builder name");
        builders_seen.insert(builder.to_owned());
        let built = build(&builders, builder, &vector["kwargs"]);
        if vector["returns_none"] == Value::Bool(true) {
            assert!(built.is_none(), "{case}: the SDK sends nothing: {built:?}");
            assert_eq!(vector["returned"], Value::Null);
            continue;
        }
        let built = built.unwrap_or_else(|| panic!("{case}: the SDK sends a message"));
        assert_eq!(
            built.clone().into_value(),
            vector["returned"],
            "{case}: the returned message"
        );
        let wire = vector["wire_text"].as_str().expect("a wire text");
        assert_eq!(
            built.wire_text(),
            wire,
            "{case}: the wire text, byte for byte"
        );
        // Same keys in the same order (parsed-JSON equality ignores order).
        let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        assert_eq!(
            keys(&built.clone().into_value()),
            keys(&vector["returned"]),
            "{case}: key order"
        );
    }
    // Every WSClient builder of SPEC is covered.
    assert_eq!(builders_seen.len(), 17, "{builders_seen:?}");
}
