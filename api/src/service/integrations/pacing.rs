//! The pace of each connection's vendor calls: one budget shared by every instance through Redis when it is
//! configured (a GCRA schedule kept in one key per connection), else, or while Redis cannot answer, per instance.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::redis_link::RedisLink;
use crate::service::integrations::providers::Provider;

/// Reserves the next slot of a connection's schedule and answers how many microseconds to wait for it. The key
/// holds the theoretical arrival time (µs, Redis's clock, so that instances agree); a full burst of `ARGV[2]`
/// calls may go at once, after which calls are spaced `ARGV[1]` µs apart.
const SLOT_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
local wait = next_tat - burst * interval - now
if wait < 0 then wait = 0 end
return math.floor(wait)
";

/// The pace of every connection, by provider.
pub struct Pacer {
    local: HashMap<&'static str, (u32, DefaultKeyedRateLimiter<String>)>,
    shared: Option<Shared>,
}

struct Shared {
    link: RedisLink,
    script: redis::Script,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// Paces each provider's connections at its `requests_per_second`, through `redis` when given.
    pub fn new<'a>(
        providers: impl IntoIterator<Item = &'a Provider>,
        redis: Option<RedisLink>,
    ) -> Self {
        let local = providers
            .into_iter()
            .map(|p| {
                let rate = NonZeroU32::new(p.requests_per_second).unwrap_or(NonZeroU32::MIN);
                (
                    p.key,
                    (rate.get(), RateLimiter::keyed(Quota::per_second(rate))),
                )
            })
            .collect();
        Self {
            local,
            shared: redis.map(|link| Shared {
                link,
                script: redis::Script::new(SLOT_SCRIPT),
            }),
        }
    }

    /// Waits until `connection_id` (of `provider`) may send its next call.
    pub async fn until_ready(&self, provider: &Provider, connection_id: &str) {
        let Some((rate, limiter)) = self.local.get(provider.key) else {
            return;
        };
        // While Redis cannot answer (the link says so once per outage), each instance paces its own calls.
        if let Some(shared) = &self.shared
            && let Some(wait) = shared.slot(connection_id, *rate).await
        {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            return;
        }
        limiter.until_key_ready(&connection_id.to_owned()).await;
    }
}

impl Shared {
    /// The wait before the connection's next slot, reserved in Redis.
    async fn slot(&self, connection_id: &str, rate: u32) -> Option<Duration> {
        let interval_us = 1_000_000 / u64::from(rate.max(1));
        let mut invocation = self.script.key(format!("concierge:pace:{connection_id}"));
        invocation.arg(interval_us).arg(rate);
        let wait_us: u64 = self.link.invoke("vendor pacing", invocation).await?;
        Some(Duration::from_micros(wait_us))
    }
}
