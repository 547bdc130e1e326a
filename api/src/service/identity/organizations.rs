//! Organizations: reading the caller's own, validating emails, and changing the plan.

use entities::organization;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::auth::{Plan, Principal};
use crate::authz::adapter::store_plan;
use crate::authz::{Action, Resource, authorize, plan_name};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::Kind;
use crate::service::audit::AuditAction;
use crate::service::audit::{self, AuditActor, Change};
use crate::service::{now, required_text};
use serde_json::json;

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
            action: AuditAction::OrganizationPlanChanged,
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
