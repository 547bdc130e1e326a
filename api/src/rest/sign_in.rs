//! `/auth`: sign-in, sign-out and invitation acceptance, reached without credentials (the authorization matrix
//! covers the authenticated surface; these are tested in tests/api/sessions.rs).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;

use crate::auth::Origin;
use crate::auth::credentials::{Source, check_cross_site, credential};
use crate::auth::proxies::origin_of;
use crate::error::ApiError;
use crate::rest::extract::ApiJson;
use crate::service::identity::sessions as svc;
use crate::service::identity::signin;
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

/// A new session: browsers keep it in the `concierge_session` cookie (HttpOnly, SameSite=Lax) and send
/// `csrf_token` as `X-CSRF-Token` with writes from other origins; scripts send `token` as
/// `Authorization: Bearer <token>`.
#[derive(Debug, Serialize)]
pub struct SessionJson {
    pub token: String,
    pub csrf_token: String,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberJson,
}

async fn login(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<CredentialsBody>,
) -> Result<Response, ApiError> {
    let policy = svc::SessionPolicy::from_settings(&state.settings);
    let signed_in = signin::login(
        &state.db,
        &state.login_throttle,
        policy,
        input.into(),
        &origin,
    )
    .await?;
    let cookie = session_cookie(
        &signed_in.token,
        signed_in.session.expires_at - signed_in.session.created_at,
        state.settings.public_url_is_https(),
    );
    let body = Json(SessionJson {
        token: signed_in.token,
        csrf_token: signed_in.csrf_token,
        session_id: signed_in.session.id,
        expires_at: signed_in.session.expires_at,
        member: signed_in.member.into(),
    });
    Ok(([(header::SET_COOKIE, cookie)], body).into_response())
}

/// The `Set-Cookie` value of a session: HttpOnly, SameSite=Lax, for the whole site, Secure behind https; an
/// empty token with no lifetime removes it.
pub fn session_cookie(token: &str, lifetime: chrono::Duration, secure: bool) -> String {
    http_only_cookie(
        svc::SESSION_COOKIE,
        token,
        "/",
        cookie::SameSite::Lax,
        secure,
        lifetime,
    )
}

/// The `Set-Cookie` value of an HttpOnly cookie (no lifetime removes it).
pub fn http_only_cookie(
    name: &'static str,
    value: &str,
    path: &'static str,
    same_site: cookie::SameSite,
    secure: bool,
    lifetime: chrono::Duration,
) -> String {
    cookie::Cookie::build((name, value.to_owned()))
        .http_only(true)
        .same_site(same_site)
        .path(path)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(lifetime.num_seconds()))
        .build()
        .to_string()
}

/// Ends the session of the bearer token or the session cookie, and removes the cookie.
async fn logout(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    method: Method,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (token, source) = credential(&headers)?;
    if source == Source::Cookie {
        check_cross_site(
            &method,
            &headers,
            &token,
            state.settings.public_url.as_deref(),
        )?;
    }
    svc::logout(&state.db, &token, &origin).await?;
    let removal = session_cookie(
        "",
        chrono::Duration::zero(),
        state.settings.public_url_is_https(),
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, removal)]).into_response())
}

async fn accept_invitation(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(input): ApiJson<AcceptInvitationBody>,
) -> Result<Json<MemberJson>, ApiError> {
    Ok(Json(
        signin::accept_invitation(&state.db, input.into(), &origin)
            .await?
            .into(),
    ))
}

/// Input of `POST /auth/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    pub email: String,
    pub password: String,
    /// Needed only when the email belongs to members of several organizations.
    #[serde(default)]
    pub organization_id: Option<String>,
}

impl From<CredentialsBody> for crate::service::identity::signin::Credentials {
    fn from(body: CredentialsBody) -> Self {
        Self {
            email: body.email,
            password: body.password,
            organization_id: body.organization_id,
        }
    }
}

/// Input of `POST /auth/accept-invitation`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationBody {
    pub token: String,
    pub password: String,
}

impl From<AcceptInvitationBody> for crate::service::identity::signin::AcceptInvitation {
    fn from(body: AcceptInvitationBody) -> Self {
        Self {
            token: body.token,
            password: body.password,
        }
    }
}
