//! The emails sent to visitors (welcome, transcript, follow-up, satisfaction survey): the defaults, each
//! organization's overrides and whether each is sent, a preview, the context they are rendered with, and the
//! signed links they carry (unsubscribe, ratings).

use chrono::{DateTime, Utc};
use entities::{assistant, conversation, email_template, message, organization, visitor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind, new_id};
use crate::secrets::Sealer;
use crate::service::audit::{self, AuditAction};
use crate::service::mail::templates::{self, Parts, Template};
use crate::service::mail::{DynamicTemplate, Mail};
use crate::service::{Patch, now};
use crate::text_enum::text_enum;

text_enum! {
    /// One of the emails sent to visitors.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum EmailTemplateKind: "email template" {
        /// When a visitor first leaves their email address.
        Welcome = "welcome",
        /// The whole conversation, when it is resolved.
        Transcript = "transcript",
        /// Some hours after the conversation is resolved: is everything sorted?
        FollowUp = "follow_up",
        /// When the conversation is resolved: one link per rating, 1 to 5.
        SatisfactionSurvey = "satisfaction_survey",
    }
}

impl EmailTemplateKind {
    /// The built-in template.
    pub fn default_template(self) -> &'static Template {
        match self {
            Self::Welcome => &templates::WELCOME,
            Self::Transcript => &templates::TRANSCRIPT,
            Self::FollowUp => &templates::FOLLOW_UP,
            Self::SatisfactionSurvey => &templates::SATISFACTION_SURVEY,
        }
    }
}

/// Hours between a conversation's resolution and its follow-up, unless the organization says otherwise.
pub const FOLLOW_UP_HOURS: i32 = 24;
const SUBJECT_MAX: usize = 500;
const BODY_MAX: usize = 100_000;
/// The words each rating carries in the survey.
pub const RATING_LABELS: [&str; 5] = ["Very poor", "Poor", "Okay", "Good", "Excellent"];

/// One of the visitor emails as it is sent: the organization's parts where it wrote its own, the defaults
/// elsewhere.
#[derive(Clone, Debug)]
pub struct EmailTemplate {
    pub kind: EmailTemplateKind,
    /// Whether it is sent at all (every one is off until the organization turns it on).
    pub enabled: bool,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Which parts are the organization's own.
    pub custom_subject: bool,
    pub custom_text: bool,
    pub custom_html: bool,
    /// A SendGrid dynamic template used instead when the organization sends through SendGrid.
    pub sendgrid_template_id: Option<String>,
    /// For the follow-up: hours after the resolution.
    pub delay_hours: Option<i32>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl EmailTemplate {
    fn of(kind: EmailTemplateKind, row: Option<email_template::Model>) -> Self {
        let default = kind.default_template();
        let part = |own: Option<&String>, default: &str| match own {
            Some(own) => (own.clone(), true),
            None => (default.to_owned(), false),
        };
        let row = row.as_ref();
        let (subject, custom_subject) = part(row.and_then(|r| r.subject.as_ref()), default.subject);
        let (text, custom_text) = part(row.and_then(|r| r.text.as_ref()), default.text);
        let (html, custom_html) = part(row.and_then(|r| r.html.as_ref()), default.html);
        Self {
            kind,
            enabled: row.is_some_and(|r| r.enabled),
            subject,
            text,
            html,
            custom_subject,
            custom_text,
            custom_html,
            sendgrid_template_id: row.and_then(|r| r.sendgrid_template_id.clone()),
            delay_hours: (kind == EmailTemplateKind::FollowUp)
                .then(|| row.and_then(|r| r.delay_hours).unwrap_or(FOLLOW_UP_HOURS)),
            updated_at: row.map(|r| r.updated_at),
        }
    }

    fn parts(&self) -> Parts<'_> {
        Parts {
            subject: &self.subject,
            text: &self.text,
            html: &self.html,
        }
    }

    /// The message to `to` rendered from `context`, with the SendGrid template named when there is one.
    pub fn render(&self, context: &Value, to: Vec<String>) -> ApiResult<Mail> {
        let mut mail =
            templates::render_parts(&self.parts(), context, to).map_err(|(part, e)| {
                ApiError::validation(
                    part,
                    format!("the {} template: {}", self.kind, described(&e)),
                )
            })?;
        mail.template = self.sendgrid_template_id.clone().map(|id| DynamicTemplate {
            id,
            data: context.clone(),
        });
        Ok(mail)
    }
}

