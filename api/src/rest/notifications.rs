//! `/notification-rules`: which events email whom (through the organization's email integration), for which
//! conversations, at most once per conversation and event within a window.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entities::notification_rule;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiJson, ApiPath, Caller};
use crate::service::Patch;
use crate::service::notifications::{self as svc, RuleInput};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, remove))
}

/// A notification rule as REST v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationRuleJson {
    /// The rule's id (`nrule_…`).
    pub id: String,
    /// Its name, shown in the emails it sends.
    pub name: String,
    /// `new_conversation`, `handoff`, `query_failed`, `negative_sentiment`.
    pub events: Vec<String>,
    /// `admins`, `team` or `addresses`.
    pub recipients: String,
    /// With `addresses`: the addresses.
    pub addresses: Vec<String>,
    /// Only conversations with this assistant; null: any.
    pub assistant_id: Option<String>,
    /// Only conversations started on a page whose path begins with this; null: any.
    pub page_path: Option<String>,
    /// Only conversations where a visitor message showed this intent; null: any.
    pub intent: Option<String>,
    /// At most one email per conversation and event within this many minutes.
    pub window_minutes: i32,
    /// Whether it sends.
    pub enabled: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<notification_rule::Model> for NotificationRuleJson {
    fn from(m: notification_rule::Model) -> Self {
        Self {
            events: svc::events_of(&m)
                .into_iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            addresses: svc::addresses_of(&m),
            id: m.id,
            name: m.name,
            recipients: m.recipients,
            assistant_id: m.assistant_id,
            page_path: m.page_path,
            intent: m.intent,
            window_minutes: m.window_minutes,
            enabled: m.enabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A rule's fields: on creation `name` and `events` are required (`admins`, a 30-minute window and enabled by
/// default); on a change, absent fields keep their value and `null` clears a filter.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRuleBody {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// At least one of `new_conversation`, `handoff`, `query_failed`, `negative_sentiment`.
    pub events: Option<Vec<String>>,
    /// `admins`, `team` or `addresses`.
    pub recipients: Option<String>,
    /// With `addresses`: up to 20 addresses.
    pub addresses: Option<Vec<String>>,
    /// Only conversations with this assistant.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assistant_id: Patch<String>,
    /// Only conversations started on a page whose path begins with this (`/pricing`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub page_path: Patch<String>,
    /// Only conversations where a visitor message showed this intent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub intent: Patch<String>,
    /// 1 to 1,440 minutes.
    pub window_minutes: Option<i64>,
    /// Whether it sends.
    pub enabled: Option<bool>,
}

fn patched(patch: Patch<String>) -> Option<Option<String>> {
    match patch {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(value) => Some(Some(value)),
    }
}

impl From<NotificationRuleBody> for RuleInput {
    fn from(body: NotificationRuleBody) -> Self {
        Self {
            name: body.name,
            events: body.events,
            recipients: body.recipients,
            addresses: body.addresses,
            assistant_id: patched(body.assistant_id),
            page_path: patched(body.page_path),
            intent: patched(body.intent),
            window_minutes: body.window_minutes,
            enabled: body.enabled,
        }
    }
}

/// The organization's notification rules, oldest first.
#[utoipa::path(get, operation_id = "listNotificationRules", path = "/notification-rules", tag = "integrations",
    responses((status = 200, description = "Every rule.", body = ListResponse<NotificationRuleJson>)))]
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<ListResponse<NotificationRuleJson>>, ApiError> {
    let rules = svc::list(&state.db, &principal).await?;
    Ok(Json(ListResponse {
        data: rules.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Makes a notification rule.
#[utoipa::path(post, operation_id = "createNotificationRule", path = "/notification-rules", tag = "integrations",
    request_body = NotificationRuleBody,
    responses((status = 201, description = "The rule.", body = NotificationRuleJson)))]
async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NotificationRuleBody>,
) -> Result<(StatusCode, Json<NotificationRuleJson>), ApiError> {
    let rule = svc::create(&state.db, &principal, body.into()).await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// Changes a notification rule: absent fields keep their value.
#[utoipa::path(put, operation_id = "updateNotificationRule", path = "/notification-rules/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The rule's id.")),
    request_body = NotificationRuleBody,
    responses((status = 200, description = "The rule as changed.", body = NotificationRuleJson)))]
async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NotificationRuleBody>,
) -> Result<Json<NotificationRuleJson>, ApiError> {
    Ok(Json(
        svc::update(&state.db, &principal, &id, body.into())
            .await?
            .into(),
    ))
}

/// Deletes a notification rule.
#[utoipa::path(delete, operation_id = "deleteNotificationRule", path = "/notification-rules/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The rule's id.")),
    responses((status = 200, description = "The rule as it was.", body = NotificationRuleJson)))]
async fn remove(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NotificationRuleJson>, ApiError> {
    Ok(Json(svc::delete(&state.db, &principal, &id).await?.into()))
}
