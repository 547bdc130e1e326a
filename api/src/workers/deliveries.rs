//! Webhook delivery: claims due deliveries, signs them the Standard Webhooks way and POSTs them, with the SSRF guard.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entities::webhook_delivery;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::authz::{Authz, Feature};
use crate::config::Settings;
use crate::db::{Db, background};
use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::events::deliveries::{self, Attempted, EXCERPT_BYTES, RetryPolicy, Settled};
use crate::events::webhooks::signing_secrets;
use crate::secrets::Sealer;
use crate::workers::Shutdown;

/// Attempts in flight at once.
const CONCURRENCY: usize = 32;
/// Deliveries this instance holds at once, sending or claimed and waiting for a free slot: a claimed delivery
/// starts within one attempt's time, so a lease of two attempt timeouts covers it.
const HELD: usize = 2 * CONCURRENCY;
/// While attempts are in flight, claim only when this many places are free, so that claims come in batches.
const CLAIM_AT_LEAST: usize = CONCURRENCY / 2;
/// The wait before recording outcomes again after the database refused them.
const RECORD_RETRY: Duration = Duration::from_millis(500);
/// Tries at recording a set of outcomes together before each is recorded alone.
const RECORD_TRIES: u32 = 3;

/// The Standard Webhooks signature of one message under each secret: `v1,<base64>` joined by spaces.
pub fn sign(secrets: &[SecretString], id: &str, timestamp: i64, body: &str) -> ApiResult<String> {
    Ok(Signer::new(secrets)?.sign(id, timestamp, body))
}

/// An endpoint's signing keys, decoded once.
struct Signer(Vec<hmac::Key>);

impl Signer {
    fn new(secrets: &[SecretString]) -> ApiResult<Self> {
        let mut keys = Vec::with_capacity(secrets.len());
        for secret in secrets {
            let encoded = secret
                .expose_secret()
                .strip_prefix("whsec_")
                .ok_or_else(|| {
                    ApiError::internal_msg("a webhook secret without its whsec_ prefix")
                })?;
            let key = STANDARD
                .decode(encoded)
                .map_err(|_| ApiError::internal_msg("a webhook secret that is not base64"))?;
            keys.push(hmac::Key::new(hmac::HMAC_SHA256, &key));
        }
        Ok(Self(keys))
    }

    fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let message = format!("{id}.{timestamp}.{body}");
        let signatures: Vec<String> = self
            .0
            .iter()
            .map(|key| {
                let tag = hmac::sign(key, message.as_bytes());
                format!("v1,{}", STANDARD.encode(tag.as_ref()))
            })
            .collect();
        signatures.join(" ")
    }
}

/// Where a claimed delivery goes: the endpoint's URL as read at the claim, with its keys.
struct Endpoint {
    url: String,
    signer: Signer,
}

/// Sends due webhook deliveries until shutdown.
pub struct Deliverer {
    db: Db,
    sealer: Arc<Sealer>,
    authz: Arc<Authz>,
    client: reqwest::Client,
    policy: RetryPolicy,
    egress_allow: Option<String>,
    /// How long a claimed delivery stays with this instance before another may take it over.
    lease: Duration,
    /// How often the queue is read when nothing announced work and no retry is due.
    poll: Duration,
}

/// What the loop holds between its steps.
#[derive(Default)]
struct Round {
    /// Claimed, waiting for a free slot.
    waiting: VecDeque<(webhook_delivery::Model, Arc<Endpoint>)>,
    sending: JoinSet<Settled>,
    /// Finished, not yet recorded.
    settled: Vec<Settled>,
    /// Whether due deliveries may be waiting in the queue.
    due: bool,
    /// When the earliest retry this instance knows of comes due.
    next_retry: Option<Instant>,
    /// When recording may be tried again after a failure.
    record_after: Option<Instant>,
    /// Recordings of the same outcomes that failed in a row.
    record_failures: u32,
}

impl Round {
    fn held(&self) -> usize {
        self.waiting.len() + self.sending.len()
    }

    fn finished(&mut self, joined: Result<Settled, tokio::task::JoinError>) {
        match joined {
            Ok(settled) => self.settled.push(settled),
            // The delivery stays leased; once the lease runs out it is sent again.
            Err(err) => tracing::error!(error = %err, "a webhook attempt panicked"),
        }
    }

    fn retry_at(&mut self, at: Option<chrono::DateTime<chrono::Utc>>) {
        let Some(at) = at else { return };
        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        let at = Instant::now() + wait;
        self.next_retry = Some(self.next_retry.map_or(at, |known| known.min(at)));
    }
}

