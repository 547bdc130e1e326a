//! `/integrations`: the organization's connections to vendors, their settings, tests and runs, and the WordPress
//! plugin's zip (public).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::ids::Kind;
use crate::rest::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::rest::{ListResponse, PageParams};
use crate::service::PageRequest;
use crate::service::integrations::connect::{self, AccountChoice, ConnectIntegration};
use crate::service::integrations::crm::settings::{self as crm, CrmSettingsPatch};
use crate::service::integrations::email::audience;
use crate::service::integrations::helpdesk::settings::{self as helpdesk, HelpdeskSettingsPatch};
use crate::service::integrations::{self as svc, UpdateIntegration, runs};
use crate::state::AppState;

/// The routes anyone may call: the plugin has no secret in it.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(wordpress_plugin))
}

/// Downloads the WordPress plugin "AI Assistant by Concierge": upload it under Plugins → Add New Plugin →
/// Upload Plugin, then set the server URL, an API key and the assistant under Settings → AI Assistant.
#[utoipa::path(get, operation_id = "downloadWordpressPlugin", path = "/integrations/wordpress/plugin.zip",
    tag = "integrations", security(()),
    responses((status = 200, description = "The plugin's zip file, `ai-assistant/` inside.", content_type = "application/zip", body = Vec<u8>)))]
async fn wordpress_plugin() -> Result<Response, ApiError> {
    let zip = crate::web::file("ai-assistant-wordpress.zip")
        .ok_or_else(|| ApiError::internal_msg("the web build has no WordPress plugin"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ai-assistant.zip\"",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        zip,
    )
        .into_response())
}

/// The routes behind credentials: the organization's integrations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, connect))
        .routes(routes!(show, update, disconnect))
        .routes(routes!(test))
        .routes(routes!(list_runs))
}

/// A vendor the organization can connect, as REST v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderJson {
    /// The provider's key: `salesforce`, `hubspot`, `zoho`, `zendesk`, `freshdesk` or `intercom`.
    pub key: String,
    /// The vendor's name.
    pub name: String,
    /// What kind of system it is: `crm`, `helpdesk` or `email`.
    pub category: String,
    /// Whether the organization's plan includes it.
    pub included_in_plan: bool,
    /// The lowest plan that includes it: `basic`, `standard` or `premium`.
    pub required_plan: Option<String>,
    /// Whether this server can connect it: the operator configured the vendor's OAuth app.
    pub configured: bool,
    /// The redirect URI to register with the vendor's OAuth app.
    pub redirect_uri: Option<String>,
    /// Where the vendor's app sends its webhooks for every workspace (Intercom); null for the others.
    pub events_url: Option<String>,
    /// The organization's connection to it; null when it never connected it.
    pub integration: Option<IntegrationJson>,
}

impl From<svc::Offered> for ProviderJson {
    fn from(offered: svc::Offered) -> Self {
        Self {
            key: offered.provider.key.to_owned(),
            name: offered.provider.name.to_owned(),
            category: offered.provider.category.as_str().to_owned(),
            included_in_plan: offered.included,
            required_plan: offered.required_plan.map(|p| p.as_str().to_owned()),
            configured: offered.configured,
            redirect_uri: offered.redirect_uri,
            events_url: offered.events_url,
            integration: offered.integration.map(IntegrationJson::from),
        }
    }
}

