//! The datadivr golden vectors (recorded from the real datadivr 0.3 package) reproduced:
//! model dumps, both wire encodings byte for byte, the client's `send_message` texts,
//! the server's `sum_event` replies, passthrough, routing, validation and defaults.
//!
//! JSON is compared as `tether::json::Value`, so `420.0` (a float) differs from `420`.
#![cfg(feature = "datadivr")]

use std::path::PathBuf;

use tether::datadivr::{
    DatadivrClient, Message,
    server::{self, Route},
};
use tether::json::Value;

fn golden() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/out/datadivr.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the datadivr golden file {}: {e} \
             (regenerate it with testdata/golden/gen_golden.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the golden file is JSON")
}

/// The value of the first key of `object` that starts with `prefix` (the file names
/// wire texts with a note in the key, e.g. `server_wire_text(starlette send_json)`).
fn by_prefix<'a>(object: &'a Value, prefix: &str) -> &'a Value {
    object
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.starts_with(prefix)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no key starting with {prefix:?} in {object}"))
}

fn text(value: &Value) -> &str {
    value.as_str().expect("a wire text is a JSON string")
}

#[test]
fn model_dumps_and_both_wire_encodings_match_byte_for_byte() {
    let golden = golden();
    let vectors = golden["messages"].as_array().expect("messages");
    assert_eq!(vectors.len(), 7);
    for vector in vectors {
        let name = &vector["name"];
        let dump = &vector["model_dump"];
        let msg = Message::from_value(dump.clone()).expect("a golden dump is a valid message");
        assert_eq!(&msg.to_value(), dump, "{name}: model dump");
        assert_eq!(
            msg.client_wire_text(),
            text(by_prefix(vector, "client_wire_text")),
            "{name}: client wire text"
        );
        assert_eq!(
            msg.server_wire_text(),
            text(by_prefix(vector, "server_wire_text")),
            "{name}: server wire text"
        );
        // Both texts parse back to the same message.
        for wire in [msg.client_wire_text(), msg.server_wire_text()] {
            assert_eq!(Message::parse(&wire).unwrap(), msg, "{name}: round trip");
        }
    }
}

#[test]
fn send_message_writes_what_the_python_client_writes() {
    let golden = golden();
    let texts = golden["client_send_message_wire_texts"]
        .as_array()
        .expect("client_send_message_wire_texts");
    let built = [
        DatadivrClient::build_message(
            tether::json!({"numbers": [391, 29]}),
            "sum_event",
            None,
            "all",
        ),
        DatadivrClient::build_message(Value::Null, "msg", Some("hello"), "others"),
    ];
    assert_eq!(texts.len(), built.len());
    for (want, got) in texts.iter().zip(&built) {
        assert_eq!(got, text(want));
    }
}

#[test]
fn sum_event_replies_match_the_real_server() {
    let golden = golden();
    let vectors = golden["server_sum_event_handler"]
        .as_array()
        .expect("server_sum_event_handler");
    assert_eq!(vectors.len(), 6);
    for vector in vectors {
        let payload = &vector["request_payload"];
        let request = Message::new("sum_event").payload(payload.clone()).to("all");
        let reply = server::process(request, "client-A");
        assert_eq!(reply.to_value(), vector["response"], "reply to {payload}");
        assert_eq!(
            reply.server_wire_text(),
            text(&vector["response_wire_text"]),
            "wire text of the reply to {payload}"
        );
    }
    // The recorded 420.0 is a float, and so is ours.
    assert!(vectors[0]["response"]["payload"].is_f64());
    assert!(vectors[5]["response"]["payload"].is_u64());
}

#[test]
fn unhandled_events_pass_through_with_the_senders_id() {
    let golden = golden();
    let want = &golden["server_unhandled_event_passthrough"];
    // A spoofed from_id is overwritten by the sender's id.
    let request = Message::new("unhandled").to("all").from_id("spoofed");
    let routed = server::process(request, "client-A");
    assert_eq!(&routed.to_value(), want);
}

#[test]
fn routing_matches_the_real_broadcast_table() {
    let golden = golden();
    let rows = golden["server_broadcast_routing"]
        .as_array()
        .expect("server_broadcast_routing");
    assert_eq!(rows.len(), 4);
    let clients = ["client-A", "client-B", "client-C"];
    for row in rows {
        let to = text(&row["to"]);
        let sender = text(&row["sender"]);
        let got: Vec<String> = Route::of(to)
            .recipients(sender, clients)
            .into_iter()
            .map(|id| id.trim_start_matches("client-").to_owned())
            .collect();
        let want: Vec<String> = row["delivered_to"]
            .as_array()
            .expect("delivered_to")
            .iter()
            .map(|v| text(v).to_owned())
            .collect();
        assert_eq!(got, want, "to {to:?}");
    }
}

#[test]
fn validation_and_defaults_match_the_model() {
    let golden = golden();
    let cases = golden["model_validation"]
        .as_object()
        .expect("model_validation");
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let parsed = Message::from_value(case["input"].clone());
        match case.get("model_dump") {
            Some(dump) => assert_eq!(&parsed.expect(name).to_value(), dump, "{name}"),
            None => {
                assert!(
                    text(&case["error"]).starts_with("ValidationError"),
                    "{name}: the vector records a validation error"
                );
                assert!(parsed.is_err(), "{name}: should be refused, got {parsed:?}");
            }
        }
    }

    let fields = golden["model_fields"].as_object().expect("model_fields");
    let minimal = Message::parse(r#"{"event_name": "e"}"#).unwrap().to_value();
    let dumped: Vec<&str> = minimal
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: Vec<&str> = fields
        .iter()
        .filter(|(_, f)| f["excluded_from_dump"] == false)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(dumped, expected, "dump fields, in order");
    for (field, spec) in fields {
        if spec["excluded_from_dump"] == true {
            continue;
        }
        if spec["required"] == true {
            assert!(Message::parse("{}").is_err(), "{field} is required");
        } else {
            assert_eq!(minimal[field], spec["default"], "default of {field}");
        }
    }
}
