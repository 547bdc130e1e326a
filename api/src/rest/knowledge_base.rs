//! `/knowledge-base` and `/knowledge-base/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::knowledge_base_entry as kb;
use serde::{Deserialize, Serialize};

use crate::assistant::retrieval::Question;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::knowledge_base::{self as svc, EntryFilter};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/knowledge-base", get(list).post(create))
        .route("/knowledge-base/search", get(search))
        .route("/knowledge-base/{id}", put(update).delete(delete).get(show))
}

/// A knowledge-base entry as REST v1 shows it.
#[derive(Debug, Serialize)]
pub struct EntryJson {
    pub id: String,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<kb::Model> for EntryJson {
    fn from(m: kb::Model) -> Self {
        Self {
            tags: svc::tags(&m),
            id: m.id,
            title: m.title,
            body: m.body,
            category: m.category,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
    search: Option<String>,
    category: Option<String>,
    active: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListResponse<EntryJson>>, ApiError> {
    let page = PageRequest::new(
        params.limit,
        params.cursor.as_deref(),
        Kind::KnowledgeBaseEntry,
    )?;
    let filter = EntryFilter {
        search: params.search,
        category: params.category,
        active: params.active,
    };
    let rows = svc::list(&state.db, &principal, &filter, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |e| &e.id,
        EntryJson::from,
    )))
}

async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(input): ApiJson<CreateEntryBody>,
) -> Result<(StatusCode, Json<EntryJson>), ApiError> {
    let entry = svc::create(
        &state.db,
        state.engine.retriever(),
        &principal,
        input.into(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// `GET /knowledge-base/search`: `q`, optional `page_url`, `page_title`, `page_context`, `limit` (1-50).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    q: Option<String>,
    page_url: Option<String>,
    page_title: Option<String>,
    page_context: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
struct MatchJson {
    entry: EntryJson,
    score: f32,
}

#[derive(Debug, Serialize)]
struct SearchJson {
    confidence: f64,
    matches: Vec<MatchJson>,
}

async fn search(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchJson>, ApiError> {
    let question = Question {
        text: params.q.unwrap_or_default(),
        page_title: params.page_title,
        page_url: params.page_url,
        page_context: params.page_context,
    };
    let found = svc::search(
        &state.db,
        state.engine.retriever(),
        &principal,
        question,
        params.limit,
    )
    .await
    .map_err(ApiError::in_query)?;
    Ok(Json(SearchJson {
        confidence: found.confidence,
        matches: found
            .matches
            .into_iter()
            .map(|m| MatchJson {
                entry: m.entry.into(),
                score: m.score,
            })
            .collect(),
    }))
}

async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<EntryJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateEntryBody>,
) -> Result<Json<EntryJson>, ApiError> {
    let entry = svc::update(
        &state.db,
        state.engine.retriever(),
        &principal,
        &id,
        input.into(),
    )
    .await?;
    Ok(Json(entry.into()))
}

async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    svc::delete(&state.db, state.engine.retriever(), &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Input of `createKnowledgeBaseEntry` / `POST /knowledge-base`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryBody {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<CreateEntryBody> for crate::service::knowledge_base::CreateEntry {
    fn from(body: CreateEntryBody) -> Self {
        Self {
            title: body.title,
            body: body.body,
            category: body.category,
            tags: body.tags,
            active: body.active,
        }
    }
}

/// Input of `updateKnowledgeBaseEntry` / `PUT /knowledge-base/{id}`: absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntryBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub category: Patch<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<UpdateEntryBody> for crate::service::knowledge_base::UpdateEntry {
    fn from(body: UpdateEntryBody) -> Self {
        Self {
            title: body.title,
            body: body.body,
            category: body.category,
            tags: body.tags,
            active: body.active,
        }
    }
}
