//! The audit log query (owners and admins).

use async_graphql::{Context, ID, Json, Object};
use entities::audit_entry;

use crate::graphql::caller;
use crate::graphql::enums::{AuditAction, AuditActorType, CreatedAtOrder};
use crate::graphql::node::{Node, reference};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, connection, wants_total};
use crate::ids::Kind;
use crate::service::audit::{self, AuditFilter};
use crate::service::{Created, PageRequest};

/// One administrative action.
pub struct AuditEntry(pub audit_entry::Model);

/// One administrative action of the audit log, chained by hash to the one before so that edits and deletions show.
#[Object]
impl AuditEntry {
    /// The entry's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Position in the organization's hash chain.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Who acted.
    async fn actor_type(&self) -> async_graphql::Result<AuditActorType> {
        Ok(AuditActorType::stored(&self.0.actor_type)?)
    }
    /// The id of the member or API key that acted; null for the system or an unknown caller.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.clone().map(ID)
    }
    /// The member or API key that acted; null for the system, an unknown caller, or one that is gone.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        match &self.0.actor_id {
            Some(id) => reference(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What was done.
    async fn action(&self) -> async_graphql::Result<AuditAction> {
        let action =
            crate::service::audit::AuditAction::named(&self.0.action).ok_or_else(|| {
                crate::error::ApiError::internal_msg(format!(
                    "stored audit action {:?}",
                    self.0.action
                ))
            })?;
        Ok(action.into())
    }
    /// The kind of thing acted on, such as `api_key` or `member`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The id of the thing acted on, when it has one.
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.clone().map(ID)
    }
    /// The thing acted on; null when it has no id or is gone.
    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        match &self.0.target_id {
            Some(id) => reference(ctx, id).await,
            None => Ok(None),
        }
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
    // Each GraphQL argument is a parameter of its resolver.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
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
        #[graphql(desc = "Only entries of this action.")] action: Option<AuditAction>,
        #[graphql(desc = "Only entries made by this member or API key.")] actor_id: Option<ID>,
        #[graphql(desc = "Only entries about this target.")] target_id: Option<ID>,
        #[graphql(desc = "Only entries made at or after this time.")] created_after: Option<
            Timestamp,
        >,
        #[graphql(desc = "Only entries made before this time.")] created_before: Option<Timestamp>,
        #[graphql(desc = "The order of the list: newest first when omitted.")] order_by: Option<
            CreatedAtOrder,
        >,
    ) -> async_graphql::Result<Conn<AuditEntry>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::AuditEntry)?;
        let filter = AuditFilter {
            action: action.map(|a| {
                crate::service::audit::AuditAction::from(a)
                    .as_str()
                    .to_owned()
            }),
            actor_id: actor_id.map(|id| id.0),
            target_id: target_id.map(|id| id.0),
            created: Created {
                from: created_after.map(|t| t.0),
                until: created_before.map(|t| t.0),
            },
            order: order_by.map(Into::into).unwrap_or_default(),
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
