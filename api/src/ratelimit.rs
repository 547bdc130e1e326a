//! Per-key rate limits by plan tier (DESIGN.md: limited 60/min, standard 600/min, full 6,000/min): in
//! memory by default, in Redis when `REDIS_URL` is set so that several instances share one budget.

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

/// The rate limits of every API key.
pub struct RateLimits {
    backend: Backend,
    enabled: bool,
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
    checks: AtomicU64,
}

/// A fixed one-minute window per key in Redis, counted atomically by a script.
struct RedisWindow {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
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

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(true)
    }
}

impl RateLimits {
    /// In-memory limits per plan tier; `enabled: false` lets every request through without headers.
    pub fn new(enabled: bool) -> Self {
        let limiter = |plan| {
            RateLimiter::keyed(Quota::per_minute(per_minute(plan)))
                .with_middleware::<StateInformationMiddleware>()
        };
        Self {
            backend: Backend::Memory(Box::new(Memory {
                basic: limiter(Plan::Basic),
                standard: limiter(Plan::Standard),
                premium: limiter(Plan::Premium),
                checks: AtomicU64::new(0),
            })),
            enabled,
        }
    }

    /// Limits shared through Redis by every instance that uses the same server.
    pub async fn with_redis(url: &str, enabled: bool) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let connection = redis::aio::ConnectionManager::new(client).await?;
        Ok(Self {
            backend: Backend::Redis(RedisWindow {
                connection,
                script: redis::Script::new(WINDOW_SCRIPT),
            }),
            enabled,
        })
    }
}

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
        match &self.backend {
            Backend::Memory(memory) => Some(memory.check(principal.plan, id)),
            Backend::Redis(window) => match window.check(principal.plan, id).await {
                Ok(decision) => Some(decision),
                Err(err) => {
                    // Fail open: an unreachable Redis must not take the API down with it.
                    tracing::warn!(%err, "rate limit check in Redis failed; letting the request through");
                    None
                }
            },
        }
    }
}

impl Memory {
    fn check(&self, plan: Plan, id: &str) -> Decision {
        let limiter = match plan {
            Plan::Basic => &self.basic,
            Plan::Standard => &self.standard,
            Plan::Premium => &self.premium,
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        let limit = per_minute(plan).get();
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
    async fn check(&self, plan: Plan, id: &str) -> redis::RedisResult<Decision> {
        let limit = per_minute(plan).get();
        let mut connection = self.connection.clone();
        let (count, ttl_ms): (u64, u64) = self
            .script
            .key(format!("concierge:ratelimit:{}:{id}", plan.as_str()))
            .arg(60_000)
            .invoke_async(&mut connection)
            .await?;
        let reset_secs = ttl_ms.div_ceil(1000).max(1);
        Ok(Decision {
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
        principal.actor = Actor::User { id: "usr_a".into() };
        assert_eq!(limits.check(&principal).await, None);
    }
}
