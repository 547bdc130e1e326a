//! The integration job queue: the work each event owes the organization's integrations, written in the event's
//! own transaction (as webhook deliveries are), so that nothing committed is missed and nothing is owed twice.

use entities::{conversation, event, integration, integration_job, integration_link, visitor};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::error::ApiResult;
use crate::events::names;
use crate::service::email_templates::{self, EmailTemplate, EmailTemplateKind};
use crate::service::integrations::email::{self, visitor_emails};
use crate::service::integrations::helpdesk::settings::{HelpdeskSettings, TicketTrigger};
use crate::service::integrations::providers::{self, Category};
use crate::service::integrations::runs::{self, JobKind};
use crate::service::notifications;
use crate::service::now;

/// Statuses of a connection that is still owed work: a connection waiting for reauthorization keeps it, and
/// sends it once it is connected again.
const OWED: [&str; 3] = ["connected", "reauthorization_required", "error"];

/// What a CRM does for an event: the job kinds, given the case triggers its settings hold.
fn crm_jobs(event: &str, case_triggers: &[&str]) -> Vec<&'static str> {
    let case_on = |trigger: &str| case_triggers.contains(&trigger);
    match event {
        names::CONVERSATION_CREATED if case_on("every_conversation") => {
            vec!["contact_sync", "case_create"]
        }
        names::CONVERSATION_CREATED => vec!["contact_sync"],
        names::HANDOFF_REQUESTED if case_on("handoff") => vec!["contact_sync", "case_create"],
        names::HANDOFF_REQUESTED => vec!["contact_sync"],
        names::VISITOR_FORM_SUBMITTED if case_on("form_submission") => {
            vec!["contact_sync", "case_create"]
        }
        names::VISITOR_FORM_SUBMITTED | names::VISITOR_UPDATED => vec!["contact_sync"],
        names::CONVERSATION_RESOLVED => vec!["case_update"],
        _ => Vec::new(),
    }
}

/// The case triggers of a CRM connection's stored settings (`case_creation`; on handoff when not set).
fn case_triggers(settings: &Value) -> Vec<&str> {
    match settings.get("case_creation").and_then(Value::as_array) {
        Some(triggers) => triggers.iter().filter_map(Value::as_str).collect(),
        None => vec!["handoff"],
    }
}

/// What a help desk does for an event: a ticket when one of its settings' triggers fires. `failures` is the
/// number of unanswered questions in the conversation so far (this event's included).
fn helpdesk_jobs(
    event: &event::Model,
    settings: &Value,
    failures: Option<u64>,
) -> Vec<&'static str> {
    let settings = HelpdeskSettings::stored(settings);
    let on = |trigger: TicketTrigger| settings.ticket_creation.contains(&trigger);
    let fires = match event.event.as_str() {
        names::HANDOFF_REQUESTED => on(TicketTrigger::Handoff),
        names::VISITOR_FORM_SUBMITTED => on(TicketTrigger::FormSubmission),
        names::MESSAGE_CREATED => {
            on(TicketTrigger::Intent)
                && event.data.get("author").and_then(Value::as_str) == Some("visitor")
                && event
                    .data
                    .get("intent")
                    .and_then(Value::as_str)
                    .is_some_and(|intent| settings.intents.iter().any(|i| i == intent))
        }
        // Once, when the count reaches the setting.
        names::KNOWLEDGE_BASE_QUERY_FAILED => {
            on(TicketTrigger::FailedResponses)
                && failures == Some(u64::from(settings.failed_responses))
        }
        _ => false,
    };
    if fires {
        vec!["ticket_create"]
    } else {
        Vec::new()
    }
}

/// What a mailing list does for an event: a consenting visitor's details or conversation changed (they are
/// added, updated and tagged), or a consent was withdrawn (they are unsubscribed). `consent` is the visitor's
/// consent now.
fn audience_jobs(event: &event::Model, consent: bool) -> Vec<&'static str> {
    let withdrawn = event.data.pointer("/changes/marketing_consent").is_some();
    let owes = match event.event.as_str() {
        names::VISITOR_UPDATED => consent || withdrawn,
        names::CONVERSATION_RESOLVED => consent,
        _ => false,
    };
    if owes {
        vec![JobKind::AudienceSync.as_str()]
    } else {
        Vec::new()
    }
}

/// Whether `event` may owe a visitor an email: a conversation started or resolved, an email address given.
fn may_owe_visitor_email(event: &event::Model) -> bool {
    match event.event.as_str() {
        names::CONVERSATION_CREATED | names::CONVERSATION_RESOLVED => true,
        names::VISITOR_UPDATED => gives_email(event),
        _ => false,
    }
}