/// The organization's connection to a vendor (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationJson {
    /// The integration's id (`int_…`).
    pub id: String,
    /// The provider's key.
    pub provider: String,
    /// What kind of system it connects.
    pub category: String,
    /// `pending` (waiting for the vendor's authorization page), `connected`, `reauthorization_required` (the
    /// vendor refused the authorization for good: the work owed waits for a new connection), `error` or
    /// `disconnected`.
    pub status: String,
    /// What identifies the vendor account: `portal_id` (HubSpot), `instance_url` (Salesforce), `api_domain`
    /// (Zoho), the login host or data centre chosen.
    pub account: serde_json::Map<String, serde_json::Value>,
    /// What last went wrong with the connection itself; null when nothing did.
    pub last_error: Option<String>,
    /// The member who connected it.
    pub connected_by: Option<String>,
    /// When it was last connected.
    pub connected_at: Option<DateTime<Utc>>,
    /// When the current access token expires (it is refreshed ahead of that).
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The CRM settings; null unless it is a CRM.
    pub crm: Option<CrmSettingsJson>,
    /// The help-desk settings; null unless it is a help desk.
    pub helpdesk: Option<HelpdeskSettingsJson>,
    /// The mailing-list settings; null unless it keeps a mailing list (Mailchimp, whose audiences are listed
    /// in `account.audiences`).
    pub audience: Option<AudienceSettingsJson>,
    /// Where the vendor posts its changes, for a vendor where the admin sets that up (Freshdesk's automation
    /// rule): it holds a secret, keep it private. Null for the others. Shown by `GET /integrations/{id}`.
    pub inbound_url: Option<String>,
    /// When it was first connected.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<svc::Integration> for IntegrationJson {
    fn from(integration: svc::Integration) -> Self {
        let crm = integration.crm().map(CrmSettingsJson::from);
        let helpdesk = integration.helpdesk().map(HelpdeskSettingsJson::from);
        let audience = integration.audience().map(AudienceSettingsJson::from);
        let m = integration.model;
        Self {
            id: m.id,
            provider: m.provider,
            category: integration.provider.category.as_str().to_owned(),
            status: m.status,
            account: m.account.as_object().cloned().unwrap_or_default(),
            last_error: m.last_error,
            connected_by: m.connected_by,
            connected_at: m.connected_at,
            token_expires_at: m.token_expires_at,
            crm,
            helpdesk,
            audience,
            inbound_url: None,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// How a CRM connection syncs contacts and creates cases.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmSettingsJson {
    /// How a visitor is matched to an existing contact: `email`, `phone` or `email_then_phone`.
    #[schema(value_type = Option<String>)]
    pub contact_matching: Option<crm::ContactMatching>,
    /// Whether a contact is created when none matches.
    pub create_contact_if_missing: Option<bool>,
    /// When a matched contact's fields are overwritten: `always`, `if_newer` or `never`.
    #[schema(value_type = Option<String>)]
    pub field_updates: Option<crm::FieldUpdates>,
    /// What creates a case: `handoff`, `form_submission`, `every_conversation`; anything but `["handoff"]`
    /// needs the premium plan.
    #[schema(value_type = Option<Vec<String>>)]
    pub case_creation: Option<Vec<crm::CaseTrigger>>,
    /// Custom field mappings (premium), replacing the current ones; empty, the default mapping.
    pub field_mappings: Option<Vec<FieldMappingJson>>,
    /// Whether the "AI Assistant Interaction" contact property is set for HubSpot workflows (premium).
    pub workflow_trigger: Option<bool>,
    /// A unique contact field holding the visitor's id (a Salesforce External ID field, a HubSpot unique-value
    /// property, a Zoho unique field), so that contacts are created by an upsert on it (premium); an empty
    /// string clears it.
    pub visitor_id_field: Option<String>,
}

/// What opens help-desk tickets, and how they are prioritized, typed and tagged.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HelpdeskSettingsJson {
    /// What opens a ticket: `handoff`, `form_submission`, `intent`, `failed_responses`.
    #[schema(value_type = Option<Vec<String>>)]
    pub ticket_creation: Option<Vec<helpdesk::TicketTrigger>>,
    /// With `intent`: the intents that open a ticket.
    pub intents: Option<Vec<String>>,
    /// With `failed_responses`: after this many unanswered questions in one conversation (1 to 20).
    pub failed_responses: Option<i64>,
    /// The priority when the visitor's messages were negative on the whole: `low`, `normal`, `high`, `urgent`.
    #[schema(value_type = Option<String>)]
    pub negative_sentiment_priority: Option<helpdesk::TicketPriority>,
    /// Keywords that raise the priority: `[{"keyword", "priority"}]`, replacing the current ones.
    #[schema(value_type = Option<Vec<Object>>)]
    pub priority_keywords: Option<Vec<helpdesk::PriorityRule>>,
    /// The priority when no rule applies.
    #[schema(value_type = Option<String>)]
    pub default_priority: Option<helpdesk::TicketPriority>,
    /// Type rules: `[{"intent" or "keyword", "ticket_type"}]` (`question`, `problem`, `incident`, `task`),
    /// first match in order, replacing the current ones.
    #[schema(value_type = Option<Vec<Object>>)]
    pub type_rules: Option<Vec<helpdesk::TypeRule>>,
    /// The type when no rule applies.
    #[schema(value_type = Option<String>)]
    pub default_type: Option<helpdesk::TicketType>,
    /// Tags added to every ticket, beside the automatic ones.
    pub tags: Option<Vec<String>>,
    /// Who gets a new ticket (Freshdesk): `{"mode": "none" | "by_topic" | "round_robin" | "load_balanced" |
    /// "skills", "agents": [ids], "rules": [{"intent" or "keyword", "group_id", "agent_ids"}]}`.
    #[schema(value_type = Option<Object>)]
    pub assignment: Option<helpdesk::Assignment>,
}

