//! `/conversations` and `/conversations/{id}/messages`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use entities::{conversation, message};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::attachments::AttachmentJson;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::streamed_answer;
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::attachments::Attachments;
use crate::service::conversations::feedback;
use crate::service::conversations::messages::Author;
use crate::service::conversations::messages::{self, Direction};
use crate::service::conversations::posting;
use crate::service::conversations::{self as svc, ConversationFilter, Status};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(list_messages, create_message))
        .routes(routes!(rate_conversation))
        .routes(routes!(rate_answer))
}

/// A conversation as REST v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationJson {
    /// The conversation's id (`conv_…`).
    pub id: String,
    /// The assistant it is held with.
    pub assistant_id: String,
    /// The visitor it is held with.
    pub visitor_id: String,
    /// `open` (the assistant answers), `handed_off` (waiting for or with a person), `resolved` or `closed`.
    pub status: String,
    /// What it is about, up to 300 characters.
    pub subject: Option<String>,
    /// The page it was started on.
    pub source_url: Option<String>,
    /// Text of the page it was started on, up to 10,000 characters.
    pub page_context: Option<String>,
    /// The title of that page.
    pub page_title: Option<String>,
    /// The visitor's browser, as the widget reported it.
    pub browser: Option<String>,
    /// The visitor's device, as the widget reported it.
    pub device: Option<String>,
    /// How the visitor feels, from -1 (negative) to 1 (positive).
    pub sentiment: Option<f64>,
    /// Assistant answers in a row that found nothing.
    pub failed_responses: i32,
    /// Assistant answers that found nothing, in all.
    pub failed_responses_total: i32,
    /// Why it was last handed off: `requested`, `visitor_request`, `failed_responses` or `negative_sentiment`.
    pub handoff_reason: Option<String>,
    /// When it was last handed off.
    pub handed_off_at: Option<DateTime<Utc>>,
    /// When it was last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the first reply was posted.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Whether a person has taken part.
    pub human_involved: bool,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageJson {
    /// The message's id (`msg_…`).
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// `visitor`, `assistant`, `agent` or `system`.
    pub author: String,
    /// The text.
    pub body: String,
    /// Assistant replies: the knowledge-base entry the reply came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_entry_id: Option<String>,
    /// Assistant replies: how sure the reply is, from 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Visitor messages: how positive the message reads, from -1 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<f64>,
    /// Visitor messages: the assistant's intent that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Assistant replies: the visitor message answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_id: Option<String>,
    /// Assistant replies: `knowledge_base`, `ai`, `fallback` or `handoff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_source: Option<String>,
    /// Assistant replies: why the AI provider's answer was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Assistant replies from the AI provider: the knowledge-base entries cited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<String>,
    /// The images it carries (screenshots), each with a short-lived signed URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentJson>,
    /// When it was posted.
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
            attachments: Vec::new(),
            created_at: m.created_at,
        }
    }
}

/// A visitor's rating of an answer or a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackJson {
    /// The rating's id (`fb_…`).
    pub id: String,
    /// The conversation rated, or the rated answer's conversation.
    pub conversation_id: String,
    /// `answer` or `conversation`.
    pub kind: &'static str,
    /// The assistant answer rated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The knowledge-base entry the rated answer came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Whether the answer helped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helpful: Option<bool>,
    /// The conversation's rating, from 1 to 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i32>,
    /// What the visitor said, up to 2,000 characters.
    pub comment: Option<String>,
    /// When it was first given.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedJson {
    #[serde(flatten)]
    pub conversation: ConversationJson,
    /// The message that opened it, when one was given.
    pub initial_message: Option<MessageJson>,
    /// The assistant's answer to the initial message.
    pub replies: Vec<MessageJson>,
}

/// A posted message, with the assistant's replies to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostedJson {
    #[serde(flatten)]
    pub message: MessageJson,
    /// The assistant's answer to a visitor message (a hand-off notice when it handed off).
    pub replies: Vec<MessageJson>,
}

impl PostedJson {
    /// The posted message with its attachments' signed URLs.
    fn shaped(posted: messages::PostedMessage, files: &Attachments) -> Self {
        Self {
            message: MessageJson {
                attachments: crate::rest::attachments::shown(files, posted.attachments),
                ..posted.message.into()
            },
            replies: posted.replies.into_iter().map(MessageJson::from).collect(),
        }
    }
}

/// Filters and paging of `GET /conversations`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many conversations to return: 1 to 100, 20 when omitted.
    limit: Option<i64>,
    /// Where the page starts: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only conversations with this status: `open`, `handed_off`, `resolved` or `closed`.
    status: Option<String>,
    /// Only the conversations of this assistant.
    assistant_id: Option<String>,
    /// Only the conversations of this visitor.
    visitor_id: Option<String>,
}

/// Lists the organization's conversations, newest first.
#[utoipa::path(get, operation_id = "listConversations", path = "/conversations", tag = "conversations", params(ListParams),
    responses((status = 200, description = "A page of conversations.", body = ListResponse<ConversationJson>)))]
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

/// Starts a conversation; an initial visitor message is answered by the assistant before this returns.
#[utoipa::path(post, operation_id = "createConversation", path = "/conversations", tag = "conversations", request_body = CreateConversationBody,
    responses((status = 201, description = "The conversation, its first message and the assistant's answer.", body = CreatedJson)))]
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

