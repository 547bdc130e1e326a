//! Single sign-on: connections (owners, premium plan, audit-logged), enforcement and the discovery helper.

mod inputs;

use inputs::{CreateSsoConnectionInput, UpdateSsoConnectionInput};

use async_graphql::{Context, ID, Object};
use entities::sso_connection;

use crate::graphql::enums::{Role, SsoProtocol};
use crate::graphql::members::OrganizationPayload;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::Organization;
use crate::graphql::{caller, found, sealer};
use crate::service::identity::sso;
use crate::service::identity::sso::settings::{Attributes, Protocol, RoleRule};

/// An identity provider the organization's members sign in through.
pub struct SsoConnection(pub sso_connection::Model);

/// The OpenID Connect settings of a connection (the client secret is write-only).
pub struct OidcSettings(pub sso::settings::OidcSettings);

/// The OpenID Connect settings of a connection; the client secret is never shown.
#[Object]
impl OidcSettings {
    /// The provider's issuer, exactly as its discovery document names it.
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// The client id registered at the provider.
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// The scopes requested besides `openid`; empty means `email profile groups`.
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
}

/// The OAuth 2.0 settings of a connection (the client secret is write-only).
pub struct OAuth2Settings(pub sso::settings::OAuth2Settings);

/// The OAuth 2.0 settings of a connection; the client secret is never shown.
#[Object]
impl OAuth2Settings {
    /// The provider's authorization endpoint, where members are sent to sign in.
    async fn authorization_url(&self) -> &str {
        &self.0.authorization_url
    }
    /// The provider's token endpoint, where the authorization code is exchanged for an access token.
    async fn token_url(&self) -> &str {
        &self.0.token_url
    }
    /// The endpoint that answers JSON about the signed-in user for the access token.
    async fn userinfo_url(&self) -> &str {
        &self.0.userinfo_url
    }
    /// The client id registered at the provider.
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// The scopes requested at sign-in.
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
}

/// The SAML settings of a connection, as read from the IdP's metadata.
pub struct SamlSettings(pub sso::settings::SamlSettings);

/// The SAML settings of a connection, as read from the identity provider's metadata.
#[Object]
impl SamlSettings {
    /// The identity provider's entity id.
    async fn idp_entity_id(&self) -> &str {
        &self.0.idp_entity_id
    }
    /// The identity provider's single sign-on URL (HTTP-Redirect binding), where members are sent to sign in.
    async fn sso_url(&self) -> &str {
        &self.0.sso_url
    }
    /// The IdP's signing certificates, base64 DER.
    async fn certificates(&self) -> &[String] {
        &self.0.certificates
    }
    /// Where the metadata is fetched from and refreshed; null when it was given as XML or in parts.
    async fn metadata_url(&self) -> Option<&str> {
        self.0.metadata_url.as_deref()
    }
    /// When the metadata was last fetched from `metadataUrl`; null when it was not given by URL.
    async fn metadata_fetched_at(&self) -> Option<Timestamp> {
        self.0.metadata_fetched_at.map(Timestamp)
    }
    /// Whether sign-ins started at the identity provider, which Concierge did not ask for, are accepted.
    async fn allow_idp_initiated(&self) -> bool {
        self.0.allow_idp_initiated
    }
    /// The clock difference with the identity provider tolerated, in seconds (0 to 600; 60 by default).
    async fn clock_skew_seconds(&self) -> u32 {
        self.0.clock_skew_secs
    }
}

/// Which claim or attribute holds the subject, the email, the name and the groups (for OAuth 2.0, JSON paths
/// into the userinfo answer, such as `data.user.email`).
pub struct SsoAttributes(pub Attributes);

/// Which claim or attribute holds the subject, the email, the name and the groups (for OAuth 2.0, JSON paths into the
/// userinfo answer, such as `data.user.email`).
#[Object]
impl SsoAttributes {
    /// The claim holding the provider's id of the user; `sub` by default. Members are matched by their email
    /// address; this claim is not used to match them yet.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The claim holding the user's email address; `email` by default.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// The claim holding the user's name; `name` by default.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The claim holding the user's groups, which role rules match by default; `groups` by default.
    async fn groups(&self) -> &str {
        &self.0.groups
    }
}

