//! The audit log query (owners and admins).

use async_graphql::{Context, ID, Json, Object};
use entities::audit_entry;

use crate::graphql::caller;
use crate::graphql::types::{Conn, Timestamp, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::audit::{self, AuditFilter};

/// One administrative action.
pub struct AuditEntry(pub audit_entry::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Position in the organization's hash chain.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// `api_key`, `user` or `system`.
    async fn actor_type(&self) -> &str {
        &self.0.actor_type
    }
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.clone().map(ID)
    }
    /// `resource.verb`, e.g. `api_key.created`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.clone().map(ID)
    }
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn prev_hash(&self) -> &str {
        &self.0.prev_hash
    }
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The organization's audit log, newest first.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        action: Option<String>,
        actor_id: Option<ID>,
        target_id: Option<ID>,
    ) -> async_graphql::Result<Conn<AuditEntry>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::AuditEntry)?;
        let filter = AuditFilter {
            action,
            actor_id: actor_id.map(|id| id.0),
            target_id: target_id.map(|id| id.0),
        };
        let total = if wants_total(ctx) {
            audit::count(db, principal, &filter).await?
        } else {
            0
        };
        let rows = audit::list(db, principal, &filter, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |e| &e.id,
            AuditEntry,
        ))
    }
}
