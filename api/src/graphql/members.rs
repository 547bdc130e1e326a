//! Team members and the organization's plan.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entities::user;

use crate::auth::{Actor, Principal};
use crate::authz::Decision;
use crate::error::ApiResult;
use crate::graphql::caller;
use crate::graphql::enums::{
    ActorType, PermissionAction, PermissionResource, Plan, PlanFeature, Role, SignInMethod,
};
use crate::graphql::loaders::{MemberKey, load};
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, Organization, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::identity::members::{self, InviteMember};
use crate::service::identity::{organizations, sessions, signin};

/// Who is calling.
pub struct Me(pub Principal);

/// The caller: a signed-in team member or an API key, with its organization, role and plan.
#[Object]
impl Me {
    /// The id of the caller's organization.
    async fn organization_id(&self) -> ID {
        ID(self.0.organization_of_record().to_owned())
    }
    /// The caller's role, which decides what it may read and change.
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    /// The organization's plan, which decides the features it has.
    async fn plan(&self) -> Plan {
        self.0.plan.into()
    }
    /// Who is calling: a member or an API key.
    async fn actor_type(&self) -> async_graphql::Result<ActorType> {
        Ok(ActorType::stored(self.0.actor.kind())?)
    }
    /// The id of the member or API key calling.
    async fn actor_id(&self) -> ID {
        ID(self.0.actor_id().to_owned())
    }
    /// How the caller signed in (`API_KEY` for a key).
    async fn sign_in_method(&self) -> async_graphql::Result<SignInMethod> {
        Ok(SignInMethod::stored(match &self.0.actor {
            Actor::User { method, .. } => method,
            other => other.kind(),
        })?)
    }
    /// The member's current session.
    async fn session_id(&self) -> Option<ID> {
        match &self.0.actor {
            Actor::User { session_id, .. } => Some(ID(session_id.clone())),
            _ => None,
        }
    }
    /// The signed-in member (null for an API key).
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
    /// What the caller may do, as the server decides it from the role (or the key's scopes) and the plan: one
    /// entry for each resource and action of the policy. Clients show what is allowed, and for what the plan
    /// lacks, which plan has it.
    async fn permissions(&self) -> async_graphql::Result<Vec<Permission>> {
        Ok(crate::authz::permissions(&self.0)
            .await?
            .into_iter()
            .filter_map(|(resource, action, decision)| {
                Some(Permission {
                    resource: PermissionResource::of(resource)?,
                    action: PermissionAction::of(action)?,
                    allowed: decision == Decision::Allowed,
                    required_plan: match decision {
                        Decision::NeedsPlan(plan) => Some(plan.into()),
                        _ => None,
                    },
                })
            })
            .collect())
    }
}

/// A plan tier and what it includes.
#[derive(SimpleObject)]
pub struct PlanDescription {
    /// The plan.
    plan: Plan,
    /// Every feature it includes, those of the plans below it too.
    features: Vec<PlanFeature>,
    /// The features it adds to the plan below it.
    adds: Vec<PlanFeature>,
    /// Whether it is the caller's organization's plan.
    current: bool,
}

/// Each plan, cheapest first, with its features as the policy gives them.
pub fn plan_descriptions(principal: &Principal) -> Vec<PlanDescription> {
    let features = principal.authz.features();
    crate::auth::Plan::ALL
        .into_iter()
        .map(|plan| {
            let named = |keep: &dyn Fn(crate::auth::Plan) -> bool| {
                features
                    .iter()
                    .filter(|(_, lowest)| keep(*lowest))
                    .filter_map(|(name, _)| PlanFeature::named(name))
                    .collect()
            };
            PlanDescription {
                plan: plan.into(),
                features: named(&|lowest| lowest <= plan),
                adds: named(&|lowest| lowest == plan),
                current: plan == principal.plan,
            }
        })
        .collect()
}

