//! The inputs of the integrations' mutations.

use async_graphql::{InputObject, MaybeUndefined};

use crate::graphql::integrations::{
    CrmCaseTrigger, CrmContactMatching, CrmFieldMapping, CrmFieldUpdates, HelpdeskAssignment,
    HelpdeskPriorityRule, HelpdeskTicketPriority, HelpdeskTicketTrigger, HelpdeskTicketType,
    HelpdeskTypeRule, IntegrationProviderKey,
};

/// Where the vendor account is, for the providers that ask.
#[derive(InputObject, Default)]
pub struct IntegrationAccountInput {
    /// Salesforce: `production` (login.salesforce.com, the default) or `sandbox` (test.salesforce.com).
    pub environment: Option<String>,
    /// Salesforce: the org's My Domain host (`acme.my.salesforce.com`), used instead of the environment.
    pub my_domain: Option<String>,
    /// Zoho CRM: the data centre (`com`, `eu`, `in`, `com.au`, `jp`, `com.cn`, `zohocloud.ca`); `com` when
    /// omitted. Intercom: the workspace's region (`us`, `eu`, `au`); `us` when omitted.
    pub data_centre: Option<String>,
    /// Zendesk: the account's subdomain (`acme` for acme.zendesk.com).
    pub subdomain: Option<String>,
}

/// Credentials typed in, for the providers connected with them (the CRMs connect through OAuth instead).
#[derive(InputObject, Default)]
pub struct IntegrationCredentialsInput {
    /// An API key (Zendesk: an API token).
    pub api_key: Option<String>,
    /// Zendesk: the email of the agent the API token belongs to.
    pub email: Option<String>,
}

/// Connecting a vendor.
#[derive(InputObject)]
pub struct ConnectIntegrationInput {
    /// The vendor to connect.
    pub provider: IntegrationProviderKey,
    /// The path on this server the browser comes back to after the vendor's authorization page, with
    /// `integration`, `outcome` (`connected` or `error`) and `message` added to its query; `/` when omitted.
    pub return_to: Option<String>,
    /// Credentials, for the providers connected with them.
    pub credentials: Option<IntegrationCredentialsInput>,
    /// Where the vendor account is, for the providers that ask.
    pub account: Option<IntegrationAccountInput>,
    /// A custom SMTP server's settings (provider `SMTP`).
    pub smtp: Option<SmtpSettingsInput>,
}

/// How the connection to an SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum SmtpSecurity {
    /// STARTTLS after connecting (port 587 by default); required: the connection fails rather than go on in
    /// clear.
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: only for a server on this machine (127.0.0.1, ::1 or localhost).
    None,
}

/// A custom SMTP server: checked by connecting to it before it is kept.
#[derive(InputObject, Default)]
pub struct SmtpSettingsInput {
    /// The server's host name or address.
    pub host: Option<String>,
    /// Its port; 587 for STARTTLS, 465 for TLS and 25 without encryption when omitted.
    pub port: Option<u16>,
    /// STARTTLS when omitted.
    pub security: Option<SmtpSecurity>,
    /// The user to authenticate as; none: no AUTH.
    pub username: Option<String>,
    /// The user's password, sealed at rest and never returned; omitted on a reconnection, the stored one is
    /// kept.
    pub password: Option<String>,
    /// The address messages are sent from.
    pub from_address: Option<String>,
    /// The name shown beside it.
    pub from_name: Option<String>,
    /// A PEM certificate to trust beside the public roots (a relay with a private certificate authority).
    pub ca_certificate: Option<String>,
}

impl From<SmtpSettingsInput> for crate::service::mail::smtp::SmtpInput {
    fn from(input: SmtpSettingsInput) -> Self {
        Self {
            host: input.host,
            port: input.port,
            security: input.security.map(|s| {
                match s {
                    SmtpSecurity::Starttls => "starttls",
                    SmtpSecurity::Tls => "tls",
                    SmtpSecurity::None => "none",
                }
                .to_owned()
            }),
            username: input.username,
            password: input.password,
            from_address: input.from_address,
            from_name: input.from_name,
            ca_certificate: input.ca_certificate,
        }
    }
}

/// Changes to CRM settings: absent fields keep their value.
#[derive(InputObject, Default)]
pub struct CrmSettingsInput {
    /// How a visitor is matched to an existing contact.
    pub contact_matching: Option<CrmContactMatching>,
    /// Whether a contact is created when none matches.
    pub create_contact_if_missing: Option<bool>,
    /// When a matched contact's fields are overwritten.
    pub field_updates: Option<CrmFieldUpdates>,
    /// What creates a case; anything but `[HANDOFF]` needs the premium plan.
    pub case_creation: Option<Vec<CrmCaseTrigger>>,
    /// Custom field mappings, replacing the current ones (premium); an empty list restores the default mapping.
    pub field_mappings: Option<Vec<CrmFieldMapping>>,
    /// Whether to set the "AI Assistant Interaction" contact property for HubSpot workflows (premium).
    pub workflow_trigger: Option<bool>,
    /// A unique contact field that holds the visitor's id (a Salesforce External ID field, a HubSpot
    /// unique-value property, a Zoho CRM unique field), so that contacts are created by an upsert on it and the
    /// CRM itself refuses a second contact for one visitor (premium); null or an empty string clears it.
    pub visitor_id_field: MaybeUndefined<String>,
}

/// Changes to help-desk settings: absent fields keep their value.
#[derive(InputObject, Default)]
pub struct HelpdeskSettingsInput {
    /// What opens a ticket.
    pub ticket_creation: Option<Vec<HelpdeskTicketTrigger>>,
    /// The intents that open a ticket (with `INTENT`).
    pub intents: Option<Vec<String>>,
    /// After how many unanswered questions in one conversation a ticket opens (with `FAILED_RESPONSES`), 1 to 20.
    pub failed_responses: Option<i32>,
    /// The priority when the visitor's messages were negative on the whole.
    pub negative_sentiment_priority: Option<HelpdeskTicketPriority>,
    /// Keywords that raise the priority, replacing the current ones.
    pub priority_keywords: Option<Vec<HelpdeskPriorityRule>>,
    /// The priority when no rule applies.
    pub default_priority: Option<HelpdeskTicketPriority>,
    /// Type rules, replacing the current ones.
    pub type_rules: Option<Vec<HelpdeskTypeRule>>,
    /// The type when no rule applies.
    pub default_type: Option<HelpdeskTicketType>,
    /// Tags added to every ticket, replacing the current ones.
    pub tags: Option<Vec<String>>,
    /// Who gets a new ticket (Freshdesk), replacing the current assignment.
    pub assignment: Option<HelpdeskAssignment>,
}

/// Changes to an integration.
#[derive(InputObject, Default)]
pub struct UpdateIntegrationInput {
    /// The CRM settings (for a CRM).
    pub crm: Option<CrmSettingsInput>,
    /// The help-desk settings (for a help desk).
    pub helpdesk: Option<HelpdeskSettingsInput>,
    /// The mailing-list settings (for Mailchimp).
    pub audience: Option<crate::graphql::integrations::AudienceSettingsInput>,
}
