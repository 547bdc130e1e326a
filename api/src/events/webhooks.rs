//! Webhook endpoints: URL, events, description and active flag, with a `whsec_` signing secret shown once and sealed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use entities::webhook;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait,
    QueryFilter, Set,
};
use serde::Serialize;
use serde_json::json;

use crate::auth::Principal;
use crate::authz::{Action, Feature, Resource, authorize, includes_feature};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::secrets::Sealer;
use crate::service::audit::AuditAction;
use crate::service::{Page, PageRequest, Patch, audit, newest_first, now, text_patch};

/// The events an endpoint may subscribe to.
pub const EVENTS: &[&str] = &[
    "conversation.created",
    "conversation.updated",
    "conversation.resolved",
    "message.created",
    "handoff.requested",
    "feedback.received",
    "knowledge_base.query_failed",
    "visitor.updated",
    "visitor.form_submitted",
    "webhook.disabled",
    "integration.connected",
    "integration.disconnected",
    "integration.auth_failed",
    "integration.sync_failed",
];

const URL_MAX: usize = 2048;
const DESCRIPTION_MAX: usize = 500;
const ENDPOINTS_MAX: u64 = 50;
/// How long the secret before a rotation keeps signing (both signatures are sent meanwhile).
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// Whether deliveries go out, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Deliveries go out.
    Active,
    /// Switched off by the organization (`active: false`).
    Paused,
    /// Switched off by delivery (410 Gone or too many failures); `disabled_reason` says which.
    Disabled,
    /// The organization's plan does not include webhooks: kept, read-only, and resumed on upgrade.
    PlanInactive,
}

/// An endpoint with what its status is now.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub model: webhook::Model,
    pub status: WebhookStatus,
}

impl Webhook {
    fn new(model: webhook::Model, plan_includes_webhooks: bool) -> Self {
        let status = if !plan_includes_webhooks {
            WebhookStatus::PlanInactive
        } else if model.disabled_reason.is_some() {
            WebhookStatus::Disabled
        } else if !model.active {
            WebhookStatus::Paused
        } else {
            WebhookStatus::Active
        };
        Self { model, status }
    }

    /// The subscribed events.
    pub fn events(&self) -> Vec<String> {
        subscribed_events(&self.model)
    }
}

/// The events an endpoint subscribes to, as stored.
pub fn subscribed_events(model: &webhook::Model) -> Vec<String> {
    serde_json::from_value(model.events.clone()).unwrap_or_default()
}

/// Input of `createWebhook` / `POST /webhooks`.
#[derive(Clone, Debug, Default)]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// Input of `updateWebhook` / `PUT /webhooks/{id}`: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Patch<String>,
    pub active: Option<bool>,
}

/// `whsec_` + base64 of 32 random bytes (Standard Webhooks asks for 24 to 64).
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

fn sealing_context(id: &str) -> String {
    format!("webhook-secret:{id}")
}