impl Deliverer {
    pub fn new(
        db: Db,
        sealer: Arc<Sealer>,
        authz: Arc<Authz>,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.webhook_timeout_secs))
            .connect_timeout(Duration::from_secs(settings.webhook_timeout_secs))
            .user_agent(concat!("Concierge-Webhooks/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(egress::guarded_resolver(settings.egress_allow.clone()))
            .build()?;
        Ok(Self {
            db,
            sealer,
            authz,
            client,
            policy: RetryPolicy::parse(
                &settings.webhook_retry_schedule,
                settings.webhook_disable_after,
            )?,
            egress_allow: settings.egress_allow.clone(),
            // A claimed delivery waits at most one attempt for a slot, then takes at most one: a live instance
            // never loses a delivery it holds.
            lease: Duration::from_secs(
                settings
                    .webhook_lease_secs
                    .max(2 * settings.webhook_timeout_secs + 1),
            ),
            poll: Duration::from_secs(settings.webhook_poll_secs.max(1)),
        })
    }

    /// Sends deliveries until shutdown, as a pipeline: claims in batches while attempts are in flight, starts
    /// each attempt as a slot frees, and records whatever finished meanwhile in one transaction. It wakes at
    /// once when a transaction queues deliveries (on this instance, or on another through Redis), when the
    /// earliest retry it knows of comes due, and otherwise every `poll`. Errors are logged and the loop goes
    /// on; at shutdown it stops claiming and finishes what it holds.
    pub async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        let this = self;
        let bus = this.db.bus().clone();
        let mut round = Round {
            due: true,
            ..Round::default()
        };
        let mut polled = Instant::now();
        loop {
            let stopping = shutdown.is_requested();
            while let Some(joined) = round.sending.try_join_next() {
                round.finished(joined);
            }
            if !round.settled.is_empty() && round.record_after.is_none_or(|at| Instant::now() >= at)
            {
                this.record(&mut round).await;
            }
            if round.next_retry.is_some_and(|at| Instant::now() >= at) {
                round.next_retry = None;
                round.due = true;
            }
            let free = HELD.saturating_sub(round.held());
            // While outcomes wait to be recorded after a failure, nothing more is claimed: once their leases run
            // out, a claim would take the same deliveries again and send them twice.
            let claim = !stopping
                && round.due
                && round.record_after.is_none()
                && (free == HELD || free >= CLAIM_AT_LEAST);
            if claim {
                polled = Instant::now();
                match this.claim(free, &mut round).await {
                    Ok(full) => round.due = full,
                    Err(err) => {
                        tracing::warn!(error = ?err, "claiming webhook deliveries failed");
                        round.due = false;
                    }
                }
            }
            while round.sending.len() < CONCURRENCY
                && let Some((delivery, endpoint)) = round.waiting.pop_front()
            {
                let this = this.clone();
                round.sending.spawn(background(async move {
                    let outcome = this.attempt(&delivery, &endpoint).await;
                    Settled::Attempted(delivery, outcome)
                }));
            }
            if stopping
                && round.held() == 0
                && (round.settled.is_empty() || round.record_after.is_some())
            {
                if !round.settled.is_empty() {
                    tracing::warn!(
                        held = round.settled.len(),
                        "stopping with webhook attempts unrecorded; they are sent again after their lease"
                    );
                }
                return;
            }
            if (claim && round.due) || (!round.settled.is_empty() && round.record_after.is_none()) {
                continue;
            }
            // Nothing to do at once: wait for an attempt to end, a wake-up, a retry, the poll or shutdown.
            let mut wake = polled + this.poll;
            for at in [round.next_retry, round.record_after].into_iter().flatten() {
                wake = wake.min(at);
            }
            tokio::select! {
                Some(joined) = round.sending.join_next() => round.finished(joined),
                () = bus.deliveries_queued(), if !stopping => round.due = true,
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= polled + this.poll {
                        round.due = true;
                    }
                }
                () = shutdown.requested(), if !stopping => {}
            }
        }
    }

    /// Records what finished in one transaction. When that keeps failing, each outcome is recorded alone and one
    /// that still fails is left (logged): its delivery stays leased and is sent again after the lease, so one bad
    /// row never holds up the others.
    async fn record(&self, round: &mut Round) {
        match deliveries::settle(&self.db, &round.settled, &self.policy).await {
            Ok(retry) => {
                round.settled.clear();
                round.record_failures = 0;
                round.record_after = None;
                round.retry_at(retry);
                return;
            }
            // The database is restarting: the outcomes are kept, however long it takes, and recorded first.
            Err(ApiError::Unavailable { .. }) => {
                if round.record_after.is_none() {
                    tracing::warn!(
                        held = round.settled.len(),
                        "the database cannot record webhook attempts now; keeping them until it can"
                    );
                }
                round.record_after = Some(Instant::now() + RECORD_RETRY);
                return;
            }
            Err(err) => {
                round.record_failures += 1;
                tracing::warn!(error = ?err, held = round.settled.len(), "recording webhook attempts failed");
            }
        }
        if round.record_failures < RECORD_TRIES {
            // Kept and tried again; the deliveries stay leased meanwhile.
            round.record_after = Some(Instant::now() + RECORD_RETRY);
            return;
        }
        for settled in std::mem::take(&mut round.settled) {
            match deliveries::settle(&self.db, std::slice::from_ref(&settled), &self.policy).await {
                Ok(retry) => round.retry_at(retry),
                Err(err) => {
                    let delivery = &settled.delivery().id;
                    tracing::error!(error = ?err, %delivery, "a webhook attempt could not be recorded; it is sent again after its lease");
                }
            }
        }
        round.record_failures = 0;
        round.record_after = None;
    }

    /// Claims up to `room` due deliveries and sorts them: sendable ones wait for a slot, those whose endpoint
    /// is off or outside the plan are cancelled. True when the claim was full (more may be due).
    async fn claim(&self, room: usize, round: &mut Round) -> ApiResult<bool> {
        let batch = deliveries::claim(&self.db, self.lease, room as u64).await?;
        let full = batch.len() == room;
        let targets = deliveries::targets(&self.db, &batch).await?;
        let mut endpoints: HashMap<String, Arc<Endpoint>> = HashMap::new();
        for delivery in batch {
            // An endpoint deleted meanwhile took its deliveries with it.
            let Some((endpoint, plan)) = targets.get(&delivery.webhook_id) else {
                continue;
            };
            let refused = if !self.authz.plan_has(*plan, Feature::Webhooks).await {
                Some("the organization's plan does not include webhooks".to_owned())
            } else if let Some(reason) = &endpoint.disabled_reason {
                Some(format!("endpoint disabled: {reason}"))
            } else if !endpoint.active {
                Some("endpoint paused".to_owned())
            } else {
                None
            };
            if let Some(reason) = refused {
                round.settled.push(Settled::Cancelled(delivery, reason));
                continue;
            }
            let ready = match endpoints.get(&endpoint.id) {
                Some(ready) => ready.clone(),
                None => {
                    let signer = signing_secrets(&self.sealer, endpoint)
                        .and_then(|secrets| Signer::new(&secrets));
                    match signer {
                        Ok(signer) => {
                            let ready = Arc::new(Endpoint {
                                url: endpoint.url.clone(),
                                signer,
                            });
                            endpoints.insert(endpoint.id.clone(), ready.clone());
                            ready
                        }
                        Err(err) => {
                            // Left leased: sent once the secret reads again, after the lease.
                            tracing::error!(error = ?err, webhook = %endpoint.id, "a webhook secret could not be read");
                            continue;
                        }
                    }
                }
            };
            round.waiting.push_back((delivery, ready));
        }
        Ok(full)
    }

    /// One POST; every failure becomes part of the outcome, never an error of the worker.
    async fn attempt(&self, delivery: &webhook_delivery::Model, endpoint: &Endpoint) -> Attempted {
        let started = Instant::now();
        let failed = |error: String| Attempted {
            status_code: None,
            latency: started.elapsed(),
            error: Some(error),
            excerpt: None,
            retry_after: None,
            at: chrono::Utc::now(),
        };
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(err) => return failed(format!("the URL no longer parses: {err}")),
        };
        if let Some(host) = url.host()
            && let Some(reason) = egress::refusal(&host, self.egress_allow.as_deref())
        {
            return failed(format!("refused by the SSRF guard: {reason}"));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = endpoint
            .signer
            .sign(&delivery.event_id, timestamp, &delivery.payload);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", &signature)
            .header("x-ai-assistant-signature", &signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(err) => return failed(egress::describe(&err)),
        };
        let status = response.status().as_u16();
        let retry_after = egress::retry_after(response.headers());
        let mut body = Vec::new();
        while body.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(&body).into_owned();
        Attempted {
            status_code: Some(status),
            latency: started.elapsed(),
            error: (!(200..300).contains(&status))
                .then(|| format!("the endpoint answered {status}")),
            excerpt: (!excerpt.is_empty()).then_some(excerpt),
            retry_after,
            at: chrono::Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