/// Whether the caller may do one thing.
#[derive(SimpleObject)]
pub struct Permission {
    /// What it is about.
    resource: PermissionResource,
    /// What would be done.
    action: PermissionAction,
    /// Whether the caller may do it.
    allowed: bool,
    /// When the caller's role allows it but the organization's plan does not: the lowest plan that does. Null
    /// when it is allowed, or when no plan would allow it to this role.
    required_plan: Option<Plan>,
}

/// A member of the team.
pub struct Member(pub user::Model);

/// A person of the team, who signs in to the dashboard.
#[Object]
impl Member {
    /// The member's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The member's email address, unique in the organization.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// The member's name as the team sees it.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The member's role, which decides what they may read and change.
    async fn role(&self) -> async_graphql::Result<Role> {
        Ok(crate::auth::Role::stored(&self.0.role)?.into())
    }
    /// The member's live sessions, newest first: one's own, or any member's for those who manage members.
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let (db, principal) = caller(ctx)?;
        let rows = sessions::list(db, principal, Some(&self.0.id)).await?;
        Ok(rows
            .into_iter()
            .map(|m| Session::of(principal, m))
            .collect())
    }
    /// Whether the member may sign in; false once deactivated.
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
    /// When the member last signed in; null if never.
    async fn last_login_at(&self) -> Option<Timestamp> {
        self.0.last_login_at.map(Timestamp)
    }
    /// When the member was invited or created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the member last changed.
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
    pub(crate) fn of(principal: &crate::auth::Principal, model: entities::session::Model) -> Self {
        let current = matches!(&principal.actor, crate::auth::Actor::User { session_id, .. } if *session_id == model.id);
        Self { model, current }
    }
}

/// A member's signed-in session.
#[Object(name = "MemberSession")]
impl Session {
    /// The session's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.model.id.clone())
    }
    /// The id of the member signed in.
    async fn member_id(&self) -> ID {
        ID(self.model.user_id.clone())
    }
    /// The member the session belongs to.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        load(ctx, MemberKey(self.model.user_id.clone()), Member).await
    }
    /// How the member signed in.
    async fn method(&self) -> async_graphql::Result<SignInMethod> {
        Ok(SignInMethod::stored(&self.model.method)?)
    }
    /// The id of the SSO connection signed in through; null for other sign-ins.
    async fn sso_connection_id(&self) -> Option<ID> {
        self.model.sso_connection_id.clone().map(ID)
    }
    /// The address the session was opened from, when known.
    async fn ip(&self) -> Option<&str> {
        self.model.ip.as_deref()
    }
    /// The user agent the session was opened with, when known.
    async fn user_agent(&self) -> Option<&str> {
        self.model.user_agent.as_deref()
    }
    /// When the member signed in.
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
    /// When the session was ended; null while it lasts.
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
        #[graphql(
            desc = "The member whose sessions to list; the caller's own when omitted (an API key must name one)."
        )]
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
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many members to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the members after this cursor: the `endCursor` of the previous page."
        )]
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

/// A person to invite to the team.
#[derive(InputObject)]
pub struct InviteMemberInput {
    /// Their email address, unique in the organization.
    pub email: String,
    /// Their role, no higher than the inviter's.
    pub role: Role,
    /// Their name as the team sees it.
    pub name: Option<String>,
}

payload_type! {
    /// The result of a mutation that changes one member.
    MemberPayload {
        /// The member as changed.
        member: Option<Member>,
    }
}

payload_type! {
    /// The result of `issueInvitation`: the link token, shown this once.
    IssueInvitationPayload {
        /// The member invited.
        member: Option<Member>,
        /// The token the member sets a password with; it cannot be read again.
        token: Option<String>,
        /// The console's page where the member sets a password with the token (in the URL's fragment, which
        /// browsers do not send to servers): the link to give the member.
        url: Option<String>,
        /// When the token stops working.
        expires_at: Option<Timestamp>,
        /// Whether the link is on its way to the member by email (the organization has a connected email
        /// integration; the run shows its delivery). Otherwise give them `url` yourself.
        emailed: Option<bool>,
    }
}