/// An http(s) URL without credentials, not pointing at a private address unless the egress allow-list says so.
fn validate_url(value: &str, egress_allow: Option<&str>) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > URL_MAX {
        return Err(ApiError::validation(
            "url",
            format!("must be 1 to {URL_MAX} characters"),
        ));
    }
    let url = url::Url::parse(value)
        .map_err(|err| ApiError::validation("url", format!("is not a URL ({err})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ApiError::validation("url", "must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::validation(
            "url",
            "must not carry credentials; the signature authenticates deliveries",
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| ApiError::validation("url", "must name a host"))?;
    if let Some(reason) = crate::egress::refusal(&host, egress_allow) {
        return Err(ApiError::validation("url", reason));
    }
    Ok(url.to_string())
}

fn validate_events(events: &[String]) -> ApiResult<Vec<String>> {
    if events.is_empty() {
        return Err(ApiError::validation("events", "choose at least one event"));
    }
    let mut unique: Vec<String> = Vec::new();
    for event in events {
        if !EVENTS.contains(&event.as_str()) {
            return Err(ApiError::validation(
                "events",
                format!(
                    "unknown event {event:?}; expected some of {}",
                    EVENTS.join(", ")
                ),
            ));
        }
        if !unique.contains(event) {
            unique.push(event.clone());
        }
    }
    Ok(unique)
}

/// What the audit log records of an endpoint (never its secret).
fn summary(model: &webhook::Model) -> serde_json::Value {
    json!({
        "id": model.id,
        "url": model.url,
        "events": model.events,
        "description": model.description,
        "active": model.active,
    })
}

/// One endpoint per URL: a second one would deliver every event twice.
async fn refuse_duplicate(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    url: &str,
    except: Option<&str>,
) -> ApiResult<()> {
    let mut query = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .filter(webhook::Column::Url.eq(url));
    if let Some(id) = except {
        query = query.filter(webhook::Column::Id.ne(id));
    }
    match query.one(conn).await? {
        Some(existing) => Err(ApiError::ConflictOn {
            field: "url".to_owned(),
            message: format!(
                "webhook {} already delivers to {url}; change its events instead",
                existing.id
            ),
        }),
        None => Ok(()),
    }
}

async fn find(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<webhook::Model> {
    let id = ids::lookup(Kind::Webhook, id)?;
    webhook::Entity::find_by_id(id.to_owned())
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

/// How many endpoints the organization has.
pub async fn count(db: &Db, principal: &Principal) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::Webhook, Action::Read).await?;
    Ok(sea_orm::PaginatorTrait::count(
        webhook::Entity::find().filter(webhook::Column::OrganizationId.eq(grant.organization_id())),
        db.conn(),
    )
    .await?)
}

/// The organization's endpoints, newest first.
pub async fn list(db: &Db, principal: &Principal, page: &PageRequest) -> ApiResult<Page<Webhook>> {
    let grant = authorize(principal, Resource::Webhook, Action::Read).await?;
    let included = includes_feature(principal, Feature::Webhooks).await?;
    let query =
        webhook::Entity::find().filter(webhook::Column::OrganizationId.eq(grant.organization_id()));
    let page = newest_first(db.conn(), query, webhook::Column::Id, page).await?;
    Ok(page.map(|model| Webhook::new(model, included)))
}

/// One endpoint.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<Webhook> {
    let grant = authorize(principal, Resource::Webhook, Action::Read).await?;
    let model = find(db.conn(), grant.organization_id(), id).await?;
    Ok(Webhook::new(
        model,
        includes_feature(principal, Feature::Webhooks).await?,
    ))
}

/// Creates an endpoint and returns its secret, this once.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn create(
    db: &Db,
    sealer: &Sealer,
    principal: &Principal,
    egress_allow: Option<&str>,
    input: CreateWebhook,
) -> ApiResult<(Webhook, String)> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    let url = validate_url(&input.url, egress_allow)?;
    let events = validate_events(&input.events)?;
    let description = match text_patch(
        "description",
        &input.description.map_or(Patch::Keep, Patch::Set),
        DESCRIPTION_MAX,
    )? {
        Patch::Set(text) => Some(text),
        _ => None,
    };
    let id = new_id(Kind::Webhook);
    let secret = new_secret();
    let sealed = sealer.seal(&secret, &sealing_context(&id))?;
    let at = now();
    let txn = db.begin_write().await?;
    let existing = sea_orm::PaginatorTrait::count(
        webhook::Entity::find().filter(webhook::Column::OrganizationId.eq(grant.organization_id())),
        &*txn,
    )
    .await?;
    if existing >= ENDPOINTS_MAX {
        return Err(ApiError::Conflict(format!(
            "an organization has at most {ENDPOINTS_MAX} webhook endpoints"
        )));
    }
    refuse_duplicate(&*txn, grant.organization_id(), &url, None).await?;
    let model = webhook::ActiveModel {
        id: Set(id),
        organization_id: Set(grant.organization_id().to_owned()),
        url: Set(url),
        events: Set(json!(events)),
        description: Set(description),
        active: Set(input.active.unwrap_or(true)),
        secret_sealed: Set(sealed),
        previous_secret_sealed: Set(None),
        previous_expires_at: Set(None),
        disabled_reason: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        consecutive_failures: Set(0),
    }
    .insert(&*txn)
    .await?;
    let target = ("webhook", model.id.as_str());
    audit::record(
        &*txn,
        principal,
        AuditAction::WebhookCreated,
        target,
        None,
        Some(summary(&model)),
    )
    .await?;
    txn.commit().await?;
    Ok((Webhook::new(model, true), secret))
}

