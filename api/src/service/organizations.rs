//! Organizations: bootstrap of a new tenant and reading the caller's own.

use entities::{api_key, assistant, organization, user};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::auth::{Plan, Principal, Role};
use crate::authz::adapter::{store_plan, store_roles};
use crate::authz::{Action, Resource, authorize, plan_name, role_name};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::service::audit::{self, AuditActor, Change};
use crate::service::{api_keys, assistants, now, required_text};
use serde_json::json;

/// What `concierge bootstrap` creates.
#[derive(Debug)]
pub struct Bootstrapped {
    pub organization: organization::Model,
    pub owner: user::Model,
    pub assistant: assistant::Model,
    pub api_key: api_key::Model,
    /// The owner key's secret, shown once.
    pub secret: String,
    /// The token with which the owner sets a password (`POST /api/v1/auth/accept-invitation`), shown once.
    pub owner_invitation: String,
}

/// Creates an organization, its owner, a default assistant and an owner API key, in one transaction.
#[tracing::instrument(skip(db))]
pub async fn bootstrap(db: &Db, name: &str, plan: Plan, email: &str) -> ApiResult<Bootstrapped> {
    let name = required_text("org", name, 200)?;
    let email = validate_email("email", email)?;
    let at = now();
    let txn = db.begin_write().await?;
    let organization = organization::ActiveModel {
        id: Set(new_id(Kind::Organization)),
        name: Set(name.clone()),
        plan: Set(plan.as_str().to_owned()),
        sso_enforced: Set(false),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*txn)
    .await?;
    store_plan(&*txn, &organization.id, &plan_name(plan)).await?;
    let owner = user::ActiveModel {
        id: Set(new_id(Kind::User)),
        organization_id: Set(organization.id.clone()),
        email: Set(email),
        name: Set(None),
        role: Set(Role::Owner.as_str().to_owned()),
        active: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    store_roles(
        &*txn,
        &owner.id,
        &organization.id,
        &[role_name(Role::Owner)],
    )
    .await?;
    let assistant = assistants::insert_default(&*txn, &organization.id, &name).await?;
    let owner_key = api_keys::NewKey {
        organization_id: &organization.id,
        name: "Owner key (bootstrap)",
        role: Role::Owner,
        created_by: Some(owner.id.clone()),
        expires_at: None,
        scopes: None,
        allowed_cidrs: None,
    };
    let (api_key, secret) = api_keys::insert(&*txn, owner_key).await?;
    audit::append(
        &*txn,
        &organization.id,
        AuditActor::System,
        Change {
            action: "organization.created",
            target_type: "organization",
            target_id: Some(&organization.id),
            before: None,
            after: Some(
                json!({"name": organization.name, "plan": organization.plan, "owner": owner.email}),
            ),
        },
    )
    .await?;
    audit::append(
        &*txn,
        &organization.id,
        AuditActor::System,
        Change {
            action: "api_key.created",
            target_type: "api_key",
            target_id: Some(&api_key.id),
            before: None,
            after: Some(api_keys::summary(&api_key)),
        },
    )
    .await?;
    let (owner_invitation, owner) =
        crate::service::sessions::store_invitation(&*txn, owner).await?;
    txn.commit().await?;
    Ok(Bootstrapped {
        organization,
        owner,
        assistant,
        api_key,
        secret,
        owner_invitation,
    })
}

/// The caller's own organization.
pub async fn get_own(db: &Db, principal: &Principal) -> ApiResult<organization::Model> {
    let grant = authorize(principal, Resource::Organization, Action::Read).await?;
    find(db, grant.organization_id()).await
}

/// Looks an organization up by id (no authorization: used to build a principal).
pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<organization::Model> {
    organization::Entity::find_by_id(id.to_owned())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("organization", id))
}

/// A light check that `value` looks like an email address.
pub fn validate_email(field: &str, value: &str) -> ApiResult<String> {
    let value = required_text(field, value.trim(), 254)?;
    let (local, domain) = value
        .split_once('@')
        .ok_or_else(|| ApiError::validation(field, "must be an email address"))?;
    if local.is_empty() || !domain.contains('.') || domain.starts_with('.') || value.contains(' ') {
        return Err(ApiError::validation(field, "must be an email address"));
    }
    Ok(value.to_lowercase())
}

/// Changes the organization's plan (owners only). Nothing is deleted on a downgrade.
#[tracing::instrument(skip(db, principal), fields(org = ?principal.organization))]
pub async fn set_plan(
    db: &Db,
    principal: &Principal,
    plan: Plan,
) -> ApiResult<organization::Model> {
    let grant = authorize(principal, Resource::Plan, Action::Write).await?;
    change_plan(
        db,
        grant.organization_id(),
        plan,
        AuditActor::Principal(principal),
    )
    .await
}

/// Changes an organization's plan on behalf of the operator (`concierge org set-plan`).
pub async fn set_plan_as_operator(
    db: &Db,
    organization_id: &str,
    plan: Plan,
) -> ApiResult<organization::Model> {
    let id = crate::ids::lookup(Kind::Organization, organization_id)?;
    change_plan(db, id, plan, AuditActor::System).await
}

async fn change_plan(
    db: &Db,
    organization_id: &str,
    plan: Plan,
    actor: AuditActor<'_>,
) -> ApiResult<organization::Model> {
    use sea_orm::IntoActiveModel;
    let txn = db.begin_write().await?;
    let current = organization::Entity::find_by_id(organization_id.to_owned())
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("organization", organization_id))?;
    if current.plan == plan.as_str() {
        return Ok(current);
    }
    let before = json!({"plan": current.plan});
    let mut active = current.into_active_model();
    active.plan = Set(plan.as_str().to_owned());
    active.updated_at = Set(now());
    let updated = active.update(&*txn).await?;
    store_plan(&*txn, organization_id, &plan_name(plan)).await?;
    audit::append(
        &*txn,
        organization_id,
        actor,
        Change {
            action: "organization.plan_changed",
            target_type: "organization",
            target_id: Some(organization_id),
            before: Some(before),
            after: Some(json!({"plan": updated.plan})),
        },
    )
    .await?;
    txn.announce_access_change(organization_id);
    txn.commit().await?;
    Ok(updated)
}
