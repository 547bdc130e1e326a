//! `/widget/v1`: the endpoints the embed widget calls from visitors' browsers (CORS, widget tokens, per-address
//! limits).

pub mod wire;

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::Principal;
use crate::auth::credentials::bearer;
use crate::auth::proxies::origin_of;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::ratelimit::WidgetBucket;
use crate::rest::conversations::FeedbackJson;
use crate::rest::conversations::{RateAnswerBody, RateConversationBody};
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rest::streamed_answer;
use crate::rest::visitors::UpdateVisitorBody;
use crate::rest::visitors::VisitorJson;
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::conversations::messages;
use crate::service::widget::{self as svc, Site};
use crate::state::AppState;
use wire::{
    ContactFormBody, ContactFormJson, CurrentJson, SendMessageBody, StartConversationBody,
    StartSessionBody, StartedJson, WidgetConversationJson, WidgetCreatedJson, WidgetMessageJson,
    WidgetPostedJson,
};

/// Every widget route, with CORS for any page (the assistant's allowed origins are checked per request) and the
/// per-address limits.
pub fn router(state: AppState) -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/sessions", post(start_session))
        .route("/session", get(current).delete(end_session))
        .route("/visitor", axum::routing::patch(update_visitor))
        .route(
            "/conversations",
            get(list_conversations).post(start_conversation),
        )
        .route("/conversations/{id}", get(show_conversation))
        .route(
            "/conversations/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route(
            "/conversations/{id}/attachments",
            post(upload_attachment).layer(axum::extract::DefaultBodyLimit::max(
                state.settings.attachment_max_bytes.saturating_add(1),
            )),
        )
        .route("/conversations/{id}/events", get(follow_conversation))
        .route("/conversations/{id}/feedback", post(rate_conversation))
        .route("/conversations/{id}/contact", post(submit_contact_form))
        .route("/messages/{id}/feedback", post(rate_answer))
        // Set here, before the CORS layer wraps it: a browser's preflight (OPTIONS) reaches this fallback, and
        // the router's own would be put in place unwrapped.
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state, limit))
        .layer(cors)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("method not allowed on this route".to_owned())
}

/// Counts the request against its client address's budget: starting sessions has its own, smaller one.
async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(ip) = origin_of(request.extensions(), request.headers()).ip else {
        return next.run(request).await;
    };
    let bucket = if request.method() == Method::POST && request.uri().path().ends_with("/sessions")
    {
        WidgetBucket::Sessions
    } else {
        WidgetBucket::Requests
    };
    let decision = state.rate_limits.check_widget(bucket, &ip).await;
    if let Some(decision) = decision
        && let Some(retry_after_secs) = decision.retry_after_secs
    {
        let mut response = ApiError::RateLimited { retry_after_secs }.into_response();
        decision.write_headers(response.headers_mut());
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(decision) = decision {
        decision.write_headers(response.headers_mut());
    }
    response
}

/// The page and client a widget request comes from.
fn site(parts: &Parts, state: &AppState) -> Site {
    Site {
        origin: parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        own_page: parts.headers.contains_key(header::ORIGIN)
            && crate::auth::credentials::is_same_origin(&parts.headers, Some(&state.public_url)),
        client: origin_of(&parts.extensions, &parts.headers),
    }
}

/// The page and client of a request.
struct FromSite(Site);

impl FromRequestParts<AppState> for FromSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(site(parts, state)))
    }
}

/// The visitor holding the widget token of the request.
struct Visitor(Principal);

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::Unauthenticated(
                "missing widget token: send Authorization: Bearer <token from POST /widget/v1/sessions>"
                    .to_owned(),
            ));
        }
        let token = bearer(&parts.headers)?;
        let principal = svc::authenticate(
            &state.db,
            &state.authz,
            state.settings.widget_session_idle_days,
            token,
            &site(parts, state),
        )
        .await?;
        Ok(Self(principal))
    }
}

/// Starts a session for an assistant: creates the visitor and answers its token.
async fn start_session(
    State(state): State<AppState>,
    FromSite(site): FromSite,
    ApiJson(input): ApiJson<StartSessionBody>,
) -> Result<(StatusCode, Json<StartedJson>), ApiError> {
    let started = svc::start_session(
        &state.db,
        &state.authz,
        state.settings.widget_session_idle_days,
        input.into(),
        &site,
    )
    .await?;
    let marketing_consent_label =
        svc::marketing_consent_label(&state.db, &started.session.organization_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(StartedJson {
            marketing_consent_label,
            token: started.token,
            session_id: started.session.id,
            expires_at: started.session.expires_at,
            visitor: started.visitor.into(),
            assistant: started.assistant.into(),
        }),
    ))
}

async fn current(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
) -> Result<Json<CurrentJson>, ApiError> {
    let current = svc::current(&state.db, &principal).await?;
    let marketing_consent_label =
        svc::marketing_consent_label(&state.db, &current.session.organization_id).await?;
    Ok(Json(CurrentJson {
        marketing_consent_label,
        session_id: current.session.id,
        expires_at: current.session.expires_at,
        visitor: current.visitor.into(),
        assistant: current.assistant.into(),
        conversation: current.conversation.map(Into::into),
    }))
}

