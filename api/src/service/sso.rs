//! Single sign-on: connections (SAML, OpenID Connect, OAuth 2.0) with attribute and role mapping, just-in-time
//! provisioning, enforcement, and the OIDC and OAuth 2.0 sign-in flows from the login redirect to a session
//! (SAML's own steps are in `service::saml`, which shares the request store and the sign-in here).
//!
//! The OIDC flow is the authorization-code flow with PKCE (S256), `state` and `nonce`. The login step stores the
//! request (keyed by the hash of its state, with the nonce and the sealed PKCE verifier, for ten minutes) in
//! the database, so any instance can finish it, and binds it to the browser with a short-lived cookie holding
//! the state. The callback checks that cookie, uses the stored request once, exchanges the code with the
//! verifier, and has `openidconnect` verify the id_token: signature against the provider's current JWKS
//! (discovered afresh at each sign-in, so rotated keys are picked up; `alg: none` is refused), issuer,
//! audience, expiry and nonce. The verified claims then give the email (which must be verified when the
//! provider says so, and in one of the connection's domains), the name and the groups, which the ordered
//! role rules map to a role, re-applied at every sign-in and audit-logged when it changes.

use chrono::{Duration, Utc};
use entities::{organization, sso_connection, sso_domain, sso_request, user};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Origin, Principal, Role, tokens};
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::secrets::Sealer;
use crate::service::audit::{self, AuditActor, Change};
use crate::service::sessions::{self, SessionPolicy, SignedIn};
use crate::service::{members, now, required_text};

/// How long a sign-in may take between the redirect to the provider and the callback.
pub const REQUEST_MINUTES: i64 = 10;
/// The cookie that binds a sign-in under way to the browser that started it.
pub const STATE_COOKIE: &str = "concierge_sso";

/// A connection's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[graphql(name = "SsoProtocol")]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenID Connect: discovery, authorization code with PKCE, id_token verified against the JWKS.
    Oidc,
    /// OAuth 2.0 without OpenID Connect: authorization code with PKCE, then the userinfo endpoint, read with
    /// JSON paths.
    #[graphql(name = "OAUTH2")]
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

    fn stored(value: &str) -> ApiResult<Self> {
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
    /// The subject (the provider's id of the user), recorded with the sign-in.
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::SimpleObject)]
#[graphql(name = "SsoRoleRule")]
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

/// The email domains a connection serves, sorted.
pub async fn domains_of(
    conn: &impl ConnectionTrait,
    model: &sso_connection::Model,
) -> ApiResult<Vec<String>> {
    Ok(sso_domain::Entity::find()
        .filter(sso_domain::Column::ConnectionId.eq(&model.id))
        .order_by_asc(sso_domain::Column::Domain)
        .all(conn)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect())
}

fn secret_context(connection_id: &str) -> String {
    format!("sso_connection:{connection_id}:client_secret")
}

fn verifier_context(request_id: &str) -> String {
    format!("sso_request:{request_id}:pkce_verifier")
}

/// Checks an input; answers the normalized domains.
fn validate(input: &ConnectionInput, egress_allow: Option<&str>) -> ApiResult<Vec<String>> {
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

/// The organization's connections, oldest first.
pub async fn list(db: &Db, principal: &Principal) -> ApiResult<Vec<sso_connection::Model>> {
    let grant = authorize(principal, Resource::Sso, Action::Read).await?;
    Ok(sso_connection::Entity::find()
        .filter(sso_connection::Column::OrganizationId.eq(grant.organization_id()))
        .order_by_asc(sso_connection::Column::Id)
        .all(db.conn())
        .await?)
}

/// One connection of the organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<sso_connection::Model> {
    let grant = authorize(principal, Resource::Sso, Action::Read).await?;
    find(db.conn(), grant.organization_id(), id).await
}

