//! The sign-in flow: `begin` answers the provider's URL for every protocol, `finish` turns an OIDC or OAuth 2.0 callback into a session.

use chrono::Duration;
use entities::sso_request;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, Scope};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::auth::{Origin, tokens};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::secrets::Sealer;
use crate::service::identity::sessions::SessionPolicy;
use crate::service::now;

use crate::service::identity::sso::idp::IdpClient;
use crate::service::identity::sso::oauth2::{oauth2_claims, oauth2_client};
use crate::service::identity::sso::oidc::{default_scopes, oidc_claims, oidc_client};
use crate::service::identity::sso::provisioning::{FinishedSignIn, sign_in};
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::requests::{
    Redirect, connection_for, take_request, validate_return_to,
};
use crate::service::identity::sso::saml;
use crate::service::identity::sso::settings::{
    Protocol, REQUEST_MINUTES, oauth2_settings, oidc_settings, verifier_context,
};

/// Starts a sign-in through connection `id` (OIDC or OAuth 2.0): stores the request and answers the provider's
/// URL.
pub async fn begin(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    protocol: &str,
    id: &str,
    redirect_uri: &str,
    return_to: Option<&str>,
) -> ApiResult<Redirect> {
    let return_to = validate_return_to(return_to)?;
    let connection = connection_for(db, protocol, id).await?;
    if Protocol::stored(&connection.protocol)? == Protocol::Saml {
        return saml::begin(db, &connection, redirect_uri, return_to).await;
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = match Protocol::stored(&connection.protocol)? {
        Protocol::Saml => return Err(ApiError::internal_msg("SAML begins above")),
        Protocol::Oidc => {
            let settings = oidc_settings(&connection)?;
            let client = oidc_client(sealer, idp, &connection, &settings, redirect_uri).await?;
            let mut request = client.authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            );
            for scope in default_scopes(&settings) {
                request = request.add_scope(Scope::new(scope));
            }
            let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
            (url, state, Some(nonce.secret().clone()))
        }
        Protocol::OAuth2 => {
            let settings = oauth2_settings(&connection)?;
            let client = oauth2_client(sealer, &connection, &settings, redirect_uri)?;
            let mut request = client.authorize_url(CsrfToken::new_random);
            for scope in &settings.scopes {
                request = request.add_scope(Scope::new(scope.clone()));
            }
            let (url, state) = request.set_pkce_challenge(challenge).url();
            (url, state, None)
        }
    };
    let request_id = tokens::hash(state.secret());
    let at = now();
    sso_request::ActiveModel {
        id: Set(request_id.clone()),
        connection_id: Set(connection.id.clone()),
        organization_id: Set(connection.organization_id.clone()),
        nonce: Set(nonce),
        verifier: Set(Some(
            sealer.seal(verifier.secret(), &verifier_context(&request_id))?,
        )),
        return_to: Set(return_to),
        created_at: Set(at),
        expires_at: Set(at + Duration::minutes(REQUEST_MINUTES)),
    }
    .insert(db.conn())
    .await?;
    // Old requests that were never finished.
    sso_request::Entity::delete_many()
        .filter(sso_request::Column::ExpiresAt.lt(at))
        .exec(db.conn())
        .await?;
    Ok(Redirect {
        url: url.to_string(),
        state: state.secret().clone(),
    })
}

/// The callback's query.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer, when the provider names it (RFC 9207).
    pub iss: Option<String>,
}

/// Finishes a sign-in (OIDC or OAuth 2.0): checks the browser's state cookie, uses the stored request once,
/// exchanges the code, verifies the id_token (OIDC) or reads the userinfo endpoint (OAuth 2.0), maps the
/// member, and opens a session.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    policy: SessionPolicy,
    protocol: &str,
    id: &str,
    redirect_uri: &str,
    callback: Callback,
    cookie_state: Option<&str>,
    origin: &Origin,
) -> Result<FinishedSignIn, SignInRefusal> {
    let unauthorized =
        |reason: &str, org: Option<&str>| SignInRefusal::unauthenticated(reason, org);
    let connection = connection_for(db, protocol, id).await?;
    let org = Some(connection.organization_id.as_str());
    if let Some(error) = &callback.error {
        return Err(unauthorized(
            &format!(
                "the identity provider refused the sign-in: {error}{}",
                callback
                    .error_description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            org,
        ));
    }
    let protocol = Protocol::stored(&connection.protocol)?;
    let issuer = match protocol {
        Protocol::Oidc => Some(oidc_settings(&connection)?.issuer),
        Protocol::OAuth2 => None,
        Protocol::Saml => {
            return Err(SignInRefusal::new(
                ApiError::MethodNotAllowed("SAML responses are posted to the ACS".to_owned()),
                org,
            ));
        }
    };
    // RFC 9207: a provider that names itself must be the one this sign-in went to (mix-up attacks).
    if let (Some(iss), Some(issuer)) = (&callback.iss, &issuer)
        && iss.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Err(unauthorized(
            &format!("the callback names another issuer ({iss})"),
            org,
        ));
    }
    let (Some(code), Some(state)) = (&callback.code, &callback.state) else {
        return Err(SignInRefusal::new(
            ApiError::BadRequest("the callback lacks its code or state".to_owned()),
            org,
        ));
    };
    let request = take_request(db, &connection, state, cookie_state, "state").await?;
    let verifier = {
        use secrecy::ExposeSecret;
        let sealed = request.verifier.as_deref().unwrap_or_default();
        sealer
            .open(sealed, &verifier_context(&request.id))?
            .expose_secret()
            .to_owned()
    };
    let claims = match protocol {
        Protocol::Oidc => {
            oidc_claims(
                sealer,
                idp,
                &connection,
                redirect_uri,
                code,
                verifier,
                &request,
            )
            .await?
        }
        Protocol::OAuth2 => {
            oauth2_claims(sealer, idp, &connection, redirect_uri, code, verifier).await?
        }
        Protocol::Saml => {
            return Err(SignInRefusal::from(ApiError::internal_msg(
                "SAML finishes at the ACS",
            )));
        }
    };
    let signed_in = sign_in(db, policy, &connection, &claims, origin).await?;
    Ok(FinishedSignIn {
        signed_in,
        return_to: request.return_to,
    })
}
