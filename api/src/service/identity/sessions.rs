//! Sessions of members: opened at sign-in (local or SSO), authenticated on each request with idle and absolute
//! expiry, listed, revoked and ended at sign-out; all audited.

use std::sync::Arc;

use chrono::{Duration, Utc};
use entities::{session, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::auth::{Actor, Origin, Plan, Principal, Role, tokens};
use crate::authz::{Action, Authz, Resource, Tenant, authorize_member_change};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::audit::AuditAction;
use crate::service::audit::{self, AuditActor, Change};
use crate::service::identity::organizations;
use crate::service::now;

/// Session tokens start with this.
pub const SESSION_PREFIX: &str = "cs_";
/// The cookie that carries a member's session token in browsers.
pub const SESSION_COOKIE: &str = "concierge_session";
/// How often a session's last use is written (idle expiry counts from it).
const TOUCH_EVERY_SECS: i64 = 60;

/// How long sessions last: without use (idle) and in all (absolute); set on each session at sign-in.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionPolicy {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            idle: Duration::minutes(i64::from(settings.session_idle_minutes.max(1))),
            absolute: Duration::hours(i64::from(settings.session_absolute_hours.max(1))),
        }
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::hours(12),
            absolute: Duration::days(7),
        }
    }
}

/// The anti-CSRF token of a session: browsers send it as `X-CSRF-Token` with cookie-authenticated writes that
/// do not come from the public URL's own origin. Derived from the session token, so nothing more is stored,
/// and a one-way hash, so it does not reveal the session token.
pub fn csrf_token(session_token: &str) -> String {
    tokens::hash(&format!("csrf:{session_token}"))
}
/// A new session and its token, shown once.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    /// The session's anti-CSRF token, for cookie-authenticated writes.
    pub csrf_token: String,
    pub session: session::Model,
    pub member: user::Model,
}

pub(crate) async fn record_sign_in(
    conn: &impl ConnectionTrait,
    member: &user::Model,
    origin: &Origin,
    action: AuditAction,
    after: serde_json::Value,
) -> ApiResult<()> {
    audit::append(
        conn,
        &member.organization_id,
        AuditActor::SigningIn {
            user_id: &member.id,
            origin,
        },
        Change {
            action,
            target_type: "member",
            target_id: Some(&member.id),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    Ok(())
}

/// Stores a new session of `member`, signed in by `method` (through `sso_connection_id` for SSO), and answers
/// its token.
pub(crate) async fn open_session(
    conn: &impl ConnectionTrait,
    member: &user::Model,
    policy: SessionPolicy,
    method: &str,
    sso_connection_id: Option<&str>,
    origin: &Origin,
) -> ApiResult<(String, session::Model)> {
    let token = tokens::random(SESSION_PREFIX);
    let at = now();
    let session = session::ActiveModel {
        id: Set(new_id(Kind::Session)),
        organization_id: Set(member.organization_id.clone()),
        user_id: Set(member.id.clone()),
        token_hash: Set(tokens::hash(&token)),
        ip: Set(origin.ip.clone()),
        user_agent: Set(origin.user_agent.clone()),
        created_at: Set(at),
        expires_at: Set(at + policy.absolute),
        revoked_at: Set(None),
        method: Set(method.to_owned()),
        sso_connection_id: Set(sso_connection_id.map(str::to_owned)),
        last_seen_at: Set(Some(at)),
        idle_timeout_secs: Set(Some(policy.idle.num_seconds())),
    }
    .insert(conn)
    .await?;
    Ok((token, session))
}

/// The member behind a session token, as a principal.
pub async fn authenticate(
    db: &Db,
    authz: &Arc<Authz>,
    token: &str,
    origin: Origin,
) -> ApiResult<Principal> {
    if !tokens::is_well_formed(token, SESSION_PREFIX) {
        return Err(ApiError::Unauthenticated(
            "malformed session token".to_owned(),
        ));
    }
    let session = session::Entity::find()
        .filter(session::Column::TokenHash.eq(tokens::hash(token)))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("unknown session".to_owned()))?;
    if session.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated("signed out".to_owned()));
    }
    let at = Utc::now();
    if session.expires_at <= at {
        return Err(ApiError::Unauthenticated(
            "session expired: sign in again".to_owned(),
        ));
    }
    if let Some(idle) = session.idle_timeout_secs
        && idle_expired(&session, at)
    {
        return Err(ApiError::Unauthenticated(format!(
            "session ended after {} minutes without use: sign in again",
            idle / 60
        )));
    }
    if at - last_seen(&session) >= Duration::seconds(TOUCH_EVERY_SECS) {
        session::Entity::update_many()
            .col_expr(
                session::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(at),
            )
            .filter(session::Column::Id.eq(&session.id))
            .exec(db.conn())
            .await?;
    }
    let member = user::Entity::find_by_id(session.user_id.clone())
        .one(db.conn())
        .await?
        .filter(|m| m.active)
        .ok_or_else(|| ApiError::Unauthenticated("the member was deactivated".to_owned()))?;
    let organization = organizations::find(db, &member.organization_id).await?;
    if organization.sso_enforced && session.method == "password" {
        return Err(ApiError::Unauthenticated(
            "this organization now signs in through SSO only: sign in again through SSO".to_owned(),
        ));
    }
    Ok(Principal {
        organization: Tenant::new(organization.id),
        plan: Plan::stored(&organization.plan)?,
        role: Role::stored(&member.role)?,
        actor: Actor::User {
            id: member.id,
            session_id: session.id,
            method: session.method,
        },
        origin,
        scopes: None,
        authz: authz.clone(),
    })
}

