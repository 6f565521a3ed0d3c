//! The Gather client state machine: `init` → `ready{id}` on every connection, the
//! `clientHeartbeat`, and `transactionStatus` acknowledgements.

use std::time::Duration;

use tokio::sync::watch;

use crate::{
    error::ConnectionError,
    frame::Frame,
    protocol::{Ack, DecodeError, Inbound, Output, Protocol},
    secret::Secret,
};

use super::{
    model::{Action, ServerEvent, ack_key, decode_batch, encode_action},
    proto::init::Auth,
    txn::TxnIds,
};

/// The SDK's heartbeat interval.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The Gather platform for the engine.
///
/// On every connection it sends `init {spaceId, apiKey}` (a fresh `txnId`, as the SDK) and
/// waits for the first batch, whose first event must be `ready {id}`: then the client is
/// ready (queued and replayed actions flow), the user id is stored, and a
/// `clientHeartbeat` goes out at once and then every heartbeat interval. A first batch
/// that starts with an `error` event refuses the login (fatal); anything else fails the
/// connection and it is retried.
///
/// Every event of every batch is delivered, named by its field (`playerChats`);
/// `transactionStatus {txnId, succeeded, reason}` acknowledges the action with that
/// `txnId` (negatively when `succeeded` is false). A binary frame that is not a batch,
/// or a text frame, is a decode error and the connection goes on.
#[derive(Debug, Clone)]
pub struct Gather {
    space_id: String,
    auth: GatherAuth,
    heartbeat: Duration,
    txn: TxnIds,
    /// The user id of the current session, published (see [`Gather::user_ids`]).
    user_id: watch::Sender<Option<String>>,
    awaiting_ready: bool,
}

/// How `init` authenticates.
#[derive(Debug, Clone)]
enum GatherAuth {
    ApiKey(Secret),
    Token(Secret),
}

impl Gather {
    /// A protocol for `space_id` (`/` is replaced by `\`) authenticating with `api_key`.
    #[must_use]
    pub fn new(space_id: &str, api_key: impl Into<Secret>) -> Self {
        Self {
            space_id: super::model::space_id(space_id),
            auth: GatherAuth::ApiKey(api_key.into()),
            heartbeat: DEFAULT_HEARTBEAT,
            txn: TxnIds::new(),
            user_id: watch::Sender::new(None),
            awaiting_ready: false,
        }
    }

