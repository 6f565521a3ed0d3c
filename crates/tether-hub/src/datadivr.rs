//! The `datadivr` endpoint: behaves like the real datadivr 0.3 server (FastAPI under
//! uvicorn) as recorded in SPEC and the golden file, on tether's datadivr model.
//!
//! - Each connection gets a random uuid4 as its client id; nothing is sent on connect.
//! - Each text frame is a [`Message`]; its `from_id` is overwritten with the sender's id.
//!   `sum_event` and `get_node_info` are answered to the sender only; other events are
//!   routed by `to`: `all`, `others`, or a client id (nobody if unknown, no error).
//! - A frame that is not a valid message (invalid JSON, a non-object, no `event_name`, a
//!   binary frame) drops the connection without a close frame, as the real server's
//!   crashing handler does (the client sees 1006). Unlike the real server, the hub then
//!   forgets the client.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tether::{
    Frame,
    datadivr::{
        Message,
        server::{self, Route},
    },
};

use crate::{
    registry::Registry,
    service::{Close, ConnInfo, Service, Session},
};

/// Default port of the `datadivr` endpoint.
pub const DATADIVR_PORT: u16 = 8765;
/// Its WebSocket path.
pub const DATADIVR_PATH: &str = "/ws";

/// The datadivr server: client ids of the live connections, shared by their sessions.
#[derive(Debug, Default)]
pub struct Datadivr {
    clients: Arc<Mutex<HashMap<String, u64>>>,
}

struct DatadivrSession {
    id: String,
    conn: u64,
    registry: Arc<Registry>,
    clients: Arc<Mutex<HashMap<String, u64>>>,
}

fn lock(clients: &Mutex<HashMap<String, u64>>) -> MutexGuard<'_, HashMap<String, u64>> {
    clients.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A random uuid4 in its usual text form (version 4, RFC 4122 variant).
fn uuid4() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Service for Datadivr {
    fn open(&self, conn: &ConnInfo) -> Result<Box<dyn Session>, Close> {
        let id = uuid4();
        lock(&self.clients).insert(id.clone(), conn.id);
        Ok(Box::new(DatadivrSession {
            id,
            conn: conn.id,
            registry: conn.registry.clone(),
            clients: self.clients.clone(),
        }))
    }
}

impl Session for DatadivrSession {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<Frame>) -> Result<(), Close> {
        let Some(text) = frame.as_text() else {
            return Err(Close::abort("binary frame"));
        };
        let request = Message::parse(text).map_err(|e| Close::abort(e.to_string()))?;
        let routed = server::process(request, &self.id);
        let reply = Frame::text(routed.server_wire_text());
        // Recipients: connection ids, resolved under the lock, sent to after it.
        let targets: Vec<u64> = {
            let clients = lock(&self.clients);
            Route::of(&routed.to)
                .recipients(&self.id, clients.keys().map(String::as_str))
                .into_iter()
                .filter_map(|id| clients.get(id).copied())
                .collect()
        };
        for conn in targets {
            if conn == self.conn {
                // Our own copy keeps its place among our replies.
                out.push(reply.clone());
            } else {
                // A client gone or too slow misses it, as with the real server.
                let _ = self.registry.send_to(conn, reply.clone());
            }
        }
        Ok(())
    }

    fn on_close(&mut self) {
        lock(&self.clients).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuid4() {
        let id = uuid4();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(uuid4(), id);
    }

    #[test]
    fn replies_go_to_the_sender_and_bad_frames_abort() {
        let service = Datadivr::default();
        let conn = ConnInfo {
            id: 1,
            peer: ([127, 0, 0, 1], 1).into(),
            path: DATADIVR_PATH.into(),
            query: None,
            headers: Vec::new(),
            registry: Arc::default(),
        };
        let mut session = service.open(&conn).unwrap();
        let id = lock(&service.clients).keys().next().unwrap().clone();
        let mut out = Vec::new();
        session
            .on_frame(
                Frame::text(
                    r#"{"event_name":"sum_event","payload":{"numbers":[391,29]},"to":"others"}"#,
                ),
                &mut out,
            )
            .unwrap();
        let want = format!(
            r#"{{"event_name":"sum_handler_result","payload":420.0,"to":"{id}","from_id":"server","message":null}}"#
        );
        assert_eq!(out[0].as_text(), Some(want.as_str()));
        // "others" with nobody else connected reaches nobody.
        out.clear();
        session
            .on_frame(Frame::text(r#"{"event_name":"chat"}"#), &mut out)
            .unwrap();
        assert!(out.is_empty());
        for bad in [Frame::text("{"), Frame::binary(&b"{}"[..])] {
            assert!(session.on_frame(bad, &mut out).unwrap_err().is_abort());
        }
        session.on_close();
        assert!(lock(&service.clients).is_empty());
    }
}