/// A minijinja error in words, with its line.
fn described(error: &minijinja::Error) -> String {
    let mut said = error.kind().to_string();
    if let Some(detail) = error.detail() {
        said.push_str(": ");
        said.push_str(detail);
    }
    if let Some(line) = error.line() {
        said.push_str(&format!(" (line {line})"));
    }
    said
}

async fn rows(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> ApiResult<Vec<email_template::Model>> {
    Ok(email_template::Entity::find()
        .filter(email_template::Column::OrganizationId.eq(organization_id))
        .all(conn)
        .await?)
}

/// Every visitor email of an organization, in their order (for the jobs: no authorization).
pub(crate) async fn all_in(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> ApiResult<Vec<EmailTemplate>> {
    let mut rows = rows(conn, organization_id).await?;
    Ok(EmailTemplateKind::ALL
        .into_iter()
        .map(|kind| {
            let row = rows
                .iter()
                .position(|r| r.kind == kind.as_str())
                .map(|i| rows.swap_remove(i));
            EmailTemplate::of(kind, row)
        })
        .collect())
}

/// The organization's visitor emails.
pub async fn list(db: &Db, principal: &Principal) -> ApiResult<Vec<EmailTemplate>> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    all_in(db.conn(), grant.organization_id()).await
}

/// One of the organization's visitor emails.
pub async fn get(
    db: &Db,
    principal: &Principal,
    kind: EmailTemplateKind,
) -> ApiResult<EmailTemplate> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    let all = all_in(db.conn(), grant.organization_id()).await?;
    Ok(all
        .into_iter()
        .find(|t| t.kind == kind)
        .unwrap_or_else(|| EmailTemplate::of(kind, None)))
}

/// Changes to a visitor email: absent fields keep their value; a cleared part goes back to the default.
#[derive(Clone, Debug, Default)]
pub struct UpdateEmailTemplate {
    pub enabled: Option<bool>,
    pub subject: Patch<String>,
    pub text: Patch<String>,
    pub html: Patch<String>,
    pub sendgrid_template_id: Patch<String>,
    pub delay_hours: Option<i32>,
}

/// A part as the organization wrote it: `None` for the default (cleared or blank).
fn part(
    patch: Patch<String>,
    current: Option<String>,
    field: &str,
    max: usize,
) -> ApiResult<Option<String>> {
    Ok(match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(value) if value.trim().is_empty() => None,
        Patch::Set(value) => {
            if value.chars().count() > max {
                return Err(ApiError::validation(
                    field,
                    format!("must be at most {max} characters"),
                ));
            }
            Some(value)
        }
    })
}

