//! Plain OAuth 2.0 sign-in (oauth2 crate): the client, the code exchange with PKCE, and the userinfo answer as claims.

use entities::sso_connection;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::secrets::Sealer;

use crate::service::identity::sso::idp::{IdpClient, chain};
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::settings::{OAuth2Settings, client_secret, oauth2_settings};

pub(crate) type OAuth2Client = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

pub(crate) fn oauth2_client(
    sealer: &Sealer,
    connection: &sso_connection::Model,
    settings: &OAuth2Settings,
    redirect_uri: &str,
) -> ApiResult<OAuth2Client> {
    let bad = |field: &str| ApiError::internal_msg(format!("stored OAuth 2.0 {field}"));
    let mut client =
        oauth2::basic::BasicClient::new(oauth2::ClientId::new(settings.client_id.clone()))
            .set_auth_uri(
                oauth2::AuthUrl::new(settings.authorization_url.clone())
                    .map_err(|_| bad("authorization URL"))?,
            )
            .set_token_uri(
                oauth2::TokenUrl::new(settings.token_url.clone()).map_err(|_| bad("token URL"))?,
            )
            .set_redirect_uri(
                oauth2::RedirectUrl::new(redirect_uri.to_owned()).map_err(ApiError::internal)?,
            );
    if let Some(secret) = client_secret(sealer, connection)? {
        client = client.set_client_secret(oauth2::ClientSecret::new(secret));
    }
    Ok(client)
}

/// The userinfo answer of an OAuth 2.0 sign-in, for the access token the code is exchanged for.
pub(crate) async fn oauth2_claims(
    sealer: &Sealer,
    idp: &IdpClient,
    connection: &sso_connection::Model,
    redirect_uri: &str,
    code: &str,
    verifier: String,
) -> Result<Value, SignInRefusal> {
    use oauth2::TokenResponse as _;
    let org = Some(connection.organization_id.as_str());
    let unauthorized = |reason: String| SignInRefusal::unauthenticated(reason, org);
    let settings = oauth2_settings(connection)?;
    let client = oauth2_client(sealer, connection, &settings, redirect_uri)?;
    let tokens = client
        .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier))
        .request_async(&idp.http)
        .await
        .map_err(|e| unauthorized(format!("the code exchange failed: {}", chain(&e))))?;
    idp.guard(&settings.userinfo_url).map_err(|reason| {
        SignInRefusal::from(ApiError::BadGateway(format!("the userinfo URL: {reason}")))
    })?;
    let response = idp
        .http
        .get(&settings.userinfo_url)
        .bearer_auth(tokens.access_token().secret())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            SignInRefusal::from(ApiError::BadGateway(format!(
                "the userinfo endpoint could not be reached: {}",
                chain(&e)
            )))
        })?;
    if !response.status().is_success() {
        return Err(unauthorized(format!(
            "the userinfo endpoint answered {}",
            response.status()
        )));
    }
    response
        .json::<Value>()
        .await
        .map_err(|e| unauthorized(format!("the userinfo answer is not JSON: {e}")))
}
