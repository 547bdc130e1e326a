//! The layer in front of REST v1 and GraphQL: authenticates the bearer key or session once, rate-limits keys.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Origin;
use crate::auth::credentials::{
    AuthFailure, Source, authenticate_token, check_cross_site, credential,
};
use crate::auth::proxies::origin_of;
use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: authenticate, rate-limit, then run the handler with the outcome in extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let origin = origin(&request);
    let outcome = match credential(request.headers()) {
        Ok((token, source)) => {
            let checked = match source {
                Source::Cookie => check_cross_site(
                    request.method(),
                    request.headers(),
                    &token,
                    state.settings.public_url.as_deref(),
                ),
                Source::Bearer => Ok(()),
            };
            match checked {
                Ok(()) => authenticate_token(&state.db, &state.authz, &token, origin).await,
                Err(err) => Err(err),
            }
        }
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
                ApiError::Unavailable { retry_after_secs } => {
                    AuthFailure::Unavailable(retry_after_secs)
                }
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
