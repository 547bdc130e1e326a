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
use crate::rest::answer_stream;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::conversations::feedback;
use crate::service::conversations::messages::{self, Direction};
use crate::service::conversations::posting::{self, CreateConversation, CreateMessage};
use crate::service::conversations::{self as svc, ConversationFilter, Status, UpdateConversation};
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

impl From<messages::Posted> for PostedJson {
    fn from(posted: messages::Posted) -> Self {
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
    ApiJson(input): ApiJson<CreateConversation>,
) -> Result<(StatusCode, Json<CreatedJson>), ApiError> {
    let created = posting::start_conversation(&state.db, &state.engine, &principal, input).await?;
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
    ApiJson(input): ApiJson<UpdateConversation>,
) -> Result<Json<ConversationJson>, ApiError> {
    Ok(Json(
        svc::update(&state.db, &principal, &id, input).await?.into(),
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
    ApiJson(input): ApiJson<CreateMessage>,
) -> Result<Response, ApiError> {
    answer_stream::respond(&headers, PostedJson::from, move |deltas| async move {
        posting::post_message(
            &state.db,
            &state.engine,
            &principal,
            &id,
            input,
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
    ApiJson(input): ApiJson<feedback::RateConversation>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        feedback::rate_conversation(&state.db, &principal, &id, input)
            .await?
            .into(),
    ))
}

/// Rates an assistant answer helpful or not; a second rating replaces the first.
async fn rate_answer(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<feedback::RateAnswer>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        feedback::rate_answer(&state.db, &principal, &id, input)
            .await?
            .into(),
    ))
}