async fn end_session(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
) -> Result<StatusCode, ApiError> {
    svc::end_session(&state.db, &principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_visitor(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiJson(input): ApiJson<UpdateVisitorBody>,
) -> Result<Json<VisitorJson>, ApiError> {
    Ok(Json(
        svc::update_visitor(&state.db, &principal, input.into())
            .await?
            .into(),
    ))
}

async fn list_conversations(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<WidgetConversationJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Conversation)?;
    let rows = svc::list_conversations(&state.db, &principal, &page).await?;
    Ok(Json(ListResponse::from_page(rows, |c| &c.id, Into::into)))
}

async fn start_conversation(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiJson(input): ApiJson<StartConversationBody>,
) -> Result<(StatusCode, Json<WidgetCreatedJson>), ApiError> {
    let created =
        svc::start_conversation(&state.db, &state.engine, &principal, input.into()).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn show_conversation(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WidgetConversationJson>, ApiError> {
    Ok(Json(
        svc::get_conversation(&state.db, &principal, &id)
            .await?
            .into(),
    ))
}

/// `limit` and `cursor` of a page of messages, or `after`: the id of the last message the widget shows.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageParams {
    limit: Option<i64>,
    cursor: Option<String>,
    after: Option<String>,
}

/// Messages oldest first; `cursor` (the `next_cursor` of the last page) continues after a page, and `after`
/// (a message id) after that message, so polling with the last shown message brings only what is new.
async fn list_messages(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<MessageParams>,
) -> Result<Json<ListResponse<WidgetMessageJson>>, ApiError> {
    let mut page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Message)?;
    if let Some(after) = &params.after {
        if params.cursor.is_some() {
            return Err(ApiError::BadRequest(
                "give cursor or after, not both".to_owned(),
            ));
        }
        page.after = Some(crate::ids::parse(Kind::Message, "after", after)?);
    }
    let rows = svc::list_messages(&state.db, &principal, &id, &page).await?;
    let ids: Vec<String> = rows.items.iter().map(|m| m.id.clone()).collect();
    let mut files = crate::rest::attachments::of_messages(&state, &ids).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |m| &m.id,
        |m| {
            let attachments = files.remove(&m.id).unwrap_or_default();
            WidgetMessageJson {
                attachments,
                ..m.into()
            }
        },
    )))
}

/// Uploads a screenshot (PNG, JPEG or WebP, judged by its bytes) to one of the visitor's conversations, for a
/// message to carry in `attachment_ids`.
async fn upload_attachment(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<crate::rest::attachments::AttachmentJson>), ApiError> {
    let model = svc::upload(&state.db, &state.attachments, &principal, &id, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.attachments.shown(model).into()),
    ))
}

/// Posts a visitor message; with `Accept: text/event-stream` the answer streams as server-sent events.
async fn send_message(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SendMessageBody>,
) -> Result<Response, ApiError> {
    let files = state.attachments.clone();
    let shape = move |posted| WidgetPostedJson::shaped(posted, &files);
    streamed_answer::respond(&headers, shape, move |deltas| async move {
        svc::send_message(
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowParams {
    /// Resume after this event (the `id` of the last event received); `Last-Event-ID` does the same.
    after: Option<String>,
}

/// The conversation live, as server-sent events: `message` (a new message, as the widget shows it) and
/// `conversation` (its status changed, e.g. handed off to a person or resolved), each with the event id as its
/// SSE id, so a reconnect with `Last-Event-ID` misses nothing. An ended session ends the stream with `error`.
async fn follow_conversation(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    FromSite(site): FromSite,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<FollowParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt;
    let token = bearer(&headers)?.to_owned();
    let after = params.after.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let credential = crate::events::follow::VisitorCredential {
        token: secrecy::SecretString::from(token),
        site,
        idle_days: state.settings.widget_session_idle_days,
        authz: state.authz.clone(),
    };
    let events = crate::events::follow::follow_visitor(
        &state.db,
        credential,
        principal.clone(),
        &id,
        after.as_deref(),
        crate::events::follow::Recheck(state.settings.subscription_recheck()),
    )
    .await?;
    let db = state.db.clone();
    let files = state.attachments.clone();
    let stream = events.then(move |item| {
        let (db, principal, files) = (db.clone(), principal.clone(), files.clone());
        async move {
            let event = match item {
                Ok(event) => event,
                Err(err) => return Event::default().event("error").json_data(err.body()),
            };
            let shaped = if event.event == crate::events::names::MESSAGE_CREATED {
                messages::from_event(&event).map(|m| {
                    let shown = WidgetMessageJson {
                        attachments: crate::rest::attachments::of_event(&files, &event),
                        ..m.into()
                    };
                    ("message", serde_json::json!(shown))
                })
            } else {
                let conversation = event.conversation_id.clone().unwrap_or_default();
                svc::get_conversation(&db, &principal, &conversation)
                    .await
                    .map(|c| {
                        (
                            "conversation",
                            serde_json::json!(WidgetConversationJson::from(c)),
                        )
                    })
            };
            match shaped {
                Ok((name, data)) => Event::default().event(name).id(event.id).json_data(data),
                Err(err) => Event::default().event("error").json_data(err.body()),
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The contact form of a conversation: the visitor's details, for the team and the organization's CRM.
async fn submit_contact_form(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ContactFormBody>,
) -> Result<Json<ContactFormJson>, ApiError> {
    let visitor = svc::submit_contact_form(&state.db, &principal, &id, input.into()).await?;
    Ok(Json(ContactFormJson {
        visitor: visitor.into(),
    }))
}

async fn rate_conversation(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RateConversationBody>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        svc::rate_conversation(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}

async fn rate_answer(
    State(state): State<AppState>,
    Visitor(principal): Visitor,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RateAnswerBody>,
) -> Result<Json<FeedbackJson>, ApiError> {
    Ok(Json(
        svc::rate_answer(&state.db, &principal, &id, input.into())
            .await?
            .into(),
    ))
}
