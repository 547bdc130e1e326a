//! Messages: add one to a conversation, list a conversation's, and batch the latest per conversation.

use crate::text_enum::text_enum;
use std::collections::HashMap;

use entities::{conversation, message, message_attachment};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::sql::Sql;
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{Kind, new_id};
use crate::service::{Page, PageRequest, by_ids, now, required_text};
use crate::service::{attachments, conversations};

text_enum! {
    /// Who wrote a message.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Author {
        Visitor = "visitor",
        Assistant = "assistant",
        Agent = "agent",
        System = "system",
    }
}

/// The stored author of a row.
pub fn author(model: &message::Model) -> ApiResult<Author> {
    Author::named(&model.author)
        .ok_or_else(|| ApiError::internal_msg(format!("stored author {:?}", model.author)))
}

/// Checks a message body: not blank, at most `max_bytes` bytes of UTF-8 (`CONCIERGE_MESSAGE_MAX_BYTES`).
pub fn validate_body(field: &str, body: &str, max_bytes: usize) -> ApiResult<String> {
    if body.len() > max_bytes {
        return Err(ApiError::validation(
            field,
            format!("is {} bytes; the limit is {max_bytes} bytes", body.len()),
        ));
    }
    required_text(field, body, max_bytes)
}

/// Checks a message body that may be blank (`blank_ok`, when the message carries attachments): trimmed of
/// nothing, at most `max_bytes` bytes.
pub fn validate_text(
    field: &str,
    body: &str,
    max_bytes: usize,
    blank_ok: bool,
) -> ApiResult<String> {
    if blank_ok && body.trim().is_empty() {
        return Ok(String::new());
    }
    validate_body(field, body, max_bytes)
}

/// A message to insert: what every author gives, and what the assistant engine adds.
#[derive(Clone, Debug, Default)]
pub(crate) struct NewMessage {
    pub author: Option<Author>,
    pub body: String,
    pub source_entry_id: Option<String>,
    pub confidence: Option<f64>,
    pub sentiment: Option<f64>,
    pub intent: Option<String>,
    pub reply_to_id: Option<String>,
    pub reply_source: Option<&'static str>,
    pub fallback_reason: Option<String>,
    pub citations: Option<Vec<String>>,
    /// Uploads of this conversation that the message carries (claimed in its transaction).
    pub attachment_ids: Vec<String>,
}

impl NewMessage {
    pub fn new(author: Author, body: String) -> Self {
        Self {
            author: Some(author),
            body,
            ..Self::default()
        }
    }
}

/// Inserts a message inside the caller's transaction, with its `message.created` event, and keeps the
/// conversation's counters: a visitor message adds to the running sentiment, the first assistant or agent
/// message stamps the first response, an agent message marks that a person took part.
///
/// Returns the message and the conversation after its event counter moved on.
pub(crate) async fn insert(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    new: NewMessage,
) -> ApiResult<(message::Model, conversation::Model)> {
    let (message, conversation, _) = insert_with_attachments(txn, conversation, new).await?;
    Ok((message, conversation))
}

/// [`insert`], answering the attachments the message claimed too.
pub(crate) async fn insert_with_attachments(
    txn: &WriteTxn<'_>,
    conversation: &conversation::Model,
    new: NewMessage,
) -> ApiResult<(
    message::Model,
    conversation::Model,
    Vec<message_attachment::Model>,
)> {
    let author = new.author.unwrap_or(Author::System);
    let conversation =
        outbox::bump_conversation(txn, &conversation.organization_id, &conversation.id).await?;
    let at = now();
    let message = message::ActiveModel {
        id: Set(new_id(Kind::Message)),
        organization_id: Set(conversation.organization_id.clone()),
        conversation_id: Set(conversation.id.clone()),
        author: Set(author.as_str().to_owned()),
        body: Set(new.body),
        source_entry_id: Set(new.source_entry_id),
        confidence: Set(new.confidence),
        created_at: Set(at),
        sentiment: Set(new.sentiment),
        intent: Set(new.intent),
        reply_to_id: Set(new.reply_to_id),
        reply_source: Set(new.reply_source.map(str::to_owned)),
        fallback_reason: Set(new.fallback_reason),
        citations: Set(new.citations.map(|c| json!(c))),
    }
    .insert(&**txn)
    .await?;
    let attached = attachments::claim(txn, &conversation, &message.id, &new.attachment_ids).await?;
    let mut counters = conversation.clone().into_active_model();
    let mut changed = false;
    if let Some(score) = message.sentiment {
        let sum = conversation.sentiment_sum + score;
        let count = conversation.sentiment_count + 1;
        counters.sentiment_sum = Set(sum);
        counters.sentiment_count = Set(count);
        counters.sentiment = Set(Some((sum / f64::from(count)).clamp(-1.0, 1.0)));
        changed = true;
    }
    if matches!(author, Author::Assistant | Author::Agent)
        && conversation.first_response_at.is_none()
    {
        counters.first_response_at = Set(Some(at));
        changed = true;
    }
    if author == Author::Agent && !conversation.human_involved {
        counters.human_involved = Set(true);
        changed = true;
    }
    let conversation = if changed {
        counters.update(&**txn).await?
    } else {
        conversation
    };
    outbox::record(
        txn,
        &conversation.organization_id,
        names::MESSAGE_CREATED,
        Some(&conversation),
        event_data(&conversation, &message, &attached),
    )
    .await?;
    Ok((message, conversation, attached))
}

