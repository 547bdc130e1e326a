//! `/sso`: the browser side of single sign-on (login redirects, callbacks, the email-domain lookup).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::credentials::cookie_value;
use crate::error::ApiError;
use crate::rest::extract::{ApiPath, ApiQuery};
use crate::rest::sign_in::{ClientOrigin, http_only_cookie, session_cookie};
use crate::service::identity::sessions::SessionPolicy;
use crate::service::identity::sso as svc;
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::settings::STATE_COOKIE;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/lookup", get(lookup))
        .route("/sso/saml/{id}/metadata", get(saml_metadata))
        .route("/sso/saml/{id}/acs", axum::routing::post(saml_acs))
        .route("/sso/{protocol}/{id}/login", get(login))
        .route("/sso/{protocol}/{id}/callback", get(callback))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupParams {
    email: String,
}

/// Where an email signs in.
#[derive(Debug, Serialize)]
struct LookupJson {
    connection_id: String,
    protocol: String,
    login_url: String,
    /// The organization signs in through SSO only: a password sign-in would be refused.
    enforced: bool,
}

/// The login URL of the connection that serves the email's domain; 404 when none does (sign in locally).
async fn lookup(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LookupParams>,
) -> Result<Json<LookupJson>, ApiError> {
    let svc::connections::Lookup {
        connection,
        enforced,
    } = svc::connections::lookup(&state.db, &params.email)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no SSO connection serves this email's domain: sign in with a password".to_owned(),
            )
        })?;
    Ok(Json(LookupJson {
        login_url: format!(
            "{}/sso/{}/{}/login",
            state.public_url, connection.protocol, connection.id
        ),
        protocol: connection.protocol,
        connection_id: connection.id,
        enforced,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginParams {
    return_to: Option<String>,
}

/// Where the provider sends the browser back: the callback (OIDC, OAuth 2.0) or the ACS (SAML).
fn callback_url(state: &AppState, protocol: &str, id: &str) -> String {
    if protocol == "saml" {
        format!("{}/sso/saml/{id}/acs", state.public_url)
    } else {
        format!("{}/sso/{protocol}/{id}/callback", state.public_url)
    }
}

fn secure(state: &AppState) -> bool {
    state.settings.public_url_is_https()
}

/// The `Set-Cookie` value of the sign-in's state cookie (no lifetime removes it).
fn state_cookie_header(
    state: &AppState,
    value: &str,
    same_site: cookie::SameSite,
    lifetime: chrono::Duration,
) -> String {
    http_only_cookie(
        STATE_COOKIE,
        value,
        "/sso",
        same_site,
        secure(state),
        lifetime,
    )
}

/// Sends the browser to the identity provider (`oidc` or `oauth2`), with the sign-in's state in a
/// short-lived cookie.
async fn login(
    State(state): State<AppState>,
    ApiPath((protocol, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<LoginParams>,
) -> Response {
    let redirect = svc::flow::begin(
        &state.db,
        &state.sealer,
        &state.idp,
        &protocol,
        &id,
        &callback_url(&state, &protocol, &id),
        params.return_to.as_deref(),
    )
    .await;
    match redirect {
        Ok(redirect) => {
            // A SAML IdP posts back cross-site, which a Lax cookie does not survive: behind https the state
            // cookie is SameSite=None (and Secure).
            let same_site = if protocol == "saml" && secure(&state) {
                cookie::SameSite::None
            } else {
                cookie::SameSite::Lax
            };
            let cookie = state_cookie_header(
                &state,
                &redirect.state,
                same_site,
                chrono::Duration::minutes(svc::settings::REQUEST_MINUTES),
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, redirect.url),
                    (header::SET_COOKIE, cookie),
                ],
            )
                .into_response()
        }
        Err(err) => error_page(err.status(), &err.public_message()),
    }
}

/// Finishes the sign-in: a session cookie and a redirect to the return path, or an error page.
async fn callback(
    State(state): State<AppState>,
    ApiPath((protocol, id)): ApiPath<(String, String)>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    axum::extract::Query(callback): axum::extract::Query<CallbackBody>,
) -> Response {
    let cookie_state = cookie_value(&headers, STATE_COOKIE);
    let finished = svc::flow::finish(
        &state.db,
        &state.sealer,
        &state.idp,
        SessionPolicy::from_settings(&state.settings),
        &protocol,
        &id,
        &callback_url(&state, &protocol, &id),
        callback.into(),
        cookie_state.as_deref(),
        &origin,
    )
    .await;
    respond(&state, &id, finished, &origin).await
}

/// A session cookie and a redirect to the return path, or the error page (audited); the state cookie goes.
async fn respond(
    state: &AppState,
    id: &str,
    finished: Result<svc::provisioning::FinishedSignIn, SignInRefusal>,
    origin: &crate::auth::Origin,
) -> Response {
    let clear_state =
        state_cookie_header(state, "", cookie::SameSite::Lax, chrono::Duration::zero());
    match finished {
        Ok(finished) => {
            let session = &finished.signed_in.session;
            let cookie = session_cookie(
                &finished.signed_in.token,
                session.expires_at - session.created_at,
                secure(state),
            );
            let mut response = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, finished.return_to)],
            )
                .into_response();
            let headers = response.headers_mut();
            for value in [cookie, clear_state] {
                if let Ok(value) = value.parse() {
                    headers.append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(refusal) => {
            svc::provisioning::record_refusal(&state.db, id, &refusal, origin).await;
            let mut response = refusal_page(&refusal);
            if let Ok(value) = clear_state.parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
    }
}

/// The SP metadata of a SAML connection, for the IdP's configuration.
async fn saml_metadata(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Response {
    match crate::service::identity::sso::saml::sp_metadata(
        &state.db,
        &id,
        &callback_url(&state, "saml", &id),
    )
    .await
    {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

/// The HTTP-POST binding's form.
#[derive(Debug, Default, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The assertion consumer service: a verified SAML Response becomes a session.
async fn saml_acs(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    form: Result<axum::Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    // A missing or malformed form is refused below like any bad response, with the error page.
    let form = form.map(|axum::Form(f)| f).unwrap_or_default();
    let cookie_state = cookie_value(&headers, STATE_COOKIE);
    let finished = crate::service::identity::sso::saml::finish(
        &state.db,
        SessionPolicy::from_settings(&state.settings),
        &id,
        &callback_url(&state, "saml", &id),
        form.saml_response.as_deref(),
        form.relay_state.as_deref(),
        cookie_state.as_deref(),
        &origin,
    )
    .await;
    respond(&state, &id, finished, &origin).await
}

fn refusal_page(refusal: &SignInRefusal) -> Response {
    error_page(refusal.error.status(), &refusal.reason)
}

/// A plain page that says why sign-in failed (browsers land here, not an API client).
fn error_page(status: StatusCode, reason: &str) -> Response {
    let escaped = reason
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
         <body><h1>Sign-in failed</h1><p id=\"reason\">{escaped}</p><p><a href=\"/\">Back</a></p></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// The callback's query.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackBody {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer, when the provider names it (RFC 9207).
    pub iss: Option<String>,
}

impl From<CallbackBody> for crate::service::identity::sso::flow::Callback {
    fn from(body: CallbackBody) -> Self {
        Self {
            code: body.code,
            state: body.state,
            error: body.error,
            error_description: body.error_description,
            iss: body.iss,
        }
    }
}