payload_type! {
    /// The result of `revokeSession`.
    RevokeSessionPayload {
        /// The session, ended.
        session: Option<Session>,
    }
}

payload_type! {
    /// The result of a mutation that changes the organization.
    OrganizationPayload {
        /// The organization as changed.
        organization: Option<Organization>,
    }
}

/// The payload of a mutation that changes one member.
fn member_payload(
    ctx: &Context<'_>,
    result: ApiResult<user::Model>,
) -> async_graphql::Result<Option<MemberPayload>> {
    payload(ctx, result, Args::Top, |m| MemberPayload {
        member: Some(Member(m)),
        ..Default::default()
    })
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Ends a session: one's own, or a member's for those who may change that member.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session to end.")] id: ID,
    ) -> async_graphql::Result<Option<RevokeSessionPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = sessions::revoke(db, principal, &id).await;
        payload(ctx, result, Args::Top, |revoked| RevokeSessionPayload {
            session: Some(Session::of(principal, revoked)),
            ..Default::default()
        })
    }

    /// Invites a member by email with a role (no higher than the caller's); `issueInvitation` then gives the
    /// link with which they set a password, unless they sign in through SSO.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person to invite and their role.")] input: InviteMemberInput,
    ) -> async_graphql::Result<Option<MemberPayload>> {
        let (db, principal) = caller(ctx)?;
        let invite = InviteMember {
            email: input.email,
            role: input.role.into(),
            name: input.name,
        };
        let result = members::invite(db, principal, invite).await;
        payload(ctx, result, Args::Input, |m| MemberPayload {
            member: Some(Member(m)),
            ..Default::default()
        })
    }

    /// Changes a member's role; the last owner keeps theirs.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member whose role changes.")] id: ID,
        #[graphql(desc = "The new role, no higher than the caller's.")] role: Role,
    ) -> async_graphql::Result<Option<MemberPayload>> {
        let (db, principal) = caller(ctx)?;
        member_payload(
            ctx,
            members::change_role(db, principal, &id, role.into()).await,
        )
    }

    /// Issues the link token with which a member sets a password (`POST /api/v1/auth/accept-invitation`);
    /// it replaces any earlier one and is shown this once.
    async fn issue_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to invite.")] id: ID,
    ) -> async_graphql::Result<Option<IssueInvitationPayload>> {
        let (db, principal) = caller(ctx)?;
        let base = crate::graphql::shared::<crate::config::PublicUrl>(ctx)?;
        let sealer = crate::graphql::shared::<std::sync::Arc<crate::secrets::Sealer>>(ctx)?;
        let result = match signin::issue_invitation(db, principal, &id).await {
            Ok(invitation) => crate::service::integrations::email::queue_invitation(
                db,
                sealer,
                &base.0,
                principal,
                &invitation,
            )
            .await
            .map(|emailed| (invitation, emailed)),
            Err(err) => Err(err),
        };
        payload(ctx, result, Args::Top, |(invitation, emailed)| {
            IssueInvitationPayload {
                emailed: Some(emailed),
                url: Some(signin::invitation_url(&base.0, &invitation.token)),
                expires_at: invitation.member.invitation_expires_at.map(Timestamp),
                member: Some(Member(invitation.member)),
                token: Some(invitation.token),
                ..Default::default()
            }
        })
    }

    /// Deactivates a member and ends their sessions; nothing they did is deleted.
    async fn deactivate_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to deactivate.")] id: ID,
    ) -> async_graphql::Result<Option<MemberPayload>> {
        let (db, principal) = caller(ctx)?;
        member_payload(ctx, members::deactivate(db, principal, &id).await)
    }

    /// Changes the organization's plan (owners only).
    async fn set_organization_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new plan.")] plan: Plan,
    ) -> async_graphql::Result<Option<OrganizationPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = organizations::set_plan(db, principal, plan.into()).await;
        payload(ctx, result, Args::Top, |org| OrganizationPayload {
            organization: Some(Organization(org)),
            ..Default::default()
        })
    }
}
