//! The event outbox: each event is written in the same transaction as the change that causes it.

use chrono::{DateTime, Utc};
use entities::{conversation, event};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::bus::Notice;
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id, new_id_after};
use crate::service::{Page, PageRequest, now};

/// The event names of the brief, and the ones added in the same `resource.verb` form.
pub mod names {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const CONVERSATION_RESOLVED: &str = "conversation.resolved";
    pub const MESSAGE_CREATED: &str = "message.created";
    pub const HANDOFF_REQUESTED: &str = "handoff.requested";
    pub const FEEDBACK_RECEIVED: &str = "feedback.received";
    pub const KNOWLEDGE_BASE_QUERY_FAILED: &str = "knowledge_base.query_failed";
    pub const VISITOR_UPDATED: &str = "visitor.updated";
    pub const KNOWLEDGE_BASE_ENTRY_CREATED: &str = "knowledge_base.entry_created";
    pub const KNOWLEDGE_BASE_ENTRY_UPDATED: &str = "knowledge_base.entry_updated";
    pub const KNOWLEDGE_BASE_ENTRY_DELETED: &str = "knowledge_base.entry_deleted";
    pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
    /// Sent by the test endpoint only; never in the stream.
    pub const WEBHOOK_TEST: &str = "webhook.test";
}

/// Takes the organization's event-stream lock for the rest of the transaction (once per transaction).
///
/// Event-writing transactions of one organization then commit in the order of their event ids, so a reader
/// that has seen an event has seen every earlier one: live subscribers and `after` cursors never skip an event
/// that committed late. SQLite already runs one writer at a time; PostgreSQL takes a transaction-scoped
/// advisory lock, as late as possible (at the first event) so that it is held only for the event's own
/// statements and the commit. A transaction holding it locks no row another writer may hold first (after its
/// first event it touches only rows it created or already locked), so it cannot deadlock.
pub(crate) async fn lock_stream(txn: &WriteTxn<'_>, organization_id: &str) -> ApiResult<()> {
    if !txn.mark_stream_locked(organization_id) || txn.get_database_backend() != DbBackend::Postgres
    {
        return Ok(());
    }
    let digest = Sha256::digest(organization_id.as_bytes());
    let key = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, $2)",
        [STREAM_LOCK_CLASS.into(), key.into()],
    ))
    .await?;
    Ok(())
}

/// The first key of the stream locks, so they cannot collide with other advisory locks.
const STREAM_LOCK_CLASS: i32 = 0x6576_7473; // "evts"

/// Bumps a conversation's event counter and stamps its `updated_at`, returning the row after the change
/// (`NOT_FOUND` when the organization has no such conversation).
///
/// This is a single `UPDATE … RETURNING`, so concurrent writers get distinct sequence numbers.
pub(crate) async fn bump_conversation(
    txn: &WriteTxn<'_>,
    organization_id: &str,
    conversation_id: &str,
) -> ApiResult<conversation::Model> {
    let rows = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::EventSeq,
            Expr::col(conversation::Column::EventSeq).add(1),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now()))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::OrganizationId.eq(organization_id))
        .exec_with_returning(&**txn)
        .await?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("conversation", conversation_id))
}

/// The id of the organization's newest event.
pub(crate) async fn latest_id(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> ApiResult<Option<String>> {
    Ok(event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::OrganizationId.eq(organization_id))
        .order_by_desc(event::Column::Id)
        .limit(1)
        .into_tuple::<String>()
        .one(conn)
        .await?)
}

/// Appends one event to the outbox, owes it to the webhook endpoints that subscribe to it, and has it announced
/// to live subscribers once the transaction commits.
pub(crate) async fn record(
    txn: &WriteTxn<'_>,
    organization_id: &str,
    name: &str,
    conversation: Option<&conversation::Model>,
    data: Value,
) -> ApiResult<event::Model> {
    lock_stream(txn, organization_id).await?;
    let prev_id = latest_id(&**txn, organization_id).await?;
    let id = match &prev_id {
        Some(prev) => new_id_after(Kind::Event, prev),
        None => new_id(Kind::Event),
    };
    let event = event::ActiveModel {
        id: Set(id),
        organization_id: Set(organization_id.to_owned()),
        event: Set(name.to_owned()),
        conversation_id: Set(conversation.map(|c| c.id.clone())),
        sequence: Set(conversation.map_or(0, |c| c.event_seq)),
        data: Set(data),
        created_at: Set(now()),
    }
    .insert(&**txn)
    .await
    .map_err(ApiError::from)?;
    crate::service::deliveries::enqueue(&**txn, &event).await?;
    txn.announce(Notice {
        event: event.clone(),
        prev_id,
    });
    Ok(event)
}

