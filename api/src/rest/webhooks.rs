//! `/webhooks`: endpoint CRUD and secret rotation; the secret shows only when it is created.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::events::deliveries;
use crate::events::webhooks::{self as svc, Webhook, WebhookStatus};
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(replay))
        .routes(routes!(send_test))
}

/// A webhook endpoint as REST v1 shows it (never its secret): where and which events are delivered, signed the
/// Standard Webhooks way.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookJson {
    /// The endpoint's id (`whk_…`).
    pub id: String,
    /// Where deliveries are posted.
    pub url: String,
    /// The types of event delivered to it, such as `message.created`.
    pub events: Vec<String>,
    /// What the endpoint is for; null when not given.
    pub description: Option<String>,
    /// Whether the organization wants deliveries; false while it is paused.
    pub active: bool,
    /// Whether deliveries go out now, and if not, why: `active`; `paused` (switched off by the organization,
    /// `active: false`); `disabled` (switched off by delivery: the endpoint answered 410 Gone or too many
    /// attempts in a row failed; `disabled_reason` says which); or `plan_inactive` (the organization's plan does
    /// not include webhooks: the endpoint is kept and resumes on upgrade).
    #[schema(value_type = String)]
    pub status: WebhookStatus,
    /// Why delivery switched the endpoint off (410 Gone, or too many failed attempts in a row); null unless it
    /// did. Turning the endpoint on again (`active: true`) clears it.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs deliveries (24 hours after the rotation); null
    /// until the secret is first rotated.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When the endpoint was added.
    pub created_at: DateTime<Utc>,
    /// When the endpoint last changed.
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

/// One event owed to an endpoint, with every attempt to deliver it, as REST v1 shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryJson {
    /// The delivery's id (`dlv_…`).
    pub id: String,
    /// The id of the event delivered (`evt_…`), also sent as the `webhook-id` header for receivers that
    /// deduplicate.
    pub event_id: String,
    /// The type of the event delivered, such as `message.created`; `webhook.test` for a test delivery.
    pub event_type: String,
    /// Where the delivery stands: `pending` (waiting for an attempt), `succeeded` (the endpoint answered 2xx),
    /// `failed` (no retry left, or the endpoint answered 410 Gone) or `cancelled` (not sent because the endpoint
    /// was paused, disabled or outside the plan when it came due; `last_error` says why).
    pub status: String,
    /// How many attempts were made so far.
    pub attempt_count: i32,
    /// When the next attempt is due; null unless the delivery is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status the endpoint answered at the last attempt; null when it gave none (or before the first
    /// attempt).
    pub last_status_code: Option<i32>,
    /// What went wrong at the last attempt, or why the delivery was cancelled; null when nothing did.
    pub last_error: Option<String>,
    /// When the delivery was queued.
    pub created_at: DateTime<Utc>,
    /// Every attempt, oldest first; empty before the first one.
    pub attempts: Vec<AttemptJson>,
}

/// One try at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptJson {
    /// The attempt's number, from 1.
    pub attempt: i32,
    /// The HTTP status the endpoint answered; null when no answer came (such as a timeout or a refused
    /// connection).
    pub status_code: Option<i32>,
    /// How long the attempt took, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong, in words; null when the endpoint answered 2xx.
    pub error: Option<String>,
    /// At most the first 4,096 bytes of the response body; null when the body was empty or no answer came.
    pub response_excerpt: Option<String>,
    /// When the attempt was recorded, once it finished.
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

/// Lists an endpoint's deliveries, newest first, each with its attempts.
#[utoipa::path(get, operation_id = "listWebhookDeliveries", path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id."), crate::rest::PageParams),
    responses((status = 200, description = "A page of deliveries.", body = ListResponse<DeliveryJson>)))]
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

/// Queues one delivery again with the same `webhook-id` and body, and a fresh timestamp and signature.
#[utoipa::path(post, operation_id = "redeliverWebhookDelivery", path = "/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id."),
        ("delivery_id" = String, Path, description = "The id of the delivery to send again (`dlv_…`)."),
    ),
    responses(
        (status = 202, description = "The new delivery, queued: pending and without attempts.", body = DeliveryJson),
        (status = 409, description = "The endpoint is paused or disabled: turn it on again first.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn redeliver(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryJson>), ApiError> {
    let logged = deliveries::redeliver(&state.db, &principal, &id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(logged.into())))
}

/// Input of `replayWebhook` / `POST /webhooks/{id}/replay`: the time range whose events to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    /// The first moment whose events are sent (inclusive), as an RFC 3339 time.
    pub since: DateTime<Utc>,
    /// The moment before which events are sent (exclusive), as an RFC 3339 time; later than `since`, and the
    /// range may hold at most 10,000 events the endpoint subscribes to.
    pub until: DateTime<Utc>,
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayJson {
    /// How many events were queued for delivery.
    pub queued: u64,
}

