//! `/conversations` and `/conversations/{id}/messages`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::{conversation, message};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::streamed_answer;
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::conversations::feedback;
use crate::service::conversations::messages::Author;
use crate::service::conversations::messages::{self, Direction};
use crate::service::conversations::posting;
use crate::service::conversations::{self as svc, ConversationFilter, Status};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list).post(create))
        .route("/conversations/{id}", get(show).put(update))
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(create_message),
        )
        .route("/conversations/{id}/feedback", post(rate_conversation))
        .route("/messages/{id}/feedback", post(rate_answer))
}

/// A conversation as REST v1 shows it.
#[derive(Debug, Serialize)]
pub struct ConversationJson {
    pub id: String,
    pub assistant_id: String,
    pub visitor_id: String,
    pub status: String,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub sentiment: Option<f64>,
    pub failed_responses: i32,
    pub failed_responses_total: i32,
    pub handoff_reason: Option<String>,
    pub handed_off_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub human_involved: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<conversation::Model> for ConversationJson {
    fn from(m: conversation::Model) -> Self {
        Self {
            id: m.id,
            assistant_id: m.assistant_id,
            visitor_id: m.visitor_id,
            status: m.status,
            subject: m.subject,
            source_url: m.source_url,
            page_context: m.page_context,
            page_title: m.page_title,
            browser: m.browser,
            device: m.device,
            sentiment: m.sentiment,
            failed_responses: m.failed_responses,
            failed_responses_total: m.failed_total,
            handoff_reason: m.handoff_reason,
            handed_off_at: m.handed_off_at,
            resolved_at: m.resolved_at,
            first_response_at: m.first_response_at,
            human_involved: m.human_involved,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A message as REST v1 shows it.
#[derive(Debug, Serialize)]
pub struct MessageJson {
    pub id: String,
    pub conversation_id: String,
    pub author: String,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_entry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageJson {
    fn from(m: message::Model) -> Self {
        let citations = messages::citations(&m);
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            author: m.author,
            body: m.body,
            citations,
            source_entry_id: m.source_entry_id,
            confidence: m.confidence,
            sentiment: m.sentiment,
            intent: m.intent,
            reply_to_id: m.reply_to_id,
            reply_source: m.reply_source,
            fallback_reason: m.fallback_reason,
            created_at: m.created_at,
        }
    }
}

/// A visitor's rating of an answer or a conversation.
#[derive(Debug, Serialize)]
pub struct FeedbackJson {
    pub id: String,
    pub conversation_id: String,
    /// `answer` or `conversation`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helpful: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entities::feedback::Model> for FeedbackJson {
    fn from(m: entities::feedback::Model) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            kind: if m.message_id.is_some() {
                "answer"
            } else {
                "conversation"
            },
            message_id: m.message_id,
            entry_id: m.entry_id,
            helpful: m.helpful,
            rating: m.rating,
            comment: m.comment,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A new conversation, with the message that opened it.
#[derive(Debug, Serialize)]
pub struct CreatedJson {
    #[serde(flatten)]
    pub conversation: ConversationJson,
    pub initial_message: Option<MessageJson>,
    /// The assistant's answer to the initial message.
    pub replies: Vec<MessageJson>,
}

/// A posted message, with the assistant's replies to it.
#[derive(Debug, Serialize)]
pub struct PostedJson {
    #[serde(flatten)]
    pub message: MessageJson,
    pub replies: Vec<MessageJson>,
}

impl From<messages::PostedMessage> for PostedJson {
    fn from(posted: messages::PostedMessage) -> Self {
        Self {
            message: posted.message.into(),
            replies: posted.replies.into_iter().map(MessageJson::from).collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
    status: Option<String>,
    assistant_id: Option<String>,
    visitor_id: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListResponse<ConversationJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Conversation)?;
    let status = params
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.public_message()))?;
    let filter = ConversationFilter {
        status,
        assistant_id: params.assistant_id,
        visitor_id: params.visitor_id,
        ..Default::default()
    };
    let rows = svc::list(&state.db, &principal, &filter, &page)
        .await
        .map_err(ApiError::in_query)?;
    Ok(Json(ListResponse::from_page(
        rows,
        |c| &c.id,
        ConversationJson::from,
    )))
}

async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(input): ApiJson<CreateConversationBody>,
) -> Result<(StatusCode, Json<CreatedJson>), ApiError> {
    let created =
        posting::start_conversation(&state.db, &state.engine, &principal, input.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedJson {
            conversation: created.conversation.into(),
            initial_message: created.initial_message.map(MessageJson::from),
            replies: created.replies.into_iter().map(MessageJson::from).collect(),
        }),
    ))
}

async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConversationJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateConversationBody>,
) -> Result<Json<ConversationJson>, ApiError> {
    Ok(Json(
        svc::update(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}

async fn list_messages(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<MessageJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Message)?;
    let rows = messages::list(&state.db, &principal, &id, &page, Direction::Forward).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |m| &m.id,
        MessageJson::from,
    )))
}

