//! `/analytics/conversations` and `/analytics/knowledge-base`: figures of a range (`from`, `to`, `granularity`,
//! `assistant_id` in the query string).

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::analytics::conversations::ConversationStats;
use crate::service::analytics::knowledge_base::KnowledgeBaseStats;
use crate::service::analytics::{self, Range};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/conversations", get(conversations))
        .route("/analytics/knowledge-base", get(knowledge_base))
        .route("/analytics/conversations/export", get(export))
}

async fn conversations(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Json<ConversationStats>, ApiError> {
    Ok(Json(
        analytics::conversations::stats(&state.db, &principal, &range)
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
        analytics::knowledge_base::stats(&state.db, &principal, &range)
            .await
            .map_err(ApiError::in_query)?,
    ))
}

/// The range's conversations as CSV (RFC 4180, a header row, one row per conversation, oldest first), streamed
/// page by page; the full API plan only.
async fn export(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<Range>,
) -> Result<Response, ApiError> {
    let export = analytics::export::export_conversations(&state.db, &principal, &range)
        .await
        .map_err(ApiError::in_query)?;
    let header = export.header()?;
    // States: the next page to read after this id, `Some(None)` for the first page, `None` when done.
    let pages = futures_util::stream::unfold(
        (export, Some(None::<String>)),
        |(export, next)| async move {
            let after = next?;
            match export.page(after.as_deref()).await {
                Ok((bytes, more)) => Some((Ok(bytes), (export, more.map(Some)))),
                Err(err) => {
                    tracing::error!(error = %err.public_message(), "CSV export stopped");
                    Some((
                        Err(std::io::Error::other("the export stopped")),
                        (export, None),
                    ))
                }
            }
        },
    );
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(header)]).chain(pages);
    let filename = format!(
        "conversations-{}.csv",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
