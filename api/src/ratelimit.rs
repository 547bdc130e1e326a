//! Per-key rate limits by plan tier (basic 60/min, standard 600/min, premium 6,000/min) and per-address
//! limits of the public widget endpoints: in memory by default, in Redis when `REDIS_URL` is set so that several
//! instances share one budget. While Redis cannot answer within its timeout, requests go through unlimited (and
//! are counted, see [`RateLimits::let_through`]): a helper's outage must not take the API down.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::auth::{Actor, Plan, Principal};

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The outcome of one check: what the `RateLimit-*` headers say, and whether to refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again.
    pub reset_secs: u64,
    /// `Some(seconds)` when the request is refused.
    pub retry_after_secs: Option<u64>,
}

impl Decision {
    /// Writes `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (and `Retry-After` on refusal).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
        if let Some(secs) = self.retry_after_secs {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
    }
}

/// The budgets of the embed widget's public endpoints, per client address and minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WidgetBucket {
    /// Starting a widget session (it creates a visitor).
    Sessions,
    /// Every other widget request.
    Requests,
}

impl WidgetBucket {
    fn name(self) -> &'static str {
        match self {
            WidgetBucket::Sessions => "sessions",
            WidgetBucket::Requests => "requests",
        }
    }
}

/// Widget requests per client address and minute.
#[derive(Clone, Copy, Debug)]
pub struct WidgetQuotas {
    pub sessions: NonZeroU32,
    pub requests: NonZeroU32,
}

impl WidgetQuotas {
    /// The quotas of the settings (a zero is taken as one).
    pub fn new(sessions: u32, requests: u32) -> Self {
        Self {
            sessions: NonZeroU32::new(sessions).unwrap_or(NonZeroU32::MIN),
            requests: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
        }
    }

    fn of(&self, bucket: WidgetBucket) -> NonZeroU32 {
        match bucket {
            WidgetBucket::Sessions => self.sessions,
            WidgetBucket::Requests => self.requests,
        }
    }
}

impl Default for WidgetQuotas {
    fn default() -> Self {
        Self::new(10, 120)
    }
}

/// The rate limits of every API key and of the widget's client addresses.
pub struct RateLimits {
    backend: Backend,
    enabled: bool,
    widget: WidgetQuotas,
    /// GraphQL points per caller and minute.
    points: NonZeroU32,
    /// Requests let through unlimited because Redis could not be asked.
    let_through: AtomicU64,
}

enum Backend {
    Memory(Box<Memory>),
    Redis(RedisWindow),
}

/// One in-memory GCRA limiter per plan tier, keyed by API key.
struct Memory {
    basic: KeyedLimiter,
    standard: KeyedLimiter,
    premium: KeyedLimiter,
    widget_sessions: KeyedLimiter,
    widget_requests: KeyedLimiter,
    points: KeyedLimiter,
    checks: AtomicU64,
}

/// A fixed one-minute window per key in Redis, counted atomically by a script.
struct RedisWindow {
    link: crate::redis_link::RedisLink,
    script: redis::Script,
    points_script: redis::Script,
}

/// INCR the window's counter, start its minute on the first request, and answer (count, milliseconds left).
const WINDOW_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

/// INCRBY the window's points unless that would pass the limit; answer (points used, milliseconds left,
/// 1 when charged or 0 when refused).
const POINTS_SCRIPT: &str = r"
local used = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if used > tonumber(ARGV[3]) then
  used = redis.call('DECRBY', KEYS[1], ARGV[2])
  return {used, ttl, 0}
end
return {used, ttl, 1}
";

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(true, WidgetQuotas::default(), DEFAULT_POINTS_PER_MINUTE)
    }
}

impl RateLimits {
    /// In-memory limits per plan tier and widget address; `enabled: false` lets every request through without
    /// headers.
    pub fn new(enabled: bool, widget: WidgetQuotas, points_per_minute: u32) -> Self {
        let points = NonZeroU32::new(points_per_minute).unwrap_or(NonZeroU32::MIN);
        let limiter = |n| {
            RateLimiter::keyed(Quota::per_minute(n)).with_middleware::<StateInformationMiddleware>()
        };
        Self {
            backend: Backend::Memory(Box::new(Memory {
                basic: limiter(per_minute(Plan::Basic)),
                standard: limiter(per_minute(Plan::Standard)),
                premium: limiter(per_minute(Plan::Premium)),
                widget_sessions: limiter(widget.sessions),
                widget_requests: limiter(widget.requests),
                points: limiter(points),
                checks: AtomicU64::new(0),
            })),
            enabled,
            widget,
            points,
            let_through: AtomicU64::new(0),
        }
    }

