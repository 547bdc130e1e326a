//! Team members: invite by email with a role, change roles, deactivate, list. The last owner stays.

use entities::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::json;

use crate::auth::{Principal, Role};
use crate::authz::adapter::store_roles;
use crate::authz::{Action, Resource, authorize, authorize_member_change, role_name};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::audit;
use crate::service::audit::AuditAction;
use crate::service::identity::organizations::validate_email;
use crate::service::{Page, PageRequest, newest_first, now, optional_field};

/// Input of `inviteMember`.
#[derive(Clone, Debug)]
pub struct InviteMember {
    pub email: String,
    pub role: Role,
    pub name: Option<String>,
}

/// What the audit log records of a member.
fn summary(member: &user::Model) -> serde_json::Value {
    json!({"id": member.id, "email": member.email, "role": member.role, "active": member.active})
}

/// How many members the organization has (deactivated ones included, as the list shows them).
pub async fn count(db: &Db, principal: &Principal) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::Member, Action::Read).await?;
    Ok(user::Entity::find()
        .filter(user::Column::OrganizationId.eq(grant.organization_id()))
        .count(db.conn())
        .await?)
}

/// The signed-in member's own record (`None` for an API key).
pub async fn own(db: &Db, principal: &Principal) -> ApiResult<Option<user::Model>> {
    let grant = authorize(principal, Resource::Organization, Action::Read).await?;
    let crate::auth::Actor::User { id, .. } = &principal.actor else {
        return Ok(None);
    };
    Ok(user::Entity::find_by_id(id.clone())
        .filter(user::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?)
}

/// One member of the organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<user::Model> {
    let grant = authorize(principal, Resource::Member, Action::Read).await?;
    let id = ids::lookup(Kind::User, id)?;
    user::Entity::find_by_id(id.to_owned())
        .filter(user::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("member", id))
}

/// Members of the organization by id; ids of other organizations are left out.
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<std::collections::HashMap<String, user::Model>> {
    let grant = authorize(principal, Resource::Member, Action::Read).await?;
    crate::service::by_ids::<user::Entity>(
        db.conn(),
        user::Column::OrganizationId,
        user::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}

/// The team, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> ApiResult<Page<user::Model>> {
    let grant = authorize(principal, Resource::Member, Action::Read).await?;
    let query =
        user::Entity::find().filter(user::Column::OrganizationId.eq(grant.organization_id()));
    newest_first(db.conn(), query, user::Column::Id, page).await
}