/// An identity provider the organization's members sign in through, by OpenID Connect, OAuth 2.0 or SAML.
#[Object]
impl SsoConnection {
    /// The connection's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The name members see on the sign-in page.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// How members sign in through it.
    async fn protocol(&self) -> async_graphql::Result<SsoProtocol> {
        Ok(sso::settings::protocol(&self.0)?.into())
    }
    /// Whether members can sign in through it.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The email domains whose members sign in through it.
    async fn domains(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let (db, _) = caller(ctx)?;
        Ok(sso::connections::domains_of(db.conn(), &self.0).await?)
    }
    /// The OpenID Connect settings; null for other protocols.
    async fn oidc(&self) -> async_graphql::Result<Option<OidcSettings>> {
        Ok(match sso::settings::protocol(&self.0)? {
            Protocol::Oidc => Some(OidcSettings(sso::settings::oidc_settings(&self.0)?)),
            Protocol::OAuth2 | Protocol::Saml => None,
        })
    }
    /// The OAuth 2.0 settings; null for other protocols.
    async fn oauth2(&self) -> async_graphql::Result<Option<OAuth2Settings>> {
        Ok(match sso::settings::protocol(&self.0)? {
            Protocol::OAuth2 => Some(OAuth2Settings(sso::settings::oauth2_settings(&self.0)?)),
            Protocol::Oidc | Protocol::Saml => None,
        })
    }
    /// The SAML settings; null for other protocols.
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
    /// Which claims or attributes hold the user's details.
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
    /// The role of members no role rule matches (unless `denyUnmatched`).
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
    /// Where the identity provider sends members back, relative to the public URL: the redirect URI to register
    /// for OpenID Connect and OAuth 2.0, the assertion consumer service (ACS) for SAML.
    async fn callback_path(&self) -> String {
        match self.0.protocol.as_str() {
            "saml" => format!("/sso/saml/{}/acs", self.0.id),
            protocol => format!("/sso/{protocol}/{}/callback", self.0.id),
        }
    }
    /// When the connection was added.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the connection last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// One role-mapping rule: members whose `attribute` (the groups claim when unset) equals or contains `value`
/// get `role`. Rules apply in order; the first that matches wins.
#[derive(async_graphql::SimpleObject)]
pub struct SsoRoleRule {
    /// The claim or attribute looked at; null for the groups claim.
    pub attribute: Option<String>,
    /// The value it must equal or contain.
    pub value: String,
    /// The role given to members it matches.
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
    /// What was checked: for OpenID Connect `discovery`, `signing_keys` and `endpoints`; for OAuth 2.0
    /// `authorization_url`, `token_url` and `userinfo_url`; for SAML `metadata`, `sso_url` and each signing
    /// certificate (`certificate[0]`, `certificate[1]`, …); and `client_secret` for both OAuth protocols.
    pub name: String,
    /// Whether the check passed.
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
    /// Every check made, with what it found.
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

    /// One connection by id; null when the organization has none with this id.
    async fn sso_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connection's id.")] id: ID,
    ) -> async_graphql::Result<Option<SsoConnection>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, sso::connections::get(db, principal, &id).await)?.map(SsoConnection))
    }
}

payload_type! {
    /// The result of `createSsoConnection` and `updateSsoConnection`.
    SsoConnectionPayload {
        /// The connection as stored.
        sso_connection: Option<SsoConnection>,
    }
}

payload_type! {
    /// The result of `testSsoConnection`.
    TestSsoConnectionPayload {
        /// What the checks found.
        test: Option<SsoConnectionTest>,
    }
}

payload_type! {
    /// The result of `deleteSsoConnection`.
    DeleteSsoConnectionPayload {
        /// The id of the connection deleted.
        deleted_sso_connection_id: Option<ID>,
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
        #[graphql(desc = "The new connection's configuration.")] input: CreateSsoConnectionInput,
    ) -> async_graphql::Result<Option<SsoConnectionPayload>> {
        let (db, principal) = caller(ctx)?;
        let result =
            sso::connections::create(db, sealer(ctx)?, idp(ctx)?, principal, input.into()).await;
        payload(ctx, result, Args::Input, |c| SsoConnectionPayload {
            sso_connection: Some(SsoConnection(c)),
            ..Default::default()
        })
    }

    /// Changes a connection: what the input leaves out keeps its value.
    async fn update_sso_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connection to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateSsoConnectionInput,
    ) -> async_graphql::Result<Option<SsoConnectionPayload>> {
        let (db, principal) = caller(ctx)?;
        let (sealer, idp) = (sealer(ctx)?, idp(ctx)?);
        let result = sso::connections::update(db, sealer, idp, principal, &id, input.into()).await;
        payload(ctx, result, Args::Input, |c| SsoConnectionPayload {
            sso_connection: Some(SsoConnection(c)),
            ..Default::default()
        })
    }

    /// Checks a connection against its provider (discovery, signing keys, reachable URLs, the stored secret);
    /// changes nothing.
    async fn test_sso_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connection to check.")] id: ID,
    ) -> async_graphql::Result<Option<TestSsoConnectionPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = sso::diagnostics::test(db, sealer(ctx)?, idp(ctx)?, principal, &id).await;
        payload(ctx, result, Args::Top, |checks| TestSsoConnectionPayload {
            test: Some(SsoConnectionTest {
                ok: checks.iter().all(|c| c.ok),
                checks: checks.into_iter().map(SsoCheck::from).collect(),
            }),
            ..Default::default()
        })
    }

    /// Deletes a connection; its members keep their accounts. The last enabled connection cannot go while SSO
    /// is enforced.
    async fn delete_sso_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The connection to delete.")] id: ID,
    ) -> async_graphql::Result<Option<DeleteSsoConnectionPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = sso::connections::delete(db, principal, &id).await;
        payload(ctx, result, Args::Top, |c| DeleteSsoConnectionPayload {
            deleted_sso_connection_id: Some(ID(c.id)),
            ..Default::default()
        })
    }

    /// When enforced, members sign in only through SSO: password sign-in is refused, password sessions stop
    /// working while it lasts, and API keys keep working. While it is enforced, the last enabled connection
    /// cannot be switched off or deleted.
    async fn set_sso_enforced(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whether members must sign in through SSO.")] enforced: bool,
    ) -> async_graphql::Result<Option<OrganizationPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = sso::connections::set_enforced(db, principal, enforced).await;
        payload(ctx, result, Args::Top, |org| OrganizationPayload {
            organization: Some(Organization(org)),
            ..Default::default()
        })
    }
}
