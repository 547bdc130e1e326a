//! Messages: add one to a conversation, list a conversation's, and batch the latest per conversation.

use std::collections::HashMap;
use std::fmt;

use entities::{conversation, message};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, Statement, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::conversations::{self, Status};
use crate::service::events::{self, names};
use crate::service::{Page, PageRequest, by_ids, now, required_text};

/// Longest message body, in characters.
pub const BODY_MAX: usize = 10_000;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Assistant,
    Agent,
    System,
}

impl Author {
    pub const ALL: [Author; 4] = [
        Author::Visitor,
        Author::Assistant,
        Author::Agent,
        Author::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Assistant => "assistant",
            Author::Agent => "agent",
            Author::System => "system",
        }
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored author of a row.
pub fn author(model: &message::Model) -> ApiResult<Author> {
    Author::ALL
        .into_iter()
        .find(|a| a.as_str() == model.author)
        .ok_or_else(|| ApiError::internal_msg(format!("stored author {:?}", model.author)))
}

/// Input of `sendMessage` / `POST /conversations/{id}/messages`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMessage {
    pub author: Author,
    pub body: String,
    #[serde(default)]
    pub source_entry_id: Option<String>,
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// Checks a message body: not blank, at most [`BODY_MAX`] characters.
pub fn validate_body(field: &str, body: &str) -> ApiResult<String> {
    required_text(field, body, BODY_MAX)
}

/// Inserts a message inside the caller's transaction, with its `message.created` event.
///
/// Returns the message and the conversation after its event counter moved on.
pub(crate) async fn insert(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    author: Author,
    body: String,
    source_entry_id: Option<String>,
    confidence: Option<f64>,
) -> ApiResult<(message::Model, conversation::Model)> {
    let conversation =
        events::bump_conversation(txn, &conversation.organization_id, &conversation.id)
            .await?
            .ok_or_else(|| ApiError::not_found("conversation", &conversation.id))?;
    let message = message::ActiveModel {
        id: Set(new_id(Kind::Message)),
        organization_id: Set(conversation.organization_id.clone()),
        conversation_id: Set(conversation.id.clone()),
        author: Set(author.as_str().to_owned()),
        body: Set(body),
        source_entry_id: Set(source_entry_id),
        confidence: Set(confidence),
        created_at: Set(now()),
    }
    .insert(&**txn)
    .await?;
    events::record(
        txn,
        &conversation.organization_id,
        names::MESSAGE_CREATED,
        Some(&conversation),
        json!({
            "conversation_id": conversation.id,
            "visitor_id": conversation.visitor_id,
            "message_id": message.id,
            "author": message.author,
            "body": message.body,
            "source_entry_id": message.source_entry_id,
            "confidence": message.confidence,
            "created_at": message.created_at,
        }),
    )
    .await?;
    Ok((message, conversation))
}

/// Adds a message to a conversation that is not closed.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn create(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    input: CreateMessage,
) -> ApiResult<message::Model> {
    let grant = authorize(principal, Resource::Message, Action::Write).await?;
    let conversation_id = ids::lookup(Kind::Conversation, conversation_id)?;
    let body = validate_body("body", &input.body)?;
    let source_entry_id = input
        .source_entry_id
        .as_deref()
        .map(|id| ids::parse(Kind::KnowledgeBaseEntry, "source_entry_id", id))
        .transpose()?;
    if let Some(c) = input.confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(ApiError::validation(
            "confidence",
            "must be between 0 and 1",
        ));
    }
    let txn = db.begin_write().await?;
    let conversation = conversations::find(&*txn, grant.organization_id(), conversation_id).await?;
    if conversations::status(&conversation)? == Status::Closed {
        return Err(ApiError::Conflict(format!(
            "conversation {conversation_id} is closed; reopen it before adding messages"
        )));
    }
    let (message, _) = insert(
        &txn,
        &conversation,
        input.author,
        body,
        source_entry_id,
        input.confidence,
    )
    .await?;
    txn.commit().await?;
    Ok(message)
}

