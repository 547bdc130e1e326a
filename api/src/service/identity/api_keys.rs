//! API keys: authenticate a bearer secret, and create, list and revoke keys.

use crate::auth::key_cache::KnownKey;
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::sync::Arc;

use entities::{api_key, api_key_usage};
use ipnet::IpNet;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::auth::api_keys::{generate, hash, is_well_formed};
use crate::auth::scopes::Scope;
use crate::auth::{Actor, Origin, Plan, Principal, Role};
use crate::authz::adapter::store_roles;
use crate::authz::{Action, Authz, Resource, Tenant, authorize, authorize_key_rights, key_roles};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::audit;
use crate::service::audit::AuditAction;
use crate::service::identity::organizations;
use crate::service::{Page, PageRequest, newest_first, now, required_text};

/// Input of `createApiKey` / `POST /api-keys`.
#[derive(Clone, Debug, Default)]
pub struct CreateApiKey {
    pub name: String,
    /// Defaults to the caller's own role; may not exceed it.
    pub role: Option<Role>,
    /// Narrows the key below its role; each scope must be within the creator's own rights.
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Networks the key may be used from (`203.0.113.0/24`, `2001:db8::/32`, or a single address).
    pub allowed_cidrs: Option<Vec<String>>,
}

/// Longest grace period of a rotation.
pub const MAX_GRACE_SECONDS: u32 = 7 * 24 * 3600;

/// The stored scopes of a key.
pub fn scopes(key: &api_key::Model) -> Option<Vec<Scope>> {
    key.scopes
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The stored networks of a key.
pub fn allowed_cidrs(key: &api_key::Model) -> Option<Vec<IpNet>> {
    key.allowed_cidrs.as_ref().map(|v| {
        serde_json::from_value::<Vec<String>>(v.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| parse_cidr(c).ok())
            .collect()
    })
}

/// A CIDR, or a single address as its /32 or /128.
fn parse_cidr(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is not a CIDR such as 203.0.113.0/24"))
}

fn validate_cidrs(cidrs: &[String]) -> ApiResult<Vec<String>> {
    if cidrs.is_empty() || cidrs.len() > 50 {
        return Err(ApiError::validation(
            "allowed_cidrs",
            "give 1 to 50 networks",
        ));
    }
    cidrs
        .iter()
        .map(|c| {
            parse_cidr(c)
                .map(|net| net.trunc().to_string())
                .map_err(|e| ApiError::validation("allowed_cidrs", e))
        })
        .collect()
}

/// Turns a bearer secret into a principal, or says why not (401; 403 from a network the key excludes).
pub async fn authenticate(
    db: &Db,
    authz: &Arc<Authz>,
    secret: &str,
    origin: Origin,
) -> ApiResult<Principal> {
    if !is_well_formed(secret) {
        return Err(ApiError::Unauthenticated("malformed API key".to_owned()));
    }
    let hashed = hash(secret);
    let clock = db.bus().access();
    let known = match db.key_cache().get(&hashed, clock) {
        Some(known) => known,
        None => {
            // A change announced from now on (even during the read) makes what is read stale at once.
            let since = clock.now();
            let key = api_key::Entity::find()
                .filter(
                    Condition::any()
                        .add(api_key::Column::SecretHash.eq(&hashed))
                        .add(api_key::Column::PreviousSecretHash.eq(&hashed)),
                )
                .one(db.conn())
                .await?
                .ok_or_else(|| ApiError::Unauthenticated("unknown API key".to_owned()))?;
            let plan = organizations::find(db, &key.organization_id).await?.plan;
            let known = KnownKey { key, plan };
            // Only a key that exists is kept, revoked or not: guessing secrets fills nothing.
            db.key_cache().put(hashed.clone(), known.clone(), since);
            known
        }
    };
    let key = known.key;
    let now = Utc::now();
    if key.secret_hash != hashed && key.previous_expires_at.is_none_or(|at| at <= now) {
        return Err(ApiError::Unauthenticated(
            "API key rotated: this secret's grace period is over".to_owned(),
        ));
    }
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated("API key revoked".to_owned()));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::Unauthenticated("API key expired".to_owned()));
    }
    if let Some(networks) = allowed_cidrs(&key) {
        let ip = origin
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        if !ip.is_some_and(|ip| networks.iter().any(|net| net.contains(&ip))) {
            return Err(ApiError::Forbidden(format!(
                "this API key may not be used from {}",
                origin.ip.as_deref().unwrap_or("an unknown address")
            )));
        }
    }
    Ok(Principal {
        organization: Tenant::new(key.organization_id.clone()),
        plan: Plan::stored(&known.plan)?,
        role: Role::stored(&key.role)?,
        scopes: scopes(&key),
        actor: Actor::ApiKey { id: key.id },
        origin,
        authz: authz.clone(),
    })
}

