//! Single sign-on: connections (owners, premium plan, audit-logged), enforcement and the discovery helper.

use async_graphql::{Context, ID, InputObject, Object};
use entities::sso_connection;

use crate::graphql::enums::{Role, SsoProtocol};
use crate::graphql::types::{Organization, Timestamp};
use crate::graphql::{caller, sealer};
use crate::service::identity::sso;
use crate::service::identity::sso::settings::{
    Attributes, ConnectionInput, OAuth2Input, OidcInput, Protocol, RoleRule, SamlInput,
};

/// An identity provider the organization's members sign in through.
pub struct SsoConnection(pub sso_connection::Model);

/// The OpenID Connect settings of a connection (the client secret is write-only).
pub struct OidcSettings(pub sso::settings::OidcSettings);

#[Object]
impl OidcSettings {
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
}

/// The OAuth 2.0 settings of a connection (the client secret is write-only).
pub struct OAuth2Settings(pub sso::settings::OAuth2Settings);

#[Object]
impl OAuth2Settings {
    async fn authorization_url(&self) -> &str {
        &self.0.authorization_url
    }
    async fn token_url(&self) -> &str {
        &self.0.token_url
    }
    async fn userinfo_url(&self) -> &str {
        &self.0.userinfo_url
    }
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
}

/// The SAML settings of a connection, as read from the IdP's metadata.
pub struct SamlSettings(pub sso::settings::SamlSettings);

#[Object]
impl SamlSettings {
    async fn idp_entity_id(&self) -> &str {
        &self.0.idp_entity_id
    }
    async fn sso_url(&self) -> &str {
        &self.0.sso_url
    }
    /// The IdP's signing certificates, base64 DER.
    async fn certificates(&self) -> &[String] {
        &self.0.certificates
    }
    async fn metadata_url(&self) -> Option<&str> {
        self.0.metadata_url.as_deref()
    }
    async fn metadata_fetched_at(&self) -> Option<Timestamp> {
        self.0.metadata_fetched_at.map(Timestamp)
    }
    async fn allow_idp_initiated(&self) -> bool {
        self.0.allow_idp_initiated
    }
    async fn clock_skew_seconds(&self) -> u32 {
        self.0.clock_skew_secs
    }
}

/// Which claim or attribute holds the subject, the email, the name and the groups (for OAuth 2.0, JSON paths
/// into the userinfo answer, such as `data.user.email`).
pub struct SsoAttributes(pub Attributes);

#[Object]
impl SsoAttributes {
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn groups(&self) -> &str {
        &self.0.groups
    }
}

