//! Integration jobs: claims the due ones and runs them through their connectors, a few at a time, until shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::authz::Authz;
use crate::events::deliveries::RetryPolicy;
use crate::service::integrations::executor::Vendors;
use crate::service::integrations::jobs;
use crate::workers::Shutdown;

/// Jobs in flight at once; each connection has at most one of them (its vendor paces it), so slow or busy
/// connections never hold the workers other organizations' jobs wait for.
const CONCURRENCY: usize = 8;
/// How often the queue is polled when nothing was due.
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

    /// Claims and runs jobs until shutdown, as workers free up; errors are logged and the loop goes on. Jobs
    /// under way finish before the loop stops.
    pub async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        let this = self;
        let mut running: JoinSet<()> = JoinSet::new();
        // The connection each running job works for, by task: freed when the task ends, however it ends.
        let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
        let free_connection =
            |busy: &mut HashMap<tokio::task::Id, String>,
             done: Result<(tokio::task::Id, ()), tokio::task::JoinError>| {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(err) => err.id(),
                };
                busy.remove(&id);
            };
        while !shutdown.is_requested() {
            while let Some(done) = running.try_join_next_with_id() {
                free_connection(&mut busy, done);
            }
            let free = CONCURRENCY.saturating_sub(running.len());
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let connections: Vec<String> = busy.values().cloned().collect();
                jobs::claim(&this.vendors.db, this.lease, free as u64, &connections).await
            };
            match claimed {
                Ok(batch) if !batch.is_empty() => {
                    for job in batch {
                        let integration = job.integration_id.clone();
                        let this = this.clone();
                        let task = running.spawn(async move {
                            let id = job.id.clone();
                            if let Err(err) =
                                jobs::run(&this.vendors, &this.authz, &this.policy, job).await
                            {
                                tracing::warn!(error = ?err, job = %id, "an integration job failed to record");
                            }
                        });
                        busy.insert(task.id(), integration);
                    }
                }
                Ok(_) => {
                    // Nothing due, or every worker busy: wait for a job to finish, or the next poll.
                    tokio::select! {
                        () = shutdown.requested() => {}
                        Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                            free_connection(&mut busy, done);
                        }
                        () = tokio::time::sleep(IDLE) => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming integration jobs failed");
                    shutdown.sleep(IDLE * 4).await;
                }
            }
        }
        while running.join_next().await.is_some() {}
    }
}