async fn find(
    conn: &impl ConnectionTrait,
    org: &str,
    id: &str,
) -> ApiResult<sso_connection::Model> {
    let id = ids::lookup(Kind::SsoConnection, id)?;
    sso_connection::Entity::find_by_id(id.to_owned())
        .filter(sso_connection::Column::OrganizationId.eq(org))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("SSO connection", id))
}

/// What the audit log records of a connection (never its secret).
fn summary(model: &sso_connection::Model, domains: &[String]) -> Value {
    json!({
        "id": model.id,
        "name": model.name,
        "protocol": model.protocol,
        "enabled": model.enabled,
        "domains": domains,
        "settings": model.settings,
        "attributes": model.attributes,
        "role_rules": model.role_rules,
        "default_role": model.default_role,
        "deny_unmatched": model.deny_unmatched,
        "jit_provisioning": model.jit_provisioning,
        "secret_set": model.secret_sealed.is_some(),
    })
}

/// Replaces the domains of a connection; a domain another connection serves is a conflict.
async fn store_domains(
    conn: &impl ConnectionTrait,
    model: &sso_connection::Model,
    domains: &[String],
) -> ApiResult<()> {
    sso_domain::Entity::delete_many()
        .filter(sso_domain::Column::ConnectionId.eq(&model.id))
        .exec(conn)
        .await?;
    for domain in domains {
        if let Some(taken) = sso_domain::Entity::find_by_id(domain.clone())
            .one(conn)
            .await?
        {
            return Err(ApiError::Conflict(format!(
                "the domain {domain} is already served by {}",
                if taken.organization_id == model.organization_id {
                    format!("the connection {}", taken.connection_id)
                } else {
                    "another organization's connection".to_owned()
                }
            )));
        }
        sso_domain::ActiveModel {
            domain: Set(domain.clone()),
            connection_id: Set(model.id.clone()),
            organization_id: Set(model.organization_id.clone()),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Creates a connection (owners, premium plan); its client secret is sealed.
pub async fn create(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    principal: &Principal,
    input: ConnectionInput,
) -> ApiResult<sso_connection::Model> {
    let egress_allow = idp.egress_allow.as_deref();
    let grant = authorize(principal, Resource::Sso, Action::Write).await?;
    let domains = validate(&input, egress_allow)?;
    let id = new_id(Kind::SsoConnection);
    let saml = resolve_saml(idp, &input).await?;
    let (settings, secret) = protocol_parts(&input, sealer, &id, None, saml)?;
    if input.protocol != Protocol::Saml && secret.is_none() {
        return Err(ApiError::validation(
            &format!("{}.client_secret", input.protocol.as_str()),
            "is required for a new connection",
        ));
    }
    let at = now();
    let txn = db.begin_write().await?;
    let model = sso_connection::ActiveModel {
        id: Set(id),
        organization_id: Set(grant.organization_id().to_owned()),
        name: Set(input.name.trim().to_owned()),
        protocol: Set(input.protocol.as_str().to_owned()),
        enabled: Set(input.enabled),
        settings: Set(settings),
        secret_sealed: Set(secret),
        attributes: Set(json!(input.attributes)),
        role_rules: Set(json!(input.role_rules)),
        default_role: Set(input.default_role.as_str().to_owned()),
        deny_unmatched: Set(input.deny_unmatched),
        jit_provisioning: Set(input.jit_provisioning),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*txn)
    .await?;
    store_domains(&*txn, &model, &domains).await?;
    audit::record(
        &*txn,
        principal,
        "sso_connection.created",
        ("sso_connection", &model.id),
        None,
        Some(summary(&model, &domains)),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// The SAML settings of a SAML connection's input, read from its metadata (which may be fetched).
async fn resolve_saml(idp: &IdpClient, input: &ConnectionInput) -> ApiResult<Option<SamlSettings>> {
    match input.protocol {
        Protocol::Saml => Ok(Some(
            crate::service::saml::resolve(idp, input.saml.as_ref()).await?,
        )),
        Protocol::Oidc | Protocol::OAuth2 => Ok(None),
    }
}

/// The protocol settings to store and the sealed secret (the stored one when the input gives none).
fn protocol_parts(
    input: &ConnectionInput,
    sealer: &Sealer,
    id: &str,
    stored_secret: Option<String>,
    saml: Option<SamlSettings>,
) -> ApiResult<(Value, Option<String>)> {
    // A new secret is sealed; without one the stored one stays.
    let seal = |given: &Option<String>| match given {
        Some(secret) => sealer.seal(secret, &secret_context(id)).map(Some),
        None => Ok(stored_secret.clone()),
    };
    match input.protocol {
        Protocol::Saml => {
            let saml = saml.ok_or_else(|| ApiError::internal_msg("SAML settings not resolved"))?;
            Ok((json!(saml), None))
        }
        Protocol::Oidc => {
            let oidc = input.oidc.as_ref().ok_or_else(|| {
                ApiError::validation("oidc", "an OIDC connection needs its settings")
            })?;
            let settings = OidcSettings {
                issuer: oidc.issuer.trim().to_owned(),
                client_id: oidc.client_id.trim().to_owned(),
                scopes: oidc.scopes.clone(),
            };
            Ok((json!(settings), seal(&oidc.client_secret)?))
        }
        Protocol::OAuth2 => {
            let oauth2 = input.oauth2.as_ref().ok_or_else(|| {
                ApiError::validation("oauth2", "an OAuth 2.0 connection needs its settings")
            })?;
            let settings = OAuth2Settings {
                authorization_url: oauth2.authorization_url.trim().to_owned(),
                token_url: oauth2.token_url.trim().to_owned(),
                userinfo_url: oauth2.userinfo_url.trim().to_owned(),
                client_id: oauth2.client_id.trim().to_owned(),
                scopes: oauth2.scopes.clone(),
            };
            Ok((json!(settings), seal(&oauth2.client_secret)?))
        }
    }
}

/// Replaces a connection's settings (owners); without a new client secret the stored one stays.
pub async fn update(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    principal: &Principal,
    id: &str,
    input: ConnectionInput,
) -> ApiResult<sso_connection::Model> {
    let egress_allow = idp.egress_allow.as_deref();
    let grant = authorize(principal, Resource::Sso, Action::Write).await?;
    let domains = validate(&input, egress_allow)?;
    // Fetched before the write transaction, which a slow IdP would otherwise hold open.
    let saml = resolve_saml(idp, &input).await?;
    let txn = db.begin_write().await?;
    let before = find(&*txn, grant.organization_id(), id).await?;
    let before_domains = domains_of(&*txn, &before).await?;
    let (settings, secret) = protocol_parts(
        &input,
        sealer,
        &before.id,
        before.secret_sealed.clone(),
        saml,
    )?;
    let mut active = before.clone().into_active_model();
    active.name = Set(input.name.trim().to_owned());
    active.protocol = Set(input.protocol.as_str().to_owned());
    active.enabled = Set(input.enabled);
    active.settings = Set(settings);
    active.secret_sealed = Set(secret);
    active.attributes = Set(json!(input.attributes));
    active.role_rules = Set(json!(input.role_rules));
    active.default_role = Set(input.default_role.as_str().to_owned());
    active.deny_unmatched = Set(input.deny_unmatched);
    active.jit_provisioning = Set(input.jit_provisioning);
    active.updated_at = Set(now());
    let model = active.update(&*txn).await?;
    store_domains(&*txn, &model, &domains).await?;
    audit::record(
        &*txn,
        principal,
        "sso_connection.updated",
        ("sso_connection", &model.id),
        Some(summary(&before, &before_domains)),
        Some(summary(&model, &domains)),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Deletes a connection; the last enabled one cannot go while SSO is enforced.
pub async fn delete(db: &Db, principal: &Principal, id: &str) -> ApiResult<sso_connection::Model> {
    let grant = authorize(principal, Resource::Sso, Action::Delete).await?;
    let org = grant.organization_id();
    let txn = db.begin_write().await?;
    let model = find(&*txn, org, id).await?;
    let organization = organization::Entity::find_by_id(org.to_owned())
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", org))?;
    if organization.sso_enforced && enabled_count(&*txn, org).await? <= u64::from(model.enabled) {
        return Err(ApiError::Conflict(
            "SSO is enforced and this is the last enabled connection: stop enforcing SSO first"
                .to_owned(),
        ));
    }
    sso_connection::Entity::delete_by_id(model.id.clone())
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        principal,
        "sso_connection.deleted",
        ("sso_connection", &model.id),
        Some(summary(&model, &[])),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

async fn enabled_count(conn: &impl ConnectionTrait, org: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(sso_connection::Entity::find()
        .filter(sso_connection::Column::OrganizationId.eq(org))
        .filter(sso_connection::Column::Enabled.eq(true))
        .count(conn)
        .await?)
}

/// Turns SSO enforcement on or off (owners): when on, members sign in only through SSO, password sessions stop
/// working, and API keys keep working. Turning it on needs an enabled connection.
pub async fn set_enforced(
    db: &Db,
    principal: &Principal,
    enforced: bool,
) -> ApiResult<organization::Model> {
    let grant = authorize(principal, Resource::Sso, Action::Write).await?;
    let org = grant.organization_id();
    let txn = db.begin_write().await?;
    if enforced && enabled_count(&*txn, org).await? == 0 {
        return Err(ApiError::Conflict(
            "SSO cannot be enforced without an enabled SSO connection".to_owned(),
        ));
    }
    let before = organization::Entity::find_by_id(org.to_owned())
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", org))?;
    if before.sso_enforced == enforced {
        return Ok(before);
    }
    let mut active = before.into_active_model();
    active.sso_enforced = Set(enforced);
    active.updated_at = Set(now());
    let after = active.update(&*txn).await?;
    audit::record(
        &*txn,
        principal,
        "organization.sso_enforced",
        ("organization", org),
        Some(json!({"sso_enforced": !enforced})),
        Some(json!({"sso_enforced": enforced})),
    )
    .await?;
    txn.announce_access_change(org);
    txn.commit().await?;
    Ok(after)
}

/// The enabled connection that serves an email's domain (the discovery helper), if any.
pub async fn lookup(db: &Db, email: &str) -> ApiResult<Option<sso_connection::Model>> {
    let email = crate::service::organizations::validate_email("email", email)?;
    let Some((_, domain)) = email.rsplit_once('@') else {
        return Ok(None);
    };
    let Some(row) = sso_domain::Entity::find_by_id(domain.to_ascii_lowercase())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    Ok(sso_connection::Entity::find_by_id(row.connection_id)
        .filter(sso_connection::Column::Enabled.eq(true))
        .one(db.conn())
        .await?)
}

/// A same-origin path to return to after sign-in; anything else is refused.
pub fn validate_return_to(value: Option<&str>) -> ApiResult<String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok("/".to_owned());
    };
    let same_origin = value.starts_with('/')
        && !value.starts_with("//")
        && !value.starts_with("/\\")
        && !value.chars().any(|c| c.is_control() || c == '\\')
        && value.len() <= 2_000;
    if same_origin {
        Ok(value.to_owned())
    } else {
        Err(ApiError::validation(
            "return_to",
            "must be a path on this server, like /conversations",
        ))
    }
}

/// The HTTP client for identity providers: no redirects, the SSRF guard on every connection.
#[derive(Clone, Debug)]
pub struct IdpClient {
    pub(crate) http: openidconnect::reqwest::Client,
    pub(crate) egress_allow: Option<String>,
}

impl IdpClient {
    pub fn new(egress_allow: Option<String>) -> anyhow::Result<Self> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .user_agent(concat!("Concierge/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .dns_resolver(egress::guarded_resolver(egress_allow.clone()))
            .build()?;
        Ok(Self { http, egress_allow })
    }

    /// `url`, when the SSRF guard lets it be called (the resolver checks names again once resolved).
    pub(crate) fn guard(&self, url: &str) -> Result<url::Url, String> {
        egress::check_outbound(url, self.egress_allow.as_deref())
    }

    /// The provider's discovery document (with its current JWKS).
    async fn discover(&self, issuer: &str) -> Result<CoreProviderMetadata, String> {
        self.guard(issuer)?;
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("bad issuer URL: {e}"))?;
        CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| format!("discovery of {issuer} failed: {}", chain(&e)))
    }
}

/// An error with its causes, for the readable sign-in errors.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One finding of `testSsoConnection`.
#[derive(Clone, Debug, PartialEq, Eq, async_graphql::SimpleObject)]
#[graphql(name = "SsoCheck")]
pub struct Check {
    /// `discovery`, `signing_keys`, `endpoints`, `authorization_url`, `token_url`, `userinfo_url` or
    /// `client_secret`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong, in words.
    pub detail: String,
}

impl Check {
    fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        }
    }
}

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
            checks.extend(crate::service::saml::test(idp, &saml_settings(&connection)?).await);
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
async fn reachable(idp: &IdpClient, name: &str, url: &str, method: &str) -> Check {
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

/// Where to send the browser to sign in, and the state to keep in its cookie.
#[derive(Debug)]
pub struct Redirect {
    pub url: String,
    pub state: String,
}

/// The enabled connection `id` of `protocol` (the path segment of the login and callback URLs).
pub(crate) async fn connection_for(
    db: &Db,
    protocol: &str,
    id: &str,
) -> ApiResult<sso_connection::Model> {
    let id = ids::lookup(Kind::SsoConnection, id)?;
    sso_connection::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?
        .filter(|c| c.enabled && c.protocol == protocol)
        .ok_or_else(|| ApiError::not_found("SSO connection", id))
}

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
        return crate::service::saml::begin(db, &connection, redirect_uri, return_to).await;
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

type OAuth2Client = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_client(
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

/// The connection's client secret, opened.
fn client_secret(sealer: &Sealer, connection: &sso_connection::Model) -> ApiResult<Option<String>> {
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

/// `openid` is implied; then the configured scopes, or `email profile groups`.
fn default_scopes(settings: &OidcSettings) -> Vec<String> {
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

type OidcClient = openidconnect::Client<
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

async fn oidc_client(
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

/// Why an SSO sign-in was refused: shown on the error page and recorded in the audit log.
#[derive(Debug)]
pub struct Refusal {
    pub status: axum::http::StatusCode,
    pub reason: String,
    /// The organization to audit it in, when known.
    pub organization_id: Option<String>,
}

impl Refusal {
    pub(crate) fn new(
        status: axum::http::StatusCode,
        reason: impl Into<String>,
        org: Option<&str>,
    ) -> Self {
        Self {
            status,
            reason: reason.into(),
            organization_id: org.map(str::to_owned),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Self {
        Self::new(err.status(), err.public_message(), None)
    }
}

/// What a finished sign-in gives: the session, and where to go.
#[derive(Debug)]
pub struct Finished {
    pub signed_in: SignedIn,
    pub return_to: String,
}

/// The callback's query.
#[derive(Clone, Debug, Default, Deserialize)]
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
) -> Result<Finished, Refusal> {
    use axum::http::StatusCode;
    let unauthorized =
        |reason: &str, org: Option<&str>| Refusal::new(StatusCode::UNAUTHORIZED, reason, org);
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
            return Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "SAML responses are posted to the ACS",
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
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "the callback lacks its code or state",
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
            return Err(Refusal::from(ApiError::internal_msg(
                "SAML finishes at the ACS",
            )));
        }
    };
    let signed_in = sign_in(db, policy, &connection, &claims, origin).await?;
    Ok(Finished {
        signed_in,
        return_to: request.return_to,
    })
}

/// The sign-in request that `state` stands for, used once: it must have been started in this browser (whose
/// state cookie says `cookie_state`) through `connection`, and not too long ago. `what` names the state in the
/// refusal (`state`, `RelayState`).
pub(crate) async fn take_request(
    db: &Db,
    connection: &sso_connection::Model,
    state: &str,
    cookie_state: Option<&str>,
    what: &str,
) -> Result<sso_request::Model, Refusal> {
    let unauthorized = |reason: String| {
        Refusal::new(
            axum::http::StatusCode::UNAUTHORIZED,
            reason,
            Some(&connection.organization_id),
        )
    };
    if cookie_state != Some(state) {
        return Err(unauthorized(format!(
            "this sign-in was not started in this browser ({what} mismatch): start again"
        )));
    }
    let request_id = tokens::hash(state);
    // Used once: whoever deletes the row owns the request.
    let request = sso_request::Entity::find_by_id(request_id.clone())
        .one(db.conn())
        .await
        .map_err(ApiError::from)?
        .filter(|r| r.connection_id == connection.id);
    let deleted = sso_request::Entity::delete_by_id(request_id)
        .exec(db.conn())
        .await
        .map_err(ApiError::from)?;
    let Some(request) = request.filter(|_| deleted.rows_affected == 1) else {
        return Err(unauthorized(
            "unknown or already used sign-in request: start again".to_owned(),
        ));
    };
    if request.expires_at <= Utc::now() {
        return Err(unauthorized(
            "the sign-in took too long: start again".to_owned(),
        ));
    }
    Ok(request)
}

/// The verified id_token's claims of an OIDC sign-in.
async fn oidc_claims(
    sealer: &Sealer,
    idp: &IdpClient,
    connection: &sso_connection::Model,
    redirect_uri: &str,
    code: &str,
    verifier: String,
    request: &sso_request::Model,
) -> Result<Value, Refusal> {
    use axum::http::StatusCode;
    let org = Some(connection.organization_id.as_str());
    let unauthorized =
        |reason: &str, org: Option<&str>| Refusal::new(StatusCode::UNAUTHORIZED, reason, org);
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

/// The userinfo answer of an OAuth 2.0 sign-in, for the access token the code is exchanged for.
async fn oauth2_claims(
    sealer: &Sealer,
    idp: &IdpClient,
    connection: &sso_connection::Model,
    redirect_uri: &str,
    code: &str,
    verifier: String,
) -> Result<Value, Refusal> {
    use axum::http::StatusCode;
    use oauth2::TokenResponse as _;
    let org = Some(connection.organization_id.as_str());
    let unauthorized = |reason: String| Refusal::new(StatusCode::UNAUTHORIZED, reason, org);
    let settings = oauth2_settings(connection)?;
    let client = oauth2_client(sealer, connection, &settings, redirect_uri)?;
    let tokens = client
        .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier))
        .request_async(&idp.http)
        .await
        .map_err(|e| unauthorized(format!("the code exchange failed: {}", chain(&e))))?;
    idp.guard(&settings.userinfo_url).map_err(|reason| {
        Refusal::from(ApiError::BadGateway(format!("the userinfo URL: {reason}")))
    })?;
    let response = idp
        .http
        .get(&settings.userinfo_url)
        .bearer_auth(tokens.access_token().secret())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            Refusal::from(ApiError::BadGateway(format!(
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

/// The JSON payload of a compact JWT (already verified by the caller).
fn payload(jwt: &str) -> Option<Value> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The value at a JSON path: a claim name, or dotted keys and array indexes (`data.user.email`,
/// `$.emails.0.value`).
fn at_path<'v>(claims: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(direct) = claims.get(path) {
        return Some(direct);
    }
    let path = path.strip_prefix("$.").unwrap_or(path);
    path.split('.')
        .try_fold(claims, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// The string values of a claim (or JSON path): a string, or the strings of an array.
fn claim_values(claims: &Value, name: &str) -> Vec<String> {
    match at_path(claims, name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// The role the rules give these claims: the first matching rule, else the default, unless unmatched sign-ins
/// are refused.
pub fn map_role(
    rules: &[RoleRule],
    default_role: Role,
    deny_unmatched: bool,
    groups_attribute: &str,
    claims: &Value,
) -> Option<Role> {
    rules
        .iter()
        .find(|rule| {
            claim_values(
                claims,
                rule.attribute.as_deref().unwrap_or(groups_attribute),
            )
            .contains(&rule.value)
        })
        .map(|rule| rule.role)
        .or((!deny_unmatched).then_some(default_role))
}

/// Maps verified claims to a member (created just in time, or found with its role re-applied) and opens a
/// session; every refusal and role change is audit-logged.
pub(crate) async fn sign_in(
    db: &Db,
    policy: SessionPolicy,
    connection: &sso_connection::Model,
    claims: &Value,
    origin: &Origin,
) -> Result<SignedIn, Refusal> {
    use axum::http::StatusCode;
    let org = connection.organization_id.as_str();
    let names = attributes(connection);
    let refuse = |status, reason: String| Refusal::new(status, reason, Some(org));
    let email = claim_values(claims, &names.email)
        .into_iter()
        .next()
        .ok_or_else(|| {
            refuse(
                StatusCode::FORBIDDEN,
                format!("the identity provider sent no {} claim", names.email),
            )
        })?;
    let email = crate::service::organizations::validate_email("email", &email)
        .map_err(|e| refuse(StatusCode::FORBIDDEN, e.public_message()))?;
    if claims.get("email_verified") == Some(&Value::Bool(false)) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("the identity provider has not verified {email}"),
        ));
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let served = sso_domain::Entity::find_by_id(domain.to_owned())
        .one(db.conn())
        .await
        .map_err(ApiError::from)?
        .is_some_and(|d| d.connection_id == connection.id);
    if !served {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("{email} is not in a domain this connection serves"),
        ));
    }
    let name = claim_values(claims, &names.name).into_iter().next();
    let default_role = Role::stored(&connection.default_role)?;
    let Some(role) = map_role(
        &role_rules(connection),
        default_role,
        connection.deny_unmatched,
        &names.groups,
        claims,
    ) else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "no role rule of this connection matches {email}, and it refuses unmatched members"
            ),
        ));
    };
    let txn = db.begin_write().await.map_err(ApiError::from)?;
    let existing = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(org))
        .filter(user::Column::Email.eq(&email))
        .one(&*txn)
        .await
        .map_err(ApiError::from)?;
    let (member, provisioned, changed) = match existing {
        Some(member) if !member.active => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("{email} was deactivated in this organization"),
            ));
        }
        Some(member) => {
            let (member, before) = members::apply_mapped_role(&*txn, member, role).await?;
            (member, false, before)
        }
        None if connection.jit_provisioning => {
            let member = members::provision(&*txn, org, &email, name.clone(), role).await?;
            (member, true, None)
        }
        None => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "{email} is not a member of this organization, and this connection does not create members: ask an admin to invite you"
                ),
            ));
        }
    };
    let actor = AuditActor::SigningIn {
        user_id: &member.id,
        origin,
    };
    if provisioned {
        audit::append(
            &*txn,
            org,
            actor,
            Change {
                action: "member.provisioned",
                target_type: "member",
                target_id: Some(&member.id),
                before: None,
                after: Some(json!({"email": member.email, "role": member.role, "sso_connection_id": connection.id})),
            },
        )
        .await?;
    }
    if let Some(before) = changed {
        audit::append(
            &*txn,
            org,
            AuditActor::SigningIn {
                user_id: &member.id,
                origin,
            },
            Change {
                action: "member.role_changed",
                target_type: "member",
                target_id: Some(&member.id),
                before: Some(json!({"role": before})),
                after: Some(
                    json!({"role": member.role, "via": "sso", "sso_connection_id": connection.id}),
                ),
            },
        )
        .await?;
    }
    let (token, session) = sessions::open_session(
        &*txn,
        &member,
        policy,
        connection.protocol.as_str(),
        Some(&connection.id),
        origin,
    )
    .await?;
    let mut active = member.into_active_model();
    active.last_login_at = Set(Some(session.created_at));
    let member = active.update(&*txn).await.map_err(ApiError::from)?;
    audit::append(
        &*txn,
        org,
        AuditActor::SigningIn {
            user_id: &member.id,
            origin,
        },
        Change {
            action: "member.login",
            target_type: "member",
            target_id: Some(&member.id),
            before: None,
            after: Some(json!({"outcome": "success", "method": connection.protocol, "sso_connection_id": connection.id, "session_id": session.id})),
        },
    )
    .await?;
    txn.announce_access_change(org);
    txn.commit().await.map_err(ApiError::from)?;
    Ok(SignedIn {
        csrf_token: sessions::csrf_token(&token),
        token,
        session,
        member,
    })
}

