//! `/webhooks`: endpoint CRUD and secret rotation; the secret shows only when it is created.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::events::deliveries;
use crate::events::webhooks::{self as svc, Webhook, WebhookStatus};
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(show).put(update).delete(remove))
        .route("/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(redeliver),
        )
        .route("/webhooks/{id}/replay", post(replay))
        .route("/webhooks/{id}/test", post(send_test))
}

/// An endpoint as REST v1 shows it (never its secret).
#[derive(Debug, Serialize)]
pub struct WebhookJson {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub status: WebhookStatus,
    pub disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookJson {
    fn from(w: Webhook) -> Self {
        let events = w.events();
        Self {
            id: w.model.id,
            url: w.model.url,
            events,
            description: w.model.description,
            active: w.model.active,
            status: w.status,
            disabled_reason: w.model.disabled_reason,
            previous_secret_expires_at: w.model.previous_expires_at,
            created_at: w.model.created_at,
            updated_at: w.model.updated_at,
        }
    }
}

/// A delivery and its attempts, as REST v1 shows them.
#[derive(Debug, Serialize)]
pub struct DeliveryJson {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<AttemptJson>,
}

/// One try at a delivery.
#[derive(Debug, Serialize)]
pub struct AttemptJson {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<deliveries::Logged> for DeliveryJson {
    fn from(logged: deliveries::Logged) -> Self {
        let d = logged.delivery;
        Self {
            next_attempt_at: (d.status == crate::events::queue::PENDING)
                .then_some(d.next_attempt_at),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempt_count: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
            attempts: logged
                .attempts
                .into_iter()
                .map(|a| AttemptJson {
                    attempt: a.attempt,
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                    response_excerpt: a.response_excerpt,
                    created_at: a.created_at,
                })
                .collect(),
        }
    }
}

async fn list_deliveries(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<DeliveryJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Delivery)?;
    let rows = deliveries::list(&state.db, &principal, &id, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |d| &d.delivery.id,
        DeliveryJson::from,
    )))
}

async fn redeliver(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryJson>), ApiError> {
    let logged = deliveries::redeliver(&state.db, &principal, &id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(logged.into())))
}

/// `POST /webhooks/{id}/replay`: the time range to send again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize)]
pub struct ReplayJson {
    pub queued: u64,
}

async fn replay(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(range): ApiJson<ReplayRange>,
) -> Result<(StatusCode, Json<ReplayJson>), ApiError> {
    let queued = deliveries::replay(&state.db, &principal, &id, range.since, range.until).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayJson { queued })))
}

async fn send_test(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryJson>), ApiError> {
    let logged = deliveries::send_test(&state.db, &principal, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(logged.into())))
}

/// The endpoint and, this once, its secret.
#[derive(Debug, Serialize)]
pub struct WebhookSecretJson {
    #[serde(flatten)]
    pub webhook: WebhookJson,
    pub secret: String,
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<WebhookJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Webhook)?;
    let rows = svc::list(&state.db, &principal, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |w| &w.model.id,
        WebhookJson::from,
    )))
}

async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(input): ApiJson<CreateWebhookBody>,
) -> Result<(StatusCode, Json<WebhookSecretJson>), ApiError> {
    let egress = state.settings.egress_allow.as_deref();
    let (webhook, secret) =
        svc::create(&state.db, &state.sealer, &principal, egress, input.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookSecretJson {
            webhook: webhook.into(),
            secret,
        }),
    ))
}

async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateWebhookBody>,
) -> Result<Json<WebhookJson>, ApiError> {
    let egress = state.settings.egress_allow.as_deref();
    Ok(Json(
        svc::update(&state.db, &principal, egress, &id, input.into())
            .await?
            .into(),
    ))
}

async fn remove(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookJson>, ApiError> {
    Ok(Json(svc::delete(&state.db, &principal, &id).await?.into()))
}

async fn rotate_secret(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookSecretJson>, ApiError> {
    let (webhook, secret) = svc::rotate_secret(&state.db, &state.sealer, &principal, &id).await?;
    Ok(Json(WebhookSecretJson {
        webhook: webhook.into(),
        secret,
    }))
}

/// Input of `createWebhook` / `POST /webhooks`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookBody {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<CreateWebhookBody> for crate::events::webhooks::CreateWebhook {
    fn from(body: CreateWebhookBody) -> Self {
        Self {
            url: body.url,
            events: body.events,
            description: body.description,
            active: body.active,
        }
    }
}

/// Input of `updateWebhook` / `PUT /webhooks/{id}`: absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookBody {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<UpdateWebhookBody> for crate::events::webhooks::UpdateWebhook {
    fn from(body: UpdateWebhookBody) -> Self {
        Self {
            url: body.url,
            events: body.events,
            description: body.description,
            active: body.active,
        }
    }
}
