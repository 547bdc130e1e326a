//! `/conversations` and `/conversations/{id}/messages`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::{conversation, message};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::conversations::{
    self as svc, ConversationFilter, CreateConversation, Status, UpdateConversation,
};
use crate::service::messages::{self, CreateMessage, Direction};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list).post(create))
        .route("/conversations/{id}", get(show).put(update))
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(create_message),
        )
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
    pub created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageJson {
    fn from(m: message::Model) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            author: m.author,
            body: m.body,
            source_entry_id: m.source_entry_id,
            confidence: m.confidence,
            created_at: m.created_at,
        }
    }
}

/// A new conversation, with the message that opened it.
#[derive(Debug, Serialize)]
pub struct CreatedJson {
    #[serde(flatten)]
    pub conversation: ConversationJson,
    pub initial_message: Option<MessageJson>,
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
    let created = svc::create(&state.db, &principal, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedJson {
            conversation: created.conversation.into(),
            initial_message: created.initial_message.map(MessageJson::from),
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

async fn create_message(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CreateMessage>,
) -> Result<(StatusCode, Json<MessageJson>), ApiError> {
    let message = messages::create(&state.db, &principal, &id, input).await?;
    Ok((StatusCode::CREATED, Json(message.into())))
}
