//! Posting: starting a conversation (its visitor and first message) and adding a message to one; a visitor's
//! message is answered by the assistant in the same step.

use entities::conversation;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;

use crate::assistant::Engine;
use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::conversations::answer;
use crate::service::conversations::messages::{
    self, Author, NewMessage, PostedMessage, validate_body,
};
use crate::service::conversations::visitors::{self, NewVisitor};
use crate::service::conversations::{CONTEXT_MAX, SUBJECT_MAX, Status, find, status};
use crate::service::{assistants, attachments, now, optional_field};

/// Input of `createConversation` / `POST /conversations`.
#[derive(Clone, Debug, Default)]
pub struct CreateConversation {
    /// Optional where the organization has exactly one assistant.
    pub assistant_id: Option<String>,
    /// An existing visitor…
    pub visitor_id: Option<String>,
    /// …or a new one.
    pub visitor: Option<NewVisitor>,
    pub initial_message: Option<String>,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

/// A conversation with the message that opened it, if any.
#[derive(Clone, Debug)]
pub struct Created {
    pub conversation: conversation::Model,
    pub initial_message: Option<entities::message::Model>,
    /// The assistant's answer to the initial message.
    pub replies: Vec<entities::message::Model>,
}

/// Starts a conversation: resolves the assistant, creates or finds the visitor, stores the first message.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn start_conversation(
    db: &Db,
    engine: &Engine,
    principal: &Principal,
    input: CreateConversation,
) -> ApiResult<Created> {
    let grant = authorize(principal, Resource::Conversation, Action::Write).await?;
    start_conversation_in(db, engine, grant.organization_id(), input).await
}

/// [`start_conversation`] in an organization the caller was authorized for (the widget starts its visitor's conversations).
pub(crate) async fn start_conversation_in(
    db: &Db,
    engine: &Engine,
    org: &str,
    input: CreateConversation,
) -> ApiResult<Created> {
    let initial_message = input
        .initial_message
        .as_deref()
        .map(|body| validate_body("initial_message", body, engine.message_max_bytes()))
        .transpose()?;
    let source_url = input
        .source_url
        .as_deref()
        .map(|url| assistants::validate_url("source_url", url))
        .transpose()?;
    let subject = optional_field("subject", input.subject.as_deref(), SUBJECT_MAX)?;
    let page_context = optional_field("page_context", input.page_context.as_deref(), CONTEXT_MAX)?;
    let page_title = optional_field("page_title", input.page_title.as_deref(), 500)?;
    let browser = optional_field("browser", input.browser.as_deref(), 200)?;
    let device = optional_field("device", input.device.as_deref(), 200)?;
    let new_visitor = match (&input.visitor_id, &input.visitor) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "visitor",
                "give either visitor_id or visitor, not both",
            ));
        }
        (Some(id), None) => {
            ids::parse(Kind::Visitor, "visitor_id", id)?;
            None
        }
        (None, visitor) => Some(visitor.clone().unwrap_or_default().validated()?),
    };

    let txn = db.begin_write().await?;
    let assistant_id = match &input.assistant_id {
        Some(id) => {
            ids::parse(Kind::Assistant, "assistant_id", id)?;
            assistants::find(&*txn, org, id)
                .await
                .map_err(|_| ApiError::validation("assistant_id", format!("no assistant {id}")))?
                .id
        }
        None => single_assistant(&*txn, org).await?,
    };
    let visitor = match (&input.visitor_id, new_visitor) {
        (Some(id), _) => visitors::find(&*txn, org, id)
            .await
            .map_err(|_| ApiError::validation("visitor_id", format!("no visitor {id}")))?,
        (None, Some(new)) => visitors::insert(&*txn, org, new).await?,
        (None, None) => return Err(ApiError::internal_msg("visitor neither given nor found")),
    };
    let at = now();
    let conversation = conversation::ActiveModel {
        id: Set(new_id(Kind::Conversation)),
        organization_id: Set(org.to_owned()),
        assistant_id: Set(assistant_id),
        visitor_id: Set(visitor.id.clone()),
        status: Set(Status::Open.as_str().to_owned()),
        subject: Set(subject),
        source_url: Set(source_url),
        page_context: Set(page_context),
        page_title: Set(page_title),
        browser: Set(browser),
        device: Set(device),
        sentiment: Set(None),
        failed_responses: Set(0),
        failed_total: Set(0),
        sentiment_sum: Set(0.0),
        sentiment_count: Set(0),
        first_response_at: Set(None),
        handed_off_at: Set(None),
        handoff_reason: Set(None),
        resolved_at: Set(None),
        human_involved: Set(false),
        event_seq: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*txn)
    .await?;
    outbox::record(
        &txn,
        org,
        names::CONVERSATION_CREATED,
        Some(&conversation),
        json!({
            "conversation_id": conversation.id,
            "visitor_id": conversation.visitor_id,
            "assistant_id": conversation.assistant_id,
            "source_url": conversation.source_url,
            "browser": conversation.browser,
            "device": conversation.device,
            "initial_message": initial_message,
        }),
    )
    .await?;
    let Some(body) = initial_message else {
        txn.commit().await?;
        return Ok(Created {
            conversation,
            initial_message: None,
            replies: Vec::new(),
        });
    };
    let incoming = answer::Incoming {
        body,
        ..Default::default()
    };
    let posted = answer::visitor_message(db, engine, txn, conversation, incoming, None).await?;
    Ok(Created {
        conversation: find(db.conn(), org, &posted.message.conversation_id).await?,
        initial_message: Some(posted.message),
        replies: posted.replies,
    })
}