    /// Authenticates `init` with a token (the schema's `Init.token`) instead of an API key.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.auth = GatherAuth::Token(token.into());
        self
    }

    /// Sets the `clientHeartbeat` interval (default 15 s).
    #[must_use]
    pub fn heartbeat_every(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Shares a `txnId` source (the client's, so actions and heartbeats never collide).
    #[must_use]
    pub fn txn_ids(mut self, txn: TxnIds) -> Self {
        self.txn = txn;
        self
    }

    /// Follows the user id of the current session (set by `ready`, cleared when the
    /// connection ends). Take it before handing the protocol to the engine.
    #[must_use]
    pub fn user_ids(&self) -> watch::Receiver<Option<String>> {
        self.user_id.subscribe()
    }

    /// The `init` action this protocol sends (dry run; `txnId` not included).
    #[must_use]
    pub fn init_action(&self) -> Action {
        let auth = match &self.auth {
            GatherAuth::ApiKey(key) => Auth::ApiKey(key.expose().to_owned()),
            GatherAuth::Token(token) => Auth::Token(token.expose().to_owned()),
        };
        Action::init(self.space_id.clone(), Some(auth))
    }

    /// The user id of the current session (from `ready`), if logged in.
    #[must_use]
    pub fn user_id(&self) -> Option<String> {
        self.user_id.borrow().clone()
    }

    fn frame(&self, action: &Action) -> Frame {
        Frame::binary(encode_action(action, Some(self.txn.next())))
    }
}

impl Protocol for Gather {
    type Event = ServerEvent;

    fn name(&self) -> &'static str {
        "gather"
    }

    fn on_open(&mut self, out: &mut Output<ServerEvent>) {
        self.awaiting_ready = true;
        out.send(self.frame(&self.init_action()));
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Output<ServerEvent>) -> Result<(), DecodeError> {
        let Frame::Binary(bytes) = frame else {
            return Err(DecodeError::new(
                "text frame: Gather sends protobuf ServerClientBatch in binary frames",
            ));
        };
        let batch = decode_batch(&bytes)
            .map_err(|e| DecodeError::new(format!("not a ServerClientBatch: {e}")))?;
        let mut events = batch.events.into_iter().filter_map(|e| {
            if e.event.is_none() {
                tracing::debug!("event unknown to this schema skipped");
            }
            e.event
        });
        if self.awaiting_ready {
            let first = events.next();
            match &first {
                Some(ServerEvent::Ready(ready)) => {
                    self.awaiting_ready = false;
                    self.user_id.send_replace(Some(ready.id.clone()));
                    tracing::info!(user_id = %ready.id, "gather: ready");
                    out.ready();
                    // The SDK sends its first heartbeat as soon as it is connected.
                    out.send(self.frame(&Action::client_heartbeat()));
                }
                Some(ServerEvent::Error(error)) => {
                    out.fail(ConnectionError::LoginRefused(format!(
                        "gather init refused: {} (code {})",
                        error.message, error.code
                    )));
                }
                other => {
                    out.fail(ConnectionError::handshake_detail(format!(
                        "gather connection not ready: the first event was {}, not ready",
                        other.as_ref().map_or("missing", ServerEvent::name)
                    )));
                }
            }
            if let Some(event) = first {
                let name = event.name();
                out.deliver(Inbound::new(event).named(name));
            }
        }
        for event in events {
            let ack = match &event {
                ServerEvent::TransactionStatus(status) => {
                    let key = ack_key(status.txn_id);
                    Some(if status.succeeded {
                        Ack::accepted(key)
                    } else {
                        Ack::rejected(
                            key,
                            status
                                .reason
                                .clone()
                                .unwrap_or_else(|| "transaction failed".into()),
                        )
                    })
                }
                _ => None,
            };
            let name = event.name();
            let mut inbound = Inbound::new(event).named(name);
            inbound.ack = ack;
            out.deliver(inbound);
        }
        Ok(())
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        Some(self.heartbeat)
    }

    fn heartbeat(&mut self) -> Option<Frame> {
        (!self.awaiting_ready).then(|| self.frame(&Action::client_heartbeat()))
    }

    fn on_close(&mut self) {
        self.awaiting_ready = false;
        self.user_id.send_replace(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AckOutcome,
        gather::{
            decode_action, encode_batch,
            proto::{ErrorEvent, PlayerChats, Ready, TransactionStatus},
        },
    };

    fn gather() -> Gather {
        Gather::new("AbCdEf/My Space", "test-api-key").txn_ids(TxnIds::seeded(3))
    }

    fn feed(p: &mut Gather, events: Vec<ServerEvent>) -> Output<ServerEvent> {
        let mut out = Output::default();
        p.on_frame(Frame::binary(encode_batch(events)), &mut out)
            .unwrap();
        out
    }

    fn ready(id: &str) -> ServerEvent {
        ServerEvent::Ready(Ready { id: id.into() })
    }

    #[test]
    fn init_goes_first_and_ready_sets_the_user_id_and_sends_a_heartbeat() {
        let mut p = gather();
        let mut out = Output::default();
        p.on_open(&mut out);
        assert!(!out.ready);
        let init = decode_action(out.control[0].payload()).unwrap();
        assert!(init.txn_id.is_some());
        let Some(Action::Init(init)) = init.action else {
            panic!("{init:?}")
        };
        assert_eq!(init.space_id, "AbCdEf\\My Space");
        assert_eq!(init.auth, Some(Auth::ApiKey("test-api-key".into())));
        assert!(p.heartbeat().is_none(), "no heartbeat before ready");

        let out = feed(&mut p, vec![ready("user-1")]);
        assert!(out.ready);
        assert_eq!(p.user_id().as_deref(), Some("user-1"));
        assert_eq!(out.inbound[0].name.as_deref(), Some("ready"));
        let hb = decode_action(out.control[0].payload()).unwrap();
        assert!(matches!(hb.action, Some(Action::ClientHeartbeat(_))));
        assert!(p.heartbeat().is_some());
        assert_eq!(p.heartbeat_interval(), Some(DEFAULT_HEARTBEAT));

        p.on_close();
        assert_eq!(p.user_id(), None, "a new connection logs in again");
        let mut out = Output::default();
        p.on_open(&mut out);
        assert!(matches!(
            decode_action(out.control[0].payload()).unwrap().action,
            Some(Action::Init(_))
        ));
    }

    #[test]
    fn a_first_event_other_than_ready_fails_the_connection() {
        let mut p = gather();
        p.on_open(&mut Output::default());
        let out = feed(
            &mut p,
            vec![ServerEvent::Error(ErrorEvent {
                message: "bad api key".into(),
                code: 3,
            })],
        );
        let error = out.fatal.unwrap();
        assert!(matches!(error, ConnectionError::LoginRefused(_)), "{error}");
        assert_eq!(error.disposition(), crate::Disposition::Fatal);

        let mut p = gather();
        p.on_open(&mut Output::default());
        let out = feed(&mut p, vec![]);
        assert_eq!(
            out.fatal.unwrap().disposition(),
            crate::Disposition::Retryable
        );
    }

    #[test]
    fn transaction_statuses_acknowledge_by_txn_id_with_the_reason_of_a_failure() {
        let mut p = gather();
        p.on_open(&mut Output::default());
        feed(&mut p, vec![ready("u")]);
        let out = feed(
            &mut p,
            vec![
                ServerEvent::TransactionStatus(TransactionStatus {
                    txn_id: 7,
                    succeeded: true,
                    reason: None,
                }),
                ServerEvent::PlayerChats(PlayerChats {
                    contents: "hi".into(),
                    ..PlayerChats::default()
                }),
                ServerEvent::TransactionStatus(TransactionStatus {
                    txn_id: 8,
                    succeeded: false,
                    reason: Some("not allowed".into()),
                }),
            ],
        );
        let acks: Vec<_> = out.inbound.iter().map(|i| i.ack.clone()).collect();
        assert_eq!(acks[0], Some(Ack::accepted(ack_key(7))));
        assert_eq!(acks[1], None);
        assert_eq!(
            acks[2].as_ref().map(|a| a.outcome.clone()),
            Some(AckOutcome::Rejected("not allowed".into()))
        );
        assert_eq!(out.inbound[1].name.as_deref(), Some("playerChats"));
    }

    #[test]
    fn text_frames_and_garbage_are_decode_errors() {
        let mut p = gather();
        for frame in [Frame::text("{}"), Frame::binary(&b"\xff\xff\xff"[..])] {
            let mut out = Output::default();
            assert!(p.on_frame(frame, &mut out).is_err());
            assert!(out.inbound.is_empty());
        }
    }

    #[test]
    fn debug_never_shows_the_api_key() {
        let p = gather().with_token("jwt-secret");
        let text = format!("{p:?}");
        assert!(
            !text.contains("jwt-secret") && !text.contains("test-api-key"),
            "{text}"
        );
    }
}
