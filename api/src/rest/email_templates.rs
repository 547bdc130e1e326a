//! `/email-templates`: the emails sent to visitors (welcome, transcript, follow-up, satisfaction survey), the
//! organization's parts or the defaults, turned on or off, and previewed.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::rest::ListResponse;
use crate::rest::extract::{ApiJson, ApiPath, Caller};
use crate::service::Patch;
use crate::service::email_templates::{self as svc, Draft, EmailTemplateKind, UpdateEmailTemplate};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, update, reset))
        .routes(routes!(preview))
}

/// A visitor email as REST v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailTemplateJson {
    /// `welcome`, `transcript`, `follow_up` or `satisfaction_survey`.
    pub kind: String,
    /// Whether it is sent (each is off until turned on, and needs an email integration that sends mail).
    pub enabled: bool,
    /// The subject line's template (minijinja): the organization's, else the default.
    pub subject: String,
    /// The plain-text part's template.
    pub text: String,
    /// The HTML part's template (placed in the common frame, which adds the unsubscribe link).
    pub html: String,
    /// Whether the subject is the organization's own.
    pub custom_subject: bool,
    /// Whether the plain-text part is the organization's own.
    pub custom_text: bool,
    /// Whether the HTML part is the organization's own.
    pub custom_html: bool,
    /// A SendGrid dynamic template (`d-…`) sent instead when the organization sends through SendGrid.
    pub sendgrid_template_id: Option<String>,
    /// For the follow-up: hours after the resolution; null for the others.
    pub delay_hours: Option<i32>,
    /// When the organization last changed it; null while it is the default.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<svc::EmailTemplate> for EmailTemplateJson {
    fn from(t: svc::EmailTemplate) -> Self {
        Self {
            kind: t.kind.as_str().to_owned(),
            enabled: t.enabled,
            subject: t.subject,
            text: t.text,
            html: t.html,
            custom_subject: t.custom_subject,
            custom_text: t.custom_text,
            custom_html: t.custom_html,
            sendgrid_template_id: t.sendgrid_template_id,
            delay_hours: t.delay_hours,
            updated_at: t.updated_at,
        }
    }
}

fn kind_of(kind: &str) -> Result<EmailTemplateKind, ApiError> {
    EmailTemplateKind::named(kind).ok_or_else(|| {
        ApiError::not_found(
            "email template",
            &format!("{kind} (welcome, transcript, follow_up or satisfaction_survey)"),
        )
    })
}

/// Changes to a visitor email: absent fields keep their value; `null` or an empty string puts a part back to
/// the default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplateBody {
    /// Whether it is sent.
    pub enabled: Option<bool>,
    /// The subject line's template, one line of at most 500 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subject: Patch<String>,
    /// The plain-text part's template, at most 100,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub text: Patch<String>,
    /// The HTML part's template, at most 100,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub html: Patch<String>,
    /// A SendGrid dynamic template id (`d-` and 32 hexadecimal digits); `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sendgrid_template_id: Patch<String>,
    /// For the follow-up: hours after the resolution, 1 to 720.
    pub delay_hours: Option<i32>,
}

/// What to preview: parts not yet saved (absent ones are the saved ones), and a conversation to render with.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The subject line's template to preview instead of the saved one.
    pub subject: Option<String>,
    /// The plain-text part's template to preview instead of the saved one.
    pub text: Option<String>,
    /// The HTML part's template to preview instead of the saved one.
    pub html: Option<String>,
    /// One of the organization's conversations; an example one when absent.
    pub conversation_id: Option<String>,
}

/// A template rendered: nothing is sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewJson {
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

/// The emails sent to visitors, in their order.
#[utoipa::path(get, operation_id = "listEmailTemplates", path = "/email-templates", tag = "integrations",
    responses((status = 200, description = "Every visitor email.", body = ListResponse<EmailTemplateJson>)))]
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<ListResponse<EmailTemplateJson>>, ApiError> {
    let templates = svc::list(&state.db, &principal).await?;
    Ok(Json(ListResponse {
        data: templates.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// One visitor email.
#[utoipa::path(get, operation_id = "getEmailTemplate", path = "/email-templates/{kind}", tag = "integrations",
    params(("kind" = String, Path, description = "`welcome`, `transcript`, `follow_up` or `satisfaction_survey`.")),
    responses((status = 200, description = "The visitor email.", body = EmailTemplateJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(kind): ApiPath<String>,
) -> Result<Json<EmailTemplateJson>, ApiError> {
    let kind = kind_of(&kind)?;
    Ok(Json(svc::get(&state.db, &principal, kind).await?.into()))
}

/// Changes a visitor email: turns it on or off, or changes its parts (checked by rendering them with an example
/// conversation; a mistake is a 422 naming the part and line).
#[utoipa::path(put, operation_id = "updateEmailTemplate", path = "/email-templates/{kind}", tag = "integrations",
    params(("kind" = String, Path, description = "`welcome`, `transcript`, `follow_up` or `satisfaction_survey`.")),
    request_body = EmailTemplateBody,
    responses((status = 200, description = "The visitor email as changed.", body = EmailTemplateJson)))]
async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(kind): ApiPath<String>,
    ApiJson(body): ApiJson<EmailTemplateBody>,
) -> Result<Json<EmailTemplateJson>, ApiError> {
    let kind = kind_of(&kind)?;
    let input = UpdateEmailTemplate {
        enabled: body.enabled,
        subject: body.subject,
        text: body.text,
        html: body.html,
        sendgrid_template_id: body.sendgrid_template_id,
        delay_hours: body.delay_hours,
    };
    Ok(Json(
        svc::update(&state.db, &principal, kind, input)
            .await?
            .into(),
    ))
}

/// Puts a visitor email back to the default parts, and turns it off.
#[utoipa::path(delete, operation_id = "resetEmailTemplate", path = "/email-templates/{kind}", tag = "integrations",
    params(("kind" = String, Path, description = "`welcome`, `transcript`, `follow_up` or `satisfaction_survey`.")),
    responses((status = 200, description = "The visitor email, back to the default.", body = EmailTemplateJson)))]
async fn reset(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(kind): ApiPath<String>,
) -> Result<Json<EmailTemplateJson>, ApiError> {
    let kind = kind_of(&kind)?;
    Ok(Json(svc::reset(&state.db, &principal, kind).await?.into()))
}

/// Renders a visitor email (saved, or with a draft's parts) with one of the organization's conversations or an
/// example one; nothing is sent. The variables are listed with GraphQL's `previewEmailTemplate`.
#[utoipa::path(post, operation_id = "previewEmailTemplate", path = "/email-templates/{kind}/preview", tag = "integrations",
    params(("kind" = String, Path, description = "`welcome`, `transcript`, `follow_up` or `satisfaction_survey`.")),
    request_body = PreviewBody,
    responses((status = 200, description = "The rendered email.", body = PreviewJson)))]
async fn preview(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(kind): ApiPath<String>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<PreviewJson>, ApiError> {
    let kind = kind_of(&kind)?;
    let mail = svc::preview(
        &state.db,
        &state.sealer,
        &state.public_url,
        &principal,
        kind,
        Draft {
            subject: body.subject,
            text: body.text,
            html: body.html,
        },
        body.conversation_id.as_deref(),
    )
    .await?;
    Ok(Json(PreviewJson {
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        unsubscribe_url: mail.unsubscribe_url,
        sendgrid_template_id: mail.template.map(|t| t.id),
    }))
}
