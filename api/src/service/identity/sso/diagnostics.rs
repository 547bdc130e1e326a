//! Testing a connection against its provider: discovery and signing keys (OIDC), reachable URLs (OAuth 2.0), the stored secret.

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::ApiResult;
use crate::secrets::Sealer;

use crate::service::identity::sso::connections::find;
use crate::service::identity::sso::idp::{Check, IdpClient, chain};
use crate::service::identity::sso::saml;
use crate::service::identity::sso::settings::{
    Protocol, oauth2_settings, oidc_settings, protocol, saml_settings, secret_context,
};

/// Checks a connection's configuration against its provider (owners): discovery and signing keys for OIDC,
/// that each URL answers for OAuth 2.0, and that the stored client secret opens. Changes nothing.
pub async fn test(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    principal: &Principal,
    id: &str,
) -> ApiResult<Vec<Check>> {
    let grant = authorize(principal, Resource::Sso, Action::Write).await?;
    let connection = find(db.conn(), grant.organization_id(), id).await?;
    let mut checks = Vec::new();
    match protocol(&connection)? {
        Protocol::Oidc => {
            let settings = oidc_settings(&connection)?;
            match idp.discover(&settings.issuer).await {
                Ok(metadata) => {
                    checks.push(Check::new(
                        "discovery",
                        true,
                        format!(
                            "the discovery document of {} was read",
                            metadata.issuer().as_str()
                        ),
                    ));
                    let keys = metadata
                        .jwks()
                        .keys()
                        .iter()
                        .filter(|k| {
                            use openidconnect::{JsonWebKey, JsonWebKeyUse};
                            k.key_use().is_none_or(|u| u.allows_signature())
                        })
                        .count();
                    checks.push(Check::new(
                        "signing_keys",
                        keys > 0,
                        if keys > 0 {
                            format!("{keys} signing key(s) published")
                        } else {
                            "the provider publishes no signing key: id_tokens could not be verified"
                                .to_owned()
                        },
                    ));
                    let token = metadata.token_endpoint().is_some();
                    checks.push(Check::new(
                        "endpoints",
                        token,
                        if token {
                            "authorization and token endpoints are published".to_owned()
                        } else {
                            "the provider publishes no token endpoint".to_owned()
                        },
                    ));
                }
                Err(reason) => checks.push(Check::new("discovery", false, reason)),
            }
        }
        Protocol::Saml => {
            checks.extend(saml::test(idp, &saml_settings(&connection)?).await);
            return Ok(checks);
        }
        Protocol::OAuth2 => {
            let settings = oauth2_settings(&connection)?;
            for (name, url, method) in [
                ("authorization_url", &settings.authorization_url, "GET"),
                ("token_url", &settings.token_url, "POST"),
                ("userinfo_url", &settings.userinfo_url, "GET"),
            ] {
                checks.push(reachable(idp, name, url, method).await);
            }
        }
    }
    checks.push(match &connection.secret_sealed {
        Some(sealed) => match sealer.open(sealed, &secret_context(&connection.id)) {
            Ok(_) => Check::new(
                "client_secret",
                true,
                "the client secret is stored and opens",
            ),
            Err(_) => Check::new(
                "client_secret",
                false,
                "the stored client secret does not open under this master key: set it again",
            ),
        },
        None => Check::new("client_secret", false, "no client secret is stored"),
    });
    Ok(checks)
}

/// Whether `url` answers at all (any status below 500), through the SSRF guard.
pub(crate) async fn reachable(idp: &IdpClient, name: &str, url: &str, method: &str) -> Check {
    if let Err(reason) = idp.guard(url) {
        return Check::new(name, false, format!("{url}: {reason}"));
    }
    let request = if method == "POST" {
        idp.http.post(url)
    } else {
        idp.http.get(url)
    };
    match request.send().await {
        Ok(response) if response.status().as_u16() < 500 => {
            Check::new(name, true, format!("{url} answers ({})", response.status()))
        }
        Ok(response) => Check::new(name, false, format!("{url} answers {}", response.status())),
        Err(e) => Check::new(
            name,
            false,
            format!("{url} cannot be reached: {}", chain(&e)),
        ),
    }
}
