//! `GET /audit-log`: the organization's audit log, filtered and paginated (owners and admins).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::audit_entry;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::PageRequest;
use crate::service::audit::{self, AuditFilter};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit-log", get(list))
}

/// An audit entry as REST v1 shows it.
#[derive(Debug, Serialize)]
pub struct AuditEntryJson {
    pub id: String,
    pub seq: i64,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<audit_entry::Model> for AuditEntryJson {
    fn from(m: audit_entry::Model) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            actor_type: m.actor_type,
            actor_id: m.actor_id,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            ip: m.ip,
            user_agent: m.user_agent,
            before: m.before,
            after: m.after,
            created_at: m.created_at,
            prev_hash: m.prev_hash,
            hash: m.hash,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
    action: Option<String>,
    actor_id: Option<String>,
    target_id: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListResponse<AuditEntryJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::AuditEntry)?;
    let filter = AuditFilter {
        action: params.action,
        actor_id: params.actor_id,
        target_id: params.target_id,
        ..Default::default()
    };
    let rows = audit::list(&state.db, &principal, &filter, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |e| &e.id,
        AuditEntryJson::from,
    )))
}
