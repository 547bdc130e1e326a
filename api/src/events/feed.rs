//! Reading the event stream: the event types a caller may read, the stream from a point, and pruning past the
//! retention window.

use chrono::{DateTime, Utc};
use entities::event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::names;
use crate::ids::Kind;
use crate::service::{Page, PageRequest, now};

/// Every event name the stream can hold, for validating `types` filters.
pub const TYPES: &[&str] = &[
    names::CONVERSATION_CREATED,
    names::CONVERSATION_UPDATED,
    names::CONVERSATION_RESOLVED,
    names::MESSAGE_CREATED,
    names::HANDOFF_REQUESTED,
    names::FEEDBACK_RECEIVED,
    names::KNOWLEDGE_BASE_QUERY_FAILED,
    names::VISITOR_UPDATED,
    names::VISITOR_FORM_SUBMITTED,
    names::KNOWLEDGE_BASE_ENTRY_CREATED,
    names::KNOWLEDGE_BASE_ENTRY_UPDATED,
    names::KNOWLEDGE_BASE_ENTRY_DELETED,
    names::WEBHOOK_DISABLED,
    names::INTEGRATION_CONNECTED,
    names::INTEGRATION_DISCONNECTED,
    names::INTEGRATION_AUTH_FAILED,
    names::INTEGRATION_SYNC_FAILED,
];

/// What a caller must be able to read to see an event of this type.
pub fn resource_of(name: &str) -> Resource {
    match name.split('.').next().unwrap_or_default() {
        "visitor" => Resource::Visitor,
        "knowledge_base" => Resource::KnowledgeBase,
        "webhook" => Resource::Webhook,
        "integration" => Resource::Integration,
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

/// One event of the organization, if the caller's role may read its type.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<event::Model> {
    let grant = match authorize(principal, Resource::Conversation, Action::Read).await {
        Ok(grant) => grant,
        Err(_) => authorize(principal, Resource::KnowledgeBase, Action::Read).await?,
    };
    let id = crate::ids::lookup(Kind::Event, id)?;
    let readable = readable_types(principal, &[]).await?;
    event::Entity::find_by_id(id.to_owned())
        .filter(event::Column::OrganizationId.eq(grant.organization_id()))
        .filter(event::Column::Event.is_in(readable))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("event", id))
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
