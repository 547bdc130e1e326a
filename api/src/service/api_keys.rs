//! API keys: authenticate a bearer secret, and create, list and revoke keys.

use chrono::{DateTime, Utc};
use entities::api_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde::Deserialize;

use crate::auth::api_keys::{generate, hash, is_well_formed};
use crate::auth::{Actor, Origin, Plan, Principal, Role};
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::audit::{self, AuditActor, Change};
use crate::service::{Page, PageRequest, newest_first, now, organizations, required_text};

/// Input of `createApiKey` / `POST /api-keys`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// Defaults to the caller's own role; may not exceed it.
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Turns a bearer secret into a principal, or says why not (always 401).
pub async fn authenticate(db: &Db, secret: &str) -> ApiResult<Principal> {
    if !is_well_formed(secret) {
        return Err(ApiError::Unauthenticated("malformed API key".to_owned()));
    }
    let key = api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(hash(secret)))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("unknown API key".to_owned()))?;
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated("API key revoked".to_owned()));
    }
    if key.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Unauthenticated("API key expired".to_owned()));
    }
    let organization = organizations::find(db, &key.organization_id).await?;
    Ok(Principal {
        organization_id: organization.id,
        plan: organization
            .plan
            .parse::<Plan>()
            .map_err(ApiError::internal_msg)?,
        role: key.role.parse::<Role>().map_err(ApiError::internal_msg)?,
        actor: Actor::ApiKey { id: key.id },
        origin: Origin::default(),
    })
}

/// Inserts a key and returns it with its secret (used by bootstrap and [`create`]).
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    name: &str,
    role: Role,
    created_by: Option<String>,
    expires_at: Option<DateTime<Utc>>,
) -> ApiResult<(api_key::Model, String)> {
    let secret = generate();
    let model = api_key::ActiveModel {
        id: Set(new_id(Kind::ApiKey)),
        organization_id: Set(organization_id.to_owned()),
        name: Set(name.to_owned()),
        prefix: Set(secret.prefix),
        secret_hash: Set(secret.hash),
        role: Set(role.as_str().to_owned()),
        created_by: Set(created_by),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_at: Set(now()),
    }
    .insert(conn)
    .await?;
    Ok((model, secret.secret))
}

/// Creates a key; the secret is returned this once only.
#[tracing::instrument(skip_all, fields(org = %principal.organization_id))]
pub async fn create(
    db: &Db,
    principal: &Principal,
    input: CreateApiKey,
) -> ApiResult<(api_key::Model, String)> {
    authorize(principal, Resource::ApiKey, Action::Write)?;
    let name = required_text("name", &input.name, 100)?;
    let role = input.role.unwrap_or(principal.role);
    if role < principal.role {
        return Err(ApiError::Forbidden(format!(
            "a {} may not create a key with the {role} role",
            principal.role
        )));
    }
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::validation("expires_at", "must be in the future"));
    }
    let txn = db.begin_write().await?;
    let created = insert(
        &*txn,
        &principal.organization_id,
        &name,
        role,
        Some(principal.actor_id().to_owned()),
        input.expires_at,
    )
    .await?;
    audit::append(
        &*txn,
        &principal.organization_id,
        AuditActor::Principal(principal),
        Change {
            action: "api_key.created",
            target_type: "api_key",
            target_id: Some(&created.0.id),
            before: None,
            after: Some(summary(&created.0)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// The organization's keys, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> ApiResult<Page<api_key::Model>> {
    authorize(principal, Resource::ApiKey, Action::Read)?;
    let query = api_key::Entity::find()
        .filter(api_key::Column::OrganizationId.eq(&principal.organization_id));
    newest_first(db.conn(), query, api_key::Column::Id, page).await
}

/// Revokes a key at once; revoking twice is harmless.
#[tracing::instrument(skip_all, fields(org = %principal.organization_id))]
pub async fn revoke(db: &Db, principal: &Principal, id: &str) -> ApiResult<api_key::Model> {
    authorize(principal, Resource::ApiKey, Action::Delete)?;
    let id = ids::lookup(Kind::ApiKey, id)?;
    let txn = db.begin_write().await?;
    let key = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::OrganizationId.eq(&principal.organization_id))
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
    audit::append(
        &*txn,
        &principal.organization_id,
        AuditActor::Principal(principal),
        Change {
            action: "api_key.revoked",
            target_type: "api_key",
            target_id: Some(&key.id),
            before: Some(before),
            after: Some(summary(&key)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(key)
}

/// What the audit log records of a key (never its hash).
pub(crate) fn summary(key: &api_key::Model) -> serde_json::Value {
    serde_json::json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    })
}
