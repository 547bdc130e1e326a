//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws`, authenticated in `connection_init`.
//!
//! The connection (`session`) speaks both protocols as async-graphql's engine does, and adds what the protocols
//! ask of a server and the engine leaves out: a credential that fails closes the socket with 4401 (missing or
//! invalid) or 4403 (valid but not allowed), a subscribe before the acknowledgement closes with 4401, a
//! malformed message with 4400, a second subscribe with a live id with 4409, and no `connection_init` within
//! the timeout with 4408. Live subscriptions share their shape's execution (`graphql::fanout`).

mod session;

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::Value;

use crate::auth::credentials::{
    Credential, authenticate_token, bearer, is_same_origin, session_cookie,
};
use crate::auth::proxies::origin_of;
use crate::auth::{Origin, Principal};
use crate::authz;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest message a client may send.
const MAX_MESSAGE: usize = 256 * 1024;
/// The read buffer a connection starts with.
const READ_BUFFER: usize = 4 * 1024;

/// Whether a request asks to upgrade to WebSocket.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET /graphql/ws` (and `GET /graphql` with an upgrade): accepts the socket and serves the protocol.
pub async fn handler(State(state): State<AppState>, request: Request) -> Response {
    upgrade(state, request).await
}

/// Upgrades the request and serves GraphQL over the socket.
pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return ApiError::BadRequest(
            "subscriptions need the Sec-WebSocket-Protocol graphql-transport-ws (or the legacy graphql-ws)"
                .to_owned(),
        )
        .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let status = rejection.status();
            let message = rejection.body_text();
            return if status == StatusCode::METHOD_NOT_ALLOWED {
                ApiError::MethodNotAllowed(message).into_response()
            } else {
                ApiError::BadRequest(format!("not a WebSocket upgrade: {message}")).into_response()
            };
        }
    };
    let origin = origin_of(&parts.extensions, &parts.headers);
    // A client that can set headers may authenticate the upgrade itself; browsers use connection_init, or the
    // session cookie, which counts only from a page of this server (so another site cannot open a socket
    // with a visitor's cookie).
    let header_token = bearer(&parts.headers).ok().map(str::to_owned).or_else(|| {
        (!parts.headers.contains_key(header::AUTHORIZATION)
            && is_same_origin(&parts.headers, state.settings.public_url.as_deref()))
        .then(|| session_cookie(&parts.headers))
        .flatten()
    });
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE)
        // Subscribers mostly listen: small buffers keep an idle connection cheap (the defaults are 128 KiB each
        // way); larger messages still grow them as needed. What is written waits for the end of a batch of
        // ready messages unless it reaches a few KiB.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(session::WRITE_BATCH)
        .on_upgrade(move |socket| session::serve(socket, state, protocol, header_token, origin))
}

/// A connection's caller, once `connection_init` authenticated it.
pub(crate) struct Signed {
    principal: Principal,
    credential: Credential,
    /// The context of the connection's own operations, built when the first one runs.
    data: OnceLock<Arc<Data>>,
}

impl Signed {
    /// The context of the connection's own operations.
    fn data(&self, state: &AppState) -> Arc<Data> {
        self.data
            .get_or_init(|| Arc::new(self.data_for(state, self.principal.clone())))
            .clone()
    }

    /// The context of an operation run for `principal` with this connection's credential.
    fn data_for(&self, state: &AppState, principal: Principal) -> Data {
        let mut data = super::context::data(state, principal);
        data.insert(self.credential.clone());
        data
    }
}

/// Authenticates `connection_init`.
async fn connect(
    state: &AppState,
    payload: Value,
    header_token: Option<String>,
    origin: Origin,
) -> Result<Signed, ApiError> {
    let token = token_of(&payload).or(header_token).ok_or_else(|| {
        ApiError::Unauthenticated(
            "missing credentials: send {\"Authorization\": \"Bearer <API key or session token>\"} in connection_init"
                .to_owned(),
        )
    })?;
    let principal: Principal =
        authenticate_token(&state.db, &state.authz, &token, origin.clone()).await?;
    authz::authorize_subscriptions(&principal).await?;
    if let Some(decision) = state.rate_limits.check(&principal).await
        && let Some(retry_after_secs) = decision.retry_after_secs
    {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    state.usage.record(&principal);
    let credential = Credential {
        token: SecretString::from(token),
        origin,
        authz: state.authz.clone(),
    };
    Ok(Signed {
        principal,
        credential,
        data: OnceLock::new(),
    })
}

/// The token of a `connection_init` payload: `Authorization` (with or without `Bearer`), `token` or `apiKey`,
/// at the top level or under `headers`, in any letter case.
fn token_of(payload: &Value) -> Option<String> {
    let object = payload.as_object()?;
    let direct = object.iter().find_map(|(key, value)| {
        let key = key.to_ascii_lowercase();
        let value = value.as_str()?.trim();
        match key.as_str() {
            "authorization" => Some(
                value
                    .split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map_or(value, |(_, token)| token.trim())
                    .to_owned(),
            ),
            "token" | "apikey" | "api_key" | "authtoken" => Some(value.to_owned()),
            _ => None,
        }
    });
    direct
        .filter(|token| !token.is_empty())
        .or_else(|| object.get("headers").and_then(token_of))
}
