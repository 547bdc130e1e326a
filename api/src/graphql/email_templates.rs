//! The emails sent to visitors in GraphQL: each template (the organization's parts or the defaults), turning
//! it on or off, changing or resetting it, and previewing it.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::{caller, shared};
use crate::service::email_templates::{self as svc, Draft, UpdateEmailTemplate};
use crate::service::integrations::executor::Vendors;

/// One of the emails sent to visitors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::email_templates::EmailTemplateKind")]
pub enum EmailTemplateKind {
    /// When a visitor first leaves their email address (or starts a conversation with one).
    Welcome,
    /// The whole conversation, when it is resolved.
    Transcript,
    /// Some hours (`delayHours`) after the conversation is resolved.
    FollowUp,
    /// When the conversation is resolved: one link per rating from 1 to 5, which records it as
    /// `feedback.received`.
    SatisfactionSurvey,
}

/// A template's three parts.
#[derive(SimpleObject)]
pub struct EmailTemplateParts {
    /// The subject line's template.
    pub subject: String,
    /// The plain-text part's template.
    pub text: String,
    /// The HTML part's template (placed in the common frame, which adds the unsubscribe link).
    pub html: String,
}

/// One of the emails sent to visitors, as it is sent.
pub struct EmailTemplate(pub svc::EmailTemplate);

/// One of the emails sent to visitors, through the organization's email integration. Templates are
/// minijinja (Jinja2): `{{ visitor.first_name }}`, `{% if conversation.handed_off %}…{% endif %}`,
/// `{% for m in conversation.messages %}…{% endfor %}`; see `previewEmailTemplate` for the variables. Every
/// message carries an unsubscribe link and `List-Unsubscribe`, whatever the template says.
#[Object]
impl EmailTemplate {
    /// Which email it is.
    async fn kind(&self) -> EmailTemplateKind {
        self.0.kind.into()
    }
    /// Whether it is sent (each is off until turned on, and needs an email integration that sends mail).
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The subject line's template: the organization's, else the default.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The plain-text part's template.
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// The HTML part's template.
    async fn html(&self) -> &str {
        &self.0.html
    }
    /// Whether the subject is the organization's own.
    async fn custom_subject(&self) -> bool {
        self.0.custom_subject
    }
    /// Whether the plain-text part is the organization's own.
    async fn custom_text(&self) -> bool {
        self.0.custom_text
    }
    /// Whether the HTML part is the organization's own.
    async fn custom_html(&self) -> bool {
        self.0.custom_html
    }
    /// The built-in parts, to start from or go back to.
    async fn defaults(&self) -> EmailTemplateParts {
        let default = self.0.kind.default_template();
        EmailTemplateParts {
            subject: default.subject.to_owned(),
            text: default.text.to_owned(),
            html: default.html.to_owned(),
        }
    }
    /// A SendGrid dynamic template (`d-…`) sent instead when the organization sends through SendGrid, filled
    /// with the same variables as `dynamic_template_data`.
    async fn sendgrid_template_id(&self) -> Option<&str> {
        self.0.sendgrid_template_id.as_deref()
    }
    /// For the follow-up: hours after the resolution; null for the others.
    async fn delay_hours(&self) -> Option<i32> {
        self.0.delay_hours
    }
    /// When the organization last changed it; null while it is the default.
    async fn updated_at(&self) -> Option<Timestamp> {
        self.0.updated_at.map(Timestamp)
    }
}

/// A template rendered: nothing is sent.
#[derive(SimpleObject)]
pub struct EmailPreview {
    /// Who it would go to.
    pub to: Vec<String>,
    /// The subject line, rendered.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part, a whole document.
    pub html: String,
    /// The `List-Unsubscribe` link it carries.
    pub unsubscribe_url: Option<String>,
    /// The SendGrid dynamic template that replaces it when sending through SendGrid.
    pub sendgrid_template_id: Option<String>,
}

/// Changes to a visitor email: absent fields keep their value; `null` or an empty string puts a part back to
/// the default.
#[derive(InputObject, Default)]
pub struct UpdateEmailTemplateInput {
    /// Whether it is sent.
    pub enabled: Option<bool>,
    /// The subject line's template, one line of at most 500 characters.
    pub subject: MaybeUndefined<String>,
    /// The plain-text part's template, at most 100,000 characters.
    pub text: MaybeUndefined<String>,
    /// The HTML part's template, at most 100,000 characters.
    pub html: MaybeUndefined<String>,
    /// A SendGrid dynamic template id (`d-` and 32 hexadecimal digits); null clears it.
    pub sendgrid_template_id: MaybeUndefined<String>,
    /// For the follow-up: hours after the resolution, 1 to 720.
    pub delay_hours: Option<i32>,
}

