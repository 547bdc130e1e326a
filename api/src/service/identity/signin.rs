//! Local sign-in: invitations that set a password, and email-and-password sign-in, throttled per address and
//! locked per account after repeated failures; all audited.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use entities::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;

use crate::auth::{Origin, Principal, Role, passwords, tokens};
use crate::authz::{Action, authorize_member_change};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};
use crate::service::audit;
use crate::service::audit::AuditAction;
use crate::service::identity::organizations::{self, validate_email};
use crate::service::now;

use crate::service::identity::sessions::{
    SessionPolicy, SignedIn, csrf_token, open_session, record_sign_in,
};

/// Invitation tokens start with this.
pub const INVITATION_PREFIX: &str = "ci_";
/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;
/// Consecutive failures that lock an account.
pub const ACCOUNT_FAILURES: i32 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MINUTES: i64 = 15;
/// Failed sign-ins one address may make per window before it is refused for the rest of it.
pub const ADDRESS_FAILURES: usize = 20;
/// The window of [`ADDRESS_FAILURES`].
pub const ADDRESS_WINDOW: StdDuration = StdDuration::from_secs(15 * 60);

/// Failed sign-ins per client address, in memory (each instance counts its own).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// Seconds until `ip` may try again, if it is over its budget.
    fn retry_after(&self, ip: Option<IpAddr>) -> Option<u64> {
        let ip = ip?;
        let mut failures = self.failures.lock().ok()?;
        let recent = failures.get_mut(&ip)?;
        while recent
            .front()
            .is_some_and(|at| at.elapsed() >= ADDRESS_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() < ADDRESS_FAILURES {
            return None;
        }
        let oldest = recent.front()?;
        Some(ADDRESS_WINDOW.saturating_sub(oldest.elapsed()).as_secs() + 1)
    }

    fn fail(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if let Ok(mut failures) = self.failures.lock() {
            // Forget addresses whose failures are all old, so the map stays small.
            if failures.len() > 10_000 {
                failures.retain(|_, at| at.back().is_some_and(|t| t.elapsed() < ADDRESS_WINDOW));
            }
            let recent = failures.entry(ip).or_default();
            recent.push_back(Instant::now());
            if recent.len() > ADDRESS_FAILURES {
                recent.pop_front();
            }
        }
    }
}

/// Input of `POST /auth/login`.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    /// Needed only when the email belongs to members of several organizations.
    pub organization_id: Option<String>,
}

/// The console's page where an invitation's token sets a password: the token rides in the fragment, which
/// browsers keep out of requests, logs and `Referer`.
pub fn invitation_url(public_url: &str, token: &str) -> String {
    format!(
        "{}{}invitation#token={token}",
        public_url.trim_end_matches('/'),
        crate::web::CONSOLE
    )
}

/// Input of `POST /auth/accept-invitation`.
#[derive(Clone, Debug)]
pub struct AcceptInvitation {
    pub token: String,
    pub password: String,
}

/// A new invitation link's token, shown once.
#[derive(Debug)]
pub struct Invitation {
    pub token: String,
    pub member: user::Model,
}

pub(crate) fn wrong_credentials() -> ApiError {
    ApiError::Unauthenticated("wrong email or password".to_owned())
}

/// Issues (or re-issues) the invitation link through which a member sets a password.
pub async fn issue_invitation(
    db: &Db,
    principal: &Principal,
    member_id: &str,
) -> ApiResult<Invitation> {
    let id = ids::lookup(Kind::User, member_id)?;
    let grant =
        crate::authz::authorize(principal, crate::authz::Resource::Member, Action::Write).await?;
    let txn = db.begin_write().await?;
    let member = user::Entity::find_by_id(id.to_owned())
        .filter(user::Column::OrganizationId.eq(grant.organization_id()))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("member", id))?;
    authorize_member_change(
        &grant,
        principal,
        &member.id,
        Role::stored(&member.role)?,
        None,
    )
    .await?;
    if !member.active {
        return Err(ApiError::Conflict(
            "the member is deactivated; invitations are for active members".to_owned(),
        ));
    }
    let (token, member) = store_invitation(&*txn, member).await?;
    audit::record(
        &*txn,
        principal,
        AuditAction::MemberInvitationIssued,
        ("member", &member.id),
        None,
        Some(json!({"expires_at": member.invitation_expires_at})),
    )
    .await?;
    txn.commit().await?;
    Ok(Invitation { token, member })
}

/// Gives `member` a fresh invitation token (replacing any earlier one) inside the caller's transaction.
pub(crate) async fn store_invitation(
    conn: &impl ConnectionTrait,
    member: user::Model,
) -> ApiResult<(String, user::Model)> {
    let token = tokens::random(INVITATION_PREFIX);
    let mut active = member.into_active_model();
    active.invitation_hash = Set(Some(tokens::hash(&token)));
    active.invitation_expires_at = Set(Some(now() + Duration::days(INVITATION_DAYS)));
    active.updated_at = Set(now());
    Ok((token, active.update(conn).await?))
}

