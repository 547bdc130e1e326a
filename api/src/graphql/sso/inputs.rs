//! The inputs of the SSO mutations, and how each becomes the service's plain input.

use async_graphql::InputObject;

use crate::graphql::enums::{Role, SsoProtocol};
use crate::service::identity::sso;
use crate::service::identity::sso::settings::{
    Attributes, ConnectionInput, OAuth2Input, OidcInput, RoleRule, SamlInput,
};

/// OpenID Connect settings; without `clientSecret`, an update keeps the stored secret.
#[derive(InputObject)]
pub struct OidcSettingsInput {
    /// The issuer exactly as its discovery document names it (scheme, host, port, path, trailing slash).
    pub issuer: String,
    /// The client id registered at the provider, up to 500 characters.
    pub client_id: String,
    /// The client secret, up to 2,000 characters; write-only, stored encrypted.
    pub client_secret: Option<String>,
    /// Requested besides `openid`; default `email profile groups`.
    #[graphql(default)]
    pub scopes: Vec<String>,
}

/// Claim names (for OAuth 2.0, JSON paths into the userinfo answer); the defaults are `sub`, `email`, `name`
/// and `groups`.
#[derive(InputObject)]
pub struct SsoAttributesInput {
    /// The claim holding the provider's id of the user; `sub` by default. Members are matched by their email
    /// address; this claim is not used to match them yet.
    pub subject: Option<String>,
    /// The claim holding the user's email address; `email` by default.
    pub email: Option<String>,
    /// The claim holding the user's name; `name` by default.
    pub name: Option<String>,
    /// The claim holding the user's groups; `groups` by default.
    pub groups: Option<String>,
}

/// OAuth 2.0 settings (a provider without OpenID Connect); without `clientSecret`, an update keeps the stored
/// secret.
#[derive(InputObject)]
#[graphql(name = "OAuth2SettingsInput")]
pub struct OAuth2SettingsInput {
    /// The provider's authorization endpoint: an http or https URL on the public internet (or allowed by the server's
    /// egress allow-list).
    pub authorization_url: String,
    /// The provider's token endpoint: an http or https URL on the public internet (or allowed by the server's egress
    /// allow-list).
    pub token_url: String,
    /// Answers JSON about the user for the access token.
    pub userinfo_url: String,
    /// The client id registered at the provider, up to 500 characters.
    pub client_id: String,
    /// The client secret, up to 2,000 characters; write-only, stored encrypted.
    pub client_secret: Option<String>,
    /// The scopes to request: up to 20 words without spaces; none by default.
    #[graphql(default)]
    pub scopes: Vec<String>,
}

/// SAML settings: the IdP metadata as XML or by URL (fetched now and refreshed hourly), or its entity id,
/// sign-on URL and signing certificates. A connection without a signing certificate is refused.
#[derive(InputObject)]
pub struct SamlSettingsInput {
    /// The identity provider's metadata as XML, up to 1 MB; give it, `metadataUrl`, or `entityId` with `ssoUrl` and
    /// `certificates`.
    pub metadata_xml: Option<String>,
    /// Where to fetch the identity provider's metadata (now, then hourly); not together with `metadataXml`.
    pub metadata_url: Option<String>,
    /// The identity provider's entity id, when the metadata is given in parts.
    pub entity_id: Option<String>,
    /// The identity provider's single sign-on URL (HTTP-Redirect binding), required with `entityId`.
    pub sso_url: Option<String>,
    /// PEM or base64 DER; several allow a key rollover.
    #[graphql(default)]
    pub certificates: Vec<String>,
    /// Accept responses the SP did not ask for (off by default).
    #[graphql(default = false)]
    pub allow_idp_initiated: bool,
    /// Allowed clock difference with the IdP (default 60).
    pub clock_skew_seconds: Option<u32>,
}

/// A role-mapping rule: members whose `attribute` (the groups claim when unset) equals or contains `value` get
/// `role`.
#[derive(InputObject)]
pub struct SsoRoleRuleInput {
    /// The claim or attribute to look at, up to 200 characters; the groups claim when omitted.
    pub attribute: Option<String>,
    /// The value it must equal or contain, up to 500 characters.
    pub value: String,
    /// The role given to members it matches.
    pub role: Role,
}

/// A new connection's configuration.
#[derive(InputObject)]
pub struct CreateSsoConnectionInput {
    /// The name members see on the sign-in page, 1 to 200 characters.
    pub name: String,
    /// How members sign in through it; the matching settings (`oidc`, `oauth2` or `saml`) are required.
    pub protocol: SsoProtocol,
    /// The email domains whose members sign in through it, such as `example.com` (1 to 50).
    pub domains: Vec<String>,
    /// Whether members can sign in through it; true by default.
    #[graphql(default = true)]
    pub enabled: bool,
    /// The OpenID Connect settings, for an `OIDC` connection.
    pub oidc: Option<OidcSettingsInput>,
    /// The OAuth 2.0 settings, for an `OAUTH2` connection.
    #[graphql(name = "oauth2")]
    pub oauth2: Option<OAuth2SettingsInput>,
    /// The SAML settings, for a `SAML` connection.
    pub saml: Option<SamlSettingsInput>,
    /// Which claims hold the user's details; the defaults are `sub`, `email`, `name` and `groups`.
    pub attributes: Option<SsoAttributesInput>,
    /// Rules that give roles from the user's claims, applied in order (up to 100); the first that matches wins.
    #[graphql(default)]
    pub role_rules: Vec<SsoRoleRuleInput>,
    /// The role of members no rule matches; viewer by default.
    #[graphql(default_with = "Role::Viewer")]
    pub default_role: Role,
    /// Whether members no rule matches are refused instead of getting the default role; false by default.
    #[graphql(default = false)]
    pub deny_unmatched: bool,
    /// Whether a first sign-in creates the member; true by default.
    #[graphql(default = true)]
    pub jit_provisioning: bool,
}

