//! Interop with the REAL HappyPanda X Python SDK (`happypandax_client.Client` 1.0.0)
//! against the hub's `hpx` endpoint (issue 8's acceptance): connect (the greeting),
//! guest handshake, `send([{"fname": "get_version"}])`, a wrong password →
//! `AuthWrongCredentialsError` (411), `request_handshake` with good credentials →
//! accepted, and a send before any handshake → `AuthRequiredError` with nothing sent.
//! The hub's receive log shows what the SDK put on the wire (its two `sendall` calls
//! per message, gzip then `<EOF>`, decoded by tether's codec).
//!
//! Needs the Python venv from `scripts/peers-env/setup.sh`: set
//! `TETHER_PEERS_VENV` to it (absolute, or relative to the repository root). The test is
//! `#[ignore]`d; `scripts/test.sh` runs it with `--ignored`. Helper:
//! `scripts/interop/hpx_sdk_driver.py`.

mod support;

use support::{peers_python, repo_root};

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use support::{addr_of, hub_with};
use tether::hpx::server::default_version;
use tether_hub::{HPX_PASSWORD, HPX_USER};

const LIMIT: Duration = Duration::from_secs(60);

/// Runs the SDK driver against `host:port` and returns its `RESULT` object. The driver
/// is killed (by its PID) if it outlives the limit.
async fn run_driver(host: &str, port: u16) -> Value {
    let mut child = Command::new(peers_python())
        .arg(repo_root().join("scripts/interop/hpx_sdk_driver.py"))
        .args([host, &port.to_string(), HPX_USER, HPX_PASSWORD])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the SDK driver");
    let started = std::time::Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the SDK driver did not finish within {LIMIT:?}; killed");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It has exited: its (small) output is all there.
    let output = child.wait_with_output().expect("the SDK driver's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK driver failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).expect("RESULT is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TETHER_PEERS_VENV (the real Python SDK); scripts/test.sh runs it"]
async fn the_real_sdk_logs_in_and_calls_functions_on_the_hub() {
    let hub = hub_with(vec![]).await;
    let addr = addr_of(&hub, "hpx");
    let r = run_driver(&addr.ip().to_string(), addr.port()).await;
    println!("hpx interop (real happypandax_client vs hub): {r}");

    // Connect: the greeting.
    assert_eq!(r["a_connect"], true);
    let after_connect = &r["a_after_connect"];
    assert_eq!(after_connect["ready"], true);
    assert_eq!(after_connect["accepted"], false);
    assert_eq!(after_connect["version"], default_version());
    assert_eq!(after_connect["guest_allowed"], true);

    // Guest handshake.
    assert_eq!(r["a_handshake"], true);
    let session = r["a_after_handshake"]["session"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r["a_after_handshake"]["accepted"], true);
    assert_eq!(session.len(), 32, "{session}");

    // Functions.
    assert_eq!(
        r["a_get_version"],
        json!({"session": session, "name": "server",
               "data": [{"fname": "get_version", "data": default_version()}]})
    );
    assert_eq!(
        r["a_echo"]["data"][0]["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["msg", "n"],
        "arguments echoed in the order sent"
    );
    assert_eq!(
        r["a_echo"]["data"],
        json!([{"fname": "echo", "data": {"msg": "h\u{e9}llo \u{65e5}\u{672c}", "n": 2.5}}])
    );
    let raw = r["a_send_bytes"].as_str().unwrap();
    let raw: Value = serde_json::from_str(raw).expect("the reply text is JSON");
    assert_eq!(raw["error"]["code"], 900, "raw-bytes is not JSON: {raw}");
    assert_eq!(r["a_after_close"]["alive"], false);

    // A wrong password, then request_handshake with the right one.
    let wrong = &r["b_wrong_password"];
    assert_eq!(wrong["class"], "AuthWrongCredentialsError", "{wrong}");
    assert_eq!(wrong["code"], 411);
    assert_eq!(wrong["str"], "interop-b: Wrong credentials");
    assert_eq!(r["b_after_wrong"]["accepted"], false);
    assert_eq!(r["b_request_handshake"], true);
    assert_eq!(r["b_after_request_handshake"]["accepted"], true);
    assert_eq!(r["b_get_version"]["data"][0]["data"], default_version());
    assert!(r["b_get_version"].get("error").is_none());

    // Send before auth: refused by the SDK itself.
    let early = &r["c_send_before_auth"];
    assert_eq!(early["class"], "AuthRequiredError", "{early}");
    assert_eq!(early["code"], 407);

    // What the SDK put on the wire, as the hub decoded it.
    let texts = support::received_texts(&hub, "hpx");
    let want = [
        r#"{"session": "", "name": "interop-a", "data": {}}"#.to_owned(),
        format!(
            r#"{{"session": "{session}", "name": "interop-a", "data": [{{"fname": "get_version"}}]}}"#
        ),
        format!(
            r#"{{"session": "{session}", "name": "interop-a", "data": [{{"fname": "echo", "msg": "h\u00e9llo \u65e5\u672c", "n": 2.5}}]}}"#
        ),
        "raw-bytes".to_owned(),
        format!(
            r#"{{"session": "", "name": "interop-b", "data": {{"user": "{HPX_USER}", "password": "{HPX_PASSWORD}-wrong"}}}}"#
        ),
        r#"{"session": "", "name": "interop-b", "data": "requestauth"}"#.to_owned(),
        format!(
            r#"{{"session": "", "name": "interop-b", "data": {{"user": "{HPX_USER}", "password": "{HPX_PASSWORD}"}}}}"#
        ),
    ];
    assert_eq!(texts[..want.len()], want[..], "{texts:#?}");
    assert_eq!(
        texts.len(),
        want.len() + 1,
        "B's get_version, and nothing from C"
    );
    hub.shutdown().await;
}
