//! The email jobs: a prepared message (an invitation) sent as it was sealed, a team notification made from the
//! rules at run time (at most once per rule, conversation and event within the rule's window), and a consenting
//! visitor's place in the mailing list.

use chrono::Duration;
use entities::{assistant, conversation, integration_job, message, user, visitor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::secrets::Sealer;
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::mapping::sentiment_word;
use crate::service::integrations::crm::sync::Done;
use crate::service::integrations::email::send;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::links;
use crate::service::integrations::runs::JobKind;
use crate::service::mail::{Mail, templates};
use crate::service::notifications::{self, NotificationKind, Recipients};
use crate::service::now;

/// What an `email_send` job carries, sealed.
#[derive(Debug, Deserialize, Serialize)]
pub struct Prepared {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn sealing_context(job_id: &str) -> String {
    format!("integration-job-payload:{job_id}")
}

/// Seals a prepared message for the job `job_id`.
pub fn seal(sealer: &Sealer, job_id: &str, mail: &Mail) -> crate::error::ApiResult<String> {
    let prepared = Prepared {
        to: mail.to.clone(),
        subject: mail.subject.clone(),
        text: mail.text.clone(),
        html: mail.html.clone(),
    };
    let plain = serde_json::to_string(&prepared).map_err(ApiError::internal)?;
    sealer.seal(&plain, &sealing_context(job_id))
}

/// One email job, as its kind says.
pub async fn run(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    match JobKind::named(&job.kind) {
        Some(JobKind::EmailSend) => send_prepared(vendors, connection, job).await,
        Some(JobKind::Notify) => notify(vendors, connection, job).await,
        Some(JobKind::VisitorEmail | JobKind::FollowUp) => {
            crate::service::integrations::email::visitor_emails::run(vendors, connection, job).await
        }
        Some(JobKind::AudienceSync) => {
            crate::service::integrations::email::mailchimp::sync(vendors, connection, job).await
        }
        _ => Err(Failure::Configuration(format!(
            "an email integration does not run {} jobs",
            job.kind
        ))),
    }
}

async fn send_prepared(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let sealed = job
        .payload
        .as_deref()
        .ok_or_else(|| Failure::Configuration("the message to send is missing".to_owned()))?;
    let plain = vendors.sealer.open(sealed, &sealing_context(&job.id))?;
    let prepared: Prepared = serde_json::from_str(secrecy::ExposeSecret::expose_secret(&plain))
        .map_err(|e| Failure::Configuration(format!("the message to send is unreadable: {e}")))?;
    let to = prepared.to.join(", ");
    let mail = Mail {
        to: prepared.to,
        subject: prepared.subject,
        text: prepared.text,
        html: prepared.html,
        ..Mail::default()
    };
    let answer = send(vendors, connection, &mail).await?;
    Ok(Done {
        created: 1,
        notes: vec![format!("sent \"{}\" to {to}: {answer}", mail.subject)],
        ..Done::default()
    })
}

/// The notification `job` owes: for each enabled rule that takes its event and its conversation, unless that
/// rule emailed about it within its window, one message to the rule's recipients (in Bcc).
async fn notify(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let mut done = Done::default();
    let payload: Value = job
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let Some(kind) = payload
        .get("kind")
        .and_then(Value::as_str)
        .and_then(NotificationKind::named)
    else {
        return Err(Failure::Configuration(
            "a notification names no event".to_owned(),
        ));
    };
    let organization_id = connection.model.organization_id.clone();
    let organization_id = &organization_id;
    let db = &vendors.db;
    let Some(conversation) =
        conversation::Entity::find_by_id(job.conversation_id.clone().unwrap_or_default())
            .filter(conversation::Column::OrganizationId.eq(organization_id))
            .one(db.conn())
            .await
            .map_err(ApiError::from)?
    else {
        done.skipped += 1;
        done.notes
            .push("the conversation no longer exists".to_owned());
        return Ok(done);
    };
    let messages = message::Entity::find()
        .filter(message::Column::ConversationId.eq(&conversation.id))
        .order_by_asc(message::Column::Id)
        .all(db.conn())
        .await
        .map_err(ApiError::from)?;
    let intents: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.intent.as_deref())
        .collect();
    let path = conversation
        .source_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.path().to_owned());
    let rules: Vec<_> = notifications::enabled_in(db.conn(), organization_id)
        .await?
        .into_iter()
        .filter(|rule| notifications::events_of(rule).contains(&kind))
        .filter(|rule| {
            rule.assistant_id
                .as_ref()
                .is_none_or(|a| *a == conversation.assistant_id)
        })
        .filter(|rule| {
            rule.page_path.as_ref().is_none_or(|p| {
                path.as_deref()
                    .is_some_and(|path| path.starts_with(p.as_str()))
            })
        })
        .filter(|rule| rule.intent.as_deref().is_none_or(|i| intents.contains(&i)))
        .collect();
    if rules.is_empty() {
        done.skipped += 1;
        done.notes
            .push(format!("no rule takes {kind} for this conversation"));
        return Ok(done);
    }
    let context = context(vendors, &conversation, &messages, kind, &payload).await?;
    for rule in rules {
        let key = format!("{}:{kind}:{}", rule.id, conversation.id);
        let window = Duration::minutes(i64::from(rule.window_minutes));
        if let Some(link) = links::get(db, &connection.model.id, "notified", &key).await?
            && now() - link.updated_at < window
        {
            done.skipped += 1;
            done.notes.push(format!(
                "\"{}\" already emailed about this conversation's {kind} within {} minutes",
                rule.name, rule.window_minutes
            ));
            continue;
        }
        let to = recipients(vendors, organization_id, &rule).await?;
        if to.is_empty() {
            done.skipped += 1;
            done.notes
                .push(format!("\"{}\" has nobody to email", rule.name));
            continue;
        }
        let mut rule_context = context.clone();
        rule_context["rule"] = json!(rule.name);
        let mail = templates::render(&templates::NOTIFICATION, &rule_context, to.clone())?;
        let answer = send(vendors, connection, &mail).await?;
        links::put(
            db,
            organization_id,
            &connection.model.id,
            "notified",
            &key,
            &now().to_rfc3339(),
            None,
        )
        .await?;
        done.created += 1;
        done.notes.push(format!(
            "\"{}\": emailed {} about the {kind}: {answer}",
            rule.name,
            to.join(", ")
        ));
    }
    Ok(done)
}

