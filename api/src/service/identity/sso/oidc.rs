//! OpenID Connect sign-in (openidconnect crate): the client from discovery, the code exchange with PKCE, the verified id_token's claims.

use entities::{sso_connection, sso_request};
use openidconnect::core::CoreClient;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, Nonce, PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::secrets::Sealer;

use crate::service::identity::sso::claims::payload;
use crate::service::identity::sso::idp::{IdpClient, chain};
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::settings::{OidcSettings, client_secret, oidc_settings};

/// `openid` is implied; then the configured scopes, or `email profile groups`.
pub(crate) fn default_scopes(settings: &OidcSettings) -> Vec<String> {
    if settings.scopes.is_empty() {
        ["email", "profile", "groups"].map(str::to_owned).to_vec()
    } else {
        settings
            .scopes
            .iter()
            .filter(|s| *s != "openid")
            .cloned()
            .collect()
    }
}

pub(crate) type OidcClient = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

pub(crate) async fn oidc_client(
    sealer: &Sealer,
    idp: &IdpClient,
    connection: &sso_connection::Model,
    settings: &OidcSettings,
    redirect_uri: &str,
) -> ApiResult<OidcClient> {
    let metadata = idp
        .discover(&settings.issuer)
        .await
        .map_err(|reason| ApiError::BadGateway(format!("the identity provider: {reason}")))?;
    let secret = client_secret(sealer, connection)?.map(ClientSecret::new);
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(ApiError::internal)?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        secret,
    )
    .set_redirect_uri(redirect))
}

/// The verified id_token's claims of an OIDC sign-in.
pub(crate) async fn oidc_claims(
    sealer: &Sealer,
    idp: &IdpClient,
    connection: &sso_connection::Model,
    redirect_uri: &str,
    code: &str,
    verifier: String,
    request: &sso_request::Model,
) -> Result<Value, SignInRefusal> {
    let org = Some(connection.organization_id.as_str());
    let unauthorized =
        |reason: &str, org: Option<&str>| SignInRefusal::unauthenticated(reason, org);
    let settings = oidc_settings(connection)?;
    let client = oidc_client(sealer, idp, connection, &settings, redirect_uri).await?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| {
            ApiError::BadGateway(format!("the identity provider has no token endpoint: {e}"))
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
    let tokens = exchange
        .request_async(&idp.http)
        .await
        .map_err(|e| unauthorized(&format!("the code exchange failed: {}", chain(&e)), org))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| unauthorized("the provider answered no id_token", org))?;
    let nonce = Nonce::new(request.nonce.clone().unwrap_or_default());
    id_token
        .claims(&client.id_token_verifier(), &nonce)
        .map_err(|e| unauthorized(&format!("the id_token is not valid: {}", chain(&e)), org))?;
    // Verified: its payload's claims (groups and any other) are the provider's word.
    payload(&id_token.to_string())
        .ok_or_else(|| unauthorized("the id_token payload is unreadable", org))
}
