//! Visitors: the people who talk to an assistant.

use std::collections::HashMap;

use entities::visitor;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::{
    Page, PageRequest, by_ids, newest_first, now, optional_field, organizations::validate_email,
};

/// A visitor's contact details, as given when a conversation starts.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVisitor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl NewVisitor {
    /// Checks the fields and normalizes blanks to `None`.
    pub fn validated(&self) -> ApiResult<NewVisitor> {
        let email = match optional_field("visitor.email", self.email.as_deref(), 254)? {
            Some(email) => Some(validate_email("visitor.email", &email)?),
            None => None,
        };
        let phone = optional_field("visitor.phone", self.phone.as_deref(), 40)?;
        if let Some(phone) = &phone
            && !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(ApiError::validation(
                "visitor.phone",
                "may hold only digits, spaces and + - ( ) .",
            ));
        }
        Ok(NewVisitor {
            name: optional_field("visitor.name", self.name.as_deref(), 200)?,
            email,
            phone,
        })
    }
}

/// Inserts a visitor inside the caller's transaction.
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    input: NewVisitor,
) -> ApiResult<visitor::Model> {
    let at = now();
    Ok(visitor::ActiveModel {
        id: Set(new_id(Kind::Visitor)),
        organization_id: Set(organization_id.to_owned()),
        name: Set(input.name),
        email: Set(input.email),
        phone: Set(input.phone),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(conn)
    .await?)
}

pub(crate) async fn find(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<visitor::Model> {
    let id = ids::lookup(Kind::Visitor, id)?;
    visitor::Entity::find_by_id(id.to_owned())
        .filter(visitor::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("visitor", id))
}

/// One visitor of the caller's organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<visitor::Model> {
    let grant = authorize(principal, Resource::Visitor, Action::Read).await?;
    find(db.conn(), grant.organization_id(), id).await
}

/// Visitors by id, for the GraphQL loader (ids of other organizations are absent).
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<HashMap<String, visitor::Model>> {
    let grant = authorize(principal, Resource::Visitor, Action::Read).await?;
    by_ids::<visitor::Entity>(
        db.conn(),
        visitor::Column::OrganizationId,
        visitor::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}

/// The organization's visitors, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    page: &PageRequest,
) -> ApiResult<Page<visitor::Model>> {
    let grant = authorize(principal, Resource::Visitor, Action::Read).await?;
    let query =
        visitor::Entity::find().filter(visitor::Column::OrganizationId.eq(grant.organization_id()));
    newest_first(db.conn(), query, visitor::Column::Id, page).await
}

/// How many visitors the organization has.
pub async fn count(db: &Db, principal: &Principal) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    let grant = authorize(principal, Resource::Visitor, Action::Read).await?;
    Ok(visitor::Entity::find()
        .filter(visitor::Column::OrganizationId.eq(grant.organization_id()))
        .count(db.conn())
        .await?)
}
