//! Conversations: start one (with its visitor and first message), update its status, list and read.

pub mod answer;
pub mod feedback;
pub mod messages;
pub mod posting;
pub mod visitors;

use crate::text_enum::text_enum;
use std::str::FromStr;

use entities::conversation;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    Select, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Grant, Resource, authorize};
use crate::db::Db;
use crate::db::WriteTxn;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind};
use crate::service::{Created, Order, Page, PageRequest, Patch, by_ids, in_order, now, text_patch};

/// Longest subject.
pub(crate) const SUBJECT_MAX: usize = 300;
/// Longest page context.
pub(crate) const CONTEXT_MAX: usize = 10_000;

text_enum! {
    /// Where a conversation stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Status {
        Open = "open",
        HandedOff = "handed_off",
        Resolved = "resolved",
        Closed = "closed",
    }
}

impl FromStr for Status {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        Status::named(s).ok_or_else(|| {
            ApiError::validation(
                "status",
                format!("unknown status {s:?}; expected open, handed_off, resolved or closed"),
            )
        })
    }
}

/// The stored status of a row.
pub fn status(model: &conversation::Model) -> ApiResult<Status> {
    model
        .status
        .parse()
        .map_err(|_| ApiError::internal_msg(format!("stored status {:?}", model.status)))
}

/// Input of `updateConversation` / `PUT /conversations/{id}`: absent fields keep their value, `null` clears.
#[derive(Clone, Debug, Default)]
pub struct UpdateConversation {
    pub status: Option<Status>,
    pub subject: Patch<String>,
    pub sentiment: Patch<f64>,
}

/// Filters of the conversation list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConversationFilter {
    pub status: Option<Status>,
    pub assistant_id: Option<String>,
    pub visitor_id: Option<String>,
    pub created: Created,
    pub order: Order,
}

/// Changes a conversation's status, subject or sentiment.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: &str,
    input: UpdateConversation,
) -> ApiResult<conversation::Model> {
    let grant = authorize(principal, Resource::Conversation, Action::Write).await?;
    let id = ids::lookup(Kind::Conversation, id)?;
    let subject = text_patch("subject", &input.subject, SUBJECT_MAX)?;
    if let Patch::Set(s) = input.sentiment
        && !(-1.0..=1.0).contains(&s)
    {
        return Err(ApiError::validation(
            "sentiment",
            "must be between -1 and 1",
        ));
    }
    if input.status.is_none() && subject.is_keep() && input.sentiment.is_keep() {
        return Err(ApiError::validation(
            "input",
            "nothing to update: give status, subject or sentiment",
        ));
    }
    let org = grant.organization_id();
    let txn = db.begin_write().await?;
    let before = outbox::bump_conversation(&txn, org, id).await?;
    let previous_status = status(&before)?;
    let mut active = before.clone().into_active_model();
    let mut changes = serde_json::Map::new();
    if let Some(next) = input.status
        && next != previous_status
    {
        apply_status(&mut active, next, "requested");
        changes.insert(
            "status".into(),
            json!({"from": previous_status, "to": next}),
        );
    }
    match subject {
        Patch::Keep => {}
        Patch::Clear => active.subject = Set(None),
        Patch::Set(s) => active.subject = Set(Some(s)),
    }
    match input.sentiment {
        Patch::Keep => {}
        Patch::Clear => active.sentiment = Set(None),
        Patch::Set(s) => active.sentiment = Set(Some(s)),
    }
    let after = active.update(&*txn).await?;
    if after.subject != before.subject {
        changes.insert(
            "subject".into(),
            json!({"from": before.subject, "to": after.subject}),
        );
    }
    if after.sentiment != before.sentiment {
        changes.insert(
            "sentiment".into(),
            json!({"from": before.sentiment, "to": after.sentiment}),
        );
    }
    record_updated(&txn, &after, json!(changes)).await?;
    // A resolution and a handoff get their own event, next in the conversation's sequence, so receivers need
    // not diff statuses.
    let follow_up = match input.status {
        Some(next) if next == previous_status => None,
        Some(Status::Resolved) => Some((
            names::CONVERSATION_RESOLVED,
            json!({
                "previous_status": previous_status,
                "resolved_by": principal.actor_id(),
            }),
        )),
        Some(Status::HandedOff) => Some((
            names::HANDOFF_REQUESTED,
            json!({
                "previous_status": previous_status,
                "reason": "requested",
                "requested_by": principal.actor_id(),
            }),
        )),
        _ => None,
    };
    let after = match follow_up {
        Some((name, data)) => follow_up_event(&txn, &after, name, data).await?,
        None => after,
    };
    txn.commit().await?;
    Ok(after)
}