/// Queues every event of `[since, until)` the endpoint subscribes to for delivery again, at most 10,000 at a time.
///
/// Only events still within the retention window (30 days unless the server is configured otherwise) can be
/// replayed.
#[utoipa::path(post, operation_id = "replayWebhook", path = "/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id.")),
    request_body = ReplayRange,
    responses(
        (status = 202, description = "How many deliveries were queued.", body = ReplayJson),
        (status = 409, description = "The endpoint is paused or disabled: turn it on again first.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn replay(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(range): ApiJson<ReplayRange>,
) -> Result<(StatusCode, Json<ReplayJson>), ApiError> {
    let queued = deliveries::replay(&state.db, &principal, &id, range.since, range.until).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayJson { queued })))
}

/// Queues a signed `webhook.test` event for the endpoint; it is not part of the event stream.
#[utoipa::path(post, operation_id = "testWebhook", path = "/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 202, description = "The test delivery, queued: pending and without attempts.", body = DeliveryJson),
        (status = 409, description = "The endpoint is paused or disabled: turn it on again first.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn send_test(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryJson>), ApiError> {
    let logged = deliveries::send_test(&state.db, &principal, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(logged.into())))
}

/// An endpoint and, this once, its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretJson {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookJson,
    /// The signing secret (`whsec_…`) with which the endpoint verifies deliveries; it cannot be read again.
    pub secret: String,
}

/// Lists the organization's webhook endpoints, newest first.
#[utoipa::path(get, operation_id = "listWebhooks", path = "/webhooks", tag = "webhooks", params(crate::rest::PageParams),
    responses((status = 200, description = "A page of endpoints.", body = ListResponse<WebhookJson>)))]
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

/// One webhook endpoint.
#[utoipa::path(get, operation_id = "getWebhook", path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint.", body = WebhookJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

/// Adds a webhook endpoint; its signing secret is shown this once.
#[utoipa::path(post, operation_id = "createWebhook", path = "/webhooks", tag = "webhooks", request_body = CreateWebhookBody,
    responses(
        (status = 201, description = "The endpoint and its signing secret.", body = WebhookSecretJson),
        (status = 409, description = "The organization already has 50 endpoints, or one that delivers to this URL.", body = crate::rest::openapi::ErrorBody),
    ))]
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

/// Changes a webhook endpoint: absent fields keep their value.
#[utoipa::path(put, operation_id = "updateWebhook", path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id.")),
    request_body = UpdateWebhookBody,
    responses(
        (status = 200, description = "The endpoint as changed.", body = WebhookJson),
        (status = 409, description = "Another endpoint of the organization already delivers to this URL.", body = crate::rest::openapi::ErrorBody),
    ))]
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

/// Deletes a webhook endpoint and returns what it was.
#[utoipa::path(delete, operation_id = "deleteWebhook", path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint as it was before deletion.", body = WebhookJson)))]
async fn remove(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookJson>, ApiError> {
    Ok(Json(svc::delete(&state.db, &principal, &id).await?.into()))
}

/// Issues a new signing secret, shown this once; the previous one keeps signing deliveries for 24 hours.
#[utoipa::path(post, operation_id = "rotateWebhookSecret", path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint and its new signing secret.", body = WebhookSecretJson)))]
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
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookBody {
    /// Where deliveries are posted: an http or https URL of at most 2,048 bytes, without user name or password,
    /// on the public internet (or allowed by the server's egress allow-list). One endpoint per URL.
    pub url: String,
    /// The types of event to deliver, at least one: `conversation.created`, `conversation.updated`,
    /// `conversation.resolved`, `message.created`, `handoff.requested`, `feedback.received`,
    /// `knowledge_base.query_failed`, `visitor.updated` or `webhook.disabled`; duplicates are ignored.
    pub events: Vec<String>,
    /// What the endpoint is for: at most 500 characters; blank means none.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether deliveries are sent; true when omitted.
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

/// Input of `updateWebhook` / `PUT /webhooks/{id}`: absent fields keep their value; at least one must be given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookBody {
    /// Where deliveries are posted: an http or https URL of at most 2,048 bytes, without user name or password,
    /// on the public internet (or allowed by the server's egress allow-list). One endpoint per URL.
    #[serde(default)]
    pub url: Option<String>,
    /// The types of event to deliver, at least one; they replace the current ones. The types are those
    /// `createWebhook` takes.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// What the endpoint is for: at most 500 characters; `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// Whether deliveries are sent; `true` also clears a delivery-disabled state and the count of failed
    /// attempts.
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
