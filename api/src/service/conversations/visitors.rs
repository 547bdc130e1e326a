//! Visitors: the people who talk to an assistant.

use std::collections::HashMap;

use entities::visitor;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::identity::organizations::validate_email;
use crate::service::{Page, PageRequest, Patch, by_ids, newest_first, now, optional_field};

/// A visitor's contact details, as given when a conversation starts.
#[derive(Clone, Debug, Default)]
pub struct NewVisitor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl NewVisitor {
    /// Checks the fields and normalizes blanks to `None`; errors name the fields under `visitor.`.
    pub fn validated(&self) -> ApiResult<NewVisitor> {
        self.validated_at("visitor.")
    }

    /// Checks the fields, naming them in errors after `prefix`.
    fn validated_at(&self, prefix: &str) -> ApiResult<NewVisitor> {
        let field = |name: &str| format!("{prefix}{name}");
        let email = match optional_field(&field("email"), self.email.as_deref(), 254)? {
            Some(email) => Some(validate_email(&field("email"), &email)?),
            None => None,
        };
        let phone = optional_field(&field("phone"), self.phone.as_deref(), 40)?;
        if let Some(phone) = &phone
            && !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(ApiError::validation(
                &field("phone"),
                "may hold only digits, spaces and + - ( ) .",
            ));
        }
        Ok(NewVisitor {
            name: optional_field(&field("name"), self.name.as_deref(), 200)?,
            email,
            phone,
        })
    }
}

/// Input of `updateVisitor` / `PUT /visitors/{id}`: absent fields keep their value, `null` clears.
#[derive(Clone, Debug, Default)]
pub struct UpdateVisitor {
    pub name: Patch<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    /// Marketing consent given (`true`) or withdrawn (`false`); absent keeps it.
    pub marketing_consent: Option<bool>,
}

impl UpdateVisitor {
    /// Whether the input changes nothing.
    fn is_empty(&self) -> bool {
        self.name.is_keep()
            && self.email.is_keep()
            && self.phone.is_keep()
            && self.marketing_consent.is_none()
    }
}

/// Changes a visitor's contact details and emits `visitor.updated` with what changed.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: &str,
    input: UpdateVisitor,
) -> ApiResult<visitor::Model> {
    let grant = authorize(principal, Resource::Visitor, Action::Write).await?;
    update_in(db, grant.organization_id(), id, input).await
}

/// [`update`] in an organization the caller was authorized for (the widget's visitor changes its own details).
pub(crate) async fn update_in(
    db: &Db,
    org: &str,
    id: &str,
    input: UpdateVisitor,
) -> ApiResult<visitor::Model> {
    let id = ids::lookup(Kind::Visitor, id)?;
    if input.is_empty() {
        return Err(ApiError::validation(
            "input",
            "nothing to update: give name, email, phone or marketing consent",
        ));
    }
    let txn = db.begin_write().await?;
    let after = apply_update(&txn, org, id, input).await?;
    txn.commit().await?;
    Ok(after)
}

/// Applies a change of a visitor's details in the caller's transaction, with `visitor.updated` when something
/// changed (the unchanged visitor otherwise).
pub(crate) async fn apply_update(
    txn: &WriteTxn<'_>,
    org: &str,
    id: &str,
    input: UpdateVisitor,
) -> ApiResult<visitor::Model> {
    // The same rules as a new visitor's details, field by field.
    let set = |patch: &Patch<String>| match patch {
        Patch::Set(value) => Some(value.clone()),
        _ => None,
    };
    let checked = NewVisitor {
        name: set(&input.name),
        email: set(&input.email),
        phone: set(&input.phone),
    }
    .validated_at("")?;
    let merge = |patch: &Patch<String>, valid: Option<String>, current: &Option<String>| match patch
    {
        Patch::Keep => current.clone(),
        Patch::Clear => None,
        Patch::Set(_) => valid,
    };
    let before = find(&**txn, org, id).await?;
    let name = merge(&input.name, checked.name, &before.name);
    let email = merge(&input.email, checked.email, &before.email);
    let phone = merge(&input.phone, checked.phone, &before.phone);
    let mut changes = serde_json::Map::new();
    for (field, from, to) in [
        ("name", &before.name, &name),
        ("email", &before.email, &email),
        ("phone", &before.phone, &phone),
    ] {
        if from != to {
            changes.insert(field.to_owned(), json!({"from": from, "to": to}));
        }
    }
    let consent = input.marketing_consent.unwrap_or(before.marketing_consent);
    if consent != before.marketing_consent {
        changes.insert(
            "marketing_consent".to_owned(),
            json!({"from": before.marketing_consent, "to": consent}),
        );
    }
    if changes.is_empty() {
        // Nothing changed: no write, no event.
        return Ok(before);
    }
    let mut active = before.clone().into_active_model();
    active.name = Set(name);
    active.email = Set(email);
    active.phone = Set(phone);
    let at = now();
    if consent != before.marketing_consent {
        active.marketing_consent = Set(consent);
        active.marketing_consent_at = Set(Some(at));
    }
    active.updated_at = Set(at);
    let after = active.update(&**txn).await?;
    outbox::record(
        txn,
        org,
        names::VISITOR_UPDATED,
        None,
        json!({
            "visitor_id": after.id,
            "name": after.name,
            "email": after.email,
            "phone": after.phone,
            "marketing_consent": after.marketing_consent,
            "changes": changes,
        }),
    )
    .await?;
    Ok(after)
}

/// Unsubscribes a visitor from the organization's emails (a signed link in one of them, so no caller): their
/// marketing consent goes too, and `visitor.updated` says so. The visitor as it is after; unchanged when they
/// had unsubscribed already.
pub(crate) async fn unsubscribe(db: &Db, id: &str) -> ApiResult<visitor::Model> {
    let id = ids::lookup(Kind::Visitor, id)?;
    let txn = db.begin_write().await?;
    let before = visitor::Entity::find_by_id(id.to_owned())
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("visitor", id))?;
    if before.unsubscribed_at.is_some() {
        return Ok(before);
    }
    let at = now();
    let mut changes = serde_json::Map::new();
    changes.insert(
        "unsubscribed".to_owned(),
        json!({"from": false, "to": true}),
    );
    let mut active = before.clone().into_active_model();
    active.unsubscribed_at = Set(Some(at));
    if before.marketing_consent {
        changes.insert(
            "marketing_consent".to_owned(),
            json!({"from": true, "to": false}),
        );
        active.marketing_consent = Set(false);
        active.marketing_consent_at = Set(Some(at));
    }
    active.updated_at = Set(at);
    let after = active.update(&*txn).await?;
    outbox::record(
        &txn,
        &after.organization_id,
        names::VISITOR_UPDATED,
        None,
        json!({
            "visitor_id": after.id,
            "name": after.name,
            "email": after.email,
            "phone": after.phone,
            "marketing_consent": after.marketing_consent,
            "changes": changes,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
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
        marketing_consent: Set(false),
        marketing_consent_at: Set(None),
        unsubscribed_at: Set(None),
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