/// Whether a `visitor.updated` gives an email address where there was none.
fn gives_email(event: &event::Model) -> bool {
    event
        .data
        .pointer("/changes/email")
        .is_some_and(|c| c["from"].is_null() && c["to"].is_string())
}

/// The visitor-email jobs `event` owes, given the templates turned on: the job kind, its payload and how long
/// after the event it is due.
fn visitor_email_jobs(
    event: &event::Model,
    enabled: &[EmailTemplate],
) -> Vec<(JobKind, Option<String>, chrono::Duration)> {
    let on = |kind: EmailTemplateKind| enabled.iter().find(|t| t.kind == kind);
    let mut jobs = Vec::new();
    let now = chrono::Duration::zero();
    let welcome = match event.event.as_str() {
        names::CONVERSATION_CREATED => true,
        names::VISITOR_UPDATED => gives_email(event),
        _ => false,
    };
    if welcome && on(EmailTemplateKind::Welcome).is_some() {
        jobs.push((
            JobKind::VisitorEmail,
            Some(visitor_emails::payload(&[EmailTemplateKind::Welcome])),
            now,
        ));
    }
    if event.event == names::CONVERSATION_RESOLVED {
        let at_once: Vec<EmailTemplateKind> = [
            EmailTemplateKind::Transcript,
            EmailTemplateKind::SatisfactionSurvey,
        ]
        .into_iter()
        .filter(|k| on(*k).is_some())
        .collect();
        if !at_once.is_empty() {
            jobs.push((
                JobKind::VisitorEmail,
                Some(visitor_emails::payload(&at_once)),
                now,
            ));
        }
        if let Some(follow_up) = on(EmailTemplateKind::FollowUp) {
            let hours = follow_up
                .delay_hours
                .unwrap_or(email_templates::FOLLOW_UP_HOURS);
            jobs.push((
                JobKind::FollowUp,
                None,
                chrono::Duration::hours(i64::from(hours)),
            ));
        }
    }
    jobs
}

/// Whether any integration could owe work for `event` (so that most events cost no query).
fn may_owe(event: &event::Model) -> bool {
    if notifications::kind_of(event).is_some() {
        return true;
    }
    match event.event.as_str() {
        names::MESSAGE_CREATED => {
            event.data.get("author").and_then(Value::as_str) == Some("visitor")
                && event.data.get("intent").is_some_and(|i| !i.is_null())
        }
        names::KNOWLEDGE_BASE_QUERY_FAILED => event.conversation_id.is_some(),
        other => !crm_jobs(other, &["handoff", "form_submission", "every_conversation"]).is_empty(),
    }
}

