//! Webhook deliveries: owed with each event in its transaction, claimed by one instance at a time, logged per attempt.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entities::{event, organization, webhook, webhook_attempt, webhook_delivery};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::auth::{Plan, Principal};
use crate::authz::{Action, Resource, authorize};
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::events::queue::{CANCELLED, FAILED, PENDING, SUCCEEDED, envelope, insert, insert_all};
use crate::events::webhooks::subscribed_events;
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::{Page, PageRequest, newest_first, now};

/// The most of a response body kept in the log.
pub const EXCERPT_BYTES: usize = 4096;

/// Takes up to `limit` due deliveries for `lease`: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several
/// instances claim side by side without taking the same one; SQLite has a single writer anyway.
///
/// The due rows are chosen by one statement and leased by a second, in one transaction: as a subquery of the
/// `UPDATE`, PostgreSQL may run the `LIMIT … SKIP LOCKED` choice more than once and lease more than `limit`.
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
        .limit(limit);
    if db.backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let txn = db.begin_write().await?;
    let ids: Vec<String> = due.into_tuple().all(&*txn).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(until))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(at))
        .filter(webhook_delivery::Column::Id.is_in(ids))
        .exec_with_returning(&*txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// What claimed deliveries go to: each endpoint with its organization's plan, in two statements for a batch.
pub async fn targets(
    db: &Db,
    batch: &[webhook_delivery::Model],
) -> ApiResult<HashMap<String, (webhook::Model, Plan)>> {
    let ids: BTreeSet<&str> = batch.iter().map(|d| d.webhook_id.as_str()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let endpoints = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(ids))
        .all(db.conn())
        .await?;
    let organizations: BTreeSet<&str> = endpoints
        .iter()
        .map(|e| e.organization_id.as_str())
        .collect();
    let plans: HashMap<String, String> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .column(organization::Column::Plan)
        .filter(organization::Column::Id.is_in(organizations))
        .into_tuple::<(String, String)>()
        .all(db.conn())
        .await?
        .into_iter()
        .collect();
    let mut targets = HashMap::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let plan = plans
            .get(&endpoint.organization_id)
            .ok_or_else(|| ApiError::not_found("organization", &endpoint.organization_id))?;
        targets.insert(endpoint.id.clone(), (endpoint, Plan::stored(plan)?));
    }
    Ok(targets)
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
    /// When the attempt ended.
    pub at: DateTime<Utc>,
}

impl Attempted {
    fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    fn gone(&self) -> bool {
        self.status_code == Some(410)
    }
}

/// What became of one claimed delivery.
#[derive(Clone, Debug)]
pub enum Settled {
    /// Sent once (or refused by the SSRF guard at send time): logged as an attempt.
    Attempted(webhook_delivery::Model, Attempted),
    /// Given up without sending: the endpoint is paused, disabled or outside the organization's plan.
    Cancelled(webhook_delivery::Model, String),
}

impl Settled {
    pub fn delivery(&self) -> &webhook_delivery::Model {
        match self {
            Settled::Attempted(delivery, _) | Settled::Cancelled(delivery, _) => delivery,
        }
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

/// How a delivery's row changes; deliveries that change alike share one statement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    status: &'static str,
    /// Whether this was an attempt (the count goes up).
    attempted: bool,
    /// The next try, for a delivery still pending.
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
}

impl Change {
    fn of(settled: &Settled, policy: &RetryPolicy) -> Self {
        match settled {
            Settled::Cancelled(_, reason) => Change {
                status: CANCELLED,
                attempted: false,
                next_attempt_at: None,
                last_status_code: None,
                last_error: Some(reason.clone()),
            },
            Settled::Attempted(delivery, outcome) => {
                let next = if outcome.succeeded() || outcome.gone() {
                    None
                } else {
                    policy.next(delivery.attempts + 1, outcome.retry_after)
                };
                Change {
                    status: match (outcome.succeeded(), next) {
                        (true, _) => SUCCEEDED,
                        (false, Some(_)) => PENDING,
                        (false, None) => FAILED,
                    },
                    attempted: true,
                    next_attempt_at: next,
                    last_status_code: outcome.status_code.map(i32::from),
                    last_error: outcome.error.clone(),
                }
            }
        }
    }
}

/// Records what became of a set of claimed deliveries in one transaction: every attempt logged (one statement),
/// every delivery moved on (one statement per distinct change: done, cancelled, retried at its time, failed),
/// and each endpoint's run of failures carried through its attempts in the order they ended, which disables it
/// after `disable_after` failures in a row or at once on 410 Gone, announcing `webhook.disabled`.
///
/// Returns when the earliest retry it scheduled comes due.
pub async fn settle(
    db: &Db,
    settled: &[Settled],
    policy: &RetryPolicy,
) -> ApiResult<Option<DateTime<Utc>>> {
    if settled.is_empty() {
        return Ok(None);
    }
    let at = now();
    let txn = db.begin_write().await?;
    // The endpoints first, locked in id order: deleting one (its deliveries and their attempts go with it) then
    // waits for this transaction, or happened before it, and that endpoint's outcomes have nothing left to
    // record.
    let endpoints = lock_endpoints(&txn, settled).await?;
    let settled: Vec<&Settled> = settled
        .iter()
        .filter(|s| endpoints.iter().any(|e| e.id == s.delivery().webhook_id))
        .collect();
    let attempts: Vec<webhook_attempt::ActiveModel> = settled
        .iter()
        .filter_map(|s| match s {
            Settled::Attempted(delivery, outcome) => Some(webhook_attempt::ActiveModel {
                id: Set(new_id(Kind::Attempt)),
                delivery_id: Set(delivery.id.clone()),
                webhook_id: Set(delivery.webhook_id.clone()),
                organization_id: Set(delivery.organization_id.clone()),
                attempt: Set(delivery.attempts + 1),
                status_code: Set(outcome.status_code.map(i32::from)),
                latency_ms: Set(i64::try_from(outcome.latency.as_millis()).unwrap_or(i64::MAX)),
                error: Set(outcome.error.clone()),
                response_excerpt: Set(outcome.excerpt.clone()),
                created_at: Set(outcome.at),
            }),
            Settled::Cancelled(..) => None,
        })
        .collect();
    if !attempts.is_empty() {
        webhook_attempt::Entity::insert_many(attempts)
            .exec_without_returning(&*txn)
            .await?;
    }
    let mut changes: BTreeMap<Change, Vec<&str>> = BTreeMap::new();
    for s in &settled {
        changes
            .entry(Change::of(s, policy))
            .or_default()
            .push(&s.delivery().id);
    }
    let retry = changes.keys().filter_map(|c| c.next_attempt_at).min();
    for (change, ids) in changes {
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(change.status))
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(change.next_attempt_at.unwrap_or(at)),
            )
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_delivery::Column::LastStatusCode,
                Expr::value(change.last_status_code),
            )
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(change.last_error),
            )
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(at));
        if change.attempted {
            update = update.col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            );
        }
        update
            .filter(webhook_delivery::Column::Id.is_in(ids))
            .exec(&*txn)
            .await?;
    }
    fold_endpoints(&txn, endpoints, &settled, policy, at).await?;
    txn.commit().await?;
    Ok(retry)
}