/// Inserts a key and returns it with its secret (used by bootstrap and [`create`]).
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    key: NewKey<'_>,
) -> ApiResult<(api_key::Model, String)> {
    let secret = generate();
    let model = api_key::ActiveModel {
        id: Set(new_id(Kind::ApiKey)),
        organization_id: Set(key.organization_id.to_owned()),
        name: Set(key.name.to_owned()),
        prefix: Set(secret.prefix),
        secret_hash: Set(secret.hash),
        role: Set(key.role.as_str().to_owned()),
        created_by: Set(key.created_by),
        expires_at: Set(key.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_at: Set(now()),
        scopes: Set(key.scopes.as_ref().map(|s| serde_json::json!(s))),
        allowed_cidrs: Set(key.allowed_cidrs.map(|c| serde_json::json!(c))),
        request_count: Set(0),
        previous_secret_hash: Set(None),
        previous_expires_at: Set(None),
    }
    .insert(conn)
    .await?;
    let roles = key_roles(key.role, key.scopes.as_deref());
    store_roles(conn, &model.id, key.organization_id, &roles).await?;
    Ok((model, secret.secret))
}

/// What [`insert`] makes a key from.
pub(crate) struct NewKey<'a> {
    pub organization_id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Option<Vec<Scope>>,
    pub allowed_cidrs: Option<Vec<String>>,
}

/// Creates a key; the secret is returned this once only.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn create(
    db: &Db,
    principal: &Principal,
    input: CreateApiKey,
) -> ApiResult<(api_key::Model, String)> {
    let role = input.role.unwrap_or(principal.role);
    let grant = authorize_key_rights(principal, role, input.scopes.as_deref()).await?;
    let name = required_text("name", &input.name, 100)?;
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::validation("expires_at", "must be in the future"));
    }
    let scopes = match &input.scopes {
        Some(scopes) if scopes.is_empty() => {
            return Err(ApiError::validation(
                "scopes",
                "give at least one scope, or none at all",
            ));
        }
        Some(scopes) => {
            let mut unique: Vec<Scope> = Vec::with_capacity(scopes.len());
            for scope in scopes {
                if !unique.contains(scope) {
                    unique.push(*scope);
                }
            }
            Some(unique)
        }
        None => None,
    };
    let cidrs = input
        .allowed_cidrs
        .as_deref()
        .map(validate_cidrs)
        .transpose()?;
    let txn = db.begin_write().await?;
    let key = NewKey {
        organization_id: grant.organization_id(),
        name: &name,
        role,
        created_by: Some(principal.actor_id().to_owned()),
        expires_at: input.expires_at,
        scopes,
        allowed_cidrs: cidrs,
    };
    let created = insert(&*txn, key).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::ApiKeyCreated,
        ("api_key", &created.0.id),
        None,
        Some(summary(&created.0)),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// How many keys the organization has (revoked ones included, as the list shows them).
pub async fn count(db: &Db, principal: &Principal) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::ApiKey, Action::Read).await?;
    Ok(api_key::Entity::find()
        .filter(api_key::Column::OrganizationId.eq(grant.organization_id()))
        .count(db.conn())
        .await?)
}

/// One key of the organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<api_key::Model> {
    let grant = authorize(principal, Resource::ApiKey, Action::Read).await?;
    let id = ids::lookup(Kind::ApiKey, id)?;
    api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("API key", id))
}

/// The organization's keys, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> ApiResult<Page<api_key::Model>> {
    let grant = authorize(principal, Resource::ApiKey, Action::Read).await?;
    let query =
        api_key::Entity::find().filter(api_key::Column::OrganizationId.eq(grant.organization_id()));
    newest_first(db.conn(), query, api_key::Column::Id, page).await
}

