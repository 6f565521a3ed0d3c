//! `tether bench` end to end: each workload against the hub it starts as a child process,
//! reporting the figures `--json` promises.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .expect("tether runs");
    assert!(
        out.status.success(),
        "tether bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn number(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

#[test]
fn echo_run_reports_every_message_with_latency_percentiles() {
    let r = bench(&["--messages", "3000", "--clients", "3", "--window", "50"]);
    assert_eq!(r["workload"], "echo");
    assert_eq!(r["messages"], 3000);
    for key in [
        "seconds",
        "msgs_per_s",
        "mb_per_s",
        "cpu_s_per_100k",
        "rss_kib",
    ] {
        assert!(number(&r, key) > 0.0, "{key} in {r}");
    }
    let p = |k| number(&r, k);
    assert!(p("p50_us") >= 1.0 && p("p50_us") <= p("p90_us"), "{r}");
    assert!(
        p("p90_us") <= p("p99_us") && p("p99_us") <= p("p999_us"),
        "{r}"
    );
    assert!(p("p999_us") <= p("max_us"), "{r}");
}

#[test]
fn batched_echo_and_send_only_count_every_message() {
    // 2,500 over a window of 300: refills of every size, and a last partial one.
    let r = bench(&["--batch", "--messages", "2500", "--window", "300"]);
    assert_eq!(r["workload"], "echo");
    assert_eq!(r["messages"], 2500);
    assert!(number(&r, "p50_us") >= 1.0, "{r}");
    let r = bench(&[
        "--batch",
        "--send-only",
        "--messages",
        "5000",
        "--size",
        "16",
    ]);
    assert_eq!(r["workload"], "send-only");
    assert_eq!(r["messages"], 5000);
}

#[test]
fn the_datadivr_profile_matches_every_sum_reply_in_order() {
    let r = bench(&[
        "--profile",
        "datadivr",
        "--messages",
        "2000",
        "--clients",
        "2",
        "--window",
        "100",
    ]);
    assert_eq!(r["workload"], "datadivr");
    assert_eq!(r["messages"], 2000);
    assert!(number(&r, "msgs_per_s") > 0.0, "{r}");
    assert!(number(&r, "p50_us") >= 1.0, "{r}");
    // A sum_event request as the SDK writes it, ~110 bytes.
    assert!(number(&r, "size") > 50.0, "{r}");
}

#[test]
fn the_gather_profile_has_every_action_acknowledged() {
    let r = bench(&[
        "--profile",
        "gather",
        "--messages",
        "2000",
        "--clients",
        "2",
        "--window",
        "100",
    ]);
    assert_eq!(r["workload"], "gather");
    assert_eq!(r["messages"], 2000);
    assert!(number(&r, "msgs_per_s") > 0.0, "{r}");
    assert!(number(&r, "p50_us") >= 1.0, "{r}");
    // A set_text_status action with its txnId, protobuf-encoded.
    assert!(number(&r, "size") > 5.0, "{r}");
}

#[test]
fn the_datadivr_profile_runs_the_echo_workload_only() {
    let out = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args([
            "bench",
            "--profile",
            "datadivr",
            "--send-only",
            "--messages",
            "10",
        ])
        .output()
        .expect("tether runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("echo workload only"));
}

#[test]
fn binary_echo_carries_the_requested_size() {
    let r = bench(&[
        "--messages",
        "200",
        "--size",
        "65536",
        "--binary",
        "--window",
        "8",
    ]);
    assert_eq!(r["messages"], 200);
    let expected = 200.0 * 65536.0 / number(&r, "seconds") / 1e6;
    assert!(
        (number(&r, "mb_per_s") - expected).abs() < expected * 0.01,
        "{r}"
    );
}

#[test]
fn send_only_ends_when_the_sink_counted_every_message() {
    let r = bench(&["--send-only", "--messages", "20000", "--size", "16"]);
    assert_eq!(r["workload"], "send-only");
    assert_eq!(r["messages"], 20000);
    assert!(number(&r, "msgs_per_s") > 0.0);
}

#[test]
fn idle_reports_memory_per_open_connection() {
    let r = bench(&["--idle", "200"]);
    assert_eq!(r["connections"], 200);
    let per = number(&r, "rss_kib_per_conn");
    assert!(per > 0.0 && per < 200.0, "{r}");
}

#[test]
fn an_unreachable_server_is_an_error_not_a_hang() {
    let out = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["bench", "ws://127.0.0.1:9/", "--messages", "10"])
        .output()
        .expect("tether runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tether bench"));
}

/// A file of JSON lines of `n` distinct compressible messages of ~2 KiB each.
fn messages_file(n: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tether-bench-msgs-{}.jsonl", std::process::id()));
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let items: Vec<String> = (0..40)
                .map(|j| format!(r#"{{"type":"update","id":{i},"item":{j},"name":"member"}}"#))
                .collect();
            format!("[{}]", items.join(","))
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn messages_from_a_file_report_fewer_wire_bytes_with_compression() {
    let path = messages_file(7);
    let file = path.to_str().unwrap();
    let on = bench(&[
        "--messages",
        "200",
        "--window",
        "20",
        "--messages-from",
        file,
    ]);
    let off = bench(&[
        "--messages",
        "200",
        "--window",
        "20",
        "--messages-from",
        file,
        "--compression",
        "off",
    ]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(on["deflate_connections"], 1, "{on}");
    assert_eq!(off["deflate_connections"], 0, "{off}");
    for r in [&on, &off] {
        assert_eq!(r["messages"], 200, "{r}");
        assert_eq!(r["payload_bytes_out"], r["payload_bytes_in"], "{r}");
        assert!(number(r, "size") > 1024.0, "{r}");
    }
    assert!(
        number(&off, "wire_bytes_out") > number(&off, "payload_bytes_out"),
        "{off}"
    );
    assert!(
        number(&on, "wire_bytes_per_msg") * 3.0 < number(&off, "wire_bytes_per_msg"),
        "on {on} off {off}"
    );
}

#[test]
fn idle_echo_reports_memory_after_one_message_per_connection() {
    let r = bench(&["--idle", "20", "--idle-echo", "--size", "2048"]);
    assert_eq!(r["connections"], 20, "{r}");
    assert_eq!(r["deflate_connections"], 20, "{r}");
    assert!(number(&r, "rss_kib_per_conn_after_message") > 0.0, "{r}");
    assert_eq!(r["payload_bytes_in"], 20 * 2048, "{r}");
}
