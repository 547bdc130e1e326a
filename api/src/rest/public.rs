//! `/auth`: sign-in, sign-out and invitation acceptance, reached without credentials (the authorization matrix
//! covers the authenticated surface; these are tested in tests/api/sessions.rs).

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::Origin;
use crate::auth::layer::{bearer, origin_of};
use crate::error::ApiError;
use crate::rest::extract::ApiJson;
use crate::service::sessions::{self as svc, AcceptInvitation, Credentials};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/accept-invitation", post(accept_invitation))
}

/// The caller's address and user agent, recorded by the audit log.
pub struct ClientOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(origin_of(&parts.extensions, &parts.headers)))
    }
}

/// A member as the sign-in endpoints show it.
#[derive(Debug, Serialize)]
pub struct MemberJson {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
}

impl From<entities::user::Model> for MemberJson {
    fn from(m: entities::user::Model) -> Self {
        Self {
            id: m.id,
            organization_id: m.organization_id,
            email: m.email,
            role: m.role,
        }
    }
}

/// A new session: send `token` as `Authorization: Bearer <token>`.
#[derive(Debug, Serialize)]
pub struct SessionJson {
    pub token: String,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberJson,
}

async fn login(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<Credentials>,
) -> Result<Json<SessionJson>, ApiError> {
    let signed_in = svc::login(&state.db, &state.login_throttle, input, &origin).await?;
    Ok(Json(SessionJson {
        token: signed_in.token,
        session_id: signed_in.session.id,
        expires_at: signed_in.session.expires_at,
        member: signed_in.member.into(),
    }))
}

async fn logout(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers)?;
    svc::logout(&state.db, token, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn accept_invitation(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<AcceptInvitation>,
) -> Result<Json<MemberJson>, ApiError> {
    Ok(Json(
        svc::accept_invitation(&state.db, input, &origin)
            .await?
            .into(),
    ))
}
