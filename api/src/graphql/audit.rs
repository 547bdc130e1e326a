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

/// One administrative action of the audit log, chained by hash to the one before so that edits and deletions show.
#[Object]
impl AuditEntry {
    /// The entry's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Position in the organization's hash chain.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Who acted: `user`, `api_key`, `visitor`, `anonymous` (such as a refused SSO sign-in) or `system`.
    async fn actor_type(&self) -> &str {
        &self.0.actor_type
    }
    /// The id of the member or API key that acted; null for the system or an unknown caller.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.clone().map(ID)
    }
    /// `resource.verb`, e.g. `api_key.created`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The kind of thing acted on, such as `api_key` or `member`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The id of the thing acted on, when it has one.
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.clone().map(ID)
    }
    /// The address the request came from, when known.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    /// The user agent of the request, when known.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// The target's recorded state before the action, as JSON; null when none was recorded (as for a creation).
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    /// The target's recorded state after the action, as JSON; null when none was recorded.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
    /// When the action happened.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// The hash of the organization's previous entry (64 zeros for the first).
    async fn prev_hash(&self) -> &str {
        &self.0.prev_hash
    }
    /// The hex SHA-256 of the previous hash and this entry's content.
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
        #[graphql(desc = "How many entries to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the entries after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
        #[graphql(desc = "Only entries of this exact action, such as `api_key.created`.")]
        action: Option<String>,
        #[graphql(desc = "Only entries made by this member or API key.")] actor_id: Option<ID>,
        #[graphql(desc = "Only entries about this target.")] target_id: Option<ID>,
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
