//! Integration jobs: claims the due ones and runs them through their connectors, a few at a time, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::authz::Authz;
use crate::events::deliveries::RetryPolicy;
use crate::service::integrations::executor::Vendors;
use crate::service::integrations::jobs;
use crate::workers::Shutdown;

/// Jobs claimed per round.
const BATCH: u64 = 16;
/// Jobs in flight at once (each connection is paced on its own by the executor).
const CONCURRENCY: usize = 4;
/// How often the queue is polled when it was empty.
const IDLE: Duration = Duration::from_millis(250);

/// Runs integration jobs until shutdown.
pub struct JobRunner {
    vendors: Arc<Vendors>,
    authz: Arc<Authz>,
    policy: RetryPolicy,
    /// How long a claimed job stays with this instance before another may take it over.
    lease: Duration,
}

impl JobRunner {
    pub fn new(vendors: Arc<Vendors>, authz: Arc<Authz>) -> anyhow::Result<Self> {
        let settings = vendors.settings.clone();
        let policy = RetryPolicy::parse(&settings.integration_retry_schedule, u32::MAX)
            .map_err(|e| anyhow::anyhow!("integration_retry_schedule: {e}"))?;
        Ok(Self {
            lease: Duration::from_secs(
                settings
                    .integration_lease_secs
                    .max(settings.integration_timeout_secs.max(1) + 1),
            ),
            vendors,
            authz,
            policy,
        })
    }

    /// Claims and runs jobs until shutdown; errors are logged and the loop goes on. A round under way finishes
    /// before the loop stops.
    pub async fn run(self, mut shutdown: Shutdown) {
        let this = Arc::new(self);
        while !shutdown.is_requested() {
            match jobs::claim(&this.vendors.db, this.lease, BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    futures_util::stream::iter(batch)
                        .for_each_concurrent(CONCURRENCY, |job| {
                            let this = this.clone();
                            async move {
                                let id = job.id.clone();
                                if let Err(err) =
                                    jobs::run(&this.vendors, &this.authz, &this.policy, job).await
                                {
                                    tracing::warn!(error = ?err, job = %id, "an integration job failed to record");
                                }
                            }
                        })
                        .await;
                }
                Ok(_) => {
                    shutdown.sleep(IDLE).await;
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming integration jobs failed");
                    shutdown.sleep(IDLE * 4).await;
                }
            }
        }
    }
}
