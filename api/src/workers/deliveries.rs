//! Webhook delivery: claims due deliveries, signs them the Standard Webhooks way and POSTs them, with the SSRF guard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entities::{webhook, webhook_delivery};
use futures_util::StreamExt;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::authz::{Authz, Feature};
use crate::config::Settings;
use crate::db::Db;
use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::events::deliveries::{self, Attempted, EXCERPT_BYTES, RetryPolicy};
use crate::events::webhooks::signing_secrets;
use crate::secrets::Sealer;
use crate::workers::Shutdown;

/// Deliveries claimed per round.
const BATCH: u64 = 32;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;
/// How often the queue is polled when it was empty.
const IDLE: Duration = Duration::from_millis(200);

/// The Standard Webhooks signature of one message under each secret: `v1,<base64>` joined by spaces.
pub fn sign(secrets: &[SecretString], id: &str, timestamp: i64, body: &str) -> ApiResult<String> {
    let message = format!("{id}.{timestamp}.{body}");
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let encoded = secret
            .expose_secret()
            .strip_prefix("whsec_")
            .ok_or_else(|| ApiError::internal_msg("a webhook secret without its whsec_ prefix"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| ApiError::internal_msg("a webhook secret that is not base64"))?;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), message.as_bytes());
        signatures.push(format!("v1,{}", STANDARD.encode(tag.as_ref())));
    }
    Ok(signatures.join(" "))
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
            // Longer than an attempt may take, so a live instance never loses a delivery it is sending.
            lease: Duration::from_secs(
                settings
                    .webhook_lease_secs
                    .max(settings.webhook_timeout_secs + 1),
            ),
        })
    }

    /// Claims and sends deliveries until shutdown; errors are logged and the loop goes on. A round under way
    /// finishes before the loop stops.
    pub async fn run(self, mut shutdown: Shutdown) {
        let this = Arc::new(self);
        while !shutdown.is_requested() {
            match deliveries::claim(&this.db, this.lease, BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    futures_util::stream::iter(batch)
                        .for_each_concurrent(CONCURRENCY, |delivery| {
                            let this = this.clone();
                            async move {
                                if let Err(err) = this.deliver(&delivery).await {
                                    tracing::warn!(error = ?err, delivery = %delivery.id, "webhook delivery failed to record");
                                }
                            }
                        })
                        .await;
                }
                Ok(_) => {
                    shutdown.sleep(IDLE).await;
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming webhook deliveries failed");
                    shutdown.sleep(IDLE * 5).await;
                }
            }
        }
    }

    async fn deliver(&self, delivery: &webhook_delivery::Model) -> ApiResult<()> {
        let Some((endpoint, plan)) = deliveries::target(&self.db, &delivery.webhook_id).await?
        else {
            return Ok(());
        };
        if !self.authz.plan_has(plan, Feature::Webhooks).await {
            return deliveries::cancel(
                &self.db,
                delivery,
                "the organization's plan does not include webhooks",
            )
            .await;
        }
        if let Some(reason) = &endpoint.disabled_reason {
            return deliveries::cancel(&self.db, delivery, &format!("endpoint disabled: {reason}"))
                .await;
        }
        if !endpoint.active {
            return deliveries::cancel(&self.db, delivery, "endpoint paused").await;
        }
        let outcome = self.attempt(delivery, &endpoint).await?;
        deliveries::finish(&self.db, delivery, &endpoint, &outcome, &self.policy).await
    }

    /// One POST; every failure becomes part of the outcome, never an error of the worker.
    async fn attempt(
        &self,
        delivery: &webhook_delivery::Model,
        endpoint: &webhook::Model,
    ) -> ApiResult<Attempted> {
        let started = Instant::now();
        let failed = |error: String| Attempted {
            status_code: None,
            latency: started.elapsed(),
            error: Some(error),
            excerpt: None,
            retry_after: None,
        };
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(err) => return Ok(failed(format!("the URL no longer parses: {err}"))),
        };
        if let Some(host) = url.host()
            && let Some(reason) = egress::refusal(&host, self.egress_allow.as_deref())
        {
            return Ok(failed(format!("refused by the SSRF guard: {reason}")));
        }
        let secrets = signing_secrets(&self.sealer, endpoint)?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&secrets, &delivery.event_id, timestamp, &delivery.payload)?;
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
            Err(err) => return Ok(failed(egress::describe(&err))),
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
        Ok(Attempted {
            status_code: Some(status),
            latency: started.elapsed(),
            error: (!(200..300).contains(&status))
                .then(|| format!("the endpoint answered {status}")),
            excerpt: (!excerpt.is_empty()).then_some(excerpt),
            retry_after,
        })
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
