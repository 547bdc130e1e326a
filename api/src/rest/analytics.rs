//! `/analytics/conversations` and `/analytics/knowledge-base`: figures of a range (`from`, `to`, `granularity`,
//! `assistant_id` in the query string).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::analytics::{self, ConversationStats, KnowledgeBaseStats, Range};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/conversations", get(conversations))
        .route("/analytics/knowledge-base", get(knowledge_base))
}

async fn conversations(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<ConversationStats>, ApiError> {
    Ok(Json(
        analytics::conversations(&state.db, &principal, &range)
            .await
            .map_err(ApiError::in_query)?,
    ))
}

async fn knowledge_base(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<KnowledgeBaseStats>, ApiError> {
    Ok(Json(
        analytics::knowledge_base(&state.db, &principal, &range)
            .await
            .map_err(ApiError::in_query)?,
    ))
}
