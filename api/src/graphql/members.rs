//! Team members and the organization's plan.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entities::user;

use crate::auth::{Actor, Principal};
use crate::error::ApiError;
use crate::graphql::caller;
use crate::graphql::enums::{Plan, Role};
use crate::graphql::types::{Conn, Organization, Timestamp, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::identity::members::{self, InviteMember};
use crate::service::identity::{organizations, sessions, signin};

/// Who is calling.
pub struct Me(pub Principal);

#[Object]
impl Me {
    async fn organization_id(&self) -> ID {
        ID(self.0.organization_of_record().to_owned())
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn plan(&self) -> Plan {
        self.0.plan.into()
    }
    /// `api_key` or `user`.
    async fn actor_type(&self) -> &str {
        self.0.actor.kind()
    }
    async fn actor_id(&self) -> ID {
        ID(self.0.actor_id().to_owned())
    }
    /// How the caller signed in: `password`, `saml`, `oidc` or `oauth2` for a member's session, `api_key` for a
    /// key.
    async fn sign_in_method(&self) -> &str {
        match &self.0.actor {
            Actor::User { method, .. } => method,
            other => other.kind(),
        }
    }
    /// The member's current session.
    async fn session_id(&self) -> Option<ID> {
        match &self.0.actor {
            Actor::User { session_id, .. } => Some(ID(session_id.clone())),
            _ => None,
        }
    }
    /// The signed-in member (none for an API key).
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let (db, principal) = crate::graphql::caller(ctx)?;
        Ok(crate::service::identity::members::own(db, principal)
            .await?
            .map(Member))
    }
    /// The caller's organization.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        let (db, principal) = crate::graphql::caller(ctx)?;
        Ok(Organization(
            crate::service::identity::organizations::get_own(db, principal).await?,
        ))
    }
}

/// A member of the team.
pub struct Member(pub user::Model);

#[Object]
impl Member {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn role(&self) -> async_graphql::Result<Role> {
        Ok(crate::auth::Role::stored(&self.0.role)?.into())
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Whether the member can sign in with a password (set through an invitation).
    async fn password_set(&self) -> bool {
        self.0.password_hash.is_some()
    }
    /// Until when the member's account is locked after repeated failed sign-ins.
    async fn locked_until(&self) -> Option<Timestamp> {
        self.0.locked_until.map(Timestamp)
    }
    async fn last_login_at(&self) -> Option<Timestamp> {
        self.0.last_login_at.map(Timestamp)
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A member's signed-in session.
pub struct Session {
    pub model: entities::session::Model,
    /// Whether it is the caller's own current session.
    pub current: bool,
}

impl Session {
    fn of(principal: &crate::auth::Principal, model: entities::session::Model) -> Self {
        let current = matches!(&principal.actor, crate::auth::Actor::User { session_id, .. } if *session_id == model.id);
        Self { model, current }
    }
}

#[Object]
impl Session {
    async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    async fn member_id(&self) -> ID {
        ID(self.model.user_id.clone())
    }
    /// `password`, `saml`, `oidc` or `oauth2`.
    async fn method(&self) -> &str {
        &self.model.method
    }
    async fn sso_connection_id(&self) -> Option<ID> {
        self.model.sso_connection_id.clone().map(ID)
    }
    async fn ip(&self) -> Option<&str> {
        self.model.ip.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.model.user_agent.as_deref()
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.model.created_at)
    }
    /// The last request made with it, to the minute.
    async fn last_seen_at(&self) -> Option<Timestamp> {
        self.model.last_seen_at.map(Timestamp)
    }
    /// When it ends however it is used.
    async fn expires_at(&self) -> Timestamp {
        Timestamp(self.model.expires_at)
    }
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.model.revoked_at.map(Timestamp)
    }
    /// Whether this is the caller's own session.
    async fn current(&self) -> bool {
        self.current
    }
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// Live sessions, newest first: the caller's own, or (for those who manage members) a member's.
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Session>> {
        let (db, principal) = caller(ctx)?;
        let rows = sessions::list(db, principal, member_id.as_ref().map(|m| m.as_str())).await?;
        Ok(rows
            .into_iter()
            .map(|m| Session::of(principal, m))
            .collect())
    }

    /// The team, newest first.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<Member>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::User)?;
        let total = if wants_total(ctx) {
            members::count(db, principal).await?
        } else {
            0
        };
        let rows = members::list(db, principal, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |m| &m.id,
            Member,
        ))
    }
}

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    pub role: Role,
    pub name: Option<String>,
}

/// An invitation token, shown once.
#[derive(SimpleObject)]
pub struct InvitationPayload {
    pub member: Member,
    pub token: String,
    pub expires_at: Timestamp,
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Ends a session: one's own, or a member's for those who may change that member.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Session> {
        let (db, principal) = caller(ctx)?;
        let revoked = sessions::revoke(db, principal, &id).await?;
        Ok(Session::of(principal, revoked))
    }

    /// Invites a member by email with a role (no higher than the caller's).
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> async_graphql::Result<Member> {
        let (db, principal) = caller(ctx)?;
        let member = members::invite(
            db,
            principal,
            InviteMember {
                email: input.email,
                role: input.role.into(),
                name: input.name,
            },
        )
        .await?;
        Ok(Member(member))
    }

    /// Changes a member's role; the last owner keeps theirs.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: Role,
    ) -> async_graphql::Result<Member> {
        let (db, principal) = caller(ctx)?;
        Ok(Member(
            members::change_role(db, principal, &id, role.into()).await?,
        ))
    }

    /// Issues the link token with which a member sets a password (`POST /api/v1/auth/accept-invitation`);
    /// it replaces any earlier one and is shown this once.
    async fn issue_invitation(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
    ) -> async_graphql::Result<InvitationPayload> {
        let (db, principal) = caller(ctx)?;
        let invitation = signin::issue_invitation(db, principal, &member_id).await?;
        let expires_at = invitation
            .member
            .invitation_expires_at
            .map(Timestamp)
            .ok_or_else(|| ApiError::internal_msg("an invitation without an expiry"))?;
        Ok(InvitationPayload {
            member: Member(invitation.member),
            token: invitation.token,
            expires_at,
        })
    }

    /// Deactivates a member and ends their sessions; nothing they did is deleted.
    async fn deactivate_member(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Member> {
        let (db, principal) = caller(ctx)?;
        Ok(Member(members::deactivate(db, principal, &id).await?))
    }

    /// Changes the organization's plan (owners only).
    async fn set_organization_plan(
        &self,
        ctx: &Context<'_>,
        plan: Plan,
    ) -> async_graphql::Result<Organization> {
        let (db, principal) = caller(ctx)?;
        Ok(Organization(
            organizations::set_plan(db, principal, plan.into()).await?,
        ))
    }
}
