//! The control API's `GET /received`: what a recording hub's endpoints received, frame
//! by frame, with the connection each came on, paged and bounded.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::Value;
use support::{get, until, within};
use tether_hub::Hub;
use tokio_websockets::Message;

const LIMIT: Duration = Duration::from_secs(10);

type Ws =
    tokio_websockets::WebSocketStream<tokio_websockets::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    within(LIMIT, "the upgrade", async {
        tokio_websockets::ClientBuilder::new()
            .uri(url)
            .unwrap()
            .connect()
            .await
            .unwrap()
            .0
    })
    .await
}

async fn received(hub: &Hub, query: &str) -> Value {
    let (status, body) = get(hub, &format!("/received?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn wait_received(hub: &Hub, endpoint: &str, count: u64) {
    until(LIMIT, "the frames to arrive", || {
        hub.stats(endpoint).is_some_and(|s| s.received >= count)
    })
    .await;
}

#[tokio::test]
async fn received_lists_text_and_binary_frames_with_their_connection_in_arrival_order() {
    let hub = Hub::builder()
        .ephemeral()
        .record(true)
        .start()
        .await
        .unwrap();
    let url = hub.url("sink").unwrap();
    let mut first = connect(&url).await;
    first.send(Message::text("login")).await.unwrap();
    first
        .send(Message::binary(vec![0x00, 0x0a, 0xff]))
        .await
        .unwrap();
    wait_received(&hub, "sink", 2).await;
    drop(first);
    let mut second = connect(&url).await;
    second.send(Message::text("login again")).await.unwrap();
    wait_received(&hub, "sink", 3).await;

    let all = received(&hub, "endpoint=sink").await;
    let frames = all["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3, "{all}");
    assert_eq!(frames[0]["text"], "login");
    assert_eq!(frames[1]["binary"], "000aff");
    assert!(frames[1].get("text").is_none(), "{all}");
    assert_eq!(frames[2]["text"], "login again");
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(frames[0]["conn"], frames[1]["conn"]);
    assert_ne!(
        frames[1]["conn"], frames[2]["conn"],
        "a new connection: {all}"
    );
    assert_eq!(all["next"], 3);
    assert_eq!(all["missed"], 0);

    // One connection only; and only what came after a mark.
    let conn = frames[2]["conn"].as_u64().unwrap();
    let one = received(&hub, &format!("endpoint=sink&conn={conn}")).await;
    assert_eq!(one["frames"].as_array().unwrap().len(), 1, "{one}");
    second.send(Message::text("later")).await.unwrap();
    wait_received(&hub, "sink", 4).await;
    let after = received(&hub, &format!("endpoint=sink&since={}", all["next"])).await;
    let later: Vec<&Value> = after["frames"].as_array().unwrap().iter().collect();
    assert_eq!(later.len(), 1, "{after}");
    assert_eq!(later[0]["text"], "later");
    assert_eq!(later[0]["seq"], 3);
    hub.shutdown().await;
}

#[tokio::test]
async fn received_pages_by_limit_and_keeps_only_the_last_frames_of_a_bounded_log() {
    let hub = Hub::builder()
        .ephemeral()
        .record(true)
        .record_limit(5)
        .start()
        .await
        .unwrap();
    let mut ws = connect(&hub.url("sink").unwrap()).await;
    for i in 0..8 {
        ws.send(Message::text(format!("m{i}"))).await.unwrap();
    }
    wait_received(&hub, "sink", 8).await;
    let texts = |page: &Value| -> Vec<String> {
        page["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = received(&hub, "endpoint=sink&limit=2").await;
    assert_eq!(texts(&first), ["m3", "m4"], "{first}");
    assert_eq!(first["missed"], 3, "m0..m2 went: {first}");
    assert_eq!(first["next"], 5);
    let rest = received(&hub, "endpoint=sink&since=5").await;
    assert_eq!(texts(&rest), ["m5", "m6", "m7"]);
    assert_eq!(
        (rest["next"].as_u64(), rest["missed"].as_u64()),
        (Some(8), Some(0))
    );
    assert_eq!(hub.received("sink").len(), 5);
    hub.shutdown().await;
}

#[tokio::test]
async fn received_without_recording_or_for_an_unknown_endpoint_says_why() {
    let hub = Hub::builder().ephemeral().start().await.unwrap();
    let (status, body) = get(&hub, "/received?endpoint=sink").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("--record"), "{body}");
    let (status, body) = get(&hub, "/received?endpoint=nope").await;
    assert_eq!(status, 404, "{body}");
    hub.shutdown().await;
}
