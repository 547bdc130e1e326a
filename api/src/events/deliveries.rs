//! Webhook deliveries: owed with each event in its transaction, claimed by one instance at a time, logged per attempt.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entities::{event, organization, webhook, webhook_attempt, webhook_delivery};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};
use serde_json::json;

use crate::auth::{Plan, Principal};
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::queue::{CANCELLED, FAILED, PENDING, SUCCEEDED, envelope, insert};
use crate::events::webhooks::subscribed_events;
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::{Page, PageRequest, newest_first, now};

/// The most of a response body kept in the log.
pub const EXCERPT_BYTES: usize = 4096;

/// Takes up to `limit` due deliveries for `lease`: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several
/// instances claim side by side without taking the same one; SQLite has a single writer anyway.
pub async fn claim(
    db: &Db,
    lease: StdDuration,
    limit: u64,
) -> ApiResult<Vec<webhook_delivery::Model>> {
    let at = now();
    let until = at + Duration::from_std(lease).map_err(ApiError::internal)?;
    let mut due = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(at))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LeaseUntil.is_null())
                .add(webhook_delivery::Column::LeaseUntil.lt(at)),
        )
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(limit)
        .into_query();
    if db.backend() == DbBackend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let txn = db.begin_write().await?;
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(until))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(at))
        .filter(webhook_delivery::Column::Id.in_subquery(due))
        .exec_with_returning(&*txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// What a delivery is sent to, with the plan of its organization.
pub async fn target(db: &Db, webhook_id: &str) -> ApiResult<Option<(webhook::Model, Plan)>> {
    let Some(endpoint) = webhook::Entity::find_by_id(webhook_id.to_owned())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    let plan = organization::Entity::find_by_id(endpoint.organization_id.clone())
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("organization", &endpoint.organization_id))?
        .plan;
    Ok(Some((endpoint, Plan::stored(&plan)?)))
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub status_code: Option<u16>,
    pub latency: StdDuration,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// The receiver's `Retry-After`, when it gave one.
    pub retry_after: Option<StdDuration>,
}

impl Attempted {
    fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// How deliveries are retried and when endpoints give up.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// The wait before each retry; after the last one the delivery has failed.
    pub schedule: Vec<StdDuration>,
    pub disable_after: u32,
}