/// Changes one of the visitor emails; each part is checked by rendering it with an example conversation.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    kind: EmailTemplateKind,
    input: UpdateEmailTemplate,
) -> ApiResult<EmailTemplate> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let org = grant.organization_id();
    let existing = email_template::Entity::find()
        .filter(email_template::Column::OrganizationId.eq(org))
        .filter(email_template::Column::Kind.eq(kind.as_str()))
        .one(db.conn())
        .await?;
    let current = existing.clone();
    let subject = part(
        input.subject,
        current.as_ref().and_then(|r| r.subject.clone()),
        "subject",
        SUBJECT_MAX,
    )?;
    if subject.as_deref().is_some_and(|s| s.contains(['\n', '\r'])) {
        return Err(ApiError::validation("subject", "must be one line"));
    }
    let text = part(
        input.text,
        current.as_ref().and_then(|r| r.text.clone()),
        "text",
        BODY_MAX,
    )?;
    let html = part(
        input.html,
        current.as_ref().and_then(|r| r.html.clone()),
        "html",
        BODY_MAX,
    )?;
    let sendgrid_template_id = match input.sendgrid_template_id {
        Patch::Keep => current
            .as_ref()
            .and_then(|r| r.sendgrid_template_id.clone()),
        Patch::Clear => None,
        Patch::Set(id) if id.trim().is_empty() => None,
        Patch::Set(id) => {
            let id = id.trim();
            let hex = id.strip_prefix("d-").unwrap_or_default();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::validation(
                    "sendgrid_template_id",
                    "is not a SendGrid dynamic template id (d- and 32 hexadecimal digits, as SendGrid shows it)",
                ));
            }
            Some(id.to_ascii_lowercase())
        }
    };
    let delay_hours = match input.delay_hours {
        None => current.as_ref().and_then(|r| r.delay_hours),
        Some(_) if kind != EmailTemplateKind::FollowUp => {
            return Err(ApiError::validation(
                "delay_hours",
                "only the follow-up waits: the others go when their event happens",
            ));
        }
        Some(hours) if (1..=720).contains(&hours) => Some(hours),
        Some(_) => {
            return Err(ApiError::validation(
                "delay_hours",
                "must be 1 to 720 hours (30 days)",
            ));
        }
    };
    let enabled = input
        .enabled
        .unwrap_or_else(|| current.as_ref().is_some_and(|r| r.enabled));
    let at = now();
    let row = email_template::Model {
        id: current
            .as_ref()
            .map_or_else(|| new_id(Kind::EmailTemplate), |r| r.id.clone()),
        organization_id: org.to_owned(),
        kind: kind.as_str().to_owned(),
        enabled,
        subject,
        text,
        html,
        sendgrid_template_id,
        delay_hours,
        created_at: current.as_ref().map_or(at, |r| r.created_at),
        updated_at: at,
    };
    let template = EmailTemplate::of(kind, Some(row.clone()));
    // Rendered once with the example, so that a mistake is said now rather than when a visitor is owed it.
    template.render(&example_context(), vec!["ivy@example.com".to_owned()])?;
    let txn = db.begin_write().await?;
    let before = existing.as_ref().map(summary);
    match existing {
        Some(existing) => {
            let mut active = existing.into_active_model();
            active.enabled = Set(row.enabled);
            active.subject = Set(row.subject.clone());
            active.text = Set(row.text.clone());
            active.html = Set(row.html.clone());
            active.sendgrid_template_id = Set(row.sendgrid_template_id.clone());
            active.delay_hours = Set(row.delay_hours);
            active.updated_at = Set(at);
            active.update(&*txn).await?;
        }
        None => {
            email_template::ActiveModel::from(row.clone())
                .insert(&*txn)
                .await?;
        }
    }
    audit::record(
        &*txn,
        principal,
        AuditAction::EmailTemplateUpdated,
        ("email_template", &row.id),
        before,
        Some(summary(&row)),
    )
    .await?;
    txn.commit().await?;
    Ok(template)
}

/// What the audit log keeps of a template: whether it is sent and which parts are the organization's.
fn summary(row: &email_template::Model) -> Value {
    json!({
        "kind": row.kind,
        "enabled": row.enabled,
        "custom_subject": row.subject.is_some(),
        "custom_text": row.text.is_some(),
        "custom_html": row.html.is_some(),
        "sendgrid_template_id": row.sendgrid_template_id,
        "delay_hours": row.delay_hours,
    })
}

/// Puts a visitor email back to the default, and off.
pub async fn reset(
    db: &Db,
    principal: &Principal,
    kind: EmailTemplateKind,
) -> ApiResult<EmailTemplate> {
    let grant = authorize(principal, Resource::Integration, Action::Write).await?;
    let existing = email_template::Entity::find()
        .filter(email_template::Column::OrganizationId.eq(grant.organization_id()))
        .filter(email_template::Column::Kind.eq(kind.as_str()))
        .one(db.conn())
        .await?;
    if let Some(existing) = existing {
        let txn = db.begin_write().await?;
        audit::record(
            &*txn,
            principal,
            AuditAction::EmailTemplateUpdated,
            ("email_template", &existing.id),
            Some(summary(&existing)),
            None,
        )
        .await?;
        email_template::Entity::delete_by_id(existing.id.clone())
            .exec(&*txn)
            .await?;
        txn.commit().await?;
    }
    Ok(EmailTemplate::of(kind, None))
}

