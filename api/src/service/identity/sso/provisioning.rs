//! Sign-in from verified claims: the member found or created just in time, its role re-applied, a session opened, refusals audited.

use entities::{sso_connection, sso_domain, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

use crate::auth::{Origin, Role};
use crate::db::Db;
use crate::error::ApiError;
use crate::service::audit::AuditAction;
use crate::service::audit::{self, AuditActor, Change};
use crate::service::identity::members;
use crate::service::identity::sessions::{self, SessionPolicy, SignedIn};

use crate::service::identity::sso::claims::{claim_values, map_role};
use crate::service::identity::sso::refusal::SignInRefusal;
use crate::service::identity::sso::settings::{attributes, role_rules};

/// What a finished sign-in gives: the session, and where to go.
#[derive(Debug)]
pub struct FinishedSignIn {
    pub signed_in: SignedIn,
    pub return_to: String,
}

/// Maps verified claims to a member (created just in time, or found with its role re-applied) and opens a
/// session; every refusal and role change is audit-logged.
pub(crate) async fn sign_in(
    db: &Db,
    policy: SessionPolicy,
    connection: &sso_connection::Model,
    claims: &Value,
    origin: &Origin,
) -> Result<SignedIn, SignInRefusal> {
    let org = connection.organization_id.as_str();
    let names = attributes(connection);
    let refuse = |reason: String| SignInRefusal::forbidden(reason, Some(org));
    let email = claim_values(claims, &names.email)
        .into_iter()
        .next()
        .ok_or_else(|| {
            refuse(format!(
                "the identity provider sent no {} claim",
                names.email
            ))
        })?;
    let email = crate::service::identity::organizations::validate_email("email", &email)
        .map_err(|e| refuse(e.public_message()))?;
    if claims.get("email_verified") == Some(&Value::Bool(false)) {
        return Err(refuse(format!(
            "the identity provider has not verified {email}"
        )));
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let served = sso_domain::Entity::find_by_id(domain.to_owned())
        .one(db.conn())
        .await
        .map_err(ApiError::from)?
        .is_some_and(|d| d.connection_id == connection.id);
    if !served {
        return Err(refuse(format!(
            "{email} is not in a domain this connection serves"
        )));
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
        return Err(refuse(format!(
            "no role rule of this connection matches {email}, and it refuses unmatched members"
        )));
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
            return Err(refuse(format!(
                "{email} was deactivated in this organization"
            )));
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
            return Err(refuse(format!(
                "{email} is not a member of this organization, and this connection does not create members: ask an admin to invite you"
            )));
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
                action: AuditAction::MemberProvisioned,
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
                action: AuditAction::MemberRoleChanged,
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
            action: AuditAction::MemberLogin,
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
pub async fn record_refusal(
    db: &Db,
    connection_id: &str,
    refusal: &SignInRefusal,
    origin: &Origin,
) {
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
                action: AuditAction::MemberSsoFailed,
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
