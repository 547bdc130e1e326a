//! `/api-keys`: create, list and revoke API keys; the secret shows only in the create response.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::api_key;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::auth::scopes::Scope;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::identity::api_keys as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/usage", get(usage))
        .route("/api-keys/{id}", delete(revoke))
        .route("/api-keys/{id}/rotate", post(rotate))
}

/// An API key as REST v1 shows it (never its secret).
#[derive(Debug, Serialize)]
pub struct ApiKeyJson {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub scopes: Option<serde_json::Value>,
    pub allowed_cidrs: Option<serde_json::Value>,
    pub request_count: i64,
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

/// The create response: the key and, this once, its secret.
#[derive(Debug, Serialize)]
pub struct CreatedKeyJson {
    #[serde(flatten)]
    pub key: ApiKeyJson,
    pub secret: String,
}

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

async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApiKeyJson>, ApiError> {
    Ok(Json(svc::revoke(&state.db, &principal, &id).await?.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateParams {
    /// How long the old secret keeps working; default one day, at most 7 days.
    #[serde(default)]
    grace_period_seconds: Option<u32>,
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    days: Option<u32>,
    api_key_id: Option<String>,
}

/// Requests made with one key on one UTC day.
#[derive(Debug, Serialize)]
pub struct UsageJson {
    pub api_key_id: String,
    pub day: String,
    pub requests: i64,
}

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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyBody {
    pub name: String,
    /// Defaults to the caller's own role; may not exceed it.
    #[serde(default)]
    pub role: Option<Role>,
    /// Narrows the key below its role; each scope must be within the creator's own rights.
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Networks the key may be used from (`203.0.113.0/24`, `2001:db8::/32`, or a single address).
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