impl From<CreateSsoConnectionInput> for ConnectionInput {
    fn from(input: CreateSsoConnectionInput) -> Self {
        let defaults = Attributes::default();
        let attributes = match input.attributes {
            Some(a) => Attributes {
                subject: a.subject.unwrap_or(defaults.subject),
                email: a.email.unwrap_or(defaults.email),
                name: a.name.unwrap_or(defaults.name),
                groups: a.groups.unwrap_or(defaults.groups),
            },
            None => defaults,
        };
        ConnectionInput {
            name: input.name,
            protocol: input.protocol.into(),
            domains: input.domains,
            enabled: input.enabled,
            oidc: input.oidc.map(Into::into),
            oauth2: input.oauth2.map(Into::into),
            saml: input.saml.map(Into::into),
            attributes,
            role_rules: input.role_rules.into_iter().map(Into::into).collect(),
            default_role: input.default_role.into(),
            deny_unmatched: input.deny_unmatched,
            jit_provisioning: input.jit_provisioning,
        }
    }
}

impl From<OidcSettingsInput> for OidcInput {
    fn from(o: OidcSettingsInput) -> Self {
        OidcInput {
            issuer: o.issuer,
            client_id: o.client_id,
            client_secret: o.client_secret,
            scopes: o.scopes,
        }
    }
}

impl From<OAuth2SettingsInput> for OAuth2Input {
    fn from(o: OAuth2SettingsInput) -> Self {
        OAuth2Input {
            authorization_url: o.authorization_url,
            token_url: o.token_url,
            userinfo_url: o.userinfo_url,
            client_id: o.client_id,
            client_secret: o.client_secret,
            scopes: o.scopes,
        }
    }
}

impl From<SamlSettingsInput> for SamlInput {
    fn from(s: SamlSettingsInput) -> Self {
        SamlInput {
            metadata_xml: s.metadata_xml,
            metadata_url: s.metadata_url,
            entity_id: s.entity_id,
            sso_url: s.sso_url,
            certificates: s.certificates,
            allow_idp_initiated: s.allow_idp_initiated,
            clock_skew_secs: s.clock_skew_seconds,
        }
    }
}

impl From<SsoRoleRuleInput> for RoleRule {
    fn from(r: SsoRoleRuleInput) -> Self {
        RoleRule {
            attribute: r.attribute,
            value: r.value,
            role: r.role.into(),
        }
    }
}

/// Changes to a connection: absent fields keep their value (the client secret included); a list or a protocol's
/// settings given replace the current ones.
#[derive(InputObject, Default)]
pub struct UpdateSsoConnectionInput {
    /// The name members see on the sign-in page, up to 200 characters.
    pub name: Option<String>,
    /// A new protocol needs that protocol's settings in the same update.
    pub protocol: Option<SsoProtocol>,
    /// The email domains whose members sign in through it (1 to 50); they replace the current ones.
    pub domains: Option<Vec<String>>,
    /// Whether members can sign in through it.
    pub enabled: Option<bool>,
    /// OpenID Connect settings, replacing the current ones; without `clientSecret` the stored secret stays.
    pub oidc: Option<OidcSettingsInput>,
    /// OAuth 2.0 settings, replacing the current ones; without `clientSecret` the stored secret stays.
    #[graphql(name = "oauth2")]
    pub oauth2: Option<OAuth2SettingsInput>,
    /// SAML settings, replacing the current ones (the metadata is read again); absent keeps the stored metadata.
    pub saml: Option<SamlSettingsInput>,
    /// Claim names to change; those not given keep their value.
    pub attributes: Option<SsoAttributesInput>,
    /// The role-mapping rules, in order; they replace the current ones (an empty list removes them).
    pub role_rules: Option<Vec<SsoRoleRuleInput>>,
    /// The role of members no rule matches.
    pub default_role: Option<Role>,
    /// Whether members no rule matches are refused instead of getting the default role.
    pub deny_unmatched: Option<bool>,
    /// Whether a first sign-in creates the member.
    pub jit_provisioning: Option<bool>,
}

impl From<UpdateSsoConnectionInput> for sso::connections::ConnectionPatch {
    fn from(input: UpdateSsoConnectionInput) -> Self {
        let attributes =
            input
                .attributes
                .map_or_else(Default::default, |a| sso::connections::AttributesPatch {
                    subject: a.subject,
                    email: a.email,
                    name: a.name,
                    groups: a.groups,
                });
        Self {
            name: input.name,
            protocol: input.protocol.map(Into::into),
            domains: input.domains,
            enabled: input.enabled,
            oidc: input.oidc.map(Into::into),
            oauth2: input.oauth2.map(Into::into),
            saml: input.saml.map(Into::into),
            attributes,
            role_rules: input
                .role_rules
                .map(|rules| rules.into_iter().map(Into::into).collect()),
            default_role: input.default_role.map(Into::into),
            deny_unmatched: input.deny_unmatched,
            jit_provisioning: input.jit_provisioning,
        }
    }
}
