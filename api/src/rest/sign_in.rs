//! `/auth`: sign-in, sign-out and invitation acceptance, reached without credentials (the authorization matrix
//! covers the authenticated surface; these are tested in tests/api/sessions.rs).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Origin;
use crate::auth::credentials::{Source, check_cross_site, credential};
use crate::auth::proxies::origin_of;
use crate::error::ApiError;
use crate::rest::extract::ApiJson;
use crate::service::identity::sessions as svc;
use crate::service::identity::signin;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(accept_invitation))
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
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberJson {
    /// The member's id (`usr_…`).
    pub id: String,
    /// The member's organization (`org_…`).
    pub organization_id: String,
    /// The member's email address.
    pub email: String,
    /// The member's team role: `owner`, `admin`, `agent`, `analyst` or `viewer`.
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SignedInJson)]
pub struct SessionJson {
    /// The session token (`cs_…`), shown in this response only (and set in the cookie): send it as
    /// `Authorization: Bearer <token>`.
    pub token: String,
    /// The session's anti-CSRF token: send it as `X-CSRF-Token` with writes authenticated by the session cookie
    /// that do not come from the server's own origin.
    pub csrf_token: String,
    /// The session's id (`ses_…`), as `GET /sessions` lists it.
    pub session_id: String,
    /// When the session ends at the latest; it ends earlier if unused for the server's idle timeout.
    pub expires_at: DateTime<Utc>,
    /// The member signed in.
    pub member: MemberJson,
}

/// Signs a member in with email and password, opening a session.
#[utoipa::path(post, operation_id = "login", path = "/auth/login", tag = "sign-in", security(()),
    request_body = CredentialsBody,
    responses(
        (status = 200, description = "The new session. `Set-Cookie` also stores its token in the `concierge_session` cookie (HttpOnly, SameSite=Lax, Path=/, Secure when the server's public URL is https, until the session's `expires_at`).", body = SessionJson,
            headers(("Set-Cookie" = String, description = "The `concierge_session` cookie, holding the session token."))),
        (status = 401, description = "Wrong email or password.", body = crate::rest::openapi::ErrorBody),
        (status = 403, description = "The member's organization signs in through SSO only.", body = crate::rest::openapi::ErrorBody),
        (status = 422, description = "A field fails validation, or the email belongs to members of several organizations and `organization_id` is missing.", body = crate::rest::openapi::ErrorBody),
        (status = 429, description = "Too many failed sign-ins: 20 from this address within 15 minutes, or 5 in a row on this account, which then stays locked for 15 minutes; `Retry-After` says when to retry.", body = crate::rest::openapi::ErrorBody),
    ))]
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
///
/// The session token goes as `Authorization: Bearer <token>` or in the `concierge_session` cookie; an API key
/// is refused.
#[utoipa::path(post, operation_id = "logout", path = "/auth/logout", tag = "sign-in", security(("apiKey" = []), ()),
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's `csrf_token`: needed with the session cookie when the request does not come from the server's own origin.")),
    responses(
        (status = 204, description = "Signed out (signing out twice changes nothing). `Set-Cookie` removes the `concierge_session` cookie.",
            headers(("Set-Cookie" = String, description = "An expired `concierge_session` cookie, which removes it."))),
        (status = 401, description = "No session token, or a malformed or unknown one.", body = crate::rest::openapi::ErrorBody),
        (status = 403, description = "Authenticated by the session cookie from another origin without the matching `X-CSRF-Token`.", body = crate::rest::openapi::ErrorBody),
    ))]
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

/// Sets a member's password from an invitation token; no session is opened: sign in next.
#[utoipa::path(post, operation_id = "acceptInvitation", path = "/auth/accept-invitation", tag = "sign-in", security(()),
    request_body = AcceptInvitationBody,
    responses(
        (status = 200, description = "The member whose password was set.", body = MemberJson),
        (status = 422, description = "The token is malformed, unknown, used or expired, or the password breaks the rules.",
            body = crate::rest::openapi::ErrorBody),
    ))]
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

/// Input of `login` / `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// The member's email address (at most 254 characters).
    pub email: String,
    /// The member's password: 1 to 256 characters.
    pub password: String,
    /// The member's organization (`org_…`); needed only when the email belongs to members of several organizations.
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

/// Input of `acceptInvitation` / `POST /auth/accept-invitation`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationBody {
    /// The invitation token (`ci_…`) of the invitation link; it works once, within 7 days of being issued, and a
    /// new invitation replaces it.
    pub token: String,
    /// The member's new password: 12 to 256 characters, and not the email address.
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