/// Parts not yet saved, to preview: absent parts are the saved ones.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// Renders a visitor email (saved, or with a draft's parts) with one of the organization's conversations, or
/// with an example one; nothing is sent.
pub async fn preview(
    db: &Db,
    sealer: &Sealer,
    public_url: &str,
    principal: &Principal,
    kind: EmailTemplateKind,
    draft: Draft,
    conversation_id: Option<&str>,
) -> ApiResult<Mail> {
    let grant = authorize(principal, Resource::Integration, Action::Read).await?;
    let org = grant.organization_id();
    let mut template = all_in(db.conn(), org)
        .await?
        .into_iter()
        .find(|t| t.kind == kind)
        .unwrap_or_else(|| EmailTemplate::of(kind, None));
    if let Some(subject) = draft.subject.filter(|s| !s.trim().is_empty()) {
        template.subject = subject;
    }
    if let Some(text) = draft.text.filter(|s| !s.trim().is_empty()) {
        template.text = text;
    }
    if let Some(html) = draft.html.filter(|s| !s.trim().is_empty()) {
        template.html = html;
    }
    let (context, to) = match conversation_id {
        Some(id) => {
            let id = ids::lookup(Kind::Conversation, id)?;
            let conversation = crate::service::conversations::find(db.conn(), org, id).await?;
            let visitor = crate::service::conversations::visitors::find(
                db.conn(),
                org,
                &conversation.visitor_id,
            )
            .await?;
            let to = visitor
                .email
                .clone()
                .unwrap_or_else(|| "visitor@example.com".to_owned());
            (
                context(db, sealer, public_url, &visitor, Some(&conversation)).await?,
                to,
            )
        }
        None => {
            let mut example = example_context();
            if let Some(name) = organization::Entity::find_by_id(org.to_owned())
                .one(db.conn())
                .await?
                .map(|o| o.name)
            {
                example["organization"] = json!(name);
            }
            (example, "ivy@example.com".to_owned())
        }
    };
    template.render(&context, vec![to])
}

/// The conversation every template is checked and previewed with when no real one is named.
pub fn example_context() -> Value {
    let base = "https://support.example.com";
    json!({
        "organization": "Acme",
        "assistant": "Acme assistant",
        "visitor": {"name": "Ivy Lane", "first_name": "Ivy", "email": "ivy@example.com"},
        "conversation": {
            "id": "conv_example",
            "page_url": "https://shop.example.com/pricing",
            "page_title": "Pricing",
            "started_at": "December 4, 2026 14:02 UTC",
            "status": "resolved",
            "handed_off": true,
            "messages": [
                {"author": "visitor", "name": "Ivy Lane", "body": "Can I change my plan in the middle of the month?", "at": "14:02"},
                {"author": "assistant", "name": "Acme assistant", "body": "Yes: a change takes effect at once, and the difference is prorated on your next invoice.", "at": "14:02"},
                {"author": "visitor", "name": "Ivy Lane", "body": "Can someone check my last invoice?", "at": "14:03"},
                {"author": "agent", "name": "Bo from Acme", "body": "Done: it was prorated correctly. Anything else?", "at": "14:10"},
            ],
        },
        "first_question": "Can I change my plan in the middle of the month?",
        "unsubscribe_url": format!("{base}/email/unsubscribe/vis_example/signature"),
        "rating_urls": (1..=5).map(|r| json!({
            "rating": r,
            "label": RATING_LABELS[r - 1],
            "url": format!("{base}/email/rate/conv_example/signature?rating={r}"),
        })).collect::<Vec<_>>(),
    })
}

/// The signed link that unsubscribes a visitor from the organization's emails (it needs no sign-in).
pub fn unsubscribe_url(sealer: &Sealer, public_url: &str, visitor_id: &str) -> String {
    let signature = sealer.sign_url(&format!("unsubscribe:{visitor_id}"));
    format!(
        "{}/email/unsubscribe/{visitor_id}/{signature}",
        public_url.trim_end_matches('/')
    )
}

/// Whether an unsubscribe link's signature holds.
pub fn unsubscribe_holds(sealer: &Sealer, visitor_id: &str, signature: &str) -> bool {
    sealer.url_signature_holds(&format!("unsubscribe:{visitor_id}"), signature)
}

/// The signed link that rates a conversation (`rating` 1 to 5) from the survey.
pub fn rating_url(
    sealer: &Sealer,
    public_url: &str,
    conversation_id: &str,
    rating: usize,
) -> String {
    let signature = sealer.sign_url(&format!("rate:{conversation_id}"));
    format!(
        "{}/email/rate/{conversation_id}/{signature}?rating={rating}",
        public_url.trim_end_matches('/')
    )
}

/// Whether a rating link's signature holds.
pub fn rating_holds(sealer: &Sealer, conversation_id: &str, signature: &str) -> bool {
    sealer.url_signature_holds(&format!("rate:{conversation_id}"), signature)
}