impl From<helpdesk::HelpdeskSettings> for HelpdeskSettingsJson {
    fn from(s: helpdesk::HelpdeskSettings) -> Self {
        Self {
            ticket_creation: Some(s.ticket_creation),
            intents: Some(s.intents),
            failed_responses: Some(i64::from(s.failed_responses)),
            negative_sentiment_priority: Some(s.negative_sentiment_priority),
            priority_keywords: Some(s.priority_keywords),
            default_priority: Some(s.default_priority),
            type_rules: Some(s.type_rules),
            default_type: Some(s.default_type),
            tags: Some(s.tags),
            assignment: Some(s.assignment),
        }
    }
}

/// How consenting visitors join the mailing list (Mailchimp): only visitors who gave marketing consent are ever
/// added.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceSettingsJson {
    /// The audience visitors are added to (an id of `account.audiences`); an empty string clears it (nobody is
    /// added).
    pub audience_id: Option<String>,
    /// `single` (subscribed at once) or `double` (pending until the visitor confirms Mailchimp's email).
    #[schema(value_type = Option<String>)]
    pub opt_in: Option<audience::OptIn>,
    /// What of the conversation becomes tags: `intent`, `page`, `assistant`.
    #[schema(value_type = Option<Vec<String>>)]
    pub tag_sources: Option<Vec<audience::AudienceTag>>,
    /// Tags every member added gets.
    pub tags: Option<Vec<String>>,
    /// The merge fields: `[{"tag": "FNAME", "source": "visitor_first_name", "default": null}]`, replacing the
    /// current ones.
    #[schema(value_type = Option<Vec<Object>>)]
    pub merge_fields: Option<Vec<audience::MergeField>>,
    /// The words of the widget's consent checkbox.
    pub consent_label: Option<String>,
}

impl From<audience::AudienceSettings> for AudienceSettingsJson {
    fn from(s: audience::AudienceSettings) -> Self {
        Self {
            audience_id: Some(s.audience_id.unwrap_or_default()),
            opt_in: Some(s.opt_in),
            tag_sources: Some(s.tag_sources),
            tags: Some(s.tags),
            merge_fields: Some(s.merge_fields),
            consent_label: Some(s.consent_label),
        }
    }
}

impl From<AudienceSettingsJson> for audience::AudienceSettingsPatch {
    fn from(a: AudienceSettingsJson) -> Self {
        Self {
            audience_id: a.audience_id.map(Some),
            opt_in: a.opt_in,
            tag_sources: a.tag_sources,
            tags: a.tags,
            merge_fields: a.merge_fields,
            consent_label: a.consent_label,
        }
    }
}

/// One value written to one CRM field.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMappingJson {
    /// What is written: `visitor_name`, `visitor_first_name`, `visitor_last_name`, `visitor_email`,
    /// `visitor_phone`, `transcript`, `first_question`, `page_url`, `page_title`, `sentiment`,
    /// `assistant_name`, `conversation_id` or `conversation_url`.
    #[schema(value_type = String)]
    pub source: crm::MappingSource,
    /// The object it is written to: `contact` or `case`.
    #[schema(value_type = String)]
    pub object: crm::CrmObject,
    /// The field's API name in the CRM.
    pub field: String,
}