/// Ends the session of `token` (signing out twice is harmless).
pub async fn logout(db: &Db, token: &str, origin: &Origin) -> ApiResult<()> {
    if !tokens::is_well_formed(token, SESSION_PREFIX) {
        return Err(ApiError::Unauthenticated(
            "malformed session token".to_owned(),
        ));
    }
    let txn = db.begin_write().await?;
    let Some(session) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(tokens::hash(token)))
        .one(&*txn)
        .await?
    else {
        return Err(ApiError::Unauthenticated("unknown session".to_owned()));
    };
    if session.revoked_at.is_some() {
        return Ok(());
    }
    let member = user::Entity::find_by_id(session.user_id.clone())
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("unknown session".to_owned()))?;
    let id = session.id.clone();
    let mut active = session.into_active_model();
    active.revoked_at = Set(Some(now()));
    active.update(&*txn).await?;
    record_sign_in(
        &*txn,
        &member,
        origin,
        AuditAction::MemberLogout,
        json!({"session_id": id}),
    )
    .await?;
    txn.announce_access_change(&member.organization_id);
    txn.commit().await?;
    Ok(())
}

/// Ends every session of a member (on deactivation), inside the caller's transaction.
pub(crate) async fn revoke_all(conn: &impl ConnectionTrait, user_id: &str) -> ApiResult<()> {
    session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// When a session was last used (its sign-in when never since).
fn last_seen(session: &session::Model) -> chrono::DateTime<Utc> {
    session.last_seen_at.unwrap_or(session.created_at)
}

/// Whether a session went unused for its idle timeout by `at`.
fn idle_expired(session: &session::Model, at: chrono::DateTime<Utc>) -> bool {
    session
        .idle_timeout_secs
        .is_some_and(|idle| last_seen(session) + Duration::seconds(idle) <= at)
}

/// Whether a session still works now: not revoked, not past its absolute or idle expiry.
pub fn is_live(session: &session::Model, at: chrono::DateTime<Utc>) -> bool {
    session.revoked_at.is_none() && session.expires_at > at && !idle_expired(session, at)
}

/// The live sessions of the caller (no `member_id`, or its own id) or, for those who manage members, of any
/// member of the organization; newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    member_id: Option<&str>,
) -> ApiResult<Vec<session::Model>> {
    // One's own sessions need only membership; another member's, the right to read members.
    let (resource, member) = match (&principal.actor, member_id) {
        (Actor::User { id, .. }, None) => (Resource::Organization, id.as_str()),
        (Actor::User { id, .. }, Some(member)) if id == member => {
            (Resource::Organization, id.as_str())
        }
        (_, Some(member)) => (Resource::Member, member),
        (_, None) => {
            return Err(ApiError::validation(
                "member_id",
                "an API key has no sessions of its own: name the member",
            ));
        }
    };
    let grant = crate::authz::authorize(principal, resource, Action::Read).await?;
    let org = grant.organization_id();
    let member = ids::lookup(Kind::User, member)?.to_owned();
    user::Entity::find_by_id(member.clone())
        .filter(user::Column::OrganizationId.eq(org))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("member", &member))?;
    let at = Utc::now();
    let rows = session::Entity::find()
        .filter(session::Column::OrganizationId.eq(org))
        .filter(session::Column::UserId.eq(&member))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(at))
        .order_by_desc(session::Column::Id)
        .limit(200)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().filter(|s| is_live(s, at)).collect())
}

/// One session: one's own, or (for those who may read members) a member's.
pub async fn get(db: &Db, principal: &Principal, session_id: &str) -> ApiResult<session::Model> {
    let id = ids::lookup(Kind::Session, session_id)?;
    let grant = crate::authz::authorize(principal, Resource::Organization, Action::Read).await?;
    let session = session::Entity::find_by_id(id.to_owned())
        .filter(session::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("session", id))?;
    let own = matches!(&principal.actor, Actor::User { id, .. } if *id == session.user_id);
    if !own {
        crate::authz::authorize(principal, Resource::Member, Action::Read).await?;
    }
    Ok(session)
}

/// Ends one session: one's own, or (for those who may change that member) another member's. Audit-logged;
/// open subscriptions of the session end at their next check, which the revocation triggers at once.
pub async fn revoke(db: &Db, principal: &Principal, session_id: &str) -> ApiResult<session::Model> {
    let id = ids::lookup(Kind::Session, session_id)?;
    let grant = crate::authz::authorize(principal, Resource::Organization, Action::Read).await?;
    let org = grant.organization_id();
    let txn = db.begin_write().await?;
    let session = session::Entity::find_by_id(id.to_owned())
        .filter(session::Column::OrganizationId.eq(org))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("session", id))?;
    let own = matches!(&principal.actor, Actor::User { id, .. } if *id == session.user_id);
    if !own {
        let members = crate::authz::authorize(principal, Resource::Member, Action::Write).await?;
        let member = user::Entity::find_by_id(session.user_id.clone())
            .filter(user::Column::OrganizationId.eq(org))
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::not_found("session", id))?;
        authorize_member_change(
            &members,
            principal,
            &member.id,
            Role::stored(&member.role)?,
            None,
        )
        .await?;
    }
    if session.revoked_at.is_some() {
        return Ok(session);
    }
    let mut active = session.into_active_model();
    active.revoked_at = Set(Some(now()));
    let session = active.update(&*txn).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::SessionRevoked,
        ("member", &session.user_id),
        None,
        Some(json!({"session_id": session.id, "own": own})),
    )
    .await?;
    txn.announce_access_change(org);
    txn.commit().await?;
    Ok(session)
}
