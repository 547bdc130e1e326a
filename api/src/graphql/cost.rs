//! What a GraphQL request costs: lists weighed by the items they may return, aliases counted, a maximum per
//! request and a per-caller budget per minute, checked before anything runs and shown as `rateLimit` and headers.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{Context, Object, ServerError, SimpleObject, ValidationResult};
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::graphql::scalars::Timestamp;
use crate::ratelimit::{Decision, RateLimits};
use crate::service::{DEFAULT_LIMIT, MAX_LIMIT};

/// What a list field costs: itself, plus its selection once per item it may return (`first` or `last`, 20
/// when omitted, at most 100).
pub fn list(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let items = first
        .or(last)
        .map_or(DEFAULT_LIMIT, |n| u64::try_from(n).unwrap_or(1))
        .clamp(1, MAX_LIMIT);
    1 + usize::try_from(items).unwrap_or(usize::MAX) * child_complexity
}

/// What a knowledge-base search costs: its selection once per match it may return (`first`, 5 when omitted,
/// at most 50).
pub fn search(first: Option<i32>, child_complexity: usize) -> usize {
    let matches = first
        .map_or(5, |n| usize::try_from(n).unwrap_or(1))
        .clamp(1, 50);
    1 + matches * child_complexity
}

/// What `nodes` costs: its selection once per id.
pub fn by_ids(ids: usize, child_complexity: usize) -> usize {
    1 + ids * child_complexity
}

/// What counting a list costs (`totalCount`): a query over all its rows.
pub const TOTAL_COUNT: usize = 10;

/// The budget of one caller and minute, after a request was charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    /// What this request cost.
    pub cost: u32,
    /// Points per minute.
    pub limit: u32,
    /// Points left in this minute.
    pub remaining: u32,
    /// When the minute ends and the budget is full again.
    pub reset_at: DateTime<Utc>,
}

impl Charge {
    fn of(cost: u32, decision: Decision) -> Self {
        Self {
            cost,
            limit: decision.limit,
            remaining: decision.remaining,
            reset_at: Utc::now()
                + chrono::Duration::seconds(i64::try_from(decision.reset_secs).unwrap_or(60)),
        }
    }

    /// The `X-RateLimit-*` headers GitHub's GraphQL API sends, for the points of this minute.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert(
            "x-ratelimit-used",
            HeaderValue::from(self.limit.saturating_sub(self.remaining)),
        );
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(self.reset_at.timestamp()),
        );
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("graphql"));
    }
}

/// Where a request's charge is kept, for `rateLimit` and the response headers.
#[derive(Clone, Debug, Default)]
pub struct Meter(Arc<Mutex<Option<Charge>>>);

impl Meter {
    pub fn get(&self) -> Option<Charge> {
        self.0.lock().map(|charge| *charge).unwrap_or(None)
    }

    fn set(&self, charge: Charge) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(charge);
        }
    }
}

/// The cost check, run once the request is validated: over the maximum per request, or over the caller's
/// budget, the request answers an error and nothing runs.
pub struct Cost {
    /// The most one request may cost.
    pub max_per_request: usize,
}

impl ExtensionFactory for Cost {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostCheck {
            max_per_request: self.max_per_request,
        })
    }
}

struct CostCheck {
    max_per_request: usize,
}

/// A request error with our error code (and `Retry-After` seconds for a rate limit).
fn refusal(err: ApiError) -> Vec<ServerError> {
    let mut error = async_graphql::Error::from(err).into_server_error(Default::default());
    error.locations.clear();
    vec![error]
}

#[async_trait::async_trait]
impl Extension for CostCheck {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.complexity > self.max_per_request {
            return Err(refusal(ApiError::BadRequest(format!(
                "this request costs {} points and one may cost at most {}: each list counts its \
                 selection once per item it may return (`first`), and each alias counts; ask for fewer \
                 items or split the request",
                result.complexity, self.max_per_request
            ))));
        }
        let (Some(principal), Some(limits), Some(meter)) = (
            ctx.data_opt::<Principal>(),
            ctx.data_opt::<Arc<RateLimits>>(),
            ctx.data_opt::<Meter>(),
        ) else {
            return Ok(result);
        };
        let cost = u32::try_from(result.complexity).unwrap_or(u32::MAX);
        if let Some(decision) = limits.charge_points(principal, cost).await {
            let charge = Charge::of(cost, decision);
            meter.set(charge);
            if let Some(retry_after_secs) = decision.retry_after_secs {
                let mut errors = refusal(ApiError::RateLimited { retry_after_secs });
                for error in &mut errors {
                    error.message = format!(
                        "this request costs {cost} points, more than are left of the {} per minute; \
                         retry after {retry_after_secs} s",
                        decision.limit
                    );
                }
                return Err(errors);
            }
        }
        Ok(result)
    }
}

/// The caller's GraphQL budget of this minute, after the current request was charged.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// What this request cost, in points: each field counts one, and a list counts its selection once per item
    /// it may return.
    pub cost: i32,
    /// Points the caller may spend per minute.
    pub limit: i32,
    /// Points left until `resetAt`.
    pub remaining: i32,
    /// Points spent in this minute, this request included.
    pub used: i32,
    /// When the budget is full again.
    pub reset_at: Timestamp,
}

#[derive(Default)]
pub struct CostQuery;

#[Object]
impl CostQuery {
    /// The caller's GraphQL budget: what this request cost and what is left this minute; null when the server
    /// does not limit it.
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<RateLimit> {
        let charge = ctx.data_opt::<Meter>()?.get()?;
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Some(RateLimit {
            cost: int(charge.cost),
            limit: int(charge.limit),
            remaining: int(charge.remaining),
            used: int(charge.limit.saturating_sub(charge.remaining)),
            reset_at: Timestamp(charge.reset_at),
        })
    }
}
