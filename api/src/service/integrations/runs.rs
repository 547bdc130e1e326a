//! Runs: each integration job as the customer reads it, its outcome, its counts and the vendor calls it made.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use entities::{integration, integration_call, integration_job};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::{Db, WriteTxn};
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::service::integrations::crm::AccountInfo;
use crate::service::integrations::executor::Failure;
use crate::service::{Page, PageRequest, newest_first, now};
use crate::text_enum::text_enum;

text_enum! {
    /// What a job does.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum JobKind: "integration job kind" {
        /// Finds or creates the visitor's contact and updates it.
        ContactSync = "contact_sync",
        /// Creates a case (a ticket in HubSpot) for the conversation, with its contact.
        CaseCreate = "case_create",
        /// Updates the conversation's case with its transcript when it is resolved.
        CaseUpdate = "case_update",
        /// Opens a help-desk ticket for the conversation (once), with its transcript.
        TicketCreate = "ticket_create",
        /// Brings a ticket's changes here: agents' public replies to the visitor, a solved ticket resolves.
        TicketSync = "ticket_sync",
        /// Sends one prepared message (an invitation) through the email integration.
        EmailSend = "email_send",
        /// Emails the team about a conversation as the notification rules say.
        Notify = "notify",
        /// Adds a consenting visitor to the mailing list's audience (or unsubscribes one who withdrew).
        AudienceSync = "audience_sync",
        /// Emails the visitor what their event owes them (a welcome; a transcript and a survey at resolution).
        VisitorEmail = "visitor_email",
        /// Emails the visitor a follow-up some hours after their conversation was resolved.
        FollowUp = "follow_up",
        /// A connection test asked for by a person.
        Test = "test",
    }
}

text_enum! {
    /// Where a job stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum JobStatus: "integration job status" {
        /// Waiting for its first try, a retry, or the connection's reauthorization.
        Pending = "pending",
        Succeeded = "succeeded",
        /// Given up: retries ran out or the vendor refused what was sent.
        Failed = "failed",
        /// Dropped: the integration was disconnected.
        Cancelled = "cancelled",
    }
}

/// A job with the vendor calls it made, oldest first.
#[derive(Clone, Debug)]
pub struct Run {
    pub job: integration_job::Model,
    pub calls: Vec<integration_call::Model>,
}

/// A connection's runs, newest first, each with its calls (one query for all of them).
pub async fn list(
    db: &Db,
    principal: &Principal,
    integration_id: &str,
    page: &PageRequest,
) -> ApiResult<Page<Run>> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    let integration_id = ids::lookup(Kind::Integration, integration_id)?;
    integration::Entity::find_by_id(integration_id.to_owned())
        .filter(integration::Column::OrganizationId.eq(grant.organization_id()))
        .one(db.conn())
        .await?
        .ok_or_else(|| ApiError::not_found("integration", integration_id))?;
    let query = integration_job::Entity::find()
        .filter(integration_job::Column::IntegrationId.eq(integration_id));
    let page = newest_first(db.conn(), query, integration_job::Column::Id, page).await?;
    let ids: Vec<&str> = page.items.iter().map(|j| j.id.as_str()).collect();
    let mut calls: HashMap<String, Vec<integration_call::Model>> = HashMap::new();
    if !ids.is_empty() {
        for call in integration_call::Entity::find()
            .filter(integration_call::Column::JobId.is_in(ids))
            .order_by_asc(integration_call::Column::Id)
            .all(db.conn())
            .await?
        {
            if let Some(job) = call.job_id.clone() {
                calls.entry(job).or_default().push(call);
            }
        }
    }
    Ok(page.map(|job| Run {
        calls: calls.remove(&job.id).unwrap_or_default(),
        job,
    }))
}

/// A job owed to `integration`, due at `at`, about a visitor (and their conversation when there is one); the
/// caller adds the event that owes it, if any.
pub(crate) fn pending_job(
    integration: &integration::Model,
    kind: &str,
    trigger: &str,
    visitor_id: &str,
    conversation_id: Option<&str>,
    at: DateTime<Utc>,
) -> integration_job::ActiveModel {
    integration_job::ActiveModel {
        id: Set(new_id(Kind::IntegrationRun)),
        organization_id: Set(integration.organization_id.clone()),
        integration_id: Set(integration.id.clone()),
        kind: Set(kind.to_owned()),
        trigger: Set(trigger.to_owned()),
        event_id: Set(None),
        subject: Set(visitor_id.to_owned()),
        conversation_id: Set(conversation_id.map(str::to_owned)),
        visitor_id: Set(Some(visitor_id.to_owned())),
        status: Set(JobStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        lease_until: Set(None),
        created: Set(0),
        updated: Set(0),
        skipped: Set(0),
        failed: Set(0),
        outcome: Set(None),
        error_class: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        finished_at: Set(None),
        payload: Set(None),
    }
}

/// Records a finished connection test as a run, with the calls it made under `id`.
pub(crate) async fn record_test(
    db: &Db,
    integration: &integration::Model,
    id: String,
    outcome: &Result<AccountInfo, Failure>,
) -> ApiResult<Run> {
    let at = now();
    let (status, message, class) = match outcome {
        Ok(info) => (JobStatus::Succeeded, info.description.clone(), None),
        Err(failure) => (
            JobStatus::Failed,
            failure.message().to_owned(),
            Some(failure.class().to_owned()),
        ),
    };
    let txn = db.begin_write().await?;
    let job = integration_job::ActiveModel {
        id: Set(id),
        organization_id: Set(integration.organization_id.clone()),
        integration_id: Set(integration.id.clone()),
        kind: Set(JobKind::Test.as_str().to_owned()),
        trigger: Set("manual".to_owned()),
        event_id: Set(None),
        subject: Set(integration.id.clone()),
        conversation_id: Set(None),
        visitor_id: Set(None),
        status: Set(status.as_str().to_owned()),
        attempts: Set(1),
        next_attempt_at: Set(at),
        lease_until: Set(None),
        created: Set(0),
        updated: Set(0),
        skipped: Set(0),
        failed: Set(0),
        outcome: Set(Some(message)),
        error_class: Set(class),
        created_at: Set(at),
        updated_at: Set(at),
        finished_at: Set(Some(at)),
        payload: Set(None),
    }
    .insert(&*txn)
    .await?;
    txn.commit().await?;
    let calls = integration_call::Entity::find()
        .filter(integration_call::Column::JobId.eq(&job.id))
        .order_by_asc(integration_call::Column::Id)
        .all(db.conn())
        .await?;
    Ok(Run { job, calls })
}

/// Cancels the connection's jobs that are not done, saying why.
pub(crate) async fn cancel_pending(
    txn: &WriteTxn<'_>,
    integration_id: &str,
    reason: &str,
) -> ApiResult<()> {
    let at = now();
    integration_job::Entity::update_many()
        .col_expr(
            integration_job::Column::Status,
            Expr::value(JobStatus::Cancelled.as_str()),
        )
        .col_expr(integration_job::Column::Outcome, Expr::value(reason))
        .col_expr(
            integration_job::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(integration_job::Column::UpdatedAt, Expr::value(at))
        .col_expr(integration_job::Column::FinishedAt, Expr::value(at))
        .filter(integration_job::Column::IntegrationId.eq(integration_id))
        .filter(integration_job::Column::Status.eq(JobStatus::Pending.as_str()))
        .exec(&**txn)
        .await?;
    Ok(())
}