impl From<crm::CrmSettings> for CrmSettingsJson {
    fn from(s: crm::CrmSettings) -> Self {
        Self {
            contact_matching: Some(s.contact_matching),
            create_contact_if_missing: Some(s.create_contact_if_missing),
            field_updates: Some(s.field_updates),
            case_creation: Some(s.case_creation),
            field_mappings: Some(
                s.field_mappings
                    .into_iter()
                    .map(|m| FieldMappingJson {
                        source: m.source,
                        object: m.object,
                        field: m.field,
                    })
                    .collect(),
            ),
            workflow_trigger: Some(s.workflow_trigger),
            visitor_id_field: s.visitor_id_field,
        }
    }
}

/// One job of an integration and the vendor calls it made.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunJson {
    /// The run's id (`run_…`).
    pub id: String,
    /// `contact_sync`, `case_create`, `case_update` or `test`.
    pub kind: String,
    /// The type of event that caused it, or `manual`.
    pub trigger: String,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// How many times it was tried.
    pub attempt_count: i32,
    /// When the next try is due; null unless it is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Records created at the vendor.
    pub records_created: i32,
    /// Records updated at the vendor.
    pub records_updated: i32,
    /// Records left alone (already up to date, or the settings say not to touch them).
    pub records_skipped: i32,
    /// Records the vendor refused.
    pub records_failed: i32,
    /// What happened, in words.
    pub outcome: Option<String>,
    /// `rate_limited`, `authorization`, `validation`, `multiple_matches`, `vendor_error`, `network`,
    /// `configuration` or `missing_field`; null unless it failed or waits to retry.
    pub error_class: Option<String>,
    /// The conversation it is about.
    pub conversation_id: Option<String>,
    /// The vendor calls it made, oldest first.
    pub calls: Vec<CallJson>,
    /// When it was owed.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One vendor call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallJson {
    /// The HTTP method.
    pub method: String,
    /// The path and query called (without credentials).
    pub path: String,
    /// The HTTP status; null when no answer came.
    pub status_code: Option<i32>,
    /// How long the call took, in milliseconds.
    pub duration_ms: i64,
    /// The class of failure; null when the call succeeded.
    pub error_class: Option<String>,
    /// The start of the vendor's answer, or what went wrong.
    pub excerpt: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<runs::Run> for RunJson {
    fn from(run: runs::Run) -> Self {
        let j = run.job;
        Self {
            next_attempt_at: (j.status == runs::JobStatus::Pending.as_str())
                .then_some(j.next_attempt_at),
            id: j.id,
            kind: j.kind,
            trigger: j.trigger,
            status: j.status,
            attempt_count: j.attempts,
            records_created: j.created,
            records_updated: j.updated,
            records_skipped: j.skipped,
            records_failed: j.failed,
            outcome: j.outcome,
            error_class: j.error_class,
            conversation_id: j.conversation_id,
            calls: run
                .calls
                .into_iter()
                .map(|c| CallJson {
                    method: c.method,
                    path: c.path,
                    status_code: c.status_code,
                    duration_ms: c.duration_ms,
                    error_class: c.error_class,
                    excerpt: c.excerpt,
                    created_at: c.created_at,
                })
                .collect(),
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

/// Lists every vendor the organization can connect, with its connection.
#[utoipa::path(get, operation_id = "listIntegrations", path = "/integrations", tag = "integrations",
    responses((status = 200, description = "Every provider (the list is never paged: `next_cursor` is null).", body = ListResponse<ProviderJson>)))]
async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<ListResponse<ProviderJson>>, ApiError> {
    let offered = svc::list(&state.vendors, &principal).await?;
    Ok(Json(ListResponse {
        data: offered.into_iter().map(ProviderJson::from).collect(),
        next_cursor: None,
    }))
}

/// Where the vendor account is, for the providers that ask.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    /// Salesforce: `production` (the default) or `sandbox`.
    pub environment: Option<String>,
    /// Salesforce: the org's My Domain host (`acme.my.salesforce.com`).
    pub my_domain: Option<String>,
    /// Zoho CRM: the data centre (`com`, `eu`, `in`, `com.au`, `jp`, `com.cn`, `zohocloud.ca`); Intercom: the
    /// region (`us`, `eu`, `au`).
    pub data_centre: Option<String>,
    /// Zendesk: the account's subdomain (`acme` for acme.zendesk.com).
    pub subdomain: Option<String>,
}

/// Credentials typed in, for the providers connected with them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// An API key (Zendesk: an API token).
    pub api_key: Option<String>,
    /// Zendesk: the email of the agent the API token belongs to.
    pub email: Option<String>,
}

