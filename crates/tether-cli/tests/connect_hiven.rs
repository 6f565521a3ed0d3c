//! `tether connect --profile hiven` against the hub, run as a user would: the typed
//! client logs in (ready after the houses joined), stdin lines are posted through the
//! REST API and come back from the Swarm as MESSAGE_CREATE lines; a line its builders
//! refuse is reported and skipped; a refused token exits 3 and is never printed.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;
use tether_hub::{Fault, Hiven, Hub};

const GENERAL: &str = "100000000000000011";
const RANDOM: &str = "100000000000000012";
const LIMIT: Duration = Duration::from_secs(30);

fn token() -> String {
    "C1i".repeat(44)
}

fn hub(hiven: Hiven) -> (tokio::runtime::Runtime, Hub) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let hub = rt
        .block_on(Hub::builder().ephemeral().hiven(hiven).start())
        .unwrap();
    (rt, hub)
}

#[test]
fn lines_are_posted_through_the_rest_api_and_come_back_as_message_create() {
    let (_rt, hub) = hub(Hiven::new());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &hub.url("hiven").unwrap(), "--profile", "hiven"])
        .args(["--token", &token(), "--api", &hub.url("hiven-api").unwrap()])
        .args(["--room", GENERAL, "--events", "--no-reconnect"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line).expect("stdout lines are JSON");
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |what: &str, check: &dyn Fn(&Value) -> bool| -> Value {
        loop {
            let line = rx
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("no {what} line; saw {seen:#?}"));
            seen.push(line.clone());
            if check(&line) {
                return line;
            }
        }
    };
    wait_for("ready", &|l| l["type"] == "state" && l["state"] == "ready");

    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "hello from the cli").unwrap();
    writeln!(stdin, r#"{{"content": ""}}"#).unwrap(); // refused by the typed builder
    writeln!(stdin, r#"{{"room_id": "{RANDOM}", "content": "second"}}"#).unwrap();
    drop(stdin);

    let first = wait_for("the first MESSAGE_CREATE", &|l| {
        l["type"] == "message" && l["data"]["e"] == "MESSAGE_CREATE"
    });
    assert_eq!(first["data"]["d"]["content"], "hello from the cli");
    assert_eq!(first["data"]["d"]["room_id"], GENERAL);
    let second = wait_for("the second MESSAGE_CREATE", &|l| {
        l["type"] == "message" && l["data"]["e"] == "MESSAGE_CREATE"
    });
    assert_eq!(second["data"]["d"]["content"], "second");
    assert_eq!(second["data"]["d"]["room_id"], RANDOM);

    // The hub goes away; reconnect is off: the command ends. Both valid lines were
    // delivered; the line the builder refused was not, so it exits 1.
    hub.fault("hiven", &Fault::Drop { code: Some(1001) })
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stdin line 2: invalid request: message text is empty"),
        "{stderr}"
    );
    seen.extend(rx.try_iter());
    let acks = seen.iter().filter(|l| l["type"] == "ack").count();
    assert_eq!(acks, 2, "one ack per posted message: {seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l["type"] == "undelivered" && l["line"] == 2 && l["reason"] == "invalid_line"),
        "the refused line is reported undelivered: {seen:#?}"
    );
    assert!(!stderr.contains(&token()));
    assert!(!seen.iter().any(|l| l.to_string().contains(&token())));
}

#[test]
fn a_refused_token_exits_3_and_a_malformed_one_exits_2_never_printing_it() {
    let (_rt, hub) = hub(Hiven::new().token(Some("R".repeat(132))));
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &hub.url("hiven").unwrap(), "--profile", "hiven"])
        .args(["--token", &token(), "--events"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(3), "{all}");
    assert!(all.contains("4001"), "{all}");
    assert!(!all.contains(&token()), "{all}");

    let bad = format!("{}x", token());
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &hub.url("hiven").unwrap(), "--profile", "hiven"])
        .args(["--token", &bad])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid token"), "{stderr}");
    assert!(!stderr.contains(&bad));
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &hub.url("hiven").unwrap(), "--profile", "hiven"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `tether serve --ephemeral --json ARGS` as a child process, killed when dropped.
struct Serve(std::process::Child, Value);

impl Serve {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
            .args(["serve", "--ephemeral", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoints = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        Self(child, endpoints)
    }

    fn url(&self, name: &str) -> String {
        self.1[name].as_str().unwrap().to_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_hiven_token_accepts_only_that_token_on_the_swarm_and_the_api() {
    let required = "Req".repeat(44);
    let serve = Serve::start(&["--hiven-token", &format!("Bot {required}")]);
    let api = serve.url("hiven-api");
    assert!(
        api.starts_with("http://127.0.0.1:") && api.ends_with("/v1"),
        "{api}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let me = |token: &str| {
        let http = tether::hiven::HivenHttp::new(
            &api,
            token.into(),
            Duration::from_secs(5),
            Duration::from_secs(5),
            None,
        )
        .unwrap();
        rt.block_on(http.me())
    };
    assert_eq!(me(&required).unwrap().bot, Some(true));
    assert!(me(&token()).unwrap_err().is_unauthorized());

    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["connect", &serve.url("hiven"), "--profile", "hiven"])
        .args(["--token", &token()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));

    // A malformed --hiven-token keeps the hub from starting, saying why.
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["serve", "--ephemeral", "--hiven-token", "short"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--hiven-token"), "{stderr}");
}