/// The data of a `message.created` event: every column of the message, and what it carries.
fn event_data(
    conversation: &conversation::Model,
    message: &message::Model,
    attached: &[message_attachment::Model],
) -> serde_json::Value {
    let attachments: Vec<serde_json::Value> = attached
        .iter()
        .map(|a| json!({"id": a.id, "content_type": a.content_type, "byte_size": a.byte_size}))
        .collect();
    json!({
        "attachments": attachments,
        "conversation_id": conversation.id,
        "visitor_id": conversation.visitor_id,
        "message_id": message.id,
        "author": message.author,
        "body": message.body,
        "source_entry_id": message.source_entry_id,
        "confidence": message.confidence,
        "sentiment": message.sentiment,
        "intent": message.intent,
        "reply_to_id": message.reply_to_id,
        "reply_source": message.reply_source,
        "fallback_reason": message.fallback_reason,
        "citations": message.citations,
        "created_at": message.created_at,
    })
}

/// A posted message and what the assistant answered to it (nothing for agent messages, handed-off
/// conversations or assistants that do not reply).
#[derive(Clone, Debug)]
pub struct PostedMessage {
    pub message: message::Model,
    pub replies: Vec<message::Model>,
    /// The posted message's attachments.
    pub attachments: Vec<message_attachment::Model>,
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
        #[serde(default)]
        sentiment: Option<f64>,
        #[serde(default)]
        intent: Option<String>,
        #[serde(default)]
        reply_to_id: Option<String>,
        #[serde(default)]
        reply_source: Option<String>,
        #[serde(default)]
        fallback_reason: Option<String>,
        #[serde(default)]
        citations: Option<serde_json::Value>,
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
        sentiment: data.sentiment,
        intent: data.intent,
        reply_to_id: data.reply_to_id,
        reply_source: data.reply_source,
        fallback_reason: data.fallback_reason,
        citations: data.citations.filter(|c| !c.is_null()),
    })
}

/// The entry ids an assistant reply cites.
pub fn citations(model: &message::Model) -> Vec<String> {
    model
        .citations
        .clone()
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default()
}

/// The assistant's replies to a visitor message, oldest first.
pub async fn replies_to(
    db: &Db,
    principal: &Principal,
    visitor_message: &message::Model,
) -> ApiResult<Vec<message::Model>> {
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    Ok(message::Entity::find()
        .filter(message::Column::OrganizationId.eq(grant.organization_id()))
        .filter(message::Column::ReplyToId.eq(&visitor_message.id))
        .order_by_asc(message::Column::Id)
        .all(db.conn())
        .await?)
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
    list_in(db, &conversation, page, direction).await
}

/// A page of the messages of a conversation the caller was authorized to read.
pub(crate) async fn list_in(
    db: &Db,
    conversation: &conversation::Model,
    page: &PageRequest,
    direction: Direction,
) -> ApiResult<Page<message::Model>> {
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
    let mut sql = Sql::new(db.backend());
    let org = sql.bind(grant.organization_id().to_owned());
    let list = conversation_ids
        .iter()
        .map(|id| sql.bind(id.clone()))
        .collect::<Vec<_>>()
        .join(", ");
    let limit = sql.bind(n as i64);
    // Every column of the entity: the row number beside them is not read.
    let text = format!(
        "SELECT * FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY id DESC) AS rn \
               FROM messages m WHERE organization_id = {org} AND conversation_id IN ({list})) ranked \
         WHERE rn <= {limit} ORDER BY conversation_id, id"
    );
    let rows = message::Entity::find()
        .from_raw_sql(sql.statement(text))
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

/// How many messages each conversation of the caller's organization holds, in one statement (the dashboard's
/// `totalCount`s); a conversation without messages, or of another organization, is not in the map.
pub async fn count_for_conversations(
    db: &Db,
    principal: &Principal,
    conversation_ids: &[String],
) -> ApiResult<HashMap<String, u64>> {
    let grant = authorize(principal, Resource::Message, Action::Read).await?;
    if conversation_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = message::Entity::find()
        .select_only()
        .column(message::Column::ConversationId)
        .column_as(message::Column::Id.count(), "n")
        .filter(message::Column::OrganizationId.eq(grant.organization_id()))
        .filter(message::Column::ConversationId.is_in(conversation_ids.iter().cloned()))
        .group_by(message::Column::ConversationId)
        .into_tuple()
        .all(db.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
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
