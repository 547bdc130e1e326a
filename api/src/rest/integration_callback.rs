//! `GET /integrations/{provider}/callback`: where a vendor's authorization page sends the browser back (not REST
//! v1: the browser's side of connecting, decided by the state cookie and the member's session); and
//! `POST /integrations/{provider}/events/{id}`, where a help desk posts its signed notices (`…/{id}/{secret}` for
//! one that signs nothing, `…/events` for a vendor app's notices about every workspace, Intercom's).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::credentials::{authenticate_token, cookie_value, session_cookie};
use crate::config::Settings;
use crate::rest::extract::ApiPath;
use crate::rest::sign_in::{ClientOrigin, http_only_cookie};
use crate::service::integrations::connect::{self, Callback, STATE_COOKIE};
use crate::state::AppState;

/// The browser side of connecting: the vendors' authorization pages send the browser back here.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integrations/{provider}/callback", get(callback))
        .route("/integrations/{provider}/events", post(app_events))
        .route("/integrations/{provider}/events/{id}", post(events))
        .route(
            "/integrations/{provider}/events/{id}/{secret}",
            post(events_with_secret),
        )
}

/// A notice from a vendor's app for every workspace that installed it (Intercom's webhooks).
async fn app_events(
    State(state): State<AppState>,
    axum::extract::Path(provider): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use crate::service::integrations::helpdesk::inbound;
    answer(inbound::receive_app(&state.db, &state.settings, &provider, &headers, &body).await)
}

/// A notice from a help desk that signs nothing: the secret is the URL's last segment.
async fn events_with_secret(
    state: State<AppState>,
    axum::extract::Path((provider, id, secret)): axum::extract::Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    take_notice(state, &provider, &id, Some(&secret), &headers, &body).await
}

/// A vendor's notice that one of its tickets changed: 200 when it is taken (the work is queued), 401 when its
/// signature does not hold, 404 for no such connection, 400 for a body the vendor would not send, 503 when it
/// could not be kept (the vendor sends it again).
async fn events(
    state: State<AppState>,
    axum::extract::Path((provider, id)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    take_notice(state, &provider, &id, None, &headers, &body).await
}

async fn take_notice(
    State(state): State<AppState>,
    provider: &str,
    id: &str,
    url_secret: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    use crate::service::integrations::helpdesk::inbound::{self, Notice};
    let notice = Notice {
        provider,
        id,
        url_secret,
        headers,
        body,
    };
    answer(inbound::receive(&state.db, &state.sealer, &notice).await)
}

/// What a notice's outcome answers the vendor.
fn answer(
    outcome: Result<
        crate::service::integrations::helpdesk::inbound::Taken,
        crate::service::integrations::helpdesk::inbound::Refusal,
    >,
) -> Response {
    use crate::service::integrations::helpdesk::inbound::{Refusal, Taken};
    match outcome {
        Ok(Taken::Queued) => (StatusCode::OK, "queued").into_response(),
        Ok(Taken::Ignored) => {
            (StatusCode::OK, "not a ticket of this connection: ignored").into_response()
        }
        Ok(Taken::Acknowledged) => (StatusCode::OK, "ok").into_response(),
        Err(Refusal::Unknown) => (StatusCode::NOT_FOUND, "no such connection").into_response(),
        Err(Refusal::Signature(why)) => (StatusCode::UNAUTHORIZED, why).into_response(),
        Err(Refusal::Malformed(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(Refusal::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "the notice could not be kept; send it again",
        )
            .into_response(),
    }
}

/// The `Set-Cookie` value that binds an authorization under way to the browser (HttpOnly, for the callback
/// path only, gone after 15 minutes).
pub fn state_cookie(settings: &Settings, state: &str) -> String {
    http_only_cookie(
        STATE_COOKIE,
        state,
        "/integrations",
        cookie::SameSite::Lax,
        settings.public_url_is_https(),
        chrono::Duration::minutes(connect::AUTHORIZATION_MINUTES),
    )
}

/// The query a vendor's authorization page sends the browser back with.
#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Zoho: the accounts server of the data centre that authorized.
    #[serde(rename = "accounts-server")]
    accounts_server: Option<String>,
}

/// Finishes connecting: back to the return path with the outcome, the state cookie removed; a plain error page
/// when the state is unknown.
async fn callback(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<CallbackQuery>,
) -> Response {
    let principal = match session_cookie(&headers) {
        Some(token) => authenticate_token(&state.db, &state.authz, &token, origin)
            .await
            .ok(),
        None => None,
    };
    let cookie_state = cookie_value(&headers, STATE_COOKIE);
    let finished = connect::finish(
        &state.vendors,
        principal.as_ref(),
        &provider,
        Callback {
            code: query.code,
            state: query.state,
            error: query.error,
            error_description: query.error_description,
            accounts_server: query.accounts_server,
        },
        cookie_state.as_deref(),
    )
    .await;
    let clear = http_only_cookie(
        STATE_COOKIE,
        "",
        "/integrations",
        cookie::SameSite::Lax,
        state.settings.public_url_is_https(),
        chrono::Duration::zero(),
    );
    let mut response = match finished {
        Ok(location) => (
            axum::http::StatusCode::SEE_OTHER,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(err) => {
            let reason = err
                .public_message()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Connecting failed</title></head>\
                 <body><h1>Connecting failed</h1><p id=\"reason\">{reason}</p><p><a href=\"/console/\">Back to the console</a></p></body></html>"
            );
            (
                err.status(),
                [(header::CACHE_CONTROL, "no-store")],
                Html(body),
            )
                .into_response()
        }
    };
    if let Ok(value) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
