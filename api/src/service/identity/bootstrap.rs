//! Bootstrap of a new tenant: the organization, its owner, a default assistant and an owner API key.

use entities::{api_key, assistant, organization, user};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;

use crate::auth::{Plan, Role};
use crate::authz::adapter::{store_plan, store_roles};
use crate::authz::{plan_name, role_name};
use crate::db::Db;
use crate::error::ApiResult;
use crate::ids::{Kind, new_id};
use crate::service::audit::AuditAction;
use crate::service::audit::{self, AuditActor, Change};
use crate::service::identity::organizations::validate_email;
use crate::service::identity::{api_keys, signin};
use crate::service::{assistants, now, required_text};

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
            action: AuditAction::OrganizationCreated,
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
            action: AuditAction::ApiKeyCreated,
            target_type: "api_key",
            target_id: Some(&api_key.id),
            before: None,
            after: Some(api_keys::summary(&api_key)),
        },
    )
    .await?;
    let (owner_invitation, owner) = signin::store_invitation(&*txn, owner).await?;
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
