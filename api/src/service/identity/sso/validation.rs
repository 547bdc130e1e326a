//! Checking an SSO connection's input before it is stored: name, domains, each protocol's settings, mapping.

use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::service::identity::sso::settings::{ConnectionInput, Protocol};
use crate::service::required_text;

/// Checks an input; answers the normalized domains.
pub(crate) fn validate(
    input: &ConnectionInput,
    egress_allow: Option<&str>,
) -> ApiResult<Vec<String>> {
    required_text("name", &input.name, 200)?;
    if input.domains.is_empty() || input.domains.len() > 50 {
        return Err(ApiError::validation(
            "domains",
            "give 1 to 50 email domains",
        ));
    }
    let mut domains = Vec::new();
    for domain in &input.domains {
        let lower = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = lower.len() <= 253
            && lower.contains('.')
            && lower.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(ApiError::validation(
                "domains",
                format!("{domain:?} is not an email domain like example.com"),
            ));
        }
        if !domains.contains(&lower) {
            domains.push(lower);
        }
    }
    validate_client(input, egress_allow)?;
    for (field, name) in [
        ("attributes.subject", &input.attributes.subject),
        ("attributes.email", &input.attributes.email),
        ("attributes.name", &input.attributes.name),
        ("attributes.groups", &input.attributes.groups),
    ] {
        required_text(field, name, 200)?;
    }
    if input.role_rules.len() > 100 {
        return Err(ApiError::validation("role_rules", "at most 100 rules"));
    }
    for (i, rule) in input.role_rules.iter().enumerate() {
        required_text(&format!("role_rules[{i}].value"), &rule.value, 500)?;
        if let Some(attribute) = &rule.attribute {
            required_text(&format!("role_rules[{i}].attribute"), attribute, 200)?;
        }
    }
    Ok(domains)
}

/// Checks the OIDC or OAuth 2.0 client settings: the provider's URLs (through the SSRF guard), the client id
/// and secret, the scopes. SAML settings are checked as they are read, in `saml::resolve`.
fn validate_client(input: &ConnectionInput, egress_allow: Option<&str>) -> ApiResult<()> {
    let (prefix, urls, client_id, client_secret, scopes) = match input.protocol {
        Protocol::Oidc => {
            let oidc = input.oidc.as_ref().ok_or_else(|| {
                ApiError::validation("oidc", "an OIDC connection needs its settings")
            })?;
            (
                "oidc",
                vec![("issuer", &oidc.issuer)],
                &oidc.client_id,
                &oidc.client_secret,
                &oidc.scopes,
            )
        }
        Protocol::OAuth2 => {
            let oauth2 = input.oauth2.as_ref().ok_or_else(|| {
                ApiError::validation("oauth2", "an OAuth 2.0 connection needs its settings")
            })?;
            (
                "oauth2",
                vec![
                    ("authorization_url", &oauth2.authorization_url),
                    ("token_url", &oauth2.token_url),
                    ("userinfo_url", &oauth2.userinfo_url),
                ],
                &oauth2.client_id,
                &oauth2.client_secret,
                &oauth2.scopes,
            )
        }
        Protocol::Saml => return Ok(()),
    };
    for (field, url) in urls {
        egress::check_outbound(url, egress_allow)
            .map_err(|reason| ApiError::validation(&format!("{prefix}.{field}"), reason))?;
    }
    required_text(&format!("{prefix}.client_id"), client_id, 500)?;
    if let Some(secret) = client_secret {
        required_text(&format!("{prefix}.client_secret"), secret, 2000)?;
    }
    validate_scopes(&format!("{prefix}.scopes"), scopes)?;
    Ok(())
}

fn validate_scopes(field: &str, scopes: &[String]) -> ApiResult<()> {
    if scopes.len() > 20
        || scopes
            .iter()
            .any(|s| s.is_empty() || s.len() > 100 || !s.chars().all(|c| c.is_ascii_graphic()))
    {
        return Err(ApiError::validation(
            field,
            "at most 20 scopes, each a word without spaces",
        ));
    }
    Ok(())
}
