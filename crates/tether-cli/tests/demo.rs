//! `tether demo` end to end: every landed platform through the story, with the promises
//! checked against the hub's receive log.

use std::process::Command;

use serde_json::Value;

#[test]
fn demo_keeps_every_promise_for_every_platform() {
    let out = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["demo", "--json"])
        .output()
        .expect("tether runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text} / {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "demo failed: {summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    let platforms = summary["platforms"].as_array().expect("platforms");
    let names: Vec<&str> = platforms
        .iter()
        .filter_map(|p| p["platform"].as_str())
        .collect();
    for expected in ["raw", "datadivr", "moobius", "gather", "hiven", "hpx"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for p in platforms {
        let n = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k} in {p}"));
        assert_eq!(n("sent"), n("received_by_hub"), "{p}");
        assert_eq!(n("sent"), n("delivered"), "{p}");
        // Hiven posts through REST, not the outbox: it has no messages in flight.
        if p["platform"] != "hiven" {
            assert!(
                n("in_flight_at_drop") >= 100 && n("in_flight_at_stall") >= 100,
                "{p}"
            );
        }
        assert!(n("reconnects") >= 2, "{p}");
        assert!(n("stall_noticed_ms") <= 2500, "{p}");
        assert!(n("rtt_p50_us") > 0, "{p}");
    }
}