/// Parts not yet saved, to preview: absent parts are the saved ones.
#[derive(InputObject, Default)]
pub struct EmailTemplateDraftInput {
    /// The subject line's template.
    pub subject: Option<String>,
    /// The plain-text part's template.
    pub text: Option<String>,
    /// The HTML part's template.
    pub html: Option<String>,
}

payload_type! {
    /// The result of changing or resetting a visitor email.
    EmailTemplatePayload {
        /// The template as it is now.
        email_template: Option<EmailTemplate>,
    }
}

#[derive(Default)]
pub struct EmailTemplateQuery;

#[Object]
impl EmailTemplateQuery {
    /// The emails sent to visitors: welcome, transcript, follow-up and satisfaction survey.
    async fn email_templates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<EmailTemplate>> {
        let (db, principal) = caller(ctx)?;
        Ok(svc::list(db, principal)
            .await?
            .into_iter()
            .map(EmailTemplate)
            .collect())
    }

    /// Renders a visitor email (its saved parts, or a draft's) with one of the organization's conversations,
    /// or an example one. The variables: `organization`, `assistant`, `visitor` (`name`, `first_name`,
    /// `email`), `conversation` (`id`, `page_url`, `page_title`, `started_at`, `status`, `handed_off`,
    /// `messages` with `author`, `name`, `body`, `at`), `first_question`, `unsubscribe_url`, and `rating_urls`
    /// (`rating`, `label`, `url`). A mistake in a template is a VALIDATION error naming the part and line.
    async fn preview_email_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which email.")] kind: EmailTemplateKind,
        #[graphql(desc = "Parts to use instead of the saved ones.")] draft: Option<
            EmailTemplateDraftInput,
        >,
        #[graphql(
            desc = "A conversation of the organization to render it with; an example one when omitted."
        )]
        conversation_id: Option<ID>,
    ) -> async_graphql::Result<EmailPreview> {
        let (db, principal) = caller(ctx)?;
        let vendors = shared::<std::sync::Arc<Vendors>>(ctx)?;
        let draft = draft.map_or_else(Draft::default, |d| Draft {
            subject: d.subject,
            text: d.text,
            html: d.html,
        });
        let mail = svc::preview(
            db,
            &vendors.sealer,
            &vendors.public_url,
            principal,
            kind.into(),
            draft,
            conversation_id.as_ref().map(|id| id.as_str()),
        )
        .await?;
        Ok(EmailPreview {
            to: mail.to,
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
            unsubscribe_url: mail.unsubscribe_url,
            sendgrid_template_id: mail.template.map(|t| t.id),
        })
    }
}

#[derive(Default)]
pub struct EmailTemplateMutation;

#[Object]
impl EmailTemplateMutation {
    /// Changes a visitor email: turns it on or off, or changes its parts (checked by rendering them with an
    /// example conversation).
    async fn update_email_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which email.")] kind: EmailTemplateKind,
        #[graphql(desc = "What to change.")] input: UpdateEmailTemplateInput,
    ) -> async_graphql::Result<Option<EmailTemplatePayload>> {
        let (db, principal) = caller(ctx)?;
        let input = UpdateEmailTemplate {
            enabled: input.enabled,
            subject: input.subject.into(),
            text: input.text.into(),
            html: input.html.into(),
            sendgrid_template_id: input.sendgrid_template_id.into(),
            delay_hours: input.delay_hours,
        };
        let result = svc::update(db, principal, kind.into(), input).await;
        payload(ctx, result, Args::Input, |t| EmailTemplatePayload {
            email_template: Some(EmailTemplate(t)),
            ..Default::default()
        })
    }

    /// Puts a visitor email back to the default parts, and turns it off.
    async fn reset_email_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which email.")] kind: EmailTemplateKind,
    ) -> async_graphql::Result<Option<EmailTemplatePayload>> {
        let (db, principal) = caller(ctx)?;
        let result = svc::reset(db, principal, kind.into()).await;
        payload(ctx, result, Args::Top, |t| EmailTemplatePayload {
            email_template: Some(EmailTemplate(t)),
            ..Default::default()
        })
    }
}
