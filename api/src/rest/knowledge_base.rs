//! `/knowledge-base` and `/knowledge-base/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entities::knowledge_base_entry as kb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::assistant::retrieval::Question;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::service::PageRequest;
use crate::service::Patch;
use crate::service::knowledge_base::{self as svc, EntryFilter};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(search))
        .routes(routes!(show, update, delete))
}

/// A knowledge-base entry as REST v1 shows it: an answer the assistant can give.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryJson {
    /// The entry's id.
    pub id: String,
    /// What the entry answers, at most 300 characters.
    pub title: String,
    /// The answer itself, at most 100,000 characters.
    pub body: String,
    /// The category the entry is filed under, at most 100 characters; null when uncategorized.
    pub category: Option<String>,
    /// Keywords that help the assistant find the entry: at most 30, each at most 50 characters.
    pub tags: Vec<String>,
    /// Whether the assistant answers from the entry; an inactive entry is kept but not searched.
    pub active: bool,
    /// When the entry was created.
    pub created_at: DateTime<Utc>,
    /// When the entry last changed.
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

/// Filters and paging of `GET /knowledge-base`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many entries to return: 1 to 100, 20 when omitted.
    limit: Option<i64>,
    /// Where the page starts: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only entries whose title or body contains this text, ignoring case; at most 200 characters, blank
    /// ignored.
    search: Option<String>,
    /// Only entries of this category, matched exactly.
    category: Option<String>,
    /// Only active (`true`) or only inactive (`false`) entries; both when omitted.
    active: Option<bool>,
}

/// Lists the organization's knowledge-base entries, newest first.
#[utoipa::path(get, operation_id = "listKnowledgeBaseEntries", path = "/knowledge-base", tag = "knowledge-base", params(ListParams),
    responses((status = 200, description = "A page of entries.", body = ListResponse<EntryJson>)))]
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

/// Adds an entry to the knowledge base.
#[utoipa::path(post, operation_id = "createKnowledgeBaseEntry", path = "/knowledge-base", tag = "knowledge-base",
    request_body = CreateEntryBody,
    responses((status = 201, description = "The entry as created.", body = EntryJson)))]
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
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// The question, as a visitor would ask it: required, at most 2,000 characters.
    #[param(required = true)]
    q: Option<String>,
    /// The address of the page the question is asked on, which helps rank the entries; at most 2,000
    /// characters, blank ignored.
    page_url: Option<String>,
    /// The title of that page; at most 2,000 characters, blank ignored.
    page_title: Option<String>,
    /// Text of that page; at most 2,000 characters, blank ignored.
    page_context: Option<String>,
    /// How many matches to return at most: 1 to 50, 5 when omitted.
    limit: Option<i64>,
}

/// One entry that matches the question.
#[derive(Debug, Serialize, ToSchema)]
struct MatchJson {
    /// The matching entry.
    entry: EntryJson,
    /// Its relevance to the question, the lexical and semantic rankings fused; higher is better, comparable only
    /// within one search.
    score: f32,
    /// The retrievers that found it: `lexical` (its words match the question's) and `semantic` (it is among the
    /// entries nearest in meaning).
    #[schema(value_type = Vec<String>, example = json!(["lexical", "semantic"]))]
    retrievers: Vec<&'static str>,
    /// Its BM25 score, when its words matched.
    lexical_score: Option<f32>,
    /// Its cosine similarity to the question (-1 to 1), when it is among the entries nearest in meaning.
    semantic_score: Option<f32>,
}

/// The active entries that best match a question, best first, as the assistant would rank them.
#[derive(Debug, Serialize, ToSchema)]
struct SearchJson {
    /// The calibrated probability, from 0 to 1, that the best match is the entry that answers the question; 0
    /// when nothing matched. The assistant answers from it at or above its confidence threshold.
    confidence: f64,
    /// The retrievers that ranked: `lexical` always, `semantic` too once the embedding model is loaded.
    #[schema(value_type = Vec<String>, example = json!(["lexical", "semantic"]))]
    retrievers: Vec<&'static str>,
    /// The matching entries, best first.
    matches: Vec<MatchJson>,
}

/// Searches the active entries for a question as the assistant does, best match first.
#[utoipa::path(get, operation_id = "searchKnowledgeBase", path = "/knowledge-base/search", tag = "knowledge-base", params(SearchParams),
    responses((status = 200, description = "The best matches and the confidence in the best one.", body = SearchJson)))]
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
        retrievers: found.retrievers.iter().map(|r| r.as_str()).collect(),
        matches: found
            .matches
            .into_iter()
            .map(|m| MatchJson {
                retrievers: m.retrievers().iter().map(|r| r.as_str()).collect(),
                lexical_score: m.lexical.map(|p| p.score),
                semantic_score: m.semantic.map(|p| p.score),
                entry: m.entry.into(),
                score: m.score,
            })
            .collect(),
    }))
}

/// One knowledge-base entry, active or not.
#[utoipa::path(get, operation_id = "getKnowledgeBaseEntry", path = "/knowledge-base/{id}", tag = "knowledge-base",
    params(("id" = String, Path, description = "The entry's id.")),
    responses((status = 200, description = "The entry.", body = EntryJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<EntryJson>, ApiError> {
    Ok(Json(svc::get(&state.db, &principal, &id).await?.into()))
}

/// Changes an entry's title, body, category, tags or active flag: absent fields keep their value.
#[utoipa::path(put, operation_id = "updateKnowledgeBaseEntry", path = "/knowledge-base/{id}", tag = "knowledge-base",
    params(("id" = String, Path, description = "The entry's id.")),
    request_body = UpdateEntryBody,
    responses((status = 200, description = "The entry as changed.", body = EntryJson)))]
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

/// Deletes an entry; the assistant stops answering from it.
#[utoipa::path(delete, operation_id = "deleteKnowledgeBaseEntry", path = "/knowledge-base/{id}", tag = "knowledge-base",
    params(("id" = String, Path, description = "The entry's id.")),
    responses((status = 204, description = "The entry is deleted.")))]
async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    svc::delete(&state.db, state.engine.retriever(), &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Input of `createKnowledgeBaseEntry` / `POST /knowledge-base`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryBody {
    /// What the entry answers: not blank, at most 300 characters.
    pub title: String,
    /// The answer itself: not blank, at most 100,000 characters.
    pub body: String,
    /// The category to file the entry under, at most 100 characters; absent or blank leaves it uncategorized.
    #[serde(default)]
    pub category: Option<String>,
    /// Keywords that help the assistant find the entry: at most 30, each not blank and at most 50 characters;
    /// surrounding spaces and duplicates are dropped; no tags when absent.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether the assistant answers from the entry; `true` when absent.
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

/// Input of `updateKnowledgeBaseEntry` / `PUT /knowledge-base/{id}`: absent fields keep their value; at least
/// one field must be given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntryBody {
    /// A new title: not blank, at most 300 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// A new body: not blank, at most 100,000 characters.
    #[serde(default)]
    pub body: Option<String>,
    /// A new category, at most 100 characters; `null` or blank makes the entry uncategorized.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Patch<String>,
    /// New tags, replacing all the current ones: at most 30, each not blank and at most 50 characters;
    /// surrounding spaces and duplicates are dropped.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Whether the assistant answers from the entry.
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