/// Sets the member's password from a valid invitation token; the token works once.
pub async fn accept_invitation(
    db: &Db,
    input: AcceptInvitation,
    origin: &Origin,
) -> ApiResult<user::Model> {
    let token = input.token.trim();
    if !tokens::is_well_formed(token, INVITATION_PREFIX) {
        return Err(ApiError::validation("token", "is not an invitation token"));
    }
    let member = user::Entity::find()
        .filter(user::Column::InvitationHash.eq(tokens::hash(token)))
        .one(db.conn())
        .await?
        .filter(|m| m.active && m.invitation_expires_at.is_some_and(|at| at > Utc::now()))
        .ok_or_else(|| {
            ApiError::validation(
                "token",
                "is unknown, used or expired: ask for a new invitation",
            )
        })?;
    passwords::validate(&input.password, &member.email)?;
    let hash = passwords::hash(input.password).await?;
    let txn = db.begin_write().await?;
    let mut active = member.into_active_model();
    active.password_hash = Set(Some(hash));
    active.invitation_hash = Set(None);
    active.invitation_expires_at = Set(None);
    active.failed_logins = Set(0);
    active.locked_until = Set(None);
    active.updated_at = Set(now());
    let member = active.update(&*txn).await?;
    record_sign_in(
        &*txn,
        &member,
        origin,
        AuditAction::MemberPasswordSet,
        json!({"via": "invitation"}),
    )
    .await?;
    txn.commit().await?;
    Ok(member)
}

/// Signs a member in with email and password.
#[tracing::instrument(skip_all)]
pub async fn login(
    db: &Db,
    throttle: &LoginThrottle,
    policy: SessionPolicy,
    input: Credentials,
    origin: &Origin,
) -> ApiResult<SignedIn> {
    let email = validate_email("email", &input.email)?;
    if input.password.is_empty() || input.password.chars().count() > passwords::MAX_LENGTH {
        return Err(ApiError::validation(
            "password",
            format!("must be 1 to {} characters", passwords::MAX_LENGTH),
        ));
    }
    let organization = input
        .organization_id
        .as_deref()
        .map(|id| ids::parse(Kind::Organization, "organization_id", id))
        .transpose()?;
    let ip = origin
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    if let Some(retry_after_secs) = throttle.retry_after(ip) {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let mut query = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .filter(user::Column::Active.eq(true));
    if let Some(organization) = organization {
        query = query.filter(user::Column::OrganizationId.eq(organization));
    }
    let mut candidates = query.all(db.conn()).await?;
    if candidates.len() > 1 {
        return Err(ApiError::validation(
            "organization_id",
            "this email belongs to members of several organizations: name the organization",
        ));
    }
    let Some(member) = candidates.pop() else {
        passwords::verify(None, input.password).await?;
        throttle.fail(ip);
        return Err(wrong_credentials());
    };
    if organizations::find(db, &member.organization_id)
        .await?
        .sso_enforced
    {
        let txn = db.begin_write().await?;
        record_sign_in(
            &*txn,
            &member,
            origin,
            AuditAction::MemberLoginFailed,
            json!({"reason": "sso_enforced"}),
        )
        .await?;
        txn.commit().await?;
        return Err(ApiError::Forbidden(
            "this organization signs in through SSO only: GET /sso/lookup?email=… gives the sign-in link"
                .to_owned(),
        ));
    }
    if let Some(until) = member.locked_until.filter(|until| *until > Utc::now()) {
        let txn = db.begin_write().await?;
        record_sign_in(
            &*txn,
            &member,
            origin,
            AuditAction::MemberLoginFailed,
            json!({"reason": "locked"}),
        )
        .await?;
        txn.commit().await?;
        throttle.fail(ip);
        let retry_after_secs =
            u64::try_from((until - Utc::now()).num_seconds().max(1)).unwrap_or(1);
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let matches = passwords::verify(member.password_hash.clone(), input.password).await?;
    let txn = db.begin_write().await?;
    // Re-read under the write lock, so concurrent failures all count.
    let member = user::Entity::find_by_id(member.id.clone())
        .one(&*txn)
        .await?
        .ok_or_else(wrong_credentials)?;
    if !matches {
        let failures = member.failed_logins + 1;
        let locked = failures >= ACCOUNT_FAILURES;
        let reason = if member.password_hash.is_none() {
            "no password set"
        } else {
            "wrong password"
        };
        let mut active = member.clone().into_active_model();
        active.failed_logins = Set(if locked { 0 } else { failures });
        if locked {
            active.locked_until = Set(Some(now() + Duration::minutes(LOCKOUT_MINUTES)));
        }
        active.update(&*txn).await?;
        record_sign_in(
            &*txn,
            &member,
            origin,
            AuditAction::MemberLoginFailed,
            json!({"reason": reason, "consecutive_failures": failures, "locked": locked}),
        )
        .await?;
        txn.commit().await?;
        throttle.fail(ip);
        return Err(wrong_credentials());
    }
    let (token, session) = open_session(&*txn, &member, policy, "password", None, origin).await?;
    let mut active = member.into_active_model();
    active.failed_logins = Set(0);
    active.locked_until = Set(None);
    active.last_login_at = Set(Some(session.created_at));
    let member = active.update(&*txn).await?;
    record_sign_in(
        &*txn,
        &member,
        origin,
        AuditAction::MemberLogin,
        json!({"outcome": "success", "method": "password", "session_id": session.id}),
    )
    .await?;
    txn.commit().await?;
    Ok(SignedIn {
        csrf_token: csrf_token(&token),
        token,
        session,
        member,
    })
}
