//! Running integration jobs: the due ones claimed under a lease (a visitor's jobs one at a time and in order,
//! across instances), run through their category's connector, and what came of each recorded.

use std::time::Duration as StdDuration;

use chrono::Duration;
use entities::{integration, integration_job, organization};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use crate::auth::Plan;
use crate::authz::{Authz, Feature};
use crate::db::Db;
use crate::db::sql::Sql;
use crate::error::{ApiError, ApiResult};
use crate::events::deliveries::RetryPolicy;
use crate::events::{names, outbox};
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::providers::Category;
use crate::service::integrations::runs::{JobKind, JobStatus};
use crate::service::integrations::{IntegrationStatus, providers};
use crate::service::integrations::{crm, email, helpdesk};
use crate::service::now;

/// Takes up to `limit` due jobs for `lease`, at most one per connection, none of the connections in `busy`
/// (those this instance is already working for: a connection paced by its vendor must not hold the workers that
/// other organizations' jobs are waiting for). A job is due when its connection is connected and no earlier job
/// of the same subject (a visitor) is still pending: two events a millisecond apart cannot both create the
/// visitor's contact. The lease is taken by a conditional update, so two instances that pick the same job
/// cannot both have it.
pub async fn claim(
    db: &Db,
    lease: StdDuration,
    limit: u64,
    busy: &[String],
) -> ApiResult<Vec<integration_job::Model>> {
    let at = now();
    let until = at + Duration::from_std(lease).map_err(ApiError::internal)?;
    let backend = db.backend();
    let mut sql = Sql::new(backend);
    // Placeholders in the order they appear in the text (SQLite's `?` are positional).
    let until_p = sql.bind(until);
    let updated_p = sql.bind(at);
    let due_p = sql.bind(at);
    let free_p = sql.bind(at);
    let busy_p: Vec<String> = busy.iter().map(|id| sql.bind(id.clone())).collect();
    let limit_p = sql.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let still_free_p = sql.bind(at);
    let not_busy = if busy_p.is_empty() {
        String::new()
    } else {
        format!(" AND j.integration_id NOT IN ({})", busy_p.join(", "))
    };
    let text = format!(
        "UPDATE integration_jobs SET lease_until = {until_p}, updated_at = {updated_p} WHERE id IN (\
           SELECT MIN(j.id) FROM integration_jobs j JOIN integrations i ON i.id = j.integration_id \
           WHERE j.status = 'pending' AND i.status = 'connected' AND j.next_attempt_at <= {due_p} \
             AND (j.lease_until IS NULL OR j.lease_until < {free_p}){not_busy} \
             AND NOT EXISTS (SELECT 1 FROM integration_jobs e WHERE e.integration_id = j.integration_id \
               AND e.subject = j.subject AND e.status = 'pending' AND e.id < j.id) \
           GROUP BY j.integration_id ORDER BY MIN(j.next_attempt_at) LIMIT {limit_p}) \
         AND status = 'pending' AND (lease_until IS NULL OR lease_until < {still_free_p}) RETURNING *"
    );
    let statement = sql.statement(text);
    let txn = db.begin_write().await?;
    let claimed = integration_job::Entity::find()
        .from_raw_sql(statement)
        .all(&*txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// Runs one claimed job and records what came of it; errors are the bookkeeping's, never the vendor's.
pub async fn run(
    vendors: &Vendors,
    authz: &Authz,
    policy: &RetryPolicy,
    job: integration_job::Model,
) -> ApiResult<()> {
    let Some(model) = integration::Entity::find_by_id(job.integration_id.clone())
        .one(vendors.db.conn())
        .await?
    else {
        return Ok(());
    };
    if model.status != IntegrationStatus::Connected.as_str() {
        // Held: it runs once the connection is authorized again.
        return release(&vendors.db, &job).await;
    }
    let provider = providers::provider(&model.provider)
        .ok_or_else(|| ApiError::internal_msg(format!("stored provider {:?}", model.provider)))?;
    let plan = organization::Entity::find_by_id(model.organization_id.clone())
        .one(vendors.db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("organization", &model.organization_id))?
        .plan;
    let plan = Plan::stored(&plan)?;
    if !authz.plan_has(plan, provider.feature).await {
        let reason = format!(
            "the organization's plan no longer includes {} integrations",
            provider.category
        );
        return finish(
            vendors,
            &job,
            &model,
            Err(Failure::Configuration(reason)),
            policy,
        )
        .await;
    }
    let advanced = authz.plan_has(plan, Feature::CrmAdvanced).await;
    let mut connection = Connection::open(&vendors.sealer, model.clone())?;
    let outcome = match provider.category {
        Category::Helpdesk if job.kind == JobKind::TicketSync.as_str() => {
            helpdesk::replies::run(vendors, &mut connection, &job).await
        }
        Category::Helpdesk => helpdesk::tickets::run(vendors, &mut connection, &job).await,
        Category::Email => email::runs::run(vendors, &mut connection, &job).await,
        Category::Crm => crm::sync::run(vendors, &mut connection, &job, advanced).await,
    };
    finish(vendors, &job, &connection.model, outcome, policy).await
}

/// Gives a held job back without counting an attempt.
async fn release(db: &Db, job: &integration_job::Model) -> ApiResult<()> {
    let mut row: integration_job::ActiveModel = job.clone().into();
    row.lease_until = Set(None);
    row.updated_at = Set(now());
    let txn = db.begin_write().await?;
    row.update(&*txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Records a run: done; held for reauthorization; tried again later (transient failures, with the vendor's
/// wait); or failed for good (what was sent is refused, or the retries ran out), which `integration.sync_failed`
/// announces.
async fn finish(
    vendors: &Vendors,
    job: &integration_job::Model,
    integration: &integration::Model,
    outcome: Result<crm::sync::Done, Failure>,
    policy: &RetryPolicy,
) -> ApiResult<()> {
    let at = now();
    let mut row: integration_job::ActiveModel = job.clone().into();
    row.lease_until = Set(None);
    row.updated_at = Set(at);
    let mut failed_for_good = None;
    match outcome {
        Ok(done) => {
            row.attempts = Set(job.attempts + 1);
            row.status = Set(JobStatus::Succeeded.as_str().to_owned());
            row.created = Set(done.created);
            row.updated = Set(done.updated);
            row.skipped = Set(done.skipped);
            row.failed = Set(done.failed);
            row.outcome = Set(Some(done.outcome()));
            row.error_class = Set(None);
            row.finished_at = Set(Some(at));
        }
        Err(failure @ Failure::Authorization(_))
            if integration.status != IntegrationStatus::Connected.as_str() =>
        {
            // The connection waits for the customer; so does the job, without spending an attempt.
            row.error_class = Set(Some(failure.class().to_owned()));
            row.outcome = Set(Some(format!(
                "waiting for the integration to be connected again: {}",
                failure.message()
            )));
        }
        Err(failure) => {
            let attempts = job.attempts + 1;
            row.attempts = Set(attempts);
            row.error_class = Set(Some(failure.class().to_owned()));
            let retry_after = match &failure {
                Failure::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            let next = (failure.is_transient() || matches!(failure, Failure::Authorization(_)))
                .then(|| policy.next(attempts, retry_after))
                .flatten();
            match next {
                Some(next) => {
                    row.next_attempt_at = Set(next);
                    row.outcome = Set(Some(format!(
                        "{}; trying again at {}",
                        failure.message(),
                        next.format("%Y-%m-%d %H:%M:%S UTC")
                    )));
                }
                None => {
                    let reason = if failure.is_transient() {
                        format!("{} (gave up after {attempts} tries)", failure.message())
                    } else {
                        failure.message().to_owned()
                    };
                    row.status = Set(JobStatus::Failed.as_str().to_owned());
                    row.failed = Set(1);
                    row.outcome = Set(Some(reason.clone()));
                    row.finished_at = Set(Some(at));
                    failed_for_good = Some((failure.class(), reason));
                }
            }
        }
    }
    let txn = vendors.db.begin_write().await?;
    row.update(&*txn).await?;
    if let Some((class, reason)) = failed_for_good {
        outbox::record(
            &txn,
            &job.organization_id,
            names::INTEGRATION_SYNC_FAILED,
            None,
            json!({
                "integration_id": job.integration_id,
                "provider": integration.provider,
                "run_id": job.id,
                "kind": job.kind,
                "conversation_id": job.conversation_id,
                "visitor_id": job.visitor_id,
                "error_class": class,
                "reason": reason,
            }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