    /// Limits shared through Redis by every instance that uses the same server.
    pub fn with_redis(
        link: crate::redis_link::RedisLink,
        enabled: bool,
        widget: WidgetQuotas,
        points_per_minute: u32,
    ) -> Self {
        Self {
            backend: Backend::Redis(RedisWindow {
                link,
                script: redis::Script::new(WINDOW_SCRIPT),
                points_script: redis::Script::new(POINTS_SCRIPT),
            }),
            enabled,
            widget,
            points: NonZeroU32::new(points_per_minute).unwrap_or(NonZeroU32::MIN),
            let_through: AtomicU64::new(0),
        }
    }

    /// How many requests went through unlimited because Redis could not be asked (the link logs each outage
    /// once; `/readyz` shows this count).
    pub fn let_through(&self) -> u64 {
        self.let_through.load(Ordering::Relaxed)
    }

    /// A Redis decision, or none (the request goes through, counted) when Redis could not be asked.
    fn fail_open(&self, decision: Option<Decision>) -> Option<Decision> {
        if decision.is_none() {
            self.let_through.fetch_add(1, Ordering::Relaxed);
        }
        decision
    }
}

/// GraphQL points per caller and minute unless configured (`CONCIERGE_GRAPHQL_POINTS_PER_MINUTE`).
pub const DEFAULT_POINTS_PER_MINUTE: u32 = 250_000;

/// Requests per minute per API key on each plan.
pub fn per_minute(plan: Plan) -> NonZeroU32 {
    let n = match plan {
        Plan::Basic => 60,
        Plan::Standard => 600,
        Plan::Premium => 6_000,
    };
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    /// Counts one request of `principal` and says whether it may go ahead.
    pub async fn check(&self, principal: &Principal) -> Option<Decision> {
        // Only API keys are limited by the API tier; signed-in team members are limited by role and plan.
        let Actor::ApiKey { id } = &principal.actor else {
            return None;
        };
        if !self.enabled {
            return None;
        }
        let plan = principal.plan;
        match &self.backend {
            Backend::Memory(memory) => {
                let limiter = match plan {
                    Plan::Basic => &memory.basic,
                    Plan::Standard => &memory.standard,
                    Plan::Premium => &memory.premium,
                };
                Some(memory.check(limiter, per_minute(plan).get(), id))
            }
            Backend::Redis(window) => {
                let key = format!("concierge:ratelimit:{}:{id}", plan.as_str());
                self.fail_open(window.check(per_minute(plan).get(), key).await)
            }
        }
    }

    /// Charges `points` of GraphQL cost to the caller (an API key or a member) and says whether the request may
    /// go ahead; a refused request is not charged. `None` when limits are off or the caller is a visitor.
    pub async fn charge_points(&self, principal: &Principal, points: u32) -> Option<Decision> {
        if !self.enabled {
            return None;
        }
        let caller = match &principal.actor {
            Actor::ApiKey { id } | Actor::User { id, .. } => id,
            Actor::Visitor { .. } => return None,
        };
        let limit = self.points.get();
        match &self.backend {
            Backend::Memory(memory) => Some(memory.charge(limit, caller, points)),
            Backend::Redis(window) => {
                let key = format!("concierge:graphql-points:{caller}");
                self.fail_open(window.charge(limit, key, points).await)
            }
        }
    }

    /// Counts one widget request of the client address `ip` against `bucket`.
    pub async fn check_widget(&self, bucket: WidgetBucket, ip: &str) -> Option<Decision> {
        if !self.enabled {
            return None;
        }
        let limit = self.widget.of(bucket).get();
        match &self.backend {
            Backend::Memory(memory) => {
                let limiter = match bucket {
                    WidgetBucket::Sessions => &memory.widget_sessions,
                    WidgetBucket::Requests => &memory.widget_requests,
                };
                Some(memory.check(limiter, limit, ip))
            }
            Backend::Redis(window) => {
                let key = format!("concierge:ratelimit:widget:{}:{ip}", bucket.name());
                self.fail_open(window.check(limit, key).await)
            }
        }
    }
}

