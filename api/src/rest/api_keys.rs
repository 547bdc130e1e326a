//! `/api-keys`: create, list and revoke API keys; the secret shows only in the create response.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entities::api_key;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Role;
use crate::auth::scopes::Scope;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::identity::api_keys as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(usage))
        .routes(routes!(revoke))
        .routes(routes!(rotate))
}

/// An API key as REST v1 shows it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyJson {
    /// The key's id (`key_…`).
    pub id: String,
    /// The key's name, as given at creation.
    pub name: String,
    /// The first characters of the current secret (`ck_` and 8 more), to tell keys apart; changes on rotation.
    pub prefix: String,
    /// The team role the key acts with: `owner`, `admin`, `agent`, `analyst` or `viewer`.
    pub role: String,
    /// The member (`usr_…`) or API key (`key_…`) that created it.
    pub created_by: Option<String>,
    /// When the key stops working; null if it never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked; null while it is not.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key was last used; null if never. Usage is written in batches, so this may lag by a few seconds.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// The scopes the key is limited to (such as `conversations:read`); null when it has every right of its role.
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<serde_json::Value>,
    /// The networks the key may be used from, as CIDRs (a single address shows as `/32` or `/128`); null when
    /// any address may use it.
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_cidrs: Option<serde_json::Value>,
    /// How many requests the key has made; written in batches, so it may lag by a few seconds.
    pub request_count: i64,
    /// After a rotation, when the previous secret stops (or stopped) working; null if the key was never rotated.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyJson {
    fn from(m: api_key::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            role: m.role,
            created_by: m.created_by,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            last_used_at: m.last_used_at,
            created_at: m.created_at,
            scopes: m.scopes,
            allowed_cidrs: m.allowed_cidrs,
            request_count: m.request_count,
            previous_secret_expires_at: m.previous_expires_at,
        }
    }
}

/// The create and rotate response: the key and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyJson {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKeyJson,
    /// The key's secret (`ck_…`), shown in this response only: send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Lists the organization's API keys, revoked ones included, newest first.
#[utoipa::path(get, operation_id = "listApiKeys", path = "/api-keys", tag = "api-keys", params(crate::rest::PageParams),
    responses((status = 200, description = "A page of API keys.", body = ListResponse<ApiKeyJson>)))]
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<ApiKeyJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::ApiKey)?;
    let rows = svc::list(&state.db, &principal, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |k| &k.id,
        ApiKeyJson::from,
    )))
}

/// Creates an API key; its secret is in this response only.
#[utoipa::path(post, operation_id = "createApiKey", path = "/api-keys", tag = "api-keys", request_body = CreateApiKeyBody,
    responses((status = 201, description = "The new key, with its secret.", body = CreatedKeyJson)))]
async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(input): ApiJson<CreateApiKeyBody>,
) -> Result<(StatusCode, Json<CreatedKeyJson>), ApiError> {
    let (key, secret) = svc::create(&state.db, &principal, input.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKeyJson {
            key: key.into(),
            secret,
        }),
    ))
}

/// Revokes an API key at once; revoking a revoked key changes nothing.
#[utoipa::path(delete, operation_id = "revokeApiKey", path = "/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "The key's id.")),
    responses((status = 200, description = "The key as revoked.", body = ApiKeyJson)))]
async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApiKeyJson>, ApiError> {
    Ok(Json(svc::revoke(&state.db, &principal, &id).await?.into()))
}

/// Input of `rotateApiKey` / `POST /api-keys/{id}/rotate`; `{}` takes the defaults.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateParams {
    /// How long the old secret keeps working, in seconds: 0 (it stops at once) to 604800 (7 days); 86400 (one
    /// day) when omitted.
    #[serde(default)]
    grace_period_seconds: Option<u32>,
}

/// Issues a new secret for an API key; the old secret keeps working for the grace period.
#[utoipa::path(post, operation_id = "rotateApiKey", path = "/api-keys/{id}/rotate", tag = "api-keys",
    params(("id" = String, Path, description = "The key's id.")),
    request_body = RotateParams,
    responses(
        (status = 200, description = "The key, with its new secret.", body = CreatedKeyJson),
        (status = 409, description = "The key is revoked: a revoked key cannot be rotated.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn rotate(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(params): ApiJson<RotateParams>,
) -> Result<Json<CreatedKeyJson>, ApiError> {
    let grace = params.grace_period_seconds.unwrap_or(86_400);
    let (key, secret) = svc::rotate(&state.db, &principal, &id, grace).await?;
    Ok(Json(CreatedKeyJson {
        key: key.into(),
        secret,
    }))
}

/// Filters of `GET /api-keys/usage`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// How many UTC days to cover, today included: 1 to 90, 30 when omitted.
    days: Option<u32>,
    /// Only the usage of this key (`key_…`); every key of the organization when omitted.
    api_key_id: Option<String>,
}

/// Requests made with one key on one UTC day.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageJson {
    /// The key's id (`key_…`).
    pub api_key_id: String,
    /// The UTC day, as `YYYY-MM-DD`.
    pub day: String,
    /// How many requests the key made that day.
    pub requests: i64,
}

/// The response of `getApiKeyUsage` / `GET /api-keys/usage` (one page, no cursor), as the OpenAPI document shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageListJson {
    /// Requests per key per UTC day, oldest day first; days without requests are left out.
    pub data: Vec<UsageJson>,
}

/// Counts the requests made with the organization's API keys, per key and per UTC day.
#[utoipa::path(get, operation_id = "getApiKeyUsage", path = "/api-keys/usage", tag = "api-keys", params(UsageParams),
    responses((status = 200, description = "Requests per key per UTC day, oldest day first.", body = UsageListJson)))]
async fn usage(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = svc::usage(
        &state.db,
        &principal,
        params.api_key_id.as_deref(),
        params.days.unwrap_or(30),
    )
    .await?;
    let data: Vec<UsageJson> = rows
        .into_iter()
        .map(|r| UsageJson {
            api_key_id: r.api_key_id,
            day: r.day,
            requests: r.requests,
        })
        .collect();
    Ok(Json(serde_json::json!({ "data": data })))
}

/// Input of `createApiKey` / `POST /api-keys`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyBody {
    /// A name to recognize the key by: 1 to 100 characters, not blank.
    pub name: String,
    /// The team role the key acts with: `owner`, `admin`, `agent`, `analyst` or `viewer`. Defaults to the caller's
    /// own role; may not exceed it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Narrows the key below its role; each scope must be within the creator's own rights. At least one when
    /// given (duplicates are dropped); omitted, the key has every right of its role. Scopes: `organization:read`,
    /// `conversations:read`, `conversations:write`, `knowledge_base:read`, `knowledge_base:write`,
    /// `analytics:read`, `api_keys:manage`, `members:manage`, `audit_log:read`, `webhooks:manage`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working; must be in the future. Omitted, the key never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Networks the key may be used from (`203.0.113.0/24`, `2001:db8::/32`, or a single address): 1 to 50 when
    /// given; omitted, any address may use the key.
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
}

impl From<CreateApiKeyBody> for crate::service::identity::api_keys::CreateApiKey {
    fn from(body: CreateApiKeyBody) -> Self {
        Self {
            name: body.name,
            role: body.role,
            scopes: body.scopes,
            expires_at: body.expires_at,
            allowed_cidrs: body.allowed_cidrs,
        }
    }
}