/// Owes `event` to the organization's integrations that care about it, in the caller's transaction.
pub(crate) async fn enqueue(
    conn: &impl ConnectionTrait,
    event: &event::Model,
    conversation: Option<&conversation::Model>,
) -> ApiResult<()> {
    if !may_owe(event) {
        return Ok(());
    }
    let integrations = integration::Entity::find()
        .filter(integration::Column::OrganizationId.eq(&event.organization_id))
        .filter(integration::Column::Status.is_in(OWED))
        .all(conn)
        .await?;
    if integrations.is_empty() {
        return Ok(());
    }
    let visitor_id = conversation.map(|c| c.visitor_id.clone()).or_else(|| {
        event
            .data
            .get("visitor_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(visitor_id) = visitor_id else {
        return Ok(());
    };
    let conversation_id = conversation.map(|c| c.id.clone()).or_else(|| {
        event
            .data
            .get("conversation_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let at = now();
    // The conversation as this event left it: `failed_total` counts this unanswered question too.
    let failures = conversation.and_then(|c| u64::try_from(c.failed_total).ok());
    let mut rows = Vec::new();
    // The team is notified through one email integration (the first in the providers' order), when a rule
    // takes the event's kind; the rules' filters and windows are applied when the job runs.
    let notification = match (notifications::kind_of(event), &conversation_id) {
        (Some(kind), Some(_)) => notifications::enabled_in(conn, &event.organization_id)
            .await?
            .iter()
            .any(|rule| notifications::events_of(rule).contains(&kind))
            .then_some(kind),
        _ => None,
    };
    let mailer = email::mailer(&integrations);
    if let (Some(kind), Some(mailer)) = (notification, mailer) {
        let mut job = runs::pending_job(
            mailer,
            JobKind::Notify.as_str(),
            &event.event,
            &visitor_id,
            conversation_id.as_deref(),
            at,
        );
        // One conversation's notifications run one at a time, so that a rule's window holds.
        job.subject = Set(conversation_id.clone().unwrap_or_default());
        job.event_id = Set(Some(event.id.clone()));
        let message_id = event.data.get("message_id").cloned().unwrap_or(Value::Null);
        job.payload = Set(Some(
            serde_json::json!({"kind": kind.as_str(), "message_id": message_id}).to_string(),
        ));
        rows.push(job);
    }
    // The visitor emails this event owes, through the mailer, when the organization turned them on.
    let visitor_emails = match mailer {
        Some(_) if may_owe_visitor_email(event) => {
            email_templates::all_in(conn, &event.organization_id)
                .await?
                .into_iter()
                .filter(|t| t.enabled)
                .collect()
        }
        _ => Vec::new(),
    };
    // The visitor is read only when a mailing list needs their consent or an email their address.
    let visitor =
        if integrations.iter().any(|c| c.provider == "mailchimp") || !visitor_emails.is_empty() {
            visitor::Entity::find_by_id(visitor_id.clone())
                .one(conn)
                .await?
        } else {
            None
        };
    let consent = visitor.as_ref().is_some_and(|v| v.marketing_consent);
    if let (Some(mailer), Some(visitor)) = (mailer, &visitor)
        && visitor.email.is_some()
        && visitor.unsubscribed_at.is_none()
    {
        // A returning visitor was welcomed already: their next conversations owe no welcome.
        let welcomed = integration_link::Entity::find_by_id((
            mailer.id.clone(),
            visitor_emails::EMAILED.to_owned(),
            visitor_emails::sent_key(EmailTemplateKind::Welcome, &visitor.id),
        ))
        .one(conn)
        .await?
        .is_some();
        let visitor_emails: Vec<EmailTemplate> = visitor_emails
            .into_iter()
            .filter(|t| !(welcomed && t.kind == EmailTemplateKind::Welcome))
            .collect();
        for (kind, payload, due) in visitor_email_jobs(event, &visitor_emails) {
            let mut job = runs::pending_job(
                mailer,
                kind.as_str(),
                &event.event,
                &visitor_id,
                conversation_id.as_deref(),
                at + due,
            );
            job.event_id = Set(Some(event.id.clone()));
            job.payload = Set(payload);
            rows.push(job);
        }
    }
    for connection in &integrations {
        let kinds = match providers::provider(&connection.provider).map(|p| p.category) {
            Some(Category::Crm) => crm_jobs(&event.event, &case_triggers(&connection.settings)),
            Some(Category::Helpdesk) => helpdesk_jobs(event, &connection.settings, failures),
            Some(Category::Email) if connection.provider == "mailchimp" => {
                audience_jobs(event, consent)
            }
            Some(Category::Email) | None => Vec::new(),
        };
        for kind in kinds {
            let mut job = runs::pending_job(
                connection,
                kind,
                &event.event,
                &visitor_id,
                conversation_id.as_deref(),
                at,
            );
            job.event_id = Set(Some(event.id.clone()));
            rows.push(job);
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    integration_job::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            integration_job::Column::IntegrationId,
            integration_job::Column::EventId,
            integration_job::Column::Kind,
        ])
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_trigger_owes_a_case_only_when_the_settings_ask() {
        let (none, every, form, never) = (
            json!({}),
            json!({"case_creation": ["every_conversation"]}),
            json!({"case_creation": ["form_submission"]}),
            json!({"case_creation": []}),
        );
        let on_handoff = case_triggers(&none);
        assert_eq!(on_handoff, ["handoff"]);
        assert_eq!(
            crm_jobs(names::HANDOFF_REQUESTED, &on_handoff),
            ["contact_sync", "case_create"]
        );
        assert_eq!(
            crm_jobs(names::CONVERSATION_CREATED, &on_handoff),
            ["contact_sync"]
        );
        let every = case_triggers(&every);
        assert_eq!(
            crm_jobs(names::CONVERSATION_CREATED, &every),
            ["contact_sync", "case_create"]
        );
        assert_eq!(crm_jobs(names::HANDOFF_REQUESTED, &every), ["contact_sync"]);
        let form = case_triggers(&form);
        assert_eq!(
            crm_jobs(names::VISITOR_FORM_SUBMITTED, &form),
            ["contact_sync", "case_create"]
        );
        assert_eq!(crm_jobs(names::VISITOR_UPDATED, &form), ["contact_sync"]);
        assert_eq!(
            crm_jobs(names::VISITOR_FORM_SUBMITTED, &on_handoff),
            ["contact_sync"]
        );
        assert_eq!(crm_jobs(names::CONVERSATION_RESOLVED, &[]), ["case_update"]);
        assert!(crm_jobs(names::MESSAGE_CREATED, &every).is_empty());
        let never = case_triggers(&never);
        assert_eq!(crm_jobs(names::HANDOFF_REQUESTED, &never), ["contact_sync"]);
    }
}
