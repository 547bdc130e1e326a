//! `/events`: the event stream for reconciliation, oldest first, paginated.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::events::feed::{self, Since};
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::PageRequest;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Filters and paging of `GET /events`: `since`, `types` (comma-separated), `limit`, `cursor`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Where to start: after an event id (`evt_…`), or at an RFC 3339 time such as `2026-11-25T10:00:00Z`
    /// (inclusive); the start of the retention window when omitted.
    since: Option<String>,
    /// Only events of these types, comma-separated: `conversation.created`, `conversation.updated`,
    /// `conversation.resolved`, `message.created`, `handoff.requested`, `feedback.received`,
    /// `knowledge_base.query_failed`, `visitor.updated`, `visitor.form_submitted`, `knowledge_base.entry_created`,
    /// `knowledge_base.entry_updated`, `knowledge_base.entry_deleted`, `webhook.disabled`, `integration.connected`,
    /// `integration.disconnected`, `integration.auth_failed` or `integration.sync_failed`. Every type the
    /// caller's role may read when omitted.
    types: Option<String>,
    /// How many events to return: 1 to 100, 20 when omitted.
    limit: Option<i64>,
    /// Where the page starts: the `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One event of the organization's stream, in the envelope webhooks deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    /// The event's id (`evt_…`); ids increase in stream order, so one can be passed as `since` to resume after it.
    pub id: String,
    /// What happened: the event type, such as `conversation.created` (the types `types` takes).
    pub event: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The id of the organization it belongs to.
    pub organization_id: String,
    /// Increases by one per event of a conversation, so gaps and reordering show; 0 for events outside a
    /// conversation.
    pub sequence: i64,
    /// What happened, as an object whose shape depends on the event type.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Lists the organization's events from `since`, oldest first, within the retention window.
///
/// Events stay readable for the retention window (30 days unless the server is configured otherwise). Without
/// `types`, the events are those of every type the caller's role may read.
#[utoipa::path(get, operation_id = "listEvents", path = "/events", tag = "events", params(EventParams),
    responses((status = 200, description = "A page of events, oldest first.", body = ListResponse<EventJson>)))]
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
