//! Visitor feedback: an answer rated helpful or not, a conversation rated 1-5 (CSAT) with an optional comment;
//! one rating per answer or conversation (a new one replaces it), each emitting `feedback.received`.

use entities::{conversation, feedback, message};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::conversations;
use crate::service::{now, optional_field};

/// Longest feedback comment, in characters.
const COMMENT_MAX: usize = 2_000;

/// One rating given in the organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<feedback::Model> {
    let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
    let id = ids::lookup(Kind::Feedback, id)?;
    feedback::Entity::find_by_id(id.to_owned())
        .filter(feedback::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("feedback", id))
}

/// Input of `rateAnswer` / `POST /messages/{id}/feedback`.
#[derive(Clone, Debug)]
pub struct RateAnswer {
    pub helpful: bool,
    pub comment: Option<String>,
}

/// Input of `rateConversation` / `POST /conversations/{id}/feedback`.
#[derive(Clone, Debug)]
pub struct RateConversation {
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub rating: i64,
    pub comment: Option<String>,
}

/// Rates one assistant answer.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn rate_answer(
    db: &Db,
    principal: &Principal,
    message_id: &str,
    input: RateAnswer,
) -> ApiResult<feedback::Model> {
    let grant = authorize(principal, Resource::Message, Action::Write).await?;
    rate_answer_in(db, grant.organization_id(), None, message_id, input).await
}

/// [`rate_answer`] in an organization the caller was authorized for; with `visitor_id`, only that visitor's
/// conversations hold the message (others answer NOT_FOUND).
pub(crate) async fn rate_answer_in(
    db: &Db,
    org: &str,
    visitor_id: Option<&str>,
    message_id: &str,
    input: RateAnswer,
) -> ApiResult<feedback::Model> {
    let message_id = ids::lookup(Kind::Message, message_id)?;
    let comment = optional_field("comment", input.comment.as_deref(), COMMENT_MAX)?;
    let txn = db.begin_write().await?;
    let message = message::Entity::find_by_id(message_id.to_owned())
        .filter(message::Column::OrganizationId.eq(org))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("message", message_id))?;
    let conversation = conversations::find(&*txn, org, &message.conversation_id).await?;
    if visitor_id.is_some_and(|v| v != conversation.visitor_id) {
        return Err(ApiError::not_found("message", message_id));
    }
    if message.author != "assistant" {
        return Err(ApiError::validation(
            "message_id",
            format!(
                "{message_id} is a {} message; only assistant answers are rated",
                message.author
            ),
        ));
    }
    let saved = save(
        &txn,
        &conversation,
        Rating {
            message_id: Some(message.id.clone()),
            entry_id: message.source_entry_id.clone(),
            target_id: message.id.clone(),
            helpful: Some(input.helpful),
            rating: None,
            comment,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Rates a whole conversation (CSAT).
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn rate_conversation(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    input: RateConversation,
) -> ApiResult<feedback::Model> {
    let grant = authorize(principal, Resource::Conversation, Action::Write).await?;
    rate_conversation_in(db, grant.organization_id(), None, conversation_id, input).await
}

/// [`rate_conversation`] in an organization the caller was authorized for; with `visitor_id`, only that
/// visitor's conversations (others answer NOT_FOUND).
pub(crate) async fn rate_conversation_in(
    db: &Db,
    org: &str,
    visitor_id: Option<&str>,
    conversation_id: &str,
    input: RateConversation,
) -> ApiResult<feedback::Model> {
    let conversation_id = ids::lookup(Kind::Conversation, conversation_id)?;
    if !(1..=5).contains(&input.rating) {
        return Err(ApiError::validation(
            "rating",
            "must be an integer from 1 to 5",
        ));
    }
    let comment = optional_field("comment", input.comment.as_deref(), COMMENT_MAX)?;
    let txn = db.begin_write().await?;
    let conversation = conversations::find(&*txn, org, conversation_id).await?;
    if visitor_id.is_some_and(|v| v != conversation.visitor_id) {
        return Err(ApiError::not_found("conversation", conversation_id));
    }
    let saved = save(
        &txn,
        &conversation,
        Rating {
            message_id: None,
            entry_id: None,
            target_id: conversation.id.clone(),
            helpful: None,
            rating: Some(input.rating as i32),
            comment,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

struct Rating {
    message_id: Option<String>,
    entry_id: Option<String>,
    target_id: String,
    helpful: Option<bool>,
    rating: Option<i32>,
    comment: Option<String>,
}

/// Inserts or replaces the rating of its target, then records `feedback.received` in the conversation.
async fn save(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    rating: Rating,
) -> ApiResult<feedback::Model> {
    let org = &conversation.organization_id;
    // The conversation row is locked first, as every conversation event does, so writers cannot deadlock.
    let bumped = outbox::bump_conversation(txn, org, &conversation.id).await?;
    let at = now();
    let existing = feedback::Entity::find()
        .filter(feedback::Column::OrganizationId.eq(org))
        .filter(feedback::Column::TargetId.eq(&rating.target_id))
        .one(&**txn)
        .await?;
    let replaced = existing.is_some();
    let saved = match existing {
        Some(row) => {
            let mut active = row.into_active_model();
            active.helpful = Set(rating.helpful);
            active.rating = Set(rating.rating);
            active.comment = Set(rating.comment);
            active.entry_id = Set(rating.entry_id);
            active.updated_at = Set(at);
            active.update(&**txn).await?
        }
        None => {
            feedback::ActiveModel {
                id: Set(new_id(Kind::Feedback)),
                organization_id: Set(org.clone()),
                assistant_id: Set(conversation.assistant_id.clone()),
                conversation_id: Set(conversation.id.clone()),
                message_id: Set(rating.message_id),
                entry_id: Set(rating.entry_id),
                target_id: Set(rating.target_id),
                helpful: Set(rating.helpful),
                rating: Set(rating.rating),
                comment: Set(rating.comment),
                created_at: Set(at),
                updated_at: Set(at),
            }
            .insert(&**txn)
            .await?
        }
    };
    outbox::record(
        txn,
        org,
        names::FEEDBACK_RECEIVED,
        Some(&bumped),
        json!({
            "feedback_id": saved.id,
            "kind": if saved.message_id.is_some() { "answer" } else { "conversation" },
            "conversation_id": bumped.id,
            "visitor_id": bumped.visitor_id,
            "assistant_id": bumped.assistant_id,
            "message_id": saved.message_id,
            "entry_id": saved.entry_id,
            "helpful": saved.helpful,
            "rating": saved.rating,
            "comment": saved.comment,
            "replaced": replaced,
        }),
    )
    .await?;
    Ok(saved)
}