/// Resolves a conversation on behalf of an integration (`by`: a ticket solved in the help desk), with the same
/// events as a member's resolution; false when it was resolved or closed already.
pub(crate) async fn resolve_from(
    db: &Db,
    organization_id: &str,
    id: &str,
    by: &str,
) -> ApiResult<bool> {
    let txn = db.begin_write().await?;
    let before = find(&*txn, organization_id, id).await?;
    let previous = status(&before)?;
    if matches!(previous, Status::Resolved | Status::Closed) {
        return Ok(false);
    }
    let before = outbox::bump_conversation(&txn, organization_id, id).await?;
    let mut active = before.clone().into_active_model();
    apply_status(&mut active, Status::Resolved, "requested");
    let after = active.update(&*txn).await?;
    record_updated(
        &txn,
        &after,
        json!({"status": {"from": previous, "to": Status::Resolved}}),
    )
    .await?;
    follow_up_event(
        &txn,
        &after,
        names::CONVERSATION_RESOLVED,
        json!({"previous_status": previous, "resolved_by": by}),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Records `conversation.updated` with what changed.
async fn record_updated(
    txn: &WriteTxn<'_>,
    after: &conversation::Model,
    changes: serde_json::Value,
) -> ApiResult<()> {
    outbox::record(
        txn,
        &after.organization_id,
        names::CONVERSATION_UPDATED,
        Some(after),
        json!({
            "conversation_id": after.id,
            "visitor_id": after.visitor_id,
            "status": after.status,
            "changes": changes,
        }),
    )
    .await?;
    Ok(())
}

/// Sets the status and the columns that remember the change: a handoff stamps when and why and marks that a
/// person took part; a resolution stamps when; a hand-back (handed off → open) starts the failed-response count
/// again, so the assistant answers anew.
fn apply_status(active: &mut conversation::ActiveModel, next: Status, handoff_reason: &str) {
    let at = now();
    active.status = Set(next.as_str().to_owned());
    match next {
        Status::HandedOff => {
            active.handed_off_at = Set(Some(at));
            active.handoff_reason = Set(Some(handoff_reason.to_owned()));
            active.human_involved = Set(true);
        }
        Status::Resolved => {
            active.resolved_at = Set(Some(at));
            active.failed_responses = Set(0);
        }
        Status::Open => active.failed_responses = Set(0),
        Status::Closed => {}
    }
}

/// Records `name` as the conversation's next event, with the conversation's ids and age added to `data`.
async fn follow_up_event(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    name: &str,
    mut data: serde_json::Value,
) -> ApiResult<conversation::Model> {
    let org = &conversation.organization_id;
    let bumped = outbox::bump_conversation(txn, org, &conversation.id).await?;
    if let Some(fields) = data.as_object_mut() {
        fields.insert("conversation_id".into(), json!(bumped.id));
        fields.insert("visitor_id".into(), json!(bumped.visitor_id));
        fields.insert("assistant_id".into(), json!(bumped.assistant_id));
        fields.insert(
            "duration_seconds".into(),
            json!((bumped.updated_at - bumped.created_at).num_seconds()),
        );
    }
    outbox::record(txn, org, name, Some(&bumped), data).await?;
    Ok(bumped)
}

/// Hands an open conversation off to a person inside the caller's transaction, for the assistant engine:
/// `conversation.updated` with the status change, then `handoff.requested` with the reason (`visitor_request`,
/// `failed_responses` or `negative_sentiment`) and what triggered it.
pub(crate) async fn hand_off(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    reason: &str,
    details: serde_json::Value,
) -> ApiResult<conversation::Model> {
    let org = &conversation.organization_id;
    let before = outbox::bump_conversation(txn, org, &conversation.id).await?;
    let previous_status = status(&before)?;
    let mut active = before.clone().into_active_model();
    apply_status(&mut active, Status::HandedOff, reason);
    let after = active.update(&**txn).await?;
    record_updated(
        txn,
        &after,
        json!({"status": {"from": previous_status, "to": Status::HandedOff}}),
    )
    .await?;
    follow_up_event(
        txn,
        &after,
        names::HANDOFF_REQUESTED,
        json!({
            "previous_status": previous_status,
            "reason": reason,
            "requested_by": "assistant",
            "details": details,
        }),
    )
    .await
}

/// One conversation of the caller's organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<conversation::Model> {
    let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
    find(db.conn(), grant.organization_id(), id).await
}

pub(crate) async fn find(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<conversation::Model> {
    let id = ids::lookup(Kind::Conversation, id)?;
    conversation::Entity::find_by_id(id.to_owned())
        .filter(conversation::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation", id))
}

/// Conversations by id, for the federation entity resolver.
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<std::collections::HashMap<String, conversation::Model>> {
    let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
    by_ids::<conversation::Entity>(
        db.conn(),
        conversation::Column::OrganizationId,
        conversation::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}

fn filtered(
    grant: &Grant<'_>,
    filter: &ConversationFilter,
) -> ApiResult<Select<conversation::Entity>> {
    let mut query = conversation::Entity::find()
        .filter(conversation::Column::OrganizationId.eq(grant.organization_id()));
    if let Some(status) = filter.status {
        query = query.filter(conversation::Column::Status.eq(status.as_str()));
    }
    if let Some(id) = &filter.assistant_id {
        ids::parse(Kind::Assistant, "assistant_id", id)?;
        query = query.filter(conversation::Column::AssistantId.eq(id));
    }
    if let Some(id) = &filter.visitor_id {
        ids::parse(Kind::Visitor, "visitor_id", id)?;
        query = query.filter(conversation::Column::VisitorId.eq(id));
    }
    Ok(filter.created.apply(query, conversation::Column::CreatedAt))
}

/// The organization's conversations, newest first unless the filter says otherwise.
pub async fn list(
    db: &Db,
    principal: &Principal,
    filter: &ConversationFilter,
    page: &PageRequest,
) -> ApiResult<Page<conversation::Model>> {
    let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
    let query = filtered(&grant, filter)?;
    in_order(
        db.conn(),
        query,
        conversation::Column::Id,
        page,
        filter.order,
    )
    .await
}

/// How many conversations match the filter.
pub async fn count(db: &Db, principal: &Principal, filter: &ConversationFilter) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
    Ok(filtered(&grant, filter)?.count(db.conn()).await?)
}
