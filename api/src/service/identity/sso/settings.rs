//! Settings of an SSO connection as stored: protocol, OIDC, OAuth 2.0 and SAML settings, attribute names, role rules, the sealed secret.

use chrono::Utc;
use entities::sso_connection;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::secrets::Sealer;

/// How long a sign-in may take between the redirect to the provider and the callback.
pub const REQUEST_MINUTES: i64 = 10;
/// The cookie that binds a sign-in under way to the browser that started it.
pub const STATE_COOKIE: &str = "concierge_sso";

/// A connection's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenID Connect: discovery, authorization code with PKCE, id_token verified against the JWKS.
    Oidc,
    /// OAuth 2.0 without OpenID Connect: authorization code with PKCE, then the userinfo endpoint, read with
    /// JSON paths.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// SAML 2.0: AuthnRequest by the HTTP-Redirect binding, Response by HTTP-POST to the ACS, signatures checked
    /// by samael against the configured certificates.
    Saml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oidc => "oidc",
            Protocol::OAuth2 => "oauth2",
            Protocol::Saml => "saml",
        }
    }

    pub(crate) fn stored(value: &str) -> ApiResult<Self> {
        match value {
            "oidc" => Ok(Protocol::Oidc),
            "oauth2" => Ok(Protocol::OAuth2),
            "saml" => Ok(Protocol::Saml),
            other => Err(ApiError::internal_msg(format!("stored protocol {other:?}"))),
        }
    }
}

/// An OAuth 2.0 provider without OpenID Connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Settings {
    pub authorization_url: String,
    pub token_url: String,
    /// Answers JSON about the signed-in user for the access token.
    pub userinfo_url: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// The OAuth 2.0 part of a connection's input; an update without `client_secret` keeps the stored one.
#[derive(Clone, Debug)]
pub struct OAuth2Input {
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
}

/// A SAML identity provider: its metadata (kept whole, as samael reads it) and what was taken from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    /// The IdP's single sign-on URL (HTTP-Redirect binding).
    pub sso_url: String,
    /// Its signing certificates, base64 DER; several allow a key rollover.
    pub certificates: Vec<String>,
    /// Where the metadata is fetched from (and refreshed), when it was given by URL.
    pub metadata_url: Option<String>,
    pub metadata_xml: String,
    /// When the metadata was last read.
    pub metadata_fetched_at: Option<chrono::DateTime<Utc>>,
    /// Accept responses the SP did not ask for (off by default).
    pub allow_idp_initiated: bool,
    /// Allowed clock difference with the IdP, in seconds (default 60).
    pub clock_skew_secs: u32,
}

/// The SAML part of a connection's input: the IdP metadata as XML or by URL, or its parts.
#[derive(Clone, Debug, Default)]
pub struct SamlInput {
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub entity_id: Option<String>,
    pub sso_url: Option<String>,
    pub certificates: Vec<String>,
    pub allow_idp_initiated: bool,
    pub clock_skew_secs: Option<u32>,
}

/// The stored SAML settings of a connection.
pub fn saml_settings(model: &sso_connection::Model) -> ApiResult<SamlSettings> {
    serde_json::from_value(model.settings.clone())
        .map_err(|e| ApiError::internal_msg(format!("stored SAML settings: {e}")))
}

/// The stored OAuth 2.0 settings of a connection.
pub fn oauth2_settings(model: &sso_connection::Model) -> ApiResult<OAuth2Settings> {
    serde_json::from_value(model.settings.clone())
        .map_err(|e| ApiError::internal_msg(format!("stored OAuth 2.0 settings: {e}")))
}

/// An OpenID Connect provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    /// The issuer, exactly as the provider's discovery document names it.
    pub issuer: String,
    pub client_id: String,
    /// Requested besides `openid`.
    pub scopes: Vec<String>,
}

/// Which claim holds what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attributes {
    /// The subject (the provider's id of the user). Stored but not read yet: members are matched by email.
    pub subject: String,
    pub email: String,
    pub name: String,
    pub groups: String,
}

impl Default for Attributes {
    fn default() -> Self {
        Self {
            subject: "sub".to_owned(),
            email: "email".to_owned(),
            name: "name".to_owned(),
            groups: "groups".to_owned(),
        }
    }
}

/// One role-mapping rule: members whose `attribute` (the groups claim when unset) equals or contains `value`
/// get `role`. Rules apply in order; the first that matches wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRule {
    pub attribute: Option<String>,
    pub value: String,
    pub role: Role,
}

/// Input of `createSsoConnection` / `updateSsoConnection`.
#[derive(Clone, Debug)]
pub struct ConnectionInput {
    pub name: String,
    pub protocol: Protocol,
    /// Email domains whose members sign in through it.
    pub domains: Vec<String>,
    pub enabled: bool,
    pub oidc: Option<OidcInput>,
    pub oauth2: Option<OAuth2Input>,
    pub saml: Option<SamlInput>,
    pub attributes: Attributes,
    pub role_rules: Vec<RoleRule>,
    pub default_role: Role,
    pub deny_unmatched: bool,
    pub jit_provisioning: bool,
}

/// The OpenID Connect part of a connection's input; an update without `client_secret` keeps the stored one.
#[derive(Clone, Debug)]
pub struct OidcInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
}

/// The stored OpenID Connect settings of a connection.
pub fn oidc_settings(model: &sso_connection::Model) -> ApiResult<OidcSettings> {
    serde_json::from_value(model.settings.clone())
        .map_err(|e| ApiError::internal_msg(format!("stored OIDC settings: {e}")))
}

/// The stored attribute names of a connection.
pub fn attributes(model: &sso_connection::Model) -> Attributes {
    serde_json::from_value(model.attributes.clone()).unwrap_or_default()
}

/// The stored role rules of a connection.
pub fn role_rules(model: &sso_connection::Model) -> Vec<RoleRule> {
    serde_json::from_value(model.role_rules.clone()).unwrap_or_default()
}

pub(crate) fn secret_context(connection_id: &str) -> String {
    format!("sso_connection:{connection_id}:client_secret")
}

pub(crate) fn verifier_context(request_id: &str) -> String {
    format!("sso_request:{request_id}:pkce_verifier")
}

/// The connection's client secret, opened.
pub(crate) fn client_secret(
    sealer: &Sealer,
    connection: &sso_connection::Model,
) -> ApiResult<Option<String>> {
    use secrecy::ExposeSecret;
    connection
        .secret_sealed
        .as_ref()
        .map(|sealed| {
            sealer
                .open(sealed, &secret_context(&connection.id))
                .map(|secret| secret.expose_secret().to_owned())
        })
        .transpose()
}

/// The protocol of a stored connection.
pub fn protocol(model: &sso_connection::Model) -> ApiResult<Protocol> {
    Protocol::stored(&model.protocol)
}
