//! `/sessions`: members' live sessions, listed and ended by their owner or by those who manage members.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use entities::session;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::credentials::credential;
use crate::auth::{Actor, Principal};
use crate::error::ApiError;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiPath, ApiQuery, Caller};
use crate::service::identity::sessions as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(revoke))
        .routes(routes!(current))
}

/// The session making the request, with its anti-CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentSessionJson {
    /// The session.
    pub session: SessionJson,
    /// The session's anti-CSRF token: send it as `X-CSRF-Token` with writes authenticated by the session cookie.
    pub csrf_token: String,
}

/// The session making the request and its anti-CSRF token: how a page that holds only the HttpOnly session
/// cookie (after an SSO sign-in, or a reload) learns the `X-CSRF-Token` to send with its writes.
#[utoipa::path(get, operation_id = "currentSession", path = "/auth/session", tag = "sign-in",
    responses(
        (status = 200, description = "The caller's session.", body = CurrentSessionJson),
        (status = 403, description = "The caller is an API key, which has no session.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn current(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
) -> Result<Json<CurrentSessionJson>, ApiError> {
    let Actor::User { session_id, .. } = &principal.actor else {
        return Err(ApiError::Forbidden(
            "an API key has no session: this tells a signed-in member their own".to_owned(),
        ));
    };
    let (token, _) = credential(&headers)?;
    let session = svc::get(&state.db, &principal, session_id).await?;
    Ok(Json(CurrentSessionJson {
        csrf_token: svc::csrf_token(&token),
        session: SessionJson::of(&principal, session),
    }))
}

/// A member's session as REST v1 shows it (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    /// The session's id (`ses_…`).
    pub id: String,
    /// The member signed in (`usr_…`).
    pub member_id: String,
    /// How the member signed in: `password`, `saml`, `oidc` or `oauth2`.
    pub method: String,
    /// The SSO connection signed in through (`sso_…`); null for a password sign-in.
    pub sso_connection_id: Option<String>,
    /// The address the member signed in from, when known.
    pub ip: Option<String>,
    /// The `User-Agent` the member signed in with, when known.
    pub user_agent: Option<String>,
    /// When the member signed in.
    pub created_at: DateTime<Utc>,
    /// When the session was last used, to within a minute.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When the session ends at the latest; it ends earlier if unused for the server's idle timeout.
    pub expires_at: DateTime<Utc>,
    /// When the session was revoked or signed out; null while it is live.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it is the session making this request.
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

/// Whose sessions `GET /sessions` lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// The member (`usr_…`) whose sessions to list; the caller's own when omitted. Another member's sessions
    /// need the right to read members; an API key must name a member.
    member_id: Option<String>,
}

/// Lists the caller's live sessions, or a member's (`member_id`), newest first.
#[utoipa::path(get, operation_id = "listSessions", path = "/sessions", tag = "sessions", params(ListParams),
    responses((status = 200, description = "The live sessions, newest first: at most 200, in one page (`next_cursor` is always null).", body = ListResponse<SessionJson>)))]
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

/// Ends a session at once: one's own, or another member's for those who may change that member.
#[utoipa::path(delete, operation_id = "revokeSession", path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The session's id.")),
    responses((status = 200, description = "The session as revoked (revoking a revoked session changes nothing).", body = SessionJson)))]
async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionJson>, ApiError> {
    let revoked = svc::revoke(&state.db, &principal, &id).await?;
    Ok(Json(SessionJson::of(&principal, revoked)))
}