/// Revokes a key at once; revoking twice is harmless.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn revoke(db: &Db, principal: &Principal, id: &str) -> ApiResult<api_key::Model> {
    let grant = authorize(principal, Resource::ApiKey, Action::Delete).await?;
    let id = ids::lookup(Kind::ApiKey, id)?;
    let txn = db.begin_write().await?;
    let key = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::OrganizationId.eq(grant.organization_id()))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", id))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let before = summary(&key);
    let mut active = key.into_active_model();
    active.revoked_at = Set(Some(now()));
    let key = active.update(&*txn).await?;
    store_roles(&*txn, &key.id, &key.organization_id, &[]).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::ApiKeyRevoked,
        ("api_key", &key.id),
        Some(before),
        Some(summary(&key)),
    )
    .await?;
    txn.announce_access_change(grant.organization_id());
    txn.commit().await?;
    principal.authz.forget(&key.id).await;
    Ok(key)
}

/// What the audit log records of a key (never its hash).
pub(crate) fn summary(key: &api_key::Model) -> serde_json::Value {
    serde_json::json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "scopes": key.scopes,
        "allowed_cidrs": key.allowed_cidrs,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    })
}

/// Issues a new secret; the old one keeps working for `grace_seconds` (0 ends it at once).
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn rotate(
    db: &Db,
    principal: &Principal,
    id: &str,
    grace_seconds: u32,
) -> ApiResult<(api_key::Model, String)> {
    let grant = authorize(principal, Resource::ApiKey, Action::Write).await?;
    let id = ids::lookup(Kind::ApiKey, id)?;
    if grace_seconds > MAX_GRACE_SECONDS {
        return Err(ApiError::validation(
            "grace_period_seconds",
            format!("must be at most {MAX_GRACE_SECONDS} (7 days)"),
        ));
    }
    let txn = db.begin_write().await?;
    let key = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::OrganizationId.eq(grant.organization_id()))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", id))?;
    if key.revoked_at.is_some() {
        return Err(ApiError::Conflict(
            "a revoked key cannot be rotated".to_owned(),
        ));
    }
    let before = summary(&key);
    let secret = generate();
    let mut active = key.clone().into_active_model();
    active.previous_secret_hash = Set(Some(key.secret_hash.clone()));
    active.previous_expires_at = Set(Some(
        now() + chrono::Duration::seconds(i64::from(grace_seconds)),
    ));
    active.secret_hash = Set(secret.hash);
    active.prefix = Set(secret.prefix);
    let key = active.update(&*txn).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::ApiKeyRotated,
        ("api_key", &key.id),
        Some(before),
        Some(serde_json::json!({"prefix": key.prefix, "grace_period_seconds": grace_seconds})),
    )
    .await?;
    txn.announce_access_change(grant.organization_id());
    txn.commit().await?;
    Ok((key, secret.secret))
}

/// Requests per key per UTC day over the last `days` days (1-90), oldest first; one key or all.
pub async fn usage(
    db: &Db,
    principal: &Principal,
    api_key_id: Option<&str>,
    days: u32,
) -> ApiResult<Vec<api_key_usage::Model>> {
    let grant = authorize(principal, Resource::ApiKey, Action::Read).await?;
    if !(1..=90).contains(&days) {
        return Err(ApiError::BadRequest(
            "days: must be between 1 and 90".to_owned(),
        ));
    }
    let since = (Utc::now() - chrono::Duration::days(i64::from(days) - 1))
        .format("%Y-%m-%d")
        .to_string();
    let mut query = api_key_usage::Entity::find()
        .filter(api_key_usage::Column::OrganizationId.eq(grant.organization_id()))
        .filter(api_key_usage::Column::Day.gte(since));
    if let Some(id) = api_key_id {
        query = query.filter(api_key_usage::Column::ApiKeyId.eq(ids::lookup(Kind::ApiKey, id)?));
    }
    Ok(query
        .order_by_asc(api_key_usage::Column::Day)
        .order_by_asc(api_key_usage::Column::ApiKeyId)
        .all(db.conn())
        .await?)
}