impl Memory {
    /// Takes `points` from the caller's bucket (GCRA: it refills evenly over the minute).
    fn charge(&self, limit: u32, caller: &str, points: u32) -> Decision {
        let per_point = Duration::from_secs(60) / limit;
        let refused = |wait: Duration, remaining: u32| Decision {
            limit,
            remaining,
            reset_secs: ceil_secs(per_point * (limit - remaining)),
            retry_after_secs: Some(ceil_secs(wait).max(1)),
        };
        let Some(n) = NonZeroU32::new(points) else {
            return Decision {
                limit,
                remaining: limit,
                reset_secs: 0,
                retry_after_secs: None,
            };
        };
        match self.points.check_key_n(&caller.to_owned(), n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    limit,
                    remaining,
                    reset_secs: ceil_secs(per_point * (limit - remaining)),
                    retry_after_secs: None,
                }
            }
            Ok(Err(not_until)) => {
                // The limiter does not say how much is left short of the cost: less than it.
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                refused(wait, 0)
            }
            Err(_) => refused(Duration::from_secs(60), 0),
        }
    }

    fn check(&self, limiter: &KeyedLimiter, limit: u32, id: &str) -> Decision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        let per_request = Duration::from_secs(60) / limit;
        match limiter.check_key(&id.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    limit,
                    remaining,
                    reset_secs: ceil_secs(per_request * (limit - remaining)),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    limit,
                    remaining: 0,
                    reset_secs: ceil_secs(per_request * limit),
                    retry_after_secs: Some(ceil_secs(wait).max(1)),
                }
            }
        }
    }
}

impl RedisWindow {
    async fn charge(&self, limit: u32, key: String, points: u32) -> Option<Decision> {
        let mut invocation = self.points_script.key(key);
        invocation.arg(60_000).arg(points).arg(limit);
        let (used, ttl_ms, charged): (u64, u64, u8) =
            self.link.invoke("rate limit", invocation).await?;
        let reset_secs = ttl_ms.div_ceil(1000).max(1);
        Some(Decision {
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(used)).unwrap_or(0),
            reset_secs,
            retry_after_secs: (charged == 0).then_some(reset_secs),
        })
    }

    async fn check(&self, limit: u32, key: String) -> Option<Decision> {
        let mut invocation = self.script.key(key);
        invocation.arg(60_000);
        let (count, ttl_ms): (u64, u64) = self.link.invoke("rate limit", invocation).await?;
        let reset_secs = ttl_ms.div_ceil(1000).max(1);
        Some(Decision {
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(count)).unwrap_or(0),
            reset_secs,
            retry_after_secs: (count > u64::from(limit)).then_some(reset_secs),
        })
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn key(plan: Plan, id: &str) -> Principal {
        Principal {
            organization: crate::authz::Tenant::new("org_x".into()),
            plan,
            role: crate::auth::Role::Owner,
            actor: Actor::ApiKey { id: id.into() },
            origin: crate::auth::Origin::default(),
            scopes: None,
            authz: crate::authz::Authz::detached().await.unwrap(),
        }
    }

    #[tokio::test]
    async fn a_basic_key_gets_sixty_requests_then_a_retry_after() {
        let limits = RateLimits::default();
        let principal = key(Plan::Basic, "key_a").await;
        for i in 0..60 {
            let decision = limits.check(&principal).await.unwrap();
            assert_eq!(decision.retry_after_secs, None, "request {i}");
            assert_eq!(decision.remaining, 59 - i);
        }
        let refused = limits.check(&principal).await.unwrap();
        assert!(
            refused
                .retry_after_secs
                .is_some_and(|s| (1..=2).contains(&s))
        );
        // Another key has its own budget.
        assert_eq!(
            limits
                .check(&key(Plan::Basic, "key_b").await)
                .await
                .unwrap()
                .remaining,
            59
        );
        assert_eq!(
            limits
                .check(&key(Plan::Premium, "key_a").await)
                .await
                .unwrap()
                .limit,
            6_000
        );
    }

    #[tokio::test]
    async fn signed_in_users_are_not_limited_by_the_api_tier() {
        let limits = RateLimits::default();
        let mut principal = key(Plan::Basic, "usr_a").await;
        principal.actor = Actor::User {
            id: "usr_a".into(),
            session_id: "ses_a".into(),
            method: "password".into(),
        };
        assert_eq!(limits.check(&principal).await, None);
    }
}