/// One conversation.
#[utoipa::path(get, operation_id = "getConversation", path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "The conversation's id.")),
    responses((status = 200, description = "The conversation.", body = ConversationJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConversationJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

/// Changes a conversation's status, subject or sentiment: absent fields keep their value, `null` clears.
#[utoipa::path(put, operation_id = "updateConversation", path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "The conversation's id.")),
    request_body = UpdateConversationBody,
    responses((status = 200, description = "The conversation as changed.", body = ConversationJson)))]
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

/// A conversation's messages, oldest first.
#[utoipa::path(get, operation_id = "listMessages", path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id."), crate::rest::PageParams),
    responses((status = 200, description = "A page of messages.", body = ListResponse<MessageJson>)))]
async fn list_messages(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<MessageJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Message)?;
    let rows = messages::list(&state.db, &principal, &id, &page, Direction::Forward).await?;
    let ids: Vec<String> = rows.items.iter().map(|m| m.id.clone()).collect();
    let mut files = crate::rest::attachments::of_messages(&state, &ids).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |m| &m.id,
        |m| {
            let attachments = files.remove(&m.id).unwrap_or_default();
            MessageJson {
                attachments,
                ..m.into()
            }
        },
    )))
}

/// Posts a message; the assistant's answer to a visitor message comes back in `replies`.
///
/// With `Accept: text/event-stream` the answer is streamed as server-sent events: `delta` events
/// (`{"text": …}`) while it is written (an AI provider's answer piece by piece, a knowledge-base answer in one
/// piece), then `message` (the posted message with its `replies`, as the JSON response would be), or `error`
/// (the JSON error body) if the message was refused.
#[utoipa::path(post, operation_id = "createMessage", path = "/conversations/{id}/messages", tag = "conversations", params(("id" = String, Path, description = "The conversation's id.")),
    request_body = CreateMessageBody,
    responses(
        (status = 201, description = "The message and the assistant's replies.", body = PostedJson),
        (status = 200, description = "With `Accept: text/event-stream`: the answer as server-sent events.", content_type = "text/event-stream", body = String),
        (status = 409, description = "The conversation is closed.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn create_message(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CreateMessageBody>,
) -> Result<Response, ApiError> {
    let files = state.attachments.clone();
    let shape = move |posted| PostedJson::shaped(posted, &files);
    streamed_answer::respond(&headers, shape, move |deltas| async move {
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
#[utoipa::path(post, operation_id = "rateConversation", path = "/conversations/{id}/feedback", tag = "conversations", params(("id" = String, Path, description = "The conversation's id.")),
    request_body = RateConversationBody,
    responses((status = 200, description = "The rating as stored.", body = FeedbackJson)))]
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
#[utoipa::path(post, operation_id = "rateAnswer", path = "/messages/{id}/feedback", tag = "conversations",
    params(("id" = String, Path, description = "The assistant answer's message id.")),
    request_body = RateAnswerBody,
    responses((status = 200, description = "The rating as stored.", body = FeedbackJson)))]
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVisitorBody {
    /// The visitor's name, up to 200 characters.
    pub name: Option<String>,
    /// The visitor's email address.
    pub email: Option<String>,
    /// The visitor's phone number: digits, spaces and + - ( ) ., up to 40 characters.
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationBody {
    /// Optional where the organization has exactly one assistant.
    pub assistant_id: Option<String>,
    /// An existing visitor…
    pub visitor_id: Option<String>,
    /// …or a new one.
    pub visitor: Option<NewVisitorBody>,
    /// The visitor's first message; the assistant answers it before the response.
    pub initial_message: Option<String>,
    /// What it is about, up to 300 characters.
    pub subject: Option<String>,
    /// The page it is started on.
    pub source_url: Option<String>,
    /// Text of that page, up to 10,000 characters, to help the assistant.
    pub page_context: Option<String>,
    /// The title of that page.
    pub page_title: Option<String>,
    /// The visitor's browser.
    pub browser: Option<String>,
    /// The visitor's device.
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessageBody {
    /// Who writes it: `visitor`, `assistant`, `agent` or `system`.
    #[schema(value_type = String)]
    pub author: Author,
    /// The text: not blank (unless the message carries attachments), and within the server's message size
    /// limit (8 KiB unless configured).
    #[serde(default)]
    pub body: String,
    /// The knowledge-base entry an answer comes from.
    #[serde(default)]
    pub source_entry_id: Option<String>,
    /// How sure the answer is, from 0 to 1.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Images uploaded to the conversation (`POST /conversations/{id}/attachments`) that the message carries
    /// (4 at most unless configured); each can be carried by one message.
    #[serde(default)]
    pub attachment_ids: Vec<String>,
}

impl From<CreateMessageBody> for crate::service::conversations::posting::CreateMessage {
    fn from(body: CreateMessageBody) -> Self {
        Self {
            author: body.author,
            body: body.body,
            source_entry_id: body.source_entry_id,
            confidence: body.confidence,
            attachment_ids: body.attachment_ids,
        }
    }
}

/// Input of `updateConversation` / `PUT /conversations/{id}`: absent fields keep their value, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationBody {
    /// `open`, `handed_off`, `resolved` or `closed`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Option<Status>,
    /// What the conversation is about; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subject: Patch<String>,
    /// How the visitor feels, from -1 to 1; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateAnswerBody {
    /// Whether the answer helped.
    pub helpful: bool,
    /// What the visitor said, up to 2,000 characters.
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateConversationBody {
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub rating: i64,
    /// What the visitor said, up to 2,000 characters.
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
