//! The event stream, read back for reconciliation: oldest first, filtered by type and by what the role may read.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object};
use entities::event;

use crate::config::Settings;
use crate::events::feed::{self, Since};
use crate::graphql::caller;
use crate::graphql::types::{Conn, Timestamp, connection};
use crate::ids::Kind;
use crate::service::PageRequest;

/// One event of the stream, in the envelope webhooks carry.
pub struct Event(pub event::Model);

#[Object]
impl Event {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// `resource.verb`, e.g. `conversation.created`.
    async fn event(&self) -> &str {
        &self.0.event
    }
    async fn timestamp(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn organization_id(&self) -> ID {
        ID(self.0.organization_id.clone())
    }
    async fn conversation_id(&self) -> Option<ID> {
        self.0.conversation_id.clone().map(ID)
    }
    /// Increases by one per event of a conversation, so gaps and reordering show.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }
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
    async fn events(
        &self,
        ctx: &Context<'_>,
        since: Option<String>,
        types: Option<Vec<String>>,
        first: Option<i32>,
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
            types.as_deref().unwrap_or_default(),
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