/// Every event name the stream can hold, for validating `types` filters.
pub const TYPES: &[&str] = &[
    names::CONVERSATION_CREATED,
    names::CONVERSATION_UPDATED,
    names::CONVERSATION_RESOLVED,
    names::MESSAGE_CREATED,
    names::HANDOFF_REQUESTED,
    "feedback.received",
    "knowledge_base.query_failed",
    names::VISITOR_UPDATED,
    names::KNOWLEDGE_BASE_ENTRY_CREATED,
    names::KNOWLEDGE_BASE_ENTRY_UPDATED,
    names::KNOWLEDGE_BASE_ENTRY_DELETED,
    names::WEBHOOK_DISABLED,
];

/// What a caller must be able to read to see an event of this type.
pub fn resource_of(name: &str) -> Resource {
    match name.split('.').next().unwrap_or_default() {
        "visitor" => Resource::Visitor,
        "knowledge_base" => Resource::KnowledgeBase,
        "webhook" => Resource::Webhook,
        _ => Resource::Conversation,
    }
}

/// Where a read of the stream starts: after an event, or at a time.
#[derive(Clone, Debug)]
pub enum Since {
    After(String),
    At(DateTime<Utc>),
}

impl Since {
    /// Parses `evt_…` or an RFC 3339 timestamp.
    pub fn parse(value: &str) -> ApiResult<Self> {
        let value = value.trim();
        if value.starts_with(Kind::Event.prefix()) {
            return Ok(Since::After(
                crate::ids::parse(Kind::Event, "since", value)?.to_owned(),
            ));
        }
        DateTime::parse_from_rfc3339(value)
            .map(|at| Since::At(at.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::validation(
                    "since",
                    "must be an event id (evt_…) or an RFC 3339 time such as 2026-11-25T10:00:00Z",
                )
            })
    }
}

/// The event types of `wanted` (all when empty) that the caller may read; asking for an unknown type is
/// invalid, and asking only for types the role may not read is refused.
pub(crate) async fn readable_types(
    principal: &Principal,
    wanted: &[String],
) -> ApiResult<Vec<&'static str>> {
    for name in wanted {
        if !TYPES.contains(&name.as_str()) {
            return Err(ApiError::validation(
                "types",
                format!(
                    "unknown event type {name:?}; expected some of {}",
                    TYPES.join(", ")
                ),
            ));
        }
    }
    let mut readable = Vec::new();
    let mut refusal = None;
    for name in TYPES.iter().copied() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        match authorize(principal, resource_of(name), Action::Read).await {
            Ok(_) => readable.push(name),
            Err(err) => refusal = Some(err),
        }
    }
    match (readable.is_empty(), refusal) {
        (true, Some(err)) => Err(err),
        _ => Ok(readable),
    }
}

/// The organization's events in stream order (oldest first) from `since`, within the retention window.
pub async fn list(
    db: &Db,
    principal: &Principal,
    since: Option<&Since>,
    types: &[String],
    retention_days: u32,
    page: &PageRequest,
) -> ApiResult<Page<event::Model>> {
    let grant = match authorize(principal, Resource::Conversation, Action::Read).await {
        Ok(grant) => grant,
        Err(_) => authorize(principal, Resource::KnowledgeBase, Action::Read).await?,
    };
    let readable = readable_types(principal, types).await?;
    let oldest = now() - chrono::Duration::days(i64::from(retention_days));
    let mut query = event::Entity::find()
        .filter(event::Column::OrganizationId.eq(grant.organization_id()))
        .filter(event::Column::Event.is_in(readable))
        .filter(event::Column::CreatedAt.gte(oldest));
    match since {
        Some(Since::After(id)) => query = query.filter(event::Column::Id.gt(id.as_str())),
        Some(Since::At(at)) => query = query.filter(event::Column::CreatedAt.gte(*at)),
        None => {}
    }
    if let Some(after) = &page.after {
        query = query.filter(event::Column::Id.gt(after.as_str()));
    }
    let rows = query
        .order_by_asc(event::Column::Id)
        .limit(page.fetch())
        .all(db.conn())
        .await?;
    Ok(page.page(rows))
}

/// Deletes events older than the retention window; returns how many.
pub async fn prune(db: &Db, retention_days: u32) -> ApiResult<u64> {
    let oldest = now() - chrono::Duration::days(i64::from(retention_days));
    let txn = db.begin_write().await?;
    let deleted = event::Entity::delete_many()
        .filter(event::Column::CreatedAt.lt(oldest))
        .exec(&*txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(deleted)
}