/// Posts a message; the assistant's answer to a visitor message comes back in `replies`.
///
/// With `Accept: text/event-stream` the answer is streamed as server-sent events: `delta` events
/// (`{"text": …}`) while it is written (an AI provider's answer piece by piece, a knowledge-base answer in one
/// piece), then `message` (the posted message with its `replies`, as the JSON response would be), or `error`
/// (the JSON error body) if the message was refused.
async fn create_message(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CreateMessageBody>,
) -> Result<Response, ApiError> {
    streamed_answer::respond(&headers, PostedJson::from, move |deltas| async move {
        posting::post_message(
            &state.db,
            &state.engine,
            &principal,
            &id,
            input.into(),
            deltas.as_ref(),
        )
        .await
    })
    .await
}

/// Rates a whole conversation, 1 to 5 (CSAT); a second rating replaces the first.
async fn rate_conversation(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RateConversationBody>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        feedback::rate_conversation(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}

/// Rates an assistant answer helpful or not; a second rating replaces the first.
async fn rate_answer(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RateAnswerBody>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        feedback::rate_answer(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}

/// A visitor's contact details, as given when a conversation starts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVisitorBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl From<NewVisitorBody> for crate::service::conversations::visitors::NewVisitor {
    fn from(body: NewVisitorBody) -> Self {
        Self {
            name: body.name,
            email: body.email,
            phone: body.phone,
        }
    }
}

/// Input of `createConversation` / `POST /conversations`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationBody {
    /// Optional where the organization has exactly one assistant.
    pub assistant_id: Option<String>,
    /// An existing visitor…
    pub visitor_id: Option<String>,
    /// …or a new one.
    pub visitor: Option<NewVisitorBody>,
    pub initial_message: Option<String>,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

impl From<CreateConversationBody> for crate::service::conversations::posting::CreateConversation {
    fn from(body: CreateConversationBody) -> Self {
        Self {
            assistant_id: body.assistant_id,
            visitor_id: body.visitor_id,
            visitor: body.visitor.map(Into::into),
            initial_message: body.initial_message,
            subject: body.subject,
            source_url: body.source_url,
            page_context: body.page_context,
            page_title: body.page_title,
            browser: body.browser,
            device: body.device,
        }
    }
}

/// Input of `sendMessage` / `POST /conversations/{id}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMessageBody {
    pub author: Author,
    pub body: String,
    #[serde(default)]
    pub source_entry_id: Option<String>,
    #[serde(default)]
    pub confidence: Option<f64>,
}

impl From<CreateMessageBody> for crate::service::conversations::posting::CreateMessage {
    fn from(body: CreateMessageBody) -> Self {
        Self {
            author: body.author,
            body: body.body,
            source_entry_id: body.source_entry_id,
            confidence: body.confidence,
        }
    }
}

/// Input of `updateConversation` / `PUT /conversations/{id}`: absent fields keep their value, `null` clears.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationBody {
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub subject: Patch<String>,
    #[serde(default)]
    pub sentiment: Patch<f64>,
}

impl From<UpdateConversationBody> for crate::service::conversations::UpdateConversation {
    fn from(body: UpdateConversationBody) -> Self {
        Self {
            status: body.status,
            subject: body.subject,
            sentiment: body.sentiment,
        }
    }
}

/// Input of `rateAnswer` / `POST /messages/{id}/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateAnswerBody {
    pub helpful: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

impl From<RateAnswerBody> for crate::service::conversations::feedback::RateAnswer {
    fn from(body: RateAnswerBody) -> Self {
        Self {
            helpful: body.helpful,
            comment: body.comment,
        }
    }
}

/// Input of `rateConversation` / `POST /conversations/{id}/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConversationBody {
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub rating: i64,
    #[serde(default)]
    pub comment: Option<String>,
}

impl From<RateConversationBody> for crate::service::conversations::feedback::RateConversation {
    fn from(body: RateConversationBody) -> Self {
        Self {
            rating: body.rating,
            comment: body.comment,
        }
    }
}