/// The message a `message.created` event carries (its data holds every column).
pub fn from_event(event: &entities::event::Model) -> ApiResult<message::Model> {
    #[derive(Deserialize)]
    struct Data {
        message_id: String,
        conversation_id: String,
        author: String,
        body: String,
        source_entry_id: Option<String>,
        confidence: Option<f64>,
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
    let data: Data = serde_json::from_value(event.data.clone())
        .map_err(|e| ApiError::internal_msg(format!("malformed message.created event: {e}")))?;
    Ok(message::Model {
        id: data.message_id,
        organization_id: event.organization_id.clone(),
        conversation_id: data.conversation_id,
        author: data.author,
        body: data.body,
        source_entry_id: data.source_entry_id,
        confidence: data.confidence,
        created_at: data.created_at.unwrap_or(event.created_at),
    })
}

/// Which end of a conversation's history a page starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Oldest first, continuing after the cursor.
    Forward,
    /// Newest first, continuing before the cursor (the page is returned oldest first).
    Backward,
}

/// A page of a conversation's messages.
pub async fn list(
    db: &Db,
    principal: &Principal,
    conversation_id: &str,
    page: &PageRequest,
    direction: Direction,
) -> ApiResult<Page<message::Model>> {
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    let conversation =
        conversations::find(db.conn(), grant.organization_id(), conversation_id).await?;
    let mut query = message::Entity::find()
        .filter(message::Column::OrganizationId.eq(&conversation.organization_id))
        .filter(message::Column::ConversationId.eq(&conversation.id));
    query = match (direction, &page.after) {
        (Direction::Forward, Some(after)) => query.filter(message::Column::Id.gt(after)),
        (Direction::Backward, Some(before)) => query.filter(message::Column::Id.lt(before)),
        (_, None) => query,
    };
    query = match direction {
        Direction::Forward => query.order_by_asc(message::Column::Id),
        Direction::Backward => query.order_by_desc(message::Column::Id),
    };
    let rows = query.limit(page.fetch()).all(db.conn()).await?;
    let mut page = page.page(rows);
    if direction == Direction::Backward {
        page.items.reverse();
    }
    Ok(page)
}

/// The `n` latest messages of each conversation, oldest first, in one statement (the dashboard's loader).
///
/// Conversations of other organizations get nothing.
pub async fn latest_for_conversations(
    db: &Db,
    principal: &Principal,
    conversation_ids: &[String],
    n: u64,
) -> ApiResult<HashMap<String, Vec<message::Model>>> {
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    let mut grouped: HashMap<String, Vec<message::Model>> = HashMap::new();
    if conversation_ids.is_empty() || n == 0 {
        return Ok(grouped);
    }
    let backend = db.backend();
    let placeholder = |i: usize| match backend {
        DbBackend::Postgres => format!("${i}"),
        _ => "?".to_owned(),
    };
    let mut values: Vec<Value> = vec![grant.organization_id().to_owned().into()];
    let list = conversation_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            values.push(id.clone().into());
            placeholder(i + 2)
        })
        .collect::<Vec<_>>()
        .join(", ");
    values.push((n as i64).into());
    let sql = format!(
        "SELECT id, organization_id, conversation_id, author, body, source_entry_id, confidence, created_at \
         FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY id DESC) AS rn \
               FROM messages m WHERE organization_id = {} AND conversation_id IN ({list})) ranked \
         WHERE rn <= {} ORDER BY conversation_id, id",
        placeholder(1),
        placeholder(conversation_ids.len() + 2),
    );
    let rows = message::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db.conn())
        .await?;
    for row in rows {
        grouped
            .entry(row.conversation_id.clone())
            .or_default()
            .push(row);
    }
    Ok(grouped)
}

/// How many messages the organization's conversations hold (for analytics, which authorizes).
pub(crate) async fn count_all_unchecked(db: &Db, organization_id: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(organization_id))
        .count(db.conn())
        .await?)
}

/// How many messages one conversation of the caller's organization holds.
pub async fn count_in(db: &Db, principal: &Principal, conversation_id: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(grant.organization_id()))
        .filter(message::Column::ConversationId.eq(conversation_id))
        .count(db.conn())
        .await?)
}

/// Messages by id, for the federation entity resolver.
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<HashMap<String, message::Model>> {
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    by_ids::<message::Entity>(
        db.conn(),
        message::Column::OrganizationId,
        message::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}
