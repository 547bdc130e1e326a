//! The layer in front of REST v1 and GraphQL: authenticates the bearer key or session once, rate-limits keys.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::{Origin, Principal};
use crate::authz::Authz;
use crate::db::Db;
use crate::error::ApiError;
use crate::service::{api_keys, sessions};
use crate::state::AppState;

/// Why a request carries no principal (kept in extensions; `ApiError` itself is not `Clone`).
#[derive(Clone, Debug)]
enum AuthFailure {
    Unauthenticated(String),
    Forbidden(String),
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

/// Middleware: authenticate, rate-limit, then run the handler with the outcome in extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let origin = origin(&request);
    let outcome = match bearer(request.headers()) {
        Ok(token) => authenticate_token(&state.db, &state.authz, token, origin).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(principal) => {
            state.usage.record(&principal);
            let decision = state.rate_limits.check(&principal).await;
            if let Some(decision) = decision
                && let Some(retry_after_secs) = decision.retry_after_secs
            {
                let err = ApiError::RateLimited { retry_after_secs };
                let mut response = if request.uri().path().starts_with("/graphql") {
                    crate::graphql::http::error_response(request.headers(), err)
                } else {
                    err.into_response()
                };
                decision.write_headers(response.headers_mut());
                return response;
            }
            request.extensions_mut().insert(principal);
            let mut response = next.run(request).await;
            if let Some(decision) = decision {
                decision.write_headers(response.headers_mut());
            }
            response
        }
        Err(err) => {
            let failure = match err {
                ApiError::Unauthenticated(message) => AuthFailure::Unauthenticated(message),
                ApiError::Forbidden(message) => AuthFailure::Forbidden(message),
                other => {
                    // Logged here with the request id; the handler answers a generic 500.
                    let _ = other.public_message();
                    AuthFailure::Internal
                }
            };
            request.extensions_mut().insert(failure);
            next.run(request).await
        }
    }
}

/// The peer address and user agent of a request (the peer, not `X-Forwarded-For`, which anyone can send).
fn origin(request: &Request) -> Origin {
    origin_of(request.extensions(), request.headers())
}

/// The peer address and user agent of a request.
pub fn origin_of(extensions: &axum::http::Extensions, headers: &HeaderMap) -> Origin {
    let ip = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(500).collect());
    Origin { ip, user_agent }
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
            Some(AuthFailure::Internal) => ApiError::internal_msg("authentication failed"),
            None => ApiError::internal_msg("the authentication layer is not installed"),
        })))
    }
}