/// What a visitor email is rendered with: the organization, the visitor, the conversation with its messages,
/// and the signed links.
pub(crate) async fn context(
    db: &Db,
    sealer: &Sealer,
    public_url: &str,
    visitor: &visitor::Model,
    conversation: Option<&conversation::Model>,
) -> ApiResult<Value> {
    let conn = db.conn();
    let organization = organization::Entity::find_by_id(visitor.organization_id.clone())
        .one(conn)
        .await?
        .map_or_else(String::new, |o| o.name);
    let name = visitor
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let first_name = name.map(|n| n.split_whitespace().next().unwrap_or(n).to_owned());
    let mut context = json!({
        "organization": organization,
        "assistant": null,
        "visitor": {"name": name, "first_name": first_name, "email": visitor.email},
        "conversation": null,
        "first_question": null,
        "unsubscribe_url": unsubscribe_url(sealer, public_url, &visitor.id),
        "rating_urls": [],
    });
    let Some(conversation) = conversation else {
        return Ok(context);
    };
    let assistant = assistant::Entity::find_by_id(conversation.assistant_id.clone())
        .one(conn)
        .await?
        .map(|a| a.name);
    let messages = message::Entity::find()
        .filter(message::Column::ConversationId.eq(&conversation.id))
        .order_by_asc(message::Column::Id)
        .all(conn)
        .await?;
    let team = format!("{organization} team");
    let shown: Vec<Value> = messages
        .iter()
        .filter(|m| matches!(m.author.as_str(), "visitor" | "assistant" | "agent"))
        .filter(|m| !m.body.trim().is_empty())
        .map(|m| {
            let who = match m.author.as_str() {
                "visitor" => name.unwrap_or("You").to_owned(),
                "assistant" => assistant.clone().unwrap_or_else(|| "Assistant".to_owned()),
                _ => team.clone(),
            };
            json!({"author": m.author, "name": who, "body": m.body,
                "at": m.created_at.format("%H:%M").to_string()})
        })
        .collect();
    context["assistant"] = json!(assistant);
    context["first_question"] = json!(
        messages
            .iter()
            .find(|m| m.author == "visitor")
            .map(|m| m.body.clone())
    );
    context["conversation"] = json!({
        "id": conversation.id,
        "page_url": conversation.source_url,
        "page_title": conversation.page_title,
        "started_at": conversation.created_at.format("%B %-d, %Y %H:%M UTC").to_string(),
        "status": conversation.status,
        "handed_off": conversation.handoff_reason.is_some() || messages.iter().any(|m| m.author == "agent"),
        "messages": shown,
    });
    context["rating_urls"] = json!(
        (1..=5)
            .map(|r| json!({"rating": r, "label": RATING_LABELS[r - 1],
                "url": rating_url(sealer, public_url, &conversation.id, r)}))
            .collect::<Vec<_>>()
    );
    Ok(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_renders_with_the_example_and_carries_the_unsubscribe_link() {
        for kind in EmailTemplateKind::ALL {
            let mail = EmailTemplate::of(kind, None)
                .render(&example_context(), vec!["ivy@example.com".to_owned()])
                .unwrap();
            assert!(!mail.subject.is_empty(), "{kind}");
            assert!(
                mail.text
                    .contains("Unsubscribe: https://support.example.com/email/unsubscribe/"),
                "{kind}: {}",
                mail.text
            );
            assert!(
                mail.html.contains(">Unsubscribe</a>"),
                "{kind}: {}",
                mail.html
            );
            assert_eq!(
                mail.unsubscribe_url.as_deref(),
                Some("https://support.example.com/email/unsubscribe/vis_example/signature")
            );
        }
        let survey = EmailTemplate::of(EmailTemplateKind::SatisfactionSurvey, None)
            .render(&example_context(), vec![])
            .unwrap();
        assert!(survey.text.contains("5 - Excellent: https://support.example.com/email/rate/conv_example/signature?rating=5"), "{}", survey.text);
        let transcript = EmailTemplate::of(EmailTemplateKind::Transcript, None)
            .render(&example_context(), vec![])
            .unwrap();
        assert!(
            transcript
                .text
                .contains("Bo from Acme (14:10):\nDone: it was prorated correctly."),
            "{}",
            transcript.text
        );
    }

    #[test]
    fn a_mistake_in_a_template_is_named_with_its_part_and_line() {
        let mut template = EmailTemplate::of(EmailTemplateKind::Welcome, None);
        template.text = "Hello\n{% if visitor.name %}\nno end".to_owned();
        let error = template.render(&example_context(), vec![]).unwrap_err();
        let said = format!("{error:?}");
        assert!(said.contains("text") && said.contains("line"), "{said}");
    }
}