#[Object]
impl SsoConnection {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn protocol(&self) -> async_graphql::Result<SsoProtocol> {
        Ok(sso::settings::protocol(&self.0)?.into())
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The email domains whose members sign in through it.
    async fn domains(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let (db, _) = caller(ctx)?;
        Ok(sso::connections::domains_of(db.conn(), &self.0).await?)
    }
    async fn oidc(&self) -> async_graphql::Result<Option<OidcSettings>> {
        Ok(match sso::settings::protocol(&self.0)? {
            Protocol::Oidc => Some(OidcSettings(sso::settings::oidc_settings(&self.0)?)),
            Protocol::OAuth2 | Protocol::Saml => None,
        })
    }
    async fn oauth2(&self) -> async_graphql::Result<Option<OAuth2Settings>> {
        Ok(match sso::settings::protocol(&self.0)? {
            Protocol::OAuth2 => Some(OAuth2Settings(sso::settings::oauth2_settings(&self.0)?)),
            Protocol::Oidc | Protocol::Saml => None,
        })
    }
    async fn saml(&self) -> async_graphql::Result<Option<SamlSettings>> {
        Ok(match sso::settings::protocol(&self.0)? {
            Protocol::Saml => Some(SamlSettings(sso::settings::saml_settings(&self.0)?)),
            Protocol::Oidc | Protocol::OAuth2 => None,
        })
    }
    /// The SP metadata to give the SAML IdP, relative to the public URL.
    async fn metadata_path(&self) -> Option<String> {
        (self.0.protocol == "saml").then(|| format!("/sso/saml/{}/metadata", self.0.id))
    }
    /// Whether a client secret is stored (it is never shown).
    async fn client_secret_set(&self) -> bool {
        self.0.secret_sealed.is_some()
    }
    async fn attributes(&self) -> SsoAttributes {
        SsoAttributes(sso::settings::attributes(&self.0))
    }
    /// Applied in order; the first that matches gives the role.
    async fn role_rules(&self) -> Vec<SsoRoleRule> {
        sso::settings::role_rules(&self.0)
            .into_iter()
            .map(SsoRoleRule::from)
            .collect()
    }
    async fn default_role(&self) -> async_graphql::Result<Role> {
        Ok(crate::auth::Role::stored(&self.0.default_role)?.into())
    }
    /// Refuse sign-in when no rule matches (instead of the default role).
    async fn deny_unmatched(&self) -> bool {
        self.0.deny_unmatched
    }
    /// Members are created at their first sign-in.
    async fn jit_provisioning(&self) -> bool {
        self.0.jit_provisioning
    }
    /// Where members start signing in (SP-initiated).
    async fn login_path(&self) -> String {
        format!("/sso/{}/{}/login", self.0.protocol, self.0.id)
    }
    /// The redirect URI to register at the identity provider, relative to the public URL.
    async fn callback_path(&self) -> String {
        format!("/sso/{}/{}/callback", self.0.protocol, self.0.id)
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// OpenID Connect settings; without `clientSecret`, an update keeps the stored secret.
#[derive(InputObject)]
pub struct OidcSettingsInput {
    /// The issuer exactly as its discovery document names it (scheme, host, port, path, trailing slash).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Requested besides `openid`; default `email profile groups`.
    #[graphql(default)]
    pub scopes: Vec<String>,
}

/// Claim names (for OAuth 2.0, JSON paths into the userinfo answer); the defaults are `sub`, `email`, `name`
/// and `groups`.
#[derive(InputObject)]
pub struct SsoAttributesInput {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

/// OAuth 2.0 settings (a provider without OpenID Connect); without `clientSecret`, an update keeps the stored
/// secret.
#[derive(InputObject)]
#[graphql(name = "OAuth2SettingsInput")]
pub struct OAuth2SettingsInput {
    pub authorization_url: String,
    pub token_url: String,
    /// Answers JSON about the user for the access token.
    pub userinfo_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    #[graphql(default)]
    pub scopes: Vec<String>,
}

/// SAML settings: the IdP metadata as XML or by URL (fetched now and refreshed hourly), or its entity id,
/// sign-on URL and signing certificates. A connection without a signing certificate is refused.
#[derive(InputObject)]
pub struct SamlSettingsInput {
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub entity_id: Option<String>,
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
    pub attribute: Option<String>,
    pub value: String,
    pub role: Role,
}

/// A connection's whole configuration.
#[derive(InputObject)]
pub struct SsoConnectionInput {
    pub name: String,
    pub protocol: SsoProtocol,
    pub domains: Vec<String>,
    #[graphql(default = true)]
    pub enabled: bool,
    pub oidc: Option<OidcSettingsInput>,
    #[graphql(name = "oauth2")]
    pub oauth2: Option<OAuth2SettingsInput>,
    pub saml: Option<SamlSettingsInput>,
    pub attributes: Option<SsoAttributesInput>,
    #[graphql(default)]
    pub role_rules: Vec<SsoRoleRuleInput>,
    #[graphql(default_with = "Role::Viewer")]
    pub default_role: Role,
    #[graphql(default = false)]
    pub deny_unmatched: bool,
    #[graphql(default = true)]
    pub jit_provisioning: bool,
}

impl From<SsoConnectionInput> for ConnectionInput {
    fn from(input: SsoConnectionInput) -> Self {
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
            oidc: input.oidc.map(|o| OidcInput {
                issuer: o.issuer,
                client_id: o.client_id,
                client_secret: o.client_secret,
                scopes: o.scopes,
            }),
            oauth2: input.oauth2.map(|o| OAuth2Input {
                authorization_url: o.authorization_url,
                token_url: o.token_url,
                userinfo_url: o.userinfo_url,
                client_id: o.client_id,
                client_secret: o.client_secret,
                scopes: o.scopes,
            }),
            saml: input.saml.map(|s| SamlInput {
                metadata_xml: s.metadata_xml,
                metadata_url: s.metadata_url,
                entity_id: s.entity_id,
                sso_url: s.sso_url,
                certificates: s.certificates,
                allow_idp_initiated: s.allow_idp_initiated,
                clock_skew_secs: s.clock_skew_seconds,
            }),
            attributes,
            role_rules: input
                .role_rules
                .into_iter()
                .map(|r| RoleRule {
                    attribute: r.attribute,
                    value: r.value,
                    role: r.role.into(),
                })
                .collect(),
            default_role: input.default_role.into(),
            deny_unmatched: input.deny_unmatched,
            jit_provisioning: input.jit_provisioning,
        }
    }
}

/// One role-mapping rule: members whose `attribute` (the groups claim when unset) equals or contains `value`
/// get `role`. Rules apply in order; the first that matches wins.
#[derive(async_graphql::SimpleObject)]
pub struct SsoRoleRule {
    pub attribute: Option<String>,
    pub value: String,
    pub role: Role,
}

impl From<RoleRule> for SsoRoleRule {
    fn from(rule: RoleRule) -> Self {
        Self {
            attribute: rule.attribute,
            value: rule.value,
            role: rule.role.into(),
        }
    }
}

/// One finding of `testSsoConnection`.
#[derive(async_graphql::SimpleObject)]
pub struct SsoCheck {
    /// `discovery`, `signing_keys`, `endpoints`, `authorization_url`, `token_url`, `userinfo_url` or
    /// `client_secret`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong, in words.
    pub detail: String,
}

impl From<sso::idp::Check> for SsoCheck {
    fn from(check: sso::idp::Check) -> Self {
        Self {
            name: check.name,
            ok: check.ok,
            detail: check.detail,
        }
    }
}

/// What `testSsoConnection` found.
#[derive(async_graphql::SimpleObject)]
pub struct SsoConnectionTest {
    /// Every check passed.
    pub ok: bool,
    pub checks: Vec<SsoCheck>,
}

fn idp<'a>(ctx: &Context<'a>) -> Result<&'a sso::idp::IdpClient, crate::error::ApiError> {
    crate::graphql::shared::<std::sync::Arc<sso::idp::IdpClient>>(ctx).map(|idp| &**idp)
}

#[derive(Default)]
pub struct SsoQuery;

#[Object]
impl SsoQuery {
    /// The organization's SSO connections.
    async fn sso_connections(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<SsoConnection>> {
        let (db, principal) = caller(ctx)?;
        Ok(sso::connections::list(db, principal)
            .await?
            .into_iter()
            .map(SsoConnection)
            .collect())
    }

    async fn sso_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<SsoConnection> {
        let (db, principal) = caller(ctx)?;
        Ok(SsoConnection(
            sso::connections::get(db, principal, &id).await?,
        ))
    }
}

#[derive(Default)]
pub struct SsoMutation;

#[Object]
impl SsoMutation {
    /// Adds an identity provider (owners, premium plan).
    async fn create_sso_connection(
        &self,
        ctx: &Context<'_>,
        input: SsoConnectionInput,
    ) -> async_graphql::Result<SsoConnection> {
        let (db, principal) = caller(ctx)?;
        Ok(SsoConnection(
            sso::connections::create(db, sealer(ctx)?, idp(ctx)?, principal, input.into()).await?,
        ))
    }

