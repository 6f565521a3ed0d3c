//! The hub's `datadivr` endpoint with tether's datadivr client: the built-in `sum_event`
//! handler, routing to `others` and to a client id with the sender's id as `from_id`, and
//! a bad frame dropping the connection without a close frame, after which the client
//! reconnects and goes on.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{fast_backoff, hub_with, until, within};
use tether::{
    ClientConfig, Event, Events, Frame,
    datadivr::{DatadivrClient, Message},
};
use tether_hub::Hub;

const LIMIT: Duration = Duration::from_secs(30);

async fn connect(hub: &Hub, seed: u64) -> (DatadivrClient, Events<Message>) {
    let url = hub
        .url("datadivr")
        .expect("the hub has a datadivr endpoint");
    assert!(url.ends_with("/ws"), "{url}");
    let client =
        DatadivrClient::new(url).config(ClientConfig::default().backoff(fast_backoff(seed)));
    support::start_datadivr(client).await
}

/// The next inbound message, skipping state and other events.
async fn next_message(events: &mut Events<Message>) -> Message {
    support::next_datadivr_message(events).await
}

/// Sends `sum_event` [391, 29] and returns the reply (whose `to` is the sender's id).
async fn sum(client: &DatadivrClient, events: &mut Events<Message>) -> Message {
    client
        .send_message(json!({"numbers": [391, 29]}), "sum_event", None, "all")
        .await
        .expect("queued");
    let reply = next_message(events).await;
    assert_eq!(reply.event_name, "sum_handler_result", "{reply:?}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_event_replies_420_0_to_the_sender_only() {
    let hub = hub_with(vec![]).await;
    let (a, mut a_events) = connect(&hub, 1).await;
    let (b, mut b_events) = connect(&hub, 2).await;

    let reply = sum(&a, &mut a_events).await;
    assert!(reply.payload.is_f64(), "{reply:?}");
    assert_eq!(reply.payload, json!(420.0));
    assert_ne!(
        reply.payload,
        json!(420),
        "a float, as the real server sends"
    );
    assert_eq!(reply.from_id, "server");
    assert_eq!(reply.message, None);
    assert_eq!(reply.to.len(), 36, "the sender's uuid: {}", reply.to);

    // B saw nothing of it although the request said "all": its first message is its own.
    let b_reply = sum(&b, &mut b_events).await;
    assert_ne!(b_reply.to, reply.to, "each connection has its own id");

    // An empty list gives the integer 0; errors come back as `error` messages.
    a.send_message(json!({"numbers": []}), "sum_event", None, "all")
        .await
        .unwrap();
    let zero = next_message(&mut a_events).await;
    assert!(zero.payload.is_u64(), "{zero:?}");
    a.send_message(json!([1, 2]), "sum_event", None, "others")
        .await
        .unwrap();
    let error = next_message(&mut a_events).await;
    assert_eq!(error.event_name, "error");
    assert_eq!(error.message.as_deref(), Some("Invalid payload format"));
    assert_eq!(error.payload, Value::Null);
    a.send_message(Value::Null, "get_node_info", None, "others")
        .await
        .unwrap();
    let info = next_message(&mut a_events).await;
    assert_eq!(info.event_name, "get_node_info_result");
    assert_eq!(
        info.payload,
        json!({"error": "No project is currently open"})
    );

    a.disconnect().await;
    b.disconnect().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_others_or_one_client_with_the_senders_id() {
    let hub = hub_with(vec![]).await;
    let (a, mut a_events) = connect(&hub, 1).await;
    let (b, mut b_events) = connect(&hub, 2).await;
    let (c, mut c_events) = connect(&hub, 3).await;
    let a_id = sum(&a, &mut a_events).await.to;
    let b_id = sum(&b, &mut b_events).await.to;
    let _ = sum(&c, &mut c_events).await;

    // "others": B and C get it with A's id as from_id (a spoofed from_id is ignored).
    a.send(Message::new("chat").message("hi all").from_id("spoofed"))
        .await
        .unwrap();
    for events in [&mut b_events, &mut c_events] {
        let got = next_message(events).await;
        assert_eq!(got.event_name, "chat");
        assert_eq!(got.from_id, a_id);
        assert_eq!(got.to, "others");
        assert_eq!(got.message.as_deref(), Some("hi all"));
    }

    // To B's id: B only. A marker to "all" follows it through the same queues, so the
    // first thing A and C get after it is the marker.
    a.send_message(json!({"x": 1}), "direct", Some("just B"), &b_id)
        .await
        .unwrap();
    a.send_message(Value::Null, "marker", None, "all")
        .await
        .unwrap();
    let direct = next_message(&mut b_events).await;
    assert_eq!(direct.event_name, "direct");
    assert_eq!(direct.from_id, a_id);
    assert_eq!(direct.to, b_id);
    assert_eq!(direct.payload, json!({"x": 1}));
    assert_eq!(next_message(&mut b_events).await.event_name, "marker");
    assert_eq!(next_message(&mut c_events).await.event_name, "marker");
    assert_eq!(
        next_message(&mut a_events).await.event_name,
        "marker",
        "\"all\" includes the sender"
    );

    // An unknown id reaches nobody and brings no error.
    a.send_message(Value::Null, "lost", None, "no-such-client")
        .await
        .unwrap();
    a.send_message(Value::Null, "marker2", None, "all")
        .await
        .unwrap();
    for events in [&mut a_events, &mut b_events, &mut c_events] {
        assert_eq!(next_message(events).await.event_name, "marker2");
    }

    for client in [a, b, c] {
        client.disconnect().await;
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_drops_the_connection_without_a_close_frame_and_the_client_goes_on() {
    let hub = hub_with(vec![]).await;
    let (client, mut events) = connect(&hub, 7).await;
    let mut id = sum(&client, &mut events).await.to;

    for bad in [
        Frame::text("not json"),
        Frame::text(r#"{"payload": 1}"#),
        Frame::text(r#"[{"event_name": "msg"}]"#),
        Frame::binary(&b"{\"event_name\":\"msg\"}"[..]),
    ] {
        let engine = client.engine().expect("connected");
        engine.send(bad.clone()).await.expect("queued");
        // The hub drops the connection with no close frame (the client sees EOF, or a
        // reset when the socket had unread bytes), never "closed by peer".
        let error = within(LIMIT, "the drop to be reported", async {
            loop {
                match events.recv().await {
                    Some(Event::Disconnected { error, fatal }) => {
                        assert!(!fatal, "{error}");
                        return error;
                    }
                    Some(_) => {}
                    None => panic!("the event stream ended"),
                }
            }
        })
        .await;
        assert!(
            matches!(
                error,
                tether::ConnectionError::Eof | tether::ConnectionError::Io(_)
            ),
            "{bad:?}: the hub should drop the connection without a close frame: {error}"
        );
        within(LIMIT, "the client to reconnect", client.ready())
            .await
            .expect("ready again");

        // The client goes on, under a new id; the hub forgot the old one.
        let reply = sum(&client, &mut events).await;
        assert_eq!(reply.payload, json!(420.0));
        assert_ne!(reply.to, id, "{bad:?}: a new connection, a new id");
        id = reply.to;
        until(LIMIT, "the hub to forget the dropped connection", || {
            hub.connections("datadivr") == 1
        })
        .await;
    }
    assert!(client.engine().unwrap().stats().reconnects >= 4);

    client.disconnect().await;
    hub.shutdown().await;
}