/// The organization's only assistant, or a validation error asking for `assistant_id`.
async fn single_assistant(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: &str,
) -> ApiResult<String> {
    let ids: Vec<String> = entities::assistant::Entity::find()
        .select_only()
        .column(entities::assistant::Column::Id)
        .filter(entities::assistant::Column::OrganizationId.eq(organization_id))
        .limit(2)
        .into_tuple()
        .all(conn)
        .await?;
    match ids.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::validation(
            "assistant_id",
            "the organization has no assistant; create one first",
        )),
        _ => Err(ApiError::validation(
            "assistant_id",
            "required: the organization has several assistants",
        )),
    }
}

/// Input of `sendMessage` / `POST /conversations/{id}/messages`.
#[derive(Clone, Debug)]
pub struct CreateMessage {
    pub author: Author,
    /// May be blank when the message carries attachments.
    pub body: String,
    pub source_entry_id: Option<String>,
    pub confidence: Option<f64>,
    /// Uploads of the conversation (`POST /conversations/{id}/attachments`) the message carries.
    pub attachment_ids: Vec<String>,
}

/// Adds a message to a conversation that is not closed; a visitor message is answered by the assistant.
///
/// With `deltas`, an answer from the AI provider is streamed there as it is written.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn post_message(
    db: &Db,
    engine: &Engine,
    principal: &Principal,
    conversation_id: &str,
    input: CreateMessage,
    deltas: Option<&tokio::sync::mpsc::Sender<String>>,
) -> ApiResult<PostedMessage> {
    let grant = authorize(principal, Resource::Message, Action::Write).await?;
    let conversation_id = ids::lookup(Kind::Conversation, conversation_id)?;
    let attachment_ids =
        attachments::validate_ids(&input.attachment_ids, engine.attachment_max_count())?;
    let body = messages::validate_text(
        "body",
        &input.body,
        engine.message_max_bytes(),
        !attachment_ids.is_empty(),
    )?;
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
    let conversation = find(&*txn, grant.organization_id(), conversation_id).await?;
    if status(&conversation)? == Status::Closed {
        return Err(ApiError::Conflict(format!(
            "conversation {conversation_id} is closed; reopen it before adding messages"
        )));
    }
    if input.author == Author::Visitor {
        let incoming = answer::Incoming {
            body,
            attachment_ids,
            page: None,
        };
        return answer::visitor_message(db, engine, txn, conversation, incoming, deltas).await;
    }
    let (message, _, attachments) = messages::insert_with_attachments(
        &txn,
        &conversation,
        NewMessage {
            source_entry_id,
            confidence: input.confidence,
            attachment_ids,
            ..NewMessage::new(input.author, body)
        },
    )
    .await?;
    txn.commit().await?;
    Ok(PostedMessage {
        message,
        replies: Vec::new(),
        attachments,
    })
}
