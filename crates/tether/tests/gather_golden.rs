//! The Gather golden vectors (recorded from the real `gather-client-ws` 0.0.4 with
//! protobuf 4.22.1) reproduced: every action vector decodes to the same message as
//! tether's encoding of the same action, built both with the typed constructors and from
//! the SDK's keyword arguments; the bytes are equal where SPEC says they are comparable
//! (actions numbered below 100: Python writes fields in number order, prost the oneof
//! first); txnId edge values; server batches decoded, re-encoded byte for byte and
//! printed as the SDK's JSON; and the oneof tables (129 actions with their method names,
//! 126 events).
#![cfg(feature = "gather")]

use std::{collections::BTreeMap, path::PathBuf};

use prost::Message as _;
use serde_json::Value;
use tether::gather::{
    Action, action_to_json, available_actions, batch_to_json, decode_action, decode_batch,
    encode_action, proto::PlayerInitInfo, proto::init::Auth, proto::move_direction_enum,
    server_events,
};

const TXN: u32 = 123_456_789;

fn golden() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/out/gather.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the gather golden file {}: {e} \
             (regenerate it with testdata/golden/gen_golden.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the golden file is JSON")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

/// The same action written with the typed constructors (what a Rust caller writes for
/// the SDK call in the vector).
fn typed(vector: &Value) -> Action {
    let kw = &vector["client_kwargs"];
    let opt = |key: &str| kw[key].as_str().map(str::to_owned);
    match vector["client_method"].as_str().unwrap() {
        "client_heartbeat" => Action::client_heartbeat(),
        "init" => Action::init(
            s(kw, "space_id"),
            Some(match opt("api_key") {
                Some(key) => Auth::ApiKey(key),
                None => Auth::Token(s(kw, "token")),
            }),
        ),
        "set_text_status" => Action::set_text_status(s(kw, "text_status"), opt("target_id")),
        "set_emoji_status" => Action::set_emoji_status(s(kw, "emoji_status"), opt("target_id")),
        "move" => Action::r#move(
            move_direction_enum::Enum::try_from(kw["dir"].as_i64().unwrap() as i32).unwrap(),
            kw["stopped"].as_bool().unwrap(),
            kw["input_id"].as_u64().unwrap() as u32,
            None,
        ),
        "chat" => Action::chat(
            s(kw, "chat_recipient"),
            s(kw, "contents"),
            kw["local_player_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            s(kw, "map_id"),
            None,
            None,
        ),
        "teleport" => Action::teleport(
            s(kw, "map_id"),
            kw["x"].as_u64().unwrap() as u32,
            kw["y"].as_u64().unwrap() as u32,
            None,
            Some(
                tether::gather::proto::sprite_direction_enum::Enum::try_from(
                    kw["direction"].as_i64().unwrap() as i32,
                )
                .unwrap(),
            ),
        ),
        "set_name" => Action::set_name(s(kw, "name"), None),
        "enter" => {
            let info = &kw["info"];
            Action::enter(
                Some(PlayerInitInfo {
                    name: Some(s(info, "name")),
                    x: Some(info["x"].as_u64().unwrap() as u32),
                    y: Some(info["y"].as_u64().unwrap() as u32),
                    map: Some(s(info, "map")),
                    is_npc: Some(info["isNpc"].as_bool().unwrap()),
                    ..PlayerInitInfo::default()
                }),
                None,
                None,
            )
        }
        "exit" => Action::exit(),
        "respawn" => Action::respawn(),
        "ghost" => Action::ghost(kw["ghost"].as_u64().unwrap() as u32, None),
        "shoot_confetti" => Action::shoot_confetti(None),
        "set_affiliation" => Action::set_affiliation(s(kw, "affiliation"), None),
        "wave" => Action::wave(s(kw, "user"), kw["is_reply"].as_bool().unwrap()),
        "custom_action" => Action::custom_action(
            s(kw, "name"),
            s(kw, "payload"),
            kw["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            kw["send_to_all"].as_bool(),
        ),
        "update_subscriptions" => Action::update_subscriptions(
            BTreeMap::from([("chat".to_owned(), true)]),
            BTreeMap::from([("office".to_owned(), 5)]),
        ),
        "craft" => Action::craft(BTreeMap::from([("wood".to_owned(), 2)])),
        other => panic!("no typed form written for {other}"),
    }
}

#[test]
fn every_action_vector_decodes_to_the_rust_encoding_of_the_same_action() {
    let golden = golden();
    let vectors = golden["client_server_actions"].as_array().unwrap();
    assert_eq!(vectors.len(), 21);
    for v in vectors {
        let method = s(v, "client_method");
        let wire = unhex(&s(v, "hex"));
        let python = decode_action(&wire).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(python.txn_id, Some(TXN));

        let by_type = typed(v);
        let by_kwargs = Action::from_json(&method, &v["client_kwargs"])
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(
            by_type, by_kwargs,
            "{method}: typed and keyword forms differ"
        );
        assert_eq!(by_type.method_name(), method);
        assert_eq!(by_type.field_name(), s(v, "action_field"));

        let ours = encode_action(&by_type, Some(TXN));
        assert_eq!(
            decode_action(&ours).unwrap(),
            python,
            "{method}: decoded messages differ"
        );
        assert_eq!(ours.len(), wire.len(), "{method}");
        let number = available_actions()
            .iter()
            .find(|a| a.name == method)
            .unwrap()
            .number;
        if number < 100 {
            assert_eq!(hex(&ours), s(v, "hex"), "{method}: bytes differ");
        } else {
            // prost writes the oneof first; the bytes are the same two fields, swapped.
            assert_ne!(
                hex(&ours),
                s(v, "hex"),
                "{method}: SPEC says the order differs"
            );
            let mut a = ours.clone();
            let mut b = wire.clone();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{method}");
        }
        // The dry run's JSON is the SDK's MessageToDict.
        assert_eq!(
            action_to_json(&by_type.clone().with_txn_id(TXN)),
            v["json"],
            "{method}: JSON differs"
        );
    }
}

#[test]
fn txn_id_edge_values_and_an_absent_txn_id_encode_byte_for_byte() {
    let golden = golden();
    for v in golden["txnId_edges"].as_array().unwrap() {
        let txn = u32::try_from(v["txnId"].as_u64().unwrap()).unwrap();
        let ours = encode_action(&Action::client_heartbeat(), Some(txn));
        assert_eq!(hex(&ours), s(v, "hex"), "txnId {txn}");
    }
    let none = &golden["no_txnId_heartbeat"];
    assert_eq!(
        hex(&encode_action(&Action::client_heartbeat(), None)),
        s(none, "hex")
    );
}

#[test]
fn server_batches_decode_reencode_byte_for_byte_and_print_as_the_sdk_json() {
    let golden = golden();
    let batches = golden["server_client_batches"].as_array().unwrap();
    assert_eq!(batches.len(), 9);
    for v in batches {
        let name = s(v, "name");
        let wire = unhex(&s(v, "hex"));
        let batch = decode_batch(&wire).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&batch.encode_to_vec()), s(v, "hex"), "{name}");
        assert_eq!(batch_to_json(&batch), v["json"], "{name}");
        assert!(batch.events.iter().all(|e| e.event.is_some()), "{name}");
    }
}

#[test]
fn the_oneof_tables_match_the_sdk() {
    let golden = golden();
    let actions = golden["client_server_action_oneof"].as_array().unwrap();
    assert_eq!(actions.len(), 129);
    assert_eq!(available_actions().len(), 129);
    for (want, ours) in actions.iter().zip(available_actions()) {
        assert_eq!(ours.field, s(want, "field"));
        assert_eq!(u64::from(ours.number), want["number"].as_u64().unwrap());
        assert_eq!(ours.message, s(want, "type"));
        assert_eq!(ours.name, s(want, "client_method"));
    }
    let events = golden["server_client_event_oneof"].as_array().unwrap();
    assert_eq!(events.len(), 126);
    assert_eq!(server_events().len(), 126);
    for (want, ours) in events.iter().zip(server_events()) {
        assert_eq!(ours.field, s(want, "field"));
        assert_eq!(u64::from(ours.number), want["number"].as_u64().unwrap());
        assert_eq!(ours.message, s(want, "type"));
    }
}
