//! `GET /audit-log`: the organization's audit log, filtered and paginated (owners and admins).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use entities::audit_entry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::PageRequest;
use crate::service::audit::{self, AuditFilter};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// An audit entry as REST v1 shows it: one administrative action, hash-chained to the organization's entry
/// before it so that an edit or a deletion is detectable.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryJson {
    /// The entry's id (`aud_…`).
    pub id: String,
    /// The entry's position in the organization's log: 1 for the first, then one more per entry.
    pub seq: i64,
    /// Who acted: `user` (a member), `api_key`, `visitor`, `anonymous` (not identified, such as a refused SSO
    /// sign-in) or `system` (the command line or the server itself).
    pub actor_type: String,
    /// The id of the member, API key or visitor that acted; null for `anonymous` and `system`.
    pub actor_id: Option<String>,
    /// What was done, as `resource.verb`: `api_key.created`, `api_key.revoked`, `api_key.rotated`,
    /// `member.deactivated`, `member.invitation_issued`, `member.invited`, `member.login`, `member.login_failed`,
    /// `member.logout`, `member.password_set`, `member.provisioned`, `member.role_changed`, `member.sso_failed`,
    /// `organization.created`, `organization.plan_changed`, `organization.sso_enforced`, `session.revoked`,
    /// `sso_connection.created`, `sso_connection.deleted`, `sso_connection.updated`, `webhook.created`,
    /// `webhook.deleted`, `webhook.secret_rotated` or `webhook.updated`.
    pub action: String,
    /// The kind of object acted on, such as `api_key`, `member`, `organization`, `sso_connection` or `webhook`.
    pub target_type: String,
    /// The id of the object acted on, when it has one.
    pub target_id: Option<String>,
    /// The address the request came from, when known.
    pub ip: Option<String>,
    /// The `User-Agent` of the request, when known.
    pub user_agent: Option<String>,
    /// What the action changed, as it was before; null when not recorded.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// What the action changed, as it is after, or details of the action; null when not recorded.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// When the action happened.
    pub created_at: DateTime<Utc>,
    /// The `hash` of the organization's entry before this one (64 zeros for the first entry).
    pub prev_hash: String,
    /// Hex SHA-256 of `prev_hash` and this entry's content.
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

/// Filters and paging of `GET /audit-log`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many entries to return: 1 to 100, 20 when omitted.
    limit: Option<i64>,
    /// Where the page starts: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only the entries of this action, such as `api_key.created` (exact match).
    action: Option<String>,
    /// Only the entries of this actor, by id (a member's `usr_…`, an API key's `key_…`).
    actor_id: Option<String>,
    /// Only the entries about this object's id.
    target_id: Option<String>,
}

/// Lists the organization's audit log, newest first (owners and admins only).
#[utoipa::path(get, operation_id = "listAuditLog", path = "/audit-log", tag = "audit-log", params(ListParams),
    responses((status = 200, description = "A page of audit entries.", body = ListResponse<AuditEntryJson>)))]
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