/// Changes an endpoint; turning it on again clears a delivery-disabled state.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    egress_allow: Option<&str>,
    id: &str,
    input: UpdateWebhook,
) -> ApiResult<Webhook> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    let url = input
        .url
        .as_deref()
        .map(|url| validate_url(url, egress_allow))
        .transpose()?;
    let events = input.events.as_deref().map(validate_events).transpose()?;
    let description = text_patch("description", &input.description, DESCRIPTION_MAX)?;
    if url.is_none() && events.is_none() && description.is_keep() && input.active.is_none() {
        return Err(ApiError::validation(
            "input",
            "nothing to update: give url, events, description or active",
        ));
    }
    let txn = db.begin_write().await?;
    let current = find(&*txn, grant.organization_id(), id).await?;
    if let Some(url) = &url {
        refuse_duplicate(&*txn, grant.organization_id(), url, Some(&current.id)).await?;
    }
    let before = summary(&current);
    let mut active = current.into_active_model();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(events) = events {
        active.events = Set(json!(events));
    }
    match description {
        Patch::Keep => {}
        Patch::Clear => active.description = Set(None),
        Patch::Set(text) => active.description = Set(Some(text)),
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
        if flag {
            active.disabled_reason = Set(None);
            active.consecutive_failures = Set(0);
        }
    }
    active.updated_at = Set(now());
    let model = active.update(&*txn).await?;
    let target = ("webhook", model.id.as_str());
    audit::record(
        &*txn,
        principal,
        AuditAction::WebhookUpdated,
        target,
        Some(before),
        Some(summary(&model)),
    )
    .await?;
    txn.commit().await?;
    Ok(Webhook::new(model, true))
}

/// Deletes an endpoint and returns what it was.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn delete(db: &Db, principal: &Principal, id: &str) -> ApiResult<Webhook> {
    let grant = authorize(principal, Resource::Webhook, Action::Delete).await?;
    let txn = db.begin_write().await?;
    let model = find(&*txn, grant.organization_id(), id).await?;
    model.clone().delete(&*txn).await?;
    let target = ("webhook", model.id.as_str());
    audit::record(
        &*txn,
        principal,
        AuditAction::WebhookDeleted,
        target,
        Some(summary(&model)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(Webhook::new(model, true))
}

/// Issues a new secret; the previous one keeps signing for [`ROTATION_OVERLAP_HOURS`].
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn rotate_secret(
    db: &Db,
    sealer: &Sealer,
    principal: &Principal,
    id: &str,
) -> ApiResult<(Webhook, String)> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    let txn = db.begin_write().await?;
    let current = find(&*txn, grant.organization_id(), id).await?;
    let secret = new_secret();
    let sealed = sealer.seal(&secret, &sealing_context(&current.id))?;
    let mut active = current.clone().into_active_model();
    active.previous_secret_sealed = Set(Some(current.secret_sealed.clone()));
    active.previous_expires_at = Set(Some(now() + Duration::hours(ROTATION_OVERLAP_HOURS)));
    active.secret_sealed = Set(sealed);
    active.updated_at = Set(now());
    let model = active.update(&*txn).await?;
    let target = ("webhook", model.id.as_str());
    audit::record(
        &*txn,
        principal,
        AuditAction::WebhookSecretRotated,
        target,
        None,
        Some(json!({"previous_secret_valid_until": model.previous_expires_at})),
    )
    .await?;
    txn.commit().await?;
    Ok((Webhook::new(model, true), secret))
}

/// The secrets that sign a delivery now: the current one, and the previous one during the overlap.
pub fn signing_secrets(
    sealer: &Sealer,
    model: &webhook::Model,
) -> ApiResult<Vec<secrecy::SecretString>> {
    let context = sealing_context(&model.id);
    let mut secrets = vec![sealer.open(&model.secret_sealed, &context)?];
    if let (Some(previous), Some(until)) =
        (&model.previous_secret_sealed, model.previous_expires_at)
        && until > now()
    {
        secrets.push(sealer.open(previous, &context)?);
    }
    Ok(secrets)
}
