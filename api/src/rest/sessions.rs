//! `/sessions`: members' live sessions, listed and ended by their owner or by those who manage members.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use entities::session;
use serde::{Deserialize, Serialize};

use crate::auth::{Actor, Principal};
use crate::error::ApiError;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiPath, ApiQuery, Caller};
use crate::service::identity::sessions as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list))
        .route("/sessions/{id}", delete(revoke))
}

/// A session as REST v1 shows it (never its token).
#[derive(Debug, Serialize)]
pub struct SessionJson {
    pub id: String,
    pub member_id: String,
    /// `password`, `saml`, `oidc` or `oauth2`.
    pub method: String,
    pub sso_connection_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it is the caller's own session.
    pub current: bool,
}

impl SessionJson {
    fn of(principal: &Principal, m: session::Model) -> Self {
        let current =
            matches!(&principal.actor, Actor::User { session_id, .. } if *session_id == m.id);
        Self {
            current,
            id: m.id,
            member_id: m.user_id,
            method: m.method,
            sso_connection_id: m.sso_connection_id,
            ip: m.ip,
            user_agent: m.user_agent,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    member_id: Option<String>,
}

/// The caller's live sessions, or a member's (`member_id`); one page (at most 200), newest first.
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListResponse<SessionJson>>, ApiError> {
    let rows = svc::list(&state.db, &principal, params.member_id.as_deref()).await?;
    Ok(Json(ListResponse {
        data: rows
            .into_iter()
            .map(|m| SessionJson::of(&principal, m))
            .collect(),
        next_cursor: None,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionJson>, ApiError> {
    let revoked = svc::revoke(&state.db, &principal, &id).await?;
    Ok(Json(SessionJson::of(&principal, revoked)))
}
