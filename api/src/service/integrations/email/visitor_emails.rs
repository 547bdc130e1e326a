//! The emails a visitor is owed (welcome, transcript, satisfaction survey, follow-up), rendered when the job runs
//! from the organization's templates, each sent at most once per conversation (the welcome once per visitor),
//! never to a visitor who unsubscribed.

use entities::{conversation, integration_job, visitor};
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::error::ApiError;
use crate::service::email_templates::{self, EmailTemplateKind};
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::crm::sync::Done;
use crate::service::integrations::email::send;
use crate::service::integrations::executor::{Failure, Vendors};
use crate::service::integrations::links;
use crate::service::integrations::runs::JobKind;
use crate::service::now;

/// The link object that remembers an email sent (`<template>:<conversation or visitor>`).
pub const EMAILED: &str = "visitor_emailed";

/// The link key of an email sent about a conversation or (the welcome) a visitor.
pub fn sent_key(kind: EmailTemplateKind, about: &str) -> String {
    format!("{kind}:{about}")
}

/// The templates a `visitor_email` job carries.
pub fn payload(kinds: &[EmailTemplateKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    serde_json::json!({ "templates": names }).to_string()
}

/// Sends the emails `job` owes the visitor.
pub async fn run(
    vendors: &Vendors,
    connection: &mut Connection,
    job: &integration_job::Model,
) -> Result<Done, Failure> {
    let mut done = Done::default();
    let kinds: Vec<EmailTemplateKind> = if JobKind::named(&job.kind) == Some(JobKind::FollowUp) {
        vec![EmailTemplateKind::FollowUp]
    } else {
        job.payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|p| p.get("templates").cloned())
            .and_then(|t| t.as_array().cloned())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().and_then(EmailTemplateKind::named))
            .collect()
    };
    let db = &vendors.db;
    let organization_id = connection.model.organization_id.clone();
    let Some(visitor) = visitor::Entity::find_by_id(job.visitor_id.clone().unwrap_or_default())
        .one(db.conn())
        .await
        .map_err(ApiError::from)?
        .filter(|v| v.organization_id == organization_id)
    else {
        done.skipped += 1;
        done.notes.push("the visitor no longer exists".to_owned());
        return Ok(done);
    };
    if let Some(at) = visitor.unsubscribed_at {
        done.skipped += 1;
        done.notes.push(format!(
            "the visitor unsubscribed on {}: nothing sent",
            at.format("%B %-d, %Y")
        ));
        return Ok(done);
    }
    let Some(email) = visitor.email.clone() else {
        done.skipped += 1;
        done.notes
            .push("the visitor gave no email address: nothing sent".to_owned());
        return Ok(done);
    };
    let conversation = match &job.conversation_id {
        Some(id) => conversation::Entity::find_by_id(id.clone())
            .one(db.conn())
            .await
            .map_err(ApiError::from)?
            .filter(|c| c.organization_id == organization_id),
        None => None,
    };
    let templates = email_templates::all_in(db.conn(), &organization_id).await?;
    let context = email_templates::context(
        db,
        &vendors.sealer,
        &vendors.public_url,
        &visitor,
        conversation.as_ref(),
    )
    .await?;
    for kind in kinds {
        let Some(template) = templates.iter().find(|t| t.kind == kind) else {
            continue;
        };
        if !template.enabled {
            done.skipped += 1;
            done.notes.push(format!("the {kind} email is turned off"));
            continue;
        }
        // The welcome is the visitor's; the others are the conversation's.
        let about = match (kind, &conversation) {
            (EmailTemplateKind::Welcome, _) => visitor.id.clone(),
            (_, Some(c)) => c.id.clone(),
            (_, None) => {
                done.skipped += 1;
                done.notes
                    .push(format!("the {kind} email has no conversation to tell of"));
                continue;
            }
        };
        if kind == EmailTemplateKind::FollowUp
            && conversation
                .as_ref()
                .is_some_and(|c| !matches!(c.status.as_str(), "resolved" | "closed"))
        {
            done.skipped += 1;
            done.notes
                .push("the conversation is open again: no follow-up while it goes on".to_owned());
            continue;
        }
        let key = sent_key(kind, &about);
        if links::get(db, &connection.model.id, EMAILED, &key)
            .await?
            .is_some()
        {
            done.skipped += 1;
            done.notes
                .push(format!("the {kind} email was sent already"));
            continue;
        }
        let mut mail = template.render(&context, vec![email.clone()])?;
        if connection.provider.key != "sendgrid" {
            mail.template = None;
        }
        let answer = send(vendors, connection, &mail).await?;
        links::put(
            db,
            &organization_id,
            &connection.model.id,
            EMAILED,
            &key,
            &now().to_rfc3339(),
            None,
        )
        .await?;
        done.created += 1;
        done.notes.push(format!(
            "sent the {kind} email{} to {email}: {answer}",
            mail.template
                .as_ref()
                .map(|t| format!(" (SendGrid template {})", t.id))
                .unwrap_or_default()
        ));
    }
    Ok(done)
}