    /// Replaces a connection's configuration.
    async fn update_sso_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SsoConnectionInput,
    ) -> async_graphql::Result<SsoConnection> {
        let (db, principal) = caller(ctx)?;
        Ok(SsoConnection(
            sso::connections::update(db, sealer(ctx)?, idp(ctx)?, principal, &id, input.into())
                .await?,
        ))
    }

    /// Checks a connection against its provider (discovery, signing keys, reachable URLs, the stored secret);
    /// changes nothing.
    async fn test_sso_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<SsoConnectionTest> {
        let (db, principal) = caller(ctx)?;
        let checks = sso::diagnostics::test(db, sealer(ctx)?, idp(ctx)?, principal, &id).await?;
        Ok(SsoConnectionTest {
            ok: checks.iter().all(|c| c.ok),
            checks: checks.into_iter().map(SsoCheck::from).collect(),
        })
    }

    async fn delete_sso_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<SsoConnection> {
        let (db, principal) = caller(ctx)?;
        Ok(SsoConnection(
            sso::connections::delete(db, principal, &id).await?,
        ))
    }

    /// When enforced, members sign in only through SSO; password sessions end and API keys keep working.
    async fn set_sso_enforced(
        &self,
        ctx: &Context<'_>,
        enforced: bool,
    ) -> async_graphql::Result<Organization> {
        let (db, principal) = caller(ctx)?;
        Ok(Organization(
            sso::connections::set_enforced(db, principal, enforced).await?,
        ))
    }
}
