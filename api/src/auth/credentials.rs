//! Credentials: reading them from a request (bearer token, session cookie), the cross-site check for cookie
//! writes, turning a token into a `Principal`, and the outcome the authentication layer leaves for handlers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{Origin, Principal};
use crate::authz::Authz;
use crate::db::Db;
use crate::error::ApiError;
use crate::service::identity::{api_keys, sessions};

/// Why a request carries no principal (kept in extensions; `ApiError` itself is not `Clone`).
#[derive(Clone, Debug)]
pub(crate) enum AuthFailure {
    Unauthenticated(String),
    Forbidden(String),
    /// The database could not be asked: 503, to be retried.
    Unavailable(u64),
    Internal,
}

/// The bearer token of an `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "missing credentials: send Authorization: Bearer <API key or session token>"
                    .to_owned(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("malformed Authorization header".to_owned()))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::Unauthenticated(
            "malformed Authorization header: expected Bearer <API key>".to_owned(),
        )
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated(
            "unsupported authorization scheme: expected Bearer".to_owned(),
        ));
    }
    Ok(token.trim())
}

/// Where a request's credential came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `Authorization: Bearer …` (API keys, scripts, and sessions used as bearer tokens).
    Bearer,
    /// The browser's session cookie: writes then need the same origin or the anti-CSRF token.
    Cookie,
}

/// The value of the request's cookie `name`, if any.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The session token of the request's `concierge_session` cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, sessions::SESSION_COOKIE)
}

/// The request's credential: the `Authorization` header, else the session cookie.
pub fn credential(headers: &HeaderMap) -> Result<(String, Source), ApiError> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok((bearer(headers)?.to_owned(), Source::Bearer));
    }
    match session_cookie(headers) {
        Some(token) if token.starts_with(sessions::SESSION_PREFIX) => Ok((token, Source::Cookie)),
        Some(_) => Err(ApiError::Unauthenticated(
            "malformed session cookie: sign in again".to_owned(),
        )),
        None => Err(ApiError::Unauthenticated(
            "missing credentials: send Authorization: Bearer <API key or session token>, or sign in for a session cookie"
                .to_owned(),
        )),
    }
}

/// Refuses a cookie-authenticated write that may come from another site: it must come from the server's own
/// origin (`Origin` naming the request's host or the public URL, or `Sec-Fetch-Site: same-origin`) or carry the
/// session's anti-CSRF token in `X-CSRF-Token`. Reads (GET, HEAD, OPTIONS) change nothing and pass.
pub fn check_cross_site(
    method: &axum::http::Method,
    headers: &HeaderMap,
    token: &str,
    public_url: Option<&str>,
) -> Result<(), ApiError> {
    use axum::http::Method;
    use subtle::ConstantTimeEq;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if is_same_origin(headers, public_url) {
        return Ok(());
    }
    let expected = sessions::csrf_token(token);
    match header("x-csrf-token") {
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "cross-site request refused: the X-CSRF-Token header does not match this session".to_owned(),
        )),
        None => Err(ApiError::Forbidden(
            "cross-site request refused: writes with a session cookie need the X-CSRF-Token header given at sign-in, or must come from this server's origin"
                .to_owned(),
        )),
    }
}

/// Whether the request comes from a page of this server: `Sec-Fetch-Site: same-origin`, or an `Origin` that
/// names the request's host or the public URL.
pub fn is_same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("same-origin") {
        return true;
    }
    let Some(origin) = header("origin").and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let served_at = header("host").map(|host| format!("{}://{host}", origin.scheme()));
    [served_at.as_deref(), public_url]
        .into_iter()
        .flatten()
        .filter_map(|u| url::Url::parse(u).ok())
        .any(|u| u.origin() == origin.origin())
}

/// The caller a bearer token stands for: a member's session (`cs_…`) or an API key.
pub async fn authenticate_token(
    db: &Db,
    authz: &Arc<Authz>,
    token: &str,
    origin: Origin,
) -> Result<Principal, ApiError> {
    if token.starts_with(sessions::SESSION_PREFIX) {
        sessions::authenticate(db, authz, token, origin).await
    } else {
        api_keys::authenticate(db, authz, token, origin).await
    }
}

/// A credential kept by a long-lived connection (a subscription), to authenticate again later: a key revoked, a
/// session ended or a role changed then takes effect on the open connection too.
#[derive(Clone)]
pub struct Credential {
    pub token: SecretString,
    pub origin: Origin,
    pub authz: Arc<Authz>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The caller as the database says now.
    pub async fn authenticate(&self, db: &Db) -> Result<Principal, ApiError> {
        authenticate_token(
            db,
            &self.authz,
            self.token.expose_secret(),
            self.origin.clone(),
        )
        .await
    }
}

/// The outcome of the authentication layer: the caller, or why there is none.
#[derive(Debug)]
pub struct Authenticated(pub Result<Principal, ApiError>);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Self(Ok(principal.clone())));
        }
        Ok(Self(Err(match parts.extensions.get::<AuthFailure>() {
            Some(AuthFailure::Unauthenticated(message)) => {
                ApiError::Unauthenticated(message.clone())
            }
            Some(AuthFailure::Forbidden(message)) => ApiError::Forbidden(message.clone()),
            Some(AuthFailure::Unavailable(retry_after_secs)) => ApiError::Unavailable {
                retry_after_secs: *retry_after_secs,
            },
            Some(AuthFailure::Internal) => ApiError::internal_msg("authentication failed"),
            None => ApiError::internal_msg("the authentication layer is not installed"),
        })))
    }
}
