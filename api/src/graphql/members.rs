//! Team members and the organization's plan.

use async_graphql::{Context, ID, InputObject, Object};
use entities::user;

use crate::auth::{Plan, Role};
use crate::graphql::caller;
use crate::graphql::types::{Conn, Organization, Timestamp, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::members::{self, InviteMember};
use crate::service::organizations;

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
        Ok(Role::stored(&self.0.role)?)
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
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

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
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
                role: input.role,
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
            members::change_role(db, principal, &id, role).await?,
        ))
    }

    /// Deactivates a member; nothing they did is deleted.
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
            organizations::set_plan(db, principal, plan).await?,
        ))
    }
}
