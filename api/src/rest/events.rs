//! `/events`: the event stream for reconciliation, oldest first, paginated.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::events::feed::{self, Since};
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::PageRequest;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(list))
}

/// `since`, `types` (comma-separated), `limit`, `cursor`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    since: Option<String>,
    types: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The envelope webhooks carry.
#[derive(Debug, Serialize)]
pub struct EventJson {
    pub id: String,
    pub event: String,
    pub timestamp: DateTime<Utc>,
    pub organization_id: String,
    pub sequence: i64,
    pub data: serde_json::Value,
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<ListResponse<EventJson>>, ApiError> {
    let since = params.since.as_deref().map(Since::parse).transpose()?;
    let types: Vec<String> = params
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::Event)?;
    let rows = feed::list(
        &state.db,
        &principal,
        since.as_ref(),
        &types,
        state.settings.event_retention_days,
        &page,
    )
    .await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |e| &e.id,
        |e| EventJson {
            id: e.id,
            event: e.event,
            timestamp: e.created_at,
            organization_id: e.organization_id,
            sequence: e.sequence,
            data: e.data,
        },
    )))
}