/// Records a refused SSO sign-in in the organization's audit log.
pub async fn record_refusal(db: &Db, connection_id: &str, refusal: &Refusal, origin: &Origin) {
    let Some(org) = &refusal.organization_id else {
        return;
    };
    let result = async {
        let txn = db.begin_write().await?;
        audit::append(
            &*txn,
            org,
            AuditActor::Anonymous { origin },
            Change {
                action: "member.sso_failed",
                target_type: "sso_connection",
                target_id: Some(connection_id),
                before: None,
                after: Some(json!({"reason": refusal.reason})),
            },
        )
        .await?;
        txn.commit().await?;
        Ok::<(), ApiError>(())
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(error = ?err, "could not audit a refused SSO sign-in");
    }
}

/// The protocol of a stored connection.
pub fn protocol(model: &sso_connection::Model) -> ApiResult<Protocol> {
    Protocol::stored(&model.protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_reach_nested_claims_and_array_items() {
        let claims = json!({
            "sub": "42",
            "data": {"user": {"email": "ann@corp.test", "teams": ["support", "billing"]}},
            "emails": [{"value": "first@corp.test"}],
            "dotted.name": "kept",
        });
        assert_eq!(claim_values(&claims, "sub"), ["42"]);
        assert_eq!(claim_values(&claims, "data.user.email"), ["ann@corp.test"]);
        assert_eq!(
            claim_values(&claims, "$.emails.0.value"),
            ["first@corp.test"]
        );
        assert_eq!(
            claim_values(&claims, "data.user.teams"),
            ["support", "billing"]
        );
        assert_eq!(claim_values(&claims, "dotted.name"), ["kept"]);
        assert!(claim_values(&claims, "data.missing.email").is_empty());
    }

    #[test]
    fn the_first_matching_rule_gives_the_role_then_the_default_or_a_refusal() {
        let rules = vec![
            RoleRule {
                attribute: None,
                value: "admins".to_owned(),
                role: Role::Admin,
            },
            RoleRule {
                attribute: Some("department".to_owned()),
                value: "support".to_owned(),
                role: Role::Agent,
            },
            RoleRule {
                attribute: None,
                value: "everyone".to_owned(),
                role: Role::Analyst,
            },
        ];
        let role = |claims: Value, deny| map_role(&rules, Role::Viewer, deny, "groups", &claims);
        assert_eq!(
            role(json!({"groups": ["everyone", "admins"]}), false),
            Some(Role::Admin)
        );
        assert_eq!(
            role(
                json!({"groups": ["everyone"], "department": "support"}),
                false
            ),
            Some(Role::Agent)
        );
        assert_eq!(
            role(json!({"groups": "everyone"}), false),
            Some(Role::Analyst)
        );
        assert_eq!(role(json!({"groups": []}), false), Some(Role::Viewer));
        assert_eq!(role(json!({}), true), None);
    }

    #[test]
    fn only_same_origin_paths_are_return_paths() {
        assert_eq!(validate_return_to(None).unwrap(), "/");
        assert_eq!(
            validate_return_to(Some("/inbox?x=1")).unwrap(),
            "/inbox?x=1"
        );
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "inbox",
            "/a\nb",
        ] {
            assert!(validate_return_to(Some(bad)).is_err(), "{bad}");
        }
    }
}