/// Invites a member; the email must be new to the organization.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn invite(db: &Db, principal: &Principal, input: InviteMember) -> ApiResult<user::Model> {
    let grant = authorize(principal, Resource::Member, Action::Write).await?;
    authorize(principal, Resource::Role(input.role), Action::Grant).await?;
    let email = validate_email("email", &input.email)?;
    let name = optional_field("name", input.name.as_deref(), 200)?;
    let txn = db.begin_write().await?;
    let exists = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(grant.organization_id()))
        .filter(user::Column::Email.eq(&email))
        .count(&*txn)
        .await?;
    if exists > 0 {
        return Err(ApiError::Conflict(format!("{email} is already a member")));
    }
    let at = now();
    let member = user::ActiveModel {
        id: Set(new_id(Kind::User)),
        organization_id: Set(grant.organization_id().to_owned()),
        email: Set(email),
        name: Set(name),
        role: Set(input.role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    store_roles(
        &*txn,
        &member.id,
        &member.organization_id,
        &[role_name(input.role)],
    )
    .await?;
    record(&*txn, principal, AuditAction::MemberInvited, None, &member).await?;
    txn.commit().await?;
    Ok(member)
}

async fn record(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    action: AuditAction,
    before: Option<serde_json::Value>,
    member: &user::Model,
) -> ApiResult<()> {
    let target = ("member", member.id.as_str());
    audit::record(
        conn,
        principal,
        action,
        target,
        before,
        Some(summary(member)),
    )
    .await
}

async fn find(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<user::Model> {
    let id = ids::lookup(Kind::User, id)?;
    user::Entity::find_by_id(id.to_owned())
        .filter(user::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("member", id))
}

fn role_of(member: &user::Model) -> ApiResult<Role> {
    Role::stored(&member.role)
}

/// A member created at their first SSO sign-in (just-in-time provisioning), with the mapped role.
pub(crate) async fn provision(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    email: &str,
    name: Option<String>,
    role: Role,
) -> ApiResult<user::Model> {
    let at = now();
    let member = user::ActiveModel {
        id: Set(new_id(Kind::User)),
        organization_id: Set(organization_id.to_owned()),
        email: Set(email.to_owned()),
        name: Set(name),
        role: Set(role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    store_roles(conn, &member.id, organization_id, &[role_name(role)]).await?;
    Ok(member)
}

/// Gives a member the role their identity provider maps them to at sign-in; the last owner stays owner.
///
/// Answers the member and, when the role changed, the role before.
pub(crate) async fn apply_mapped_role(
    conn: &impl ConnectionTrait,
    member: user::Model,
    role: Role,
) -> ApiResult<(user::Model, Option<Role>)> {
    let before = role_of(&member)?;
    if before == role || (role != Role::Owner && is_last_owner(conn, &member).await?) {
        return Ok((member, None));
    }
    let mut active = member.into_active_model();
    active.role = Set(role.as_str().to_owned());
    active.updated_at = Set(now());
    let member = active.update(conn).await?;
    store_roles(
        conn,
        &member.id,
        &member.organization_id,
        &[role_name(role)],
    )
    .await?;
    Ok((member, Some(before)))
}

/// Whether `member` is the organization's last active owner.
async fn is_last_owner(conn: &impl ConnectionTrait, member: &user::Model) -> ApiResult<bool> {
    if member.role != Role::Owner.as_str() || !member.active {
        return Ok(false);
    }
    let owners = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(&member.organization_id))
        .filter(user::Column::Role.eq(Role::Owner.as_str()))
        .filter(user::Column::Active.eq(true))
        .count(conn)
        .await?;
    Ok(owners <= 1)
}

/// Changes a member's role.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn change_role(
    db: &Db,
    principal: &Principal,
    id: &str,
    role: Role,
) -> ApiResult<user::Model> {
    let grant = authorize(principal, Resource::Member, Action::Write).await?;
    let txn = db.begin_write().await?;
    let member = find(&*txn, grant.organization_id(), id).await?;
    authorize_member_change(&grant, principal, &member.id, role_of(&member)?, Some(role)).await?;
    if role != Role::Owner && is_last_owner(&*txn, &member).await? {
        return Err(ApiError::Conflict(
            "the organization's last owner keeps the owner role; make someone else owner first"
                .to_owned(),
        ));
    }
    let before = summary(&member);
    let mut active = member.into_active_model();
    active.role = Set(role.as_str().to_owned());
    active.updated_at = Set(now());
    let member = active.update(&*txn).await?;
    if member.active {
        store_roles(
            &*txn,
            &member.id,
            &member.organization_id,
            &[role_name(role)],
        )
        .await?;
    }
    record(
        &*txn,
        principal,
        AuditAction::MemberRoleChanged,
        Some(before),
        &member,
    )
    .await?;
    txn.announce_access_change(&member.organization_id);
    txn.commit().await?;
    principal.authz.forget(&member.id).await;
    Ok(member)
}

/// Deactivates a member (nothing is deleted).
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn deactivate(db: &Db, principal: &Principal, id: &str) -> ApiResult<user::Model> {
    let grant = authorize(principal, Resource::Member, Action::Delete).await?;
    let txn = db.begin_write().await?;
    let member = find(&*txn, grant.organization_id(), id).await?;
    authorize_member_change(&grant, principal, &member.id, role_of(&member)?, None).await?;
    if is_last_owner(&*txn, &member).await? {
        return Err(ApiError::Conflict(
            "the organization's last owner cannot be deactivated".to_owned(),
        ));
    }
    if !member.active {
        return Ok(member);
    }
    let before = summary(&member);
    let mut active = member.into_active_model();
    active.active = Set(false);
    active.updated_at = Set(now());
    let member = active.update(&*txn).await?;
    crate::service::identity::sessions::revoke_all(&*txn, &member.id).await?;
    store_roles(&*txn, &member.id, &member.organization_id, &[]).await?;
    record(
        &*txn,
        principal,
        AuditAction::MemberDeactivated,
        Some(before),
        &member,
    )
    .await?;
    txn.announce_access_change(&member.organization_id);
    txn.commit().await?;
    principal.authz.forget(&member.id).await;
    Ok(member)
}
