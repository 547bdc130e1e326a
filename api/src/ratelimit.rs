//! Per-key rate limits by plan tier (DESIGN.md: limited 60/min, standard 600/min, full 6,000/min), in memory.

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

/// One in-memory limiter per plan tier, keyed by API key.
pub struct RateLimits {
    basic: KeyedLimiter,
    standard: KeyedLimiter,
    premium: KeyedLimiter,
    checks: AtomicU64,
    enabled: bool,
}

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
    /// Limits per plan tier; `enabled: false` lets every request through without headers.
    pub fn new(enabled: bool) -> Self {
        let limiter = |plan| {
            RateLimiter::keyed(Quota::per_minute(per_minute(plan)))
                .with_middleware::<StateInformationMiddleware>()
        };
        Self {
            basic: limiter(Plan::Basic),
            standard: limiter(Plan::Standard),
            premium: limiter(Plan::Premium),
            checks: AtomicU64::new(0),
            enabled,
        }
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
    pub fn check(&self, principal: &Principal) -> Option<Decision> {
        // Only API keys are limited by the API tier; signed-in team members are limited by role and plan.
        let Actor::ApiKey { id } = &principal.actor else {
            return None;
        };
        if !self.enabled {
            return None;
        }
        let limiter = match principal.plan {
            Plan::Basic => &self.basic,
            Plan::Standard => &self.standard,
            Plan::Premium => &self.premium,
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        let limit = per_minute(principal.plan).get();
        let per_request = Duration::from_secs(60) / limit;
        Some(match limiter.check_key(id) {
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
        })
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(plan: Plan, id: &str) -> Principal {
        Principal {
            organization_id: "org_x".into(),
            plan,
            role: crate::auth::Role::Owner,
            actor: Actor::ApiKey { id: id.into() },
            origin: crate::auth::Origin::default(),
            scopes: None,
        }
    }

    #[test]
    fn a_basic_key_gets_sixty_requests_then_a_retry_after() {
        let limits = RateLimits::default();
        let principal = key(Plan::Basic, "key_a");
        for i in 0..60 {
            let decision = limits.check(&principal).unwrap();
            assert_eq!(decision.retry_after_secs, None, "request {i}");
            assert_eq!(decision.remaining, 59 - i);
        }
        let refused = limits.check(&principal).unwrap();
        assert!(
            refused
                .retry_after_secs
                .is_some_and(|s| (1..=2).contains(&s))
        );
        // Another key has its own budget.
        assert_eq!(
            limits.check(&key(Plan::Basic, "key_b")).unwrap().remaining,
            59
        );
        assert_eq!(
            limits.check(&key(Plan::Premium, "key_a")).unwrap().limit,
            6_000
        );
    }

    #[test]
    fn signed_in_users_are_not_limited_by_the_api_tier() {
        let limits = RateLimits::default();
        let mut principal = key(Plan::Basic, "usr_a");
        principal.actor = Actor::User { id: "usr_a".into() };
        assert_eq!(limits.check(&principal), None);
    }
}
