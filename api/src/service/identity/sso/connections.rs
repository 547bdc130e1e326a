//! SSO connections: created, updated, deleted and listed by owners (premium, audited), their domains, enforcement, discovery.

use entities::{organization, sso_connection, sso_domain};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

use crate::auth::{Principal, Role};
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::secrets::Sealer;
use crate::service::audit;
use crate::service::audit::AuditAction;
use crate::service::now;

use crate::service::identity::sso::idp::IdpClient;
use crate::service::identity::sso::saml;
use crate::service::identity::sso::settings::{
    Attributes, ConnectionInput, OAuth2Input, OAuth2Settings, OidcInput, OidcSettings, Protocol,
    RoleRule, SamlInput, SamlSettings, attributes, oauth2_settings, oidc_settings, protocol,
    role_rules, saml_settings, secret_context,
};
use crate::service::identity::sso::validation::validate;

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

pub(crate) async fn find(
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
pub(crate) fn summary(model: &sso_connection::Model, domains: &[String]) -> Value {
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
pub(crate) async fn store_domains(
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
            return Err(ApiError::ConflictOn {
                field: "domains".to_owned(),
                message: format!(
                    "the domain {domain} is already served by {}",
                    if taken.organization_id == model.organization_id {
                        format!("the connection {}", taken.connection_id)
                    } else {
                        "another organization's connection".to_owned()
                    }
                ),
            });
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
        AuditAction::SsoConnectionCreated,
        ("sso_connection", &model.id),
        None,
        Some(summary(&model, &domains)),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// The SAML settings of a SAML connection's input, read from its metadata (which may be fetched).
pub(crate) async fn resolve_saml(
    idp: &IdpClient,
    input: &ConnectionInput,
) -> ApiResult<Option<SamlSettings>> {
    match input.protocol {
        Protocol::Saml => Ok(Some(saml::resolve(idp, input.saml.as_ref()).await?)),
        Protocol::Oidc | Protocol::OAuth2 => Ok(None),
    }
}

/// The protocol settings to store and the sealed secret (the stored one when the input gives none).
pub(crate) fn protocol_parts(
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

/// Changes to a connection: `None` keeps the stored value; a list given replaces the stored one.
#[derive(Clone, Debug, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub protocol: Option<Protocol>,
    pub domains: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// Required when the protocol changes to OIDC; otherwise absent keeps the stored settings.
    pub oidc: Option<OidcInput>,
    pub oauth2: Option<OAuth2Input>,
    /// Given, the metadata is read again (fetched when by URL); absent keeps the stored metadata.
    pub saml: Option<SamlInput>,
    pub attributes: AttributesPatch,
    pub role_rules: Option<Vec<RoleRule>>,
    pub default_role: Option<Role>,
    pub deny_unmatched: Option<bool>,
    pub jit_provisioning: Option<bool>,
}

/// Claim names to change; `None` keeps the stored one.
#[derive(Clone, Debug, Default)]
pub struct AttributesPatch {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

/// The stored connection with the patch applied, as a whole input; the stored SAML settings when they stay.
fn patched(
    stored: &sso_connection::Model,
    stored_domains: Vec<String>,
    patch: ConnectionPatch,
) -> ApiResult<(ConnectionInput, Option<SamlSettings>)> {
    let stored_protocol = protocol(stored)?;
    let protocol = patch.protocol.unwrap_or(stored_protocol);
    let kept = |p: Protocol| protocol == p && stored_protocol == p;
    let oidc = match patch.oidc {
        Some(given) => Some(given),
        None if kept(Protocol::Oidc) => {
            let s = oidc_settings(stored)?;
            Some(OidcInput {
                issuer: s.issuer,
                client_id: s.client_id,
                client_secret: None,
                scopes: s.scopes,
            })
        }
        None => None,
    };
    let oauth2 = match patch.oauth2 {
        Some(given) => Some(given),
        None if kept(Protocol::OAuth2) => {
            let s = oauth2_settings(stored)?;
            Some(OAuth2Input {
                authorization_url: s.authorization_url,
                token_url: s.token_url,
                userinfo_url: s.userinfo_url,
                client_id: s.client_id,
                client_secret: None,
                scopes: s.scopes,
            })
        }
        None => None,
    };
    let kept_saml = match patch.saml {
        None if kept(Protocol::Saml) => Some(saml_settings(stored)?),
        _ => None,
    };
    let current = attributes(stored);
    let a = patch.attributes;
    let input = ConnectionInput {
        name: patch.name.unwrap_or_else(|| stored.name.clone()),
        protocol,
        domains: patch.domains.unwrap_or(stored_domains),
        enabled: patch.enabled.unwrap_or(stored.enabled),
        oidc,
        oauth2,
        saml: patch.saml,
        attributes: Attributes {
            subject: a.subject.unwrap_or(current.subject),
            email: a.email.unwrap_or(current.email),
            name: a.name.unwrap_or(current.name),
            groups: a.groups.unwrap_or(current.groups),
        },
        role_rules: patch.role_rules.unwrap_or_else(|| role_rules(stored)),
        default_role: match patch.default_role {
            Some(role) => role,
            None => Role::stored(&stored.default_role)?,
        },
        deny_unmatched: patch.deny_unmatched.unwrap_or(stored.deny_unmatched),
        jit_provisioning: patch.jit_provisioning.unwrap_or(stored.jit_provisioning),
    };
    Ok((input, kept_saml))
}

/// Changes a connection (owners): what the patch leaves out keeps its stored value, the client secret included.
/// While SSO is enforced, the last enabled connection cannot be switched off.
pub async fn update(
    db: &Db,
    sealer: &Sealer,
    idp: &IdpClient,
    principal: &Principal,
    id: &str,
    patch: ConnectionPatch,
) -> ApiResult<sso_connection::Model> {
    let egress_allow = idp.egress_allow.as_deref();
    let grant = authorize(principal, Resource::Sso, Action::Write).await?;
    let stored = find(db.conn(), grant.organization_id(), id).await?;
    let stored_domains = domains_of(db.conn(), &stored).await?;
    let (input, kept_saml) = patched(&stored, stored_domains, patch)?;
    let domains = validate(&input, egress_allow)?;
    // Fetched before the write transaction, which a slow IdP would otherwise hold open.
    let saml = match kept_saml {
        Some(settings) => Some(settings),
        None => resolve_saml(idp, &input).await?,
    };
    let txn = db.begin_write().await?;
    let before = find(&*txn, grant.organization_id(), id).await?;
    if !input.enabled {
        keep_one_enabled_while_enforced(&*txn, grant.organization_id(), &before).await?;
    }
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
        AuditAction::SsoConnectionUpdated,
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
    keep_one_enabled_while_enforced(&*txn, org, &model).await?;
    sso_connection::Entity::delete_by_id(model.id.clone())
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::SsoConnectionDeleted,
        ("sso_connection", &model.id),
        Some(summary(&model, &[])),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Refuses to delete or switch off `connection` when SSO is enforced and it is the last enabled connection:
/// nobody but API keys could sign in any more.
async fn keep_one_enabled_while_enforced(
    conn: &impl ConnectionTrait,
    org: &str,
    connection: &sso_connection::Model,
) -> ApiResult<()> {
    let organization = organization::Entity::find_by_id(org.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", org))?;
    if organization.sso_enforced && connection.enabled && enabled_count(conn, org).await? <= 1 {
        return Err(ApiError::Conflict(
            "SSO is enforced and this is the last enabled connection: stop enforcing SSO first"
                .to_owned(),
        ));
    }
    Ok(())
}

pub(crate) async fn enabled_count(conn: &impl ConnectionTrait, org: &str) -> ApiResult<u64> {
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
        AuditAction::OrganizationSsoEnforced,
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
pub async fn lookup(db: &Db, email: &str) -> ApiResult<Option<Lookup>> {
    let email = crate::service::identity::organizations::validate_email("email", email)?;
    let Some((_, domain)) = email.rsplit_once('@') else {
        return Ok(None);
    };
    let Some(row) = sso_domain::Entity::find_by_id(domain.to_ascii_lowercase())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let Some(connection) = sso_connection::Entity::find_by_id(row.connection_id)
        .filter(sso_connection::Column::Enabled.eq(true))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let enforced = organization::Entity::find_by_id(&connection.organization_id)
        .one(db.conn())
        .await?
        .is_some_and(|o| o.sso_enforced);
    Ok(Some(Lookup {
        connection,
        enforced,
    }))
}

/// Where an email's domain signs in.
#[derive(Debug)]
pub struct Lookup {
    pub connection: sso_connection::Model,
    /// The organization signs in through SSO only: no password form to offer.
    pub enforced: bool,
}
