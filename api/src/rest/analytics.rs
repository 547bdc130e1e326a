//! `/analytics/conversations` and `/analytics/knowledge-base`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::rest::extract::Caller;
use crate::service::analytics::{self, ConversationStats, KnowledgeBaseStats};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/conversations", get(conversations))
        .route("/analytics/knowledge-base", get(knowledge_base))
}

async fn conversations(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<ConversationStats>, ApiError> {
    Ok(Json(analytics::conversations(&state.db, &principal).await?))
}

async fn knowledge_base(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<KnowledgeBaseStats>, ApiError> {
    Ok(Json(
        analytics::knowledge_base(&state.db, &principal).await?,
    ))
}
