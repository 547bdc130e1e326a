//! The event stream, read back for reconciliation: oldest first, filtered by type and by what the role may read.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object};
use entities::event;

use crate::config::Settings;
use crate::events::feed::{self, Since};
use crate::graphql::caller;
use crate::graphql::enums::{EventType, names};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, connection};
use crate::ids::Kind;
use crate::service::PageRequest;

/// One event of the stream, in the envelope webhooks carry.
pub struct Event(pub event::Model);

/// One event of the organization's stream, in the same envelope webhooks deliver.
#[Object(name = "OrganizationEvent")]
impl Event {
    /// The event's id; ids increase in stream order, so one can be used to resume from.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// What happened.
    #[graphql(name = "type")]
    async fn event_type(&self) -> async_graphql::Result<EventType> {
        Ok(EventType::stored(&self.0.event)?)
    }
    /// When it happened.
    async fn timestamp(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// The id of the organization it belongs to.
    async fn organization_id(&self) -> ID {
        ID(self.0.organization_id.clone())
    }
    /// The id of the conversation it is about; null for events outside a conversation.
    async fn conversation_id(&self) -> Option<ID> {
        self.0.conversation_id.clone().map(ID)
    }
    /// Increases by one per event of a conversation, so gaps and reordering show.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }
    /// What happened, as JSON whose shape depends on the event type.
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events from `since` (an event id or an RFC 3339 time), oldest first, of the given types or all the
    /// caller's role may read, within the retention window.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Where to start: after an event id (`evt_…`), or at an RFC 3339 time; the start of the retention window when omitted."
        )]
        since: Option<String>,
        #[graphql(
            desc = "Only events of these types; every type the caller's role may read when omitted."
        )]
        types: Option<Vec<EventType>>,
        #[graphql(desc = "How many events to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the events after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<Event>> {
        let (db, principal) = caller(ctx)?;
        let since = since.as_deref().map(Since::parse).transpose()?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Event)?;
        let retention = ctx
            .data::<Arc<Settings>>()
            .map(|s| s.event_retention_days)
            .unwrap_or(30);
        let rows = feed::list(
            db,
            principal,
            since.as_ref(),
            &names(types.unwrap_or_default()),
            retention,
            &page,
        )
        .await?;
        Ok(connection(rows, page.after.is_some(), 0, |e| &e.id, Event))
    }

    /// How many days events stay readable and replayable.
    async fn event_retention_days(&self, ctx: &Context<'_>) -> u32 {
        ctx.data::<Arc<Settings>>()
            .map(|s| s.event_retention_days)
            .unwrap_or(30)
    }
}