impl RetryPolicy {
    /// Parses `5,300,1800` (seconds).
    pub fn parse(schedule: &str, disable_after: u32) -> anyhow::Result<Self> {
        let schedule = schedule
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>().map(StdDuration::from_secs).map_err(|_| {
                    anyhow::anyhow!("webhook retry schedule: {s:?} is not a number of seconds")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            disable_after > 0,
            "webhook_disable_after must be at least 1"
        );
        Ok(Self {
            schedule,
            disable_after,
        })
    }

    /// When to try again after `attempts` attempts, with ±10 % jitter, never sooner than `retry_after`.
    pub(crate) fn next(
        &self,
        attempts: i32,
        retry_after: Option<StdDuration>,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.schedule.get(index)?;
        let jitter = 0.9 + rand::random::<f64>() * 0.2;
        let wait = base
            .mul_f64(jitter)
            .max(retry_after.unwrap_or_default())
            .min(StdDuration::from_secs(86_400));
        Some(now() + Duration::from_std(wait).ok()?)
    }
}

/// Records an attempt and moves the delivery and its endpoint on: done, retry later, failed, or endpoint disabled.
pub async fn finish(
    db: &Db,
    delivery: &webhook_delivery::Model,
    endpoint: &webhook::Model,
    outcome: &Attempted,
    policy: &RetryPolicy,
) -> ApiResult<()> {
    let txn = db.begin_write().await?;
    let attempt = delivery.attempts + 1;
    webhook_attempt::ActiveModel {
        id: Set(new_id(Kind::Attempt)),
        delivery_id: Set(delivery.id.clone()),
        webhook_id: Set(endpoint.id.clone()),
        organization_id: Set(endpoint.organization_id.clone()),
        attempt: Set(attempt),
        status_code: Set(outcome.status_code.map(i32::from)),
        latency_ms: Set(i64::try_from(outcome.latency.as_millis()).unwrap_or(i64::MAX)),
        error: Set(outcome.error.clone()),
        response_excerpt: Set(outcome.excerpt.clone()),
        created_at: Set(now()),
    }
    .insert(&*txn)
    .await?;
    let gone = outcome.status_code == Some(410);
    let next = if outcome.succeeded() || gone {
        None
    } else {
        policy.next(attempt, outcome.retry_after)
    };
    let status = match (outcome.succeeded(), next) {
        (true, _) => SUCCEEDED,
        (false, Some(_)) => PENDING,
        (false, None) => FAILED,
    };
    let mut row = delivery.clone().into_active_model();
    row.attempts = Set(attempt);
    row.status = Set(status.to_owned());
    row.next_attempt_at = Set(next.unwrap_or_else(now));
    row.lease_until = Set(None);
    row.last_status_code = Set(outcome.status_code.map(i32::from));
    row.last_error = Set(outcome.error.clone());
    row.updated_at = Set(now());
    row.update(&*txn).await?;

    // The endpoint's run of failures decides whether it stays on.
    let current = webhook::Entity::find_by_id(endpoint.id.clone())
        .one(&*txn)
        .await?;
    if let Some(current) = current {
        let failures = if outcome.succeeded() {
            0
        } else {
            current.consecutive_failures + 1
        };
        let reason = if gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else if u32::try_from(failures).unwrap_or(0) >= policy.disable_after {
            Some(format!("{failures} delivery attempts in a row failed"))
        } else {
            None
        };
        let newly_disabled = reason.is_some() && current.disabled_reason.is_none();
        let mut hook = current.clone().into_active_model();
        hook.consecutive_failures = Set(failures);
        if newly_disabled {
            hook.disabled_reason = Set(reason.clone());
            hook.updated_at = Set(now());
        }
        hook.update(&*txn).await?;
        if newly_disabled {
            outbox::record(
                &txn,
                &current.organization_id,
                names::WEBHOOK_DISABLED,
                None,
                json!({"webhook_id": current.id, "url": current.url, "reason": reason}),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Gives up a delivery without sending it (endpoint deleted, paused, disabled or outside the plan).
pub async fn cancel(db: &Db, delivery: &webhook_delivery::Model, reason: &str) -> ApiResult<()> {
    let mut row = delivery.clone().into_active_model();
    row.status = Set(CANCELLED.to_owned());
    row.lease_until = Set(None);
    row.last_error = Set(Some(reason.to_owned()));
    row.updated_at = Set(now());
    let txn = db.begin_write().await?;
    row.update(&*txn).await?;
    txn.commit().await?;
    Ok(())
}

/// A delivery with its attempts, oldest attempt first.
#[derive(Clone, Debug)]
pub struct Logged {
    pub delivery: webhook_delivery::Model,
    pub attempts: Vec<webhook_attempt::Model>,
}

/// One delivery of one of the organization's endpoints, with its attempts.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<Logged> {
    let grant = authorize(principal, Resource::Webhook, Action::Read).await?;
    let id = ids::lookup(Kind::Delivery, id)?;
    let delivery = webhook_delivery::Entity::find_by_id(id.to_owned())
        .filter(webhook_delivery::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", id))?;
    let attempts = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.eq(id))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(db.conn())
        .await?;
    Ok(Logged { delivery, attempts })
}

/// An endpoint's deliveries, newest first, each with its attempts (one query for all of them).
pub async fn list(
    db: &Db,
    principal: &Principal,
    webhook_id: &str,
    page: &PageRequest,
) -> ApiResult<Page<Logged>> {
    let grant = authorize(principal, Resource::Webhook, Action::Read).await?;
    let webhook_id = ids::lookup(Kind::Webhook, webhook_id)?;
    let endpoint = webhook::Entity::find_by_id(webhook_id.to_owned())
        .filter(webhook::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", webhook_id))?;
    let query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(&endpoint.id));
    let page = newest_first(db.conn(), query, webhook_delivery::Column::Id, page).await?;
    let ids: Vec<&str> = page.items.iter().map(|d| d.id.as_str()).collect();
    let mut attempts: HashMap<String, Vec<webhook_attempt::Model>> = HashMap::new();
    if !ids.is_empty() {
        for attempt in webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(db.conn())
            .await?
        {
            attempts
                .entry(attempt.delivery_id.clone())
                .or_default()
                .push(attempt);
        }
    }
    Ok(page.map(|delivery| Logged {
        attempts: attempts.remove(&delivery.id).unwrap_or_default(),
        delivery,
    }))
}

/// The most events one replay may queue; a wider range must be split.
pub const REPLAY_MAX: u64 = 10_000;

/// The caller's endpoint, ready to receive: NOT_FOUND outside the organization, CONFLICT when it is off.
async fn receiving_endpoint(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    webhook_id: &str,
) -> ApiResult<webhook::Model> {
    let webhook_id = ids::lookup(Kind::Webhook, webhook_id)?;
    let endpoint = webhook::Entity::find_by_id(webhook_id.to_owned())
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", webhook_id))?;
    if let Some(reason) = &endpoint.disabled_reason {
        return Err(ApiError::Conflict(format!(
            "the endpoint is disabled ({reason}): turn it on again first"
        )));
    }
    if !endpoint.active {
        return Err(ApiError::Conflict(
            "the endpoint is paused: turn it on again first".to_owned(),
        ));
    }
    Ok(endpoint)
}

/// Sends one delivery again, byte for byte: the same `webhook-id` and body, a fresh timestamp and signature.
pub async fn redeliver(
    db: &Db,
    principal: &Principal,
    webhook_id: &str,
    delivery_id: &str,
) -> ApiResult<Logged> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    let delivery_id = ids::lookup(Kind::Delivery, delivery_id)?;
    let txn = db.begin_write().await?;
    let endpoint = receiving_endpoint(&*txn, grant.organization_id(), webhook_id).await?;
    let original = webhook_delivery::Entity::find_by_id(delivery_id.to_owned())
        .filter(webhook_delivery::Column::WebhookId.eq(&endpoint.id))
        .one(&*txn)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook delivery", delivery_id))?;
    let delivery = insert(
        &*txn,
        &endpoint,
        &original.event_id,
        &original.event_type,
        original.payload,
    )
    .await?;
    txn.commit().await?;
    Ok(Logged {
        delivery,
        attempts: Vec::new(),
    })
}

/// Queues every event of `[since, until)` that the endpoint subscribes to; returns how many.
pub async fn replay(
    db: &Db,
    principal: &Principal,
    webhook_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    if since >= until {
        return Err(ApiError::validation("until", "must be later than since"));
    }
    let txn = db.begin_write().await?;
    let endpoint = receiving_endpoint(&*txn, grant.organization_id(), webhook_id).await?;
    let types = subscribed_events(&endpoint);
    let in_range = event::Entity::find()
        .filter(event::Column::OrganizationId.eq(grant.organization_id()))
        .filter(event::Column::Event.is_in(types))
        .filter(event::Column::CreatedAt.gte(since))
        .filter(event::Column::CreatedAt.lt(until));
    let count = sea_orm::PaginatorTrait::count(in_range.clone(), &*txn).await?;
    if count > REPLAY_MAX {
        return Err(ApiError::validation(
            "since",
            format!("the range holds {count} events; replay at most {REPLAY_MAX} at a time"),
        ));
    }
    let events = in_range.order_by_asc(event::Column::Id).all(&*txn).await?;
    for event in &events {
        insert(&*txn, &endpoint, &event.id, &event.event, envelope(event)).await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// Sends a signed `webhook.test` event to the endpoint (it is not part of the event stream).
pub async fn send_test(db: &Db, principal: &Principal, webhook_id: &str) -> ApiResult<Logged> {
    let grant = authorize(principal, Resource::Webhook, Action::Write).await?;
    let txn = db.begin_write().await?;
    let endpoint = receiving_endpoint(&*txn, grant.organization_id(), webhook_id).await?;
    let test = event::Model {
        id: new_id(Kind::Event),
        organization_id: endpoint.organization_id.clone(),
        event: names::WEBHOOK_TEST.to_owned(),
        conversation_id: None,
        sequence: 0,
        data: json!({"webhook_id": endpoint.id, "message": "A test event from Concierge."}),
        created_at: now(),
    };
    let delivery = insert(&*txn, &endpoint, &test.id, &test.event, envelope(&test)).await?;
    txn.commit().await?;
    Ok(Logged {
        delivery,
        attempts: Vec::new(),
    })
}