/// Who a rule emails: the active owners and admins, every active member, or its addresses.
async fn recipients(
    vendors: &Vendors,
    organization_id: &str,
    rule: &entities::notification_rule::Model,
) -> Result<Vec<String>, Failure> {
    let recipients = Recipients::named(&rule.recipients).unwrap_or(Recipients::Admins);
    if recipients == Recipients::Addresses {
        return Ok(notifications::addresses_of(rule));
    }
    let mut query = user::Entity::find()
        .filter(user::Column::OrganizationId.eq(organization_id))
        .filter(user::Column::Active.eq(true));
    if recipients == Recipients::Admins {
        query = query.filter(user::Column::Role.is_in(["owner", "admin"]));
    }
    Ok(query
        .order_by_asc(user::Column::Id)
        .all(vendors.db.conn())
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|u| u.email)
        .collect())
}

/// What the notification says: who, where, why, and the message that caused it.
async fn context(
    vendors: &Vendors,
    conversation: &conversation::Model,
    messages: &[message::Model],
    kind: NotificationKind,
    payload: &Value,
) -> Result<Value, Failure> {
    let db = vendors.db.conn();
    let visitor = visitor::Entity::find_by_id(conversation.visitor_id.clone())
        .one(db)
        .await
        .map_err(ApiError::from)?;
    let assistant = assistant::Entity::find_by_id(conversation.assistant_id.clone())
        .one(db)
        .await
        .map_err(ApiError::from)?
        .map(|a| a.name);
    let organization =
        entities::organization::Entity::find_by_id(conversation.organization_id.clone())
            .one(db)
            .await
            .map_err(ApiError::from)?
            .map_or_else(String::new, |o| o.name);
    let who = visitor
        .as_ref()
        .and_then(|v| v.name.clone().or_else(|| v.email.clone()))
        .unwrap_or_else(|| "A visitor".to_owned());
    let named = payload
        .get("message_id")
        .and_then(Value::as_str)
        .and_then(|id| messages.iter().find(|m| m.id == id));
    let last_visitor = messages.iter().rev().find(|m| m.author == "visitor");
    let message = named.or(last_visitor).map(|m| m.body.clone());
    let sentiment = named
        .or(last_visitor)
        .and_then(|m| m.sentiment)
        .map(|s| format!("{} ({s:.2})", sentiment_word(s)));
    let headline = match kind {
        NotificationKind::NewConversation => format!("{who} started a conversation"),
        NotificationKind::Handoff => format!("{who} asks for a person"),
        NotificationKind::QueryFailed => format!("The assistant could not answer {who}"),
        NotificationKind::NegativeSentiment => format!("{who} seems unhappy"),
    };
    Ok(json!({
        "kind": kind.as_str(),
        "headline": headline,
        "visitor": visitor.as_ref().and_then(|v| v.name.clone().or_else(|| v.email.clone())),
        "visitor_email": visitor.as_ref().and_then(|v| v.email.clone()),
        "page": conversation.source_url,
        "assistant": assistant,
        "reason": (kind == NotificationKind::Handoff).then(|| conversation.handoff_reason.clone()).flatten(),
        "sentiment": (kind == NotificationKind::NegativeSentiment).then_some(sentiment).flatten(),
        "message": message,
        "conversation_url": format!(
            "{}/console/inbox/{}",
            vendors.public_url.trim_end_matches('/'),
            conversation.id
        ),
        "organization": organization,
    }))
}