/// A custom SMTP server (provider `smtp`): checked by connecting to it before it is kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpBody {
    /// The server's host name or address.
    pub host: Option<String>,
    /// Its port; 587 for `starttls`, 465 for `tls`, 25 for `none` when omitted.
    pub port: Option<u16>,
    /// `starttls` (the default: required, never downgraded), `tls` (from the first byte) or `none` (only for
    /// a server on this machine).
    pub security: Option<String>,
    /// The user to authenticate as; none: no AUTH.
    pub username: Option<String>,
    /// The password, sealed at rest and never returned; omitted on a reconnection, the stored one is kept.
    pub password: Option<String>,
    /// The address messages are sent from.
    pub from_address: Option<String>,
    /// The name shown beside it.
    pub from_name: Option<String>,
    /// A PEM certificate to trust beside the public roots.
    pub ca_certificate: Option<String>,
}

/// Input of `POST /integrations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    /// The provider's key: `salesforce`, `hubspot`, `zoho`, `zendesk`, `freshdesk`, `intercom` or `smtp`.
    pub provider: String,
    /// The path on this server the browser comes back to, with `integration`, `outcome` and `message` added to
    /// its query; `/` when omitted.
    pub return_to: Option<String>,
    pub credentials: Option<CredentialsBody>,
    pub account: Option<AccountBody>,
    /// The SMTP server's settings (provider `smtp`).
    pub smtp: Option<SmtpBody>,
}

/// A connection started.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectedJson {
    /// The integration, `pending` until the vendor's page sends the browser back.
    pub integration: IntegrationJson,
    /// Where to send the browser to authorize the connection at the vendor; none when it is connected already
    /// (with a key).
    pub authorize_url: Option<String>,
    /// What the vendor said of the account, when it is connected already.
    pub message: Option<String>,
}

/// Starts connecting a vendor: answers the URL of its authorization page, to which the same browser goes (the
/// response sets a short-lived cookie that binds the authorization to it). Owners and admins, signed in.
#[utoipa::path(post, operation_id = "connectIntegration", path = "/integrations", tag = "integrations",
    request_body = ConnectBody,
    responses((status = 201, description = "The integration and where to send the browser.", body = ConnectedJson)))]
async fn connect(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(input): ApiJson<ConnectBody>,
) -> Result<Response, ApiError> {
    let account = input.account.unwrap_or_default();
    let credentials = input.credentials.unwrap_or_default();
    let started = connect::connect(
        &state.vendors,
        &principal,
        ConnectIntegration {
            provider: input.provider,
            return_to: input.return_to,
            api_key: credentials.api_key,
            email: credentials.email,
            account: AccountChoice {
                environment: account.environment,
                my_domain: account.my_domain,
                data_centre: account.data_centre,
                subdomain: account.subdomain,
            },
            smtp: input.smtp.map(|s| crate::service::mail::smtp::SmtpInput {
                host: s.host,
                port: s.port,
                security: s.security,
                username: s.username,
                password: s.password,
                from_address: s.from_address,
                from_name: s.from_name,
                ca_certificate: s.ca_certificate,
            }),
        },
    )
    .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(ConnectedJson {
            integration: started.integration.into(),
            authorize_url: started.authorize_url,
            message: started.message,
        }),
    )
        .into_response();
    if let Some(state_value) = &started.state
        && let Ok(value) =
            crate::rest::integration_callback::state_cookie(&state.settings, state_value).parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// One of the organization's integrations.
#[utoipa::path(get, operation_id = "getIntegration", path = "/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The integration's id.")),
    responses((status = 200, description = "The integration.", body = IntegrationJson)))]
async fn show(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IntegrationJson>, ApiError> {
    let integration = svc::get(&state.db, &principal, &id).await?;
    let inbound_url = integration.inbound_url(&state.vendors);
    Ok(Json(IntegrationJson {
        inbound_url,
        ..integration.into()
    }))
}

/// Input of `PUT /integrations/{id}`: absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The CRM settings (for a CRM).
    pub crm: Option<CrmSettingsJson>,
    /// The help-desk settings (for a help desk).
    pub helpdesk: Option<HelpdeskSettingsJson>,
    /// The mailing-list settings (for Mailchimp).
    pub audience: Option<AudienceSettingsJson>,
}

