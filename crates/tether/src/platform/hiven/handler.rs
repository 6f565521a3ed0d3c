//! The event handler trait: one method per Swarm event, each a no-op by default.

use std::future::Future;

use serde_json::Value;

use crate::router::BoxError;

use super::{
    client::HivenClient,
    model::SwarmEvent,
    model::{House, InitState, Member, Message, ReadyInfo, Reference, Relationship, Room, User},
};

/// What a handler returns: an error is logged (secrets scrubbed) and counted in
/// [`HivenClient::handler_errors`]; the client goes on. A panic is treated the same way.
pub type HandlerResult = Result<(), BoxError>;

macro_rules! handlers {
    ($( $(#[$doc:meta])* $method:ident($ty:ty) <= $variant:ident; )*) => {
        /// Handlers for what the Swarm sends, after openhivenpy's `on_<event>` methods.
        /// Implement the ones you need; the others do nothing.
        ///
        /// Handlers run one at a time, in the order events arrive (a slow handler slows
        /// reading down, nothing is dropped). Reply with [`HivenClient::send_message`].
        ///
        /// ```no_run
        /// use tether::hiven::{EventHandler, HandlerResult, HivenClient, Message};
        ///
        /// struct Echo;
        /// impl EventHandler for Echo {
        ///     async fn on_message_create(&self, client: &HivenClient, message: &Message) -> HandlerResult {
        ///         if Some(&message.author_id) != client.user().map(|u| u.id).as_ref() {
        ///             client.send_message(&message.room_id, &message.content).await?;
        ///         }
        ///         Ok(())
        ///     }
        /// }
        /// ```
        pub trait EventHandler: Send + Sync + 'static {
            $(
                $(#[$doc])*
                fn $method(
                    &self,
                    client: &HivenClient,
                    event: &$ty,
                ) -> impl Future<Output = HandlerResult> + Send {
                    let _ = (client, event);
                    async { Ok(()) }
                }
            )*

            /// An event name or op-code the model does not know (name, payload).
            fn on_unknown(
                &self,
                client: &HivenClient,
                name: Option<&str>,
                data: &Value,
            ) -> impl Future<Output = HandlerResult> + Send {
                let _ = (client, name, data);
                async { Ok(()) }
            }
        }

        /// Runs the handler method for `event`.
        pub(crate) async fn dispatch<H: EventHandler>(
            handler: &H,
            client: &HivenClient,
            event: &SwarmEvent,
        ) -> HandlerResult {
            match event {
                $( SwarmEvent::$variant(x) => handler.$method(client, x).await, )*
                SwarmEvent::Unknown { name, data, .. } => {
                    handler.on_unknown(client, name.as_deref(), data).await
                }
                SwarmEvent::Hello { .. } => Ok(()),
            }
        }
    };
}

handlers! {
    /// `INIT_STATE`: the login was accepted (the user, houses to come, relationships).
    on_init(InitState) <= InitState;
    /// Every house announced by `INIT_STATE` has joined (also with zero houses): the
    /// client is ready. Fires again after every reconnect.
    on_ready(ReadyInfo) <= Ready;
    /// `USER_UPDATE`.
    on_user_update(User) <= UserUpdate;
    /// `HOUSE_JOIN`.
    on_house_join(House) <= HouseJoin;
    /// `HOUSE_UPDATE`.
    on_house_update(House) <= HouseUpdate;
    /// `HOUSE_DOWN`.
    on_house_down(Reference) <= HouseDown;
    /// `HOUSE_LEAVE`.
    on_house_leave(Reference) <= HouseLeave;
    /// `ROOM_CREATE`.
    on_room_create(Room) <= RoomCreate;
    /// `ROOM_UPDATE`.
    on_room_update(Room) <= RoomUpdate;
    /// `ROOM_DELETE`.
    on_room_delete(Room) <= RoomDelete;
    /// `HOUSE_MEMBER_JOIN`.
    on_house_member_join(Member) <= HouseMemberJoin;
    /// `HOUSE_MEMBER_LEAVE`.
    on_house_member_leave(Member) <= HouseMemberLeave;
    /// `HOUSE_MEMBER_ENTER`.
    on_house_member_enter(Reference) <= HouseMemberEnter;
    /// `HOUSE_MEMBER_EXIT`.
    on_house_member_exit(Reference) <= HouseMemberExit;
    /// `HOUSE_MEMBER_UPDATE`.
    on_house_member_update(Member) <= HouseMemberUpdate;
    /// `HOUSE_MEMBERS_CHUNK`.
    on_house_members_chunk(Reference) <= HouseMembersChunk;
    /// `BATCH_HOUSE_MEMBER_UPDATE`.
    on_batch_house_member_update(Reference) <= BatchHouseMemberUpdate;
    /// `HOUSE_ENTITIES_UPDATE`.
    on_house_entities_update(Reference) <= HouseEntitiesUpdate;
    /// `RELATIONSHIP_UPDATE`.
    on_relationship_update(Relationship) <= RelationshipUpdate;
    /// `PRESENCE_UPDATE`.
    on_presence_update(User) <= PresenceUpdate;
    /// `MESSAGE_CREATE`.
    on_message_create(Message) <= MessageCreate;
    /// `MESSAGE_UPDATE`.
    on_message_update(Message) <= MessageUpdate;
    /// `MESSAGE_DELETE`.
    on_message_delete(Reference) <= MessageDelete;
    /// `TYPING_START`.
    on_typing_start(Reference) <= TypingStart;
}