/// The endpoints of `settled` that still exist; on PostgreSQL locked, in id order, so that two instances
/// settling at once wait for each other instead of deadlocking.
async fn lock_endpoints(txn: &WriteTxn<'_>, settled: &[Settled]) -> ApiResult<Vec<webhook::Model>> {
    let ids: BTreeSet<&str> = settled
        .iter()
        .map(|s| s.delivery().webhook_id.as_str())
        .collect();
    let mut query = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(ids))
        .order_by_asc(webhook::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.all(&**txn).await?)
}

/// Carries each endpoint's run of failures through its attempts, in order, writing only the endpoints whose run
/// or state changed.
async fn fold_endpoints(
    txn: &WriteTxn<'_>,
    endpoints: Vec<webhook::Model>,
    settled: &[&Settled],
    policy: &RetryPolicy,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let mut runs: BTreeMap<&str, Vec<&Attempted>> = BTreeMap::new();
    for s in settled {
        if let Settled::Attempted(delivery, outcome) = s {
            runs.entry(&delivery.webhook_id).or_default().push(outcome);
        }
    }
    let mut disabled = Vec::new();
    for endpoint in endpoints {
        let Some(run) = runs.get(endpoint.id.as_str()) else {
            continue;
        };
        let mut failures = endpoint.consecutive_failures;
        let mut reason = None;
        for outcome in run {
            failures = if outcome.succeeded() { 0 } else { failures + 1 };
            if reason.is_none() {
                if outcome.gone() {
                    reason = Some("the endpoint answered 410 Gone".to_owned());
                } else if u32::try_from(failures).unwrap_or(0) >= policy.disable_after {
                    reason = Some(format!("{failures} delivery attempts in a row failed"));
                }
            }
        }
        let newly_disabled = reason.is_some() && endpoint.disabled_reason.is_none();
        if failures == endpoint.consecutive_failures && !newly_disabled {
            continue;
        }
        let mut hook = endpoint.clone().into_active_model();
        hook.consecutive_failures = Set(failures);
        if newly_disabled {
            hook.disabled_reason = Set(reason.clone());
            hook.updated_at = Set(at);
        }
        hook.update(&**txn).await?;
        if let Some(reason) = reason.filter(|_| newly_disabled) {
            disabled.push((endpoint, reason));
        }
    }
    // Event streams are locked in organization order, so that two instances settling at once cannot deadlock.
    disabled.sort_by(|(a, _), (b, _)| a.organization_id.cmp(&b.organization_id));
    for (endpoint, reason) in disabled {
        outbox::record(
            txn,
            &endpoint.organization_id,
            names::WEBHOOK_DISABLED,
            None,
            json!({"webhook_id": endpoint.id, "url": endpoint.url, "reason": reason}),
        )
        .await?;
    }
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
        &txn,
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
    insert_all(&txn, &endpoint, &events).await?;
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
    let delivery = insert(&txn, &endpoint, &test.id, &test.event, envelope(&test)).await?;
    txn.commit().await?;
    Ok(Logged {
        delivery,
        attempts: Vec::new(),
    })
}