/// Changes an integration's settings: absent fields keep their value. What goes beyond the default mapping
/// needs the premium plan.
#[utoipa::path(put, operation_id = "updateIntegration", path = "/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The integration's id.")),
    request_body = UpdateBody,
    responses((status = 200, description = "The integration as changed.", body = IntegrationJson)))]
async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateBody>,
) -> Result<Json<IntegrationJson>, ApiError> {
    let input = UpdateIntegration {
        crm: input.crm.map(|c| CrmSettingsPatch {
            contact_matching: c.contact_matching,
            create_contact_if_missing: c.create_contact_if_missing,
            field_updates: c.field_updates,
            case_creation: c.case_creation,
            field_mappings: c.field_mappings.map(|m| {
                m.into_iter()
                    .map(|m| crm::FieldMapping {
                        source: m.source,
                        object: m.object,
                        field: m.field,
                    })
                    .collect()
            }),
            workflow_trigger: c.workflow_trigger,
            visitor_id_field: c.visitor_id_field.map(Some),
        }),
        helpdesk: input.helpdesk.map(|h| HelpdeskSettingsPatch {
            ticket_creation: h.ticket_creation,
            intents: h.intents,
            failed_responses: h.failed_responses,
            negative_sentiment_priority: h.negative_sentiment_priority,
            priority_keywords: h.priority_keywords,
            default_priority: h.default_priority,
            type_rules: h.type_rules,
            default_type: h.default_type,
            tags: h.tags,
            assignment: h.assignment,
        }),
        audience: input.audience.map(Into::into),
    };
    Ok(Json(
        svc::update(&state.db, &principal, &id, input).await?.into(),
    ))
}

/// What disconnecting did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectedJson {
    /// The integration, disconnected.
    pub integration: IntegrationJson,
    /// What the vendor said to the revocation, in words.
    pub revocation: String,
}

/// Disconnects an integration: revokes its authorization at the vendor where it allows it, forgets its
/// credentials and cancels its pending runs. The integration and its runs are kept.
#[utoipa::path(delete, operation_id = "disconnectIntegration", path = "/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "The integration, disconnected.", body = DisconnectedJson),
        (status = 409, description = "It is disconnected already.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn disconnect(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DisconnectedJson>, ApiError> {
    let done = svc::disconnect(&state.vendors, &principal, &id).await?;
    Ok(Json(DisconnectedJson {
        integration: done.integration.into(),
        revocation: done.revocation,
    }))
}

/// What a connection test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestedJson {
    /// Whether the vendor answered as expected.
    pub success: bool,
    /// What the vendor answered, in words.
    pub message: String,
    /// The run that records the calls made.
    pub run: RunJson,
    /// The integration.
    pub integration: IntegrationJson,
}

/// Makes a real call to the vendor and says what it answered.
#[utoipa::path(post, operation_id = "testIntegration", path = "/integrations/{id}/test", tag = "integrations",
    params(("id" = String, Path, description = "The integration's id.")),
    responses(
        (status = 200, description = "What the vendor answered (a failed test is a 200 with `success: false`).", body = TestedJson),
        (status = 409, description = "The integration is not connected.", body = crate::rest::openapi::ErrorBody),
    ))]
async fn test(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TestedJson>, ApiError> {
    let tested = svc::test(&state.vendors, &principal, &id).await?;
    Ok(Json(TestedJson {
        success: tested.success,
        message: tested.message,
        run: tested.run.into(),
        integration: tested.integration.into(),
    }))
}

/// Lists an integration's runs, newest first, each with the vendor calls it made.
#[utoipa::path(get, operation_id = "listIntegrationRuns", path = "/integrations/{id}/runs", tag = "integrations",
    params(("id" = String, Path, description = "The integration's id."), crate::rest::PageParams),
    responses((status = 200, description = "A page of runs.", body = ListResponse<RunJson>)))]
async fn list_runs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ListResponse<RunJson>>, ApiError> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref(), Kind::IntegrationRun)?;
    let rows = runs::list(&state.db, &principal, &id, &page).await?;
    Ok(Json(ListResponse::from_page(
        rows,
        |r| &r.job.id,
        RunJson::from,
    )))
}
