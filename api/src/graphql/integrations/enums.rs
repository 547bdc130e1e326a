//! The GraphQL enums of integrations: each mirrors a domain enum (`remote`), or names a closed set of stored names.

use async_graphql::Enum;

use crate::graphql::enums::named_enum;

named_enum! {
    /// A vendor that an organization can connect.
    IntegrationProviderKey {
        /// Salesforce (Sales Cloud or Service Cloud; production, sandbox or a My Domain).
        Salesforce = "salesforce",
        /// HubSpot CRM.
        Hubspot = "hubspot",
        /// Zoho CRM, in any of its data centres.
        Zoho = "zoho",
        /// Zendesk Support, through OAuth or an API token.
        Zendesk = "zendesk",
        /// Freshdesk, with an API key.
        Freshdesk = "freshdesk",
        /// Intercom, through OAuth: a handoff transfers the conversation to its inbox.
        Intercom = "intercom",
        /// A custom SMTP server, for the organization's email.
        Smtp = "smtp",
        /// SendGrid, with an API key, for the organization's email.
        Sendgrid = "sendgrid",
        /// Mailchimp, through OAuth: visitors who gave marketing consent join an audience.
        Mailchimp = "mailchimp",
    }
}

/// What kind of system an integration connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::providers::Category")]
pub enum IntegrationCategory {
    /// A CRM: contacts and cases.
    Crm,
    /// A help desk: tickets.
    Helpdesk,
    /// Email: lists and messages.
    Email,
}

/// Where an integration's connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::IntegrationStatus")]
pub enum IntegrationStatus {
    /// Started: waiting for the vendor's authorization page to send the browser back.
    Pending,
    /// Working.
    Connected,
    /// The vendor refused the authorization for good (revoked, expired): the work owed is kept and sent once
    /// the organization connects it again.
    ReauthorizationRequired,
    /// Something other than the authorization is wrong; `lastError` says what.
    Error,
    /// Disconnected; its runs are kept.
    Disconnected,
}

/// How a visitor is matched to a contact already in the CRM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::crm::settings::ContactMatching")]
pub enum CrmContactMatching {
    /// By email address.
    Email,
    /// By phone number.
    Phone,
    /// By email, then by phone when the email matches no contact.
    EmailThenPhone,
}

/// When a matched contact's fields are overwritten with the visitor's details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::crm::settings::FieldUpdates")]
pub enum CrmFieldUpdates {
    /// Every time.
    Always,
    /// Only when the visitor's details changed after the CRM's record last did.
    IfNewer,
    /// Never: existing contacts are left as they are.
    Never,
}

/// What creates a case in the CRM (a ticket in HubSpot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::crm::settings::CaseTrigger")]
pub enum CrmCaseTrigger {
    /// The conversation is handed to a person.
    Handoff,
    /// The visitor submits the widget's contact form.
    FormSubmission,
    /// Every conversation.
    EveryConversation,
}

/// The CRM object a mapped value is written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::crm::settings::CrmObject")]
pub enum CrmObject {
    /// The contact (a person).
    Contact,
    /// The case (a ticket in HubSpot).
    Case,
}

/// A value of a conversation that a field mapping writes into the CRM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::crm::settings::MappingSource")]
pub enum CrmMappingSource {
    /// The visitor's full name.
    VisitorName,
    /// The visitor's first name (the name's first word).
    VisitorFirstName,
    /// The visitor's last name (the rest of the name).
    VisitorLastName,
    /// The visitor's email address.
    VisitorEmail,
    /// The visitor's phone number.
    VisitorPhone,
    /// The whole conversation, one line per message.
    Transcript,
    /// The visitor's first message.
    FirstQuestion,
    /// The page the conversation started on.
    PageUrl,
    /// The title of that page.
    PageTitle,
    /// The conversation's sentiment.
    Sentiment,
    /// The assistant's name.
    AssistantName,
    /// The conversation's id.
    ConversationId,
    /// The conversation's page in the console.
    ConversationUrl,
}

/// What an integration run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::runs::JobKind")]
pub enum IntegrationRunKind {
    /// Finds or creates the visitor's contact and updates it.
    ContactSync,
    /// Creates a case for the conversation, associated with its contact.
    CaseCreate,
    /// Updates the conversation's case with its transcript when it is resolved.
    CaseUpdate,
    /// Opens a help-desk ticket for the conversation (once), with its transcript.
    TicketCreate,
    /// Brings a ticket's changes here: agents' public replies reach the visitor, a solved ticket resolves the
    /// conversation.
    TicketSync,
    /// Sends one prepared message (an invitation) through the email integration.
    EmailSend,
    /// Emails the team about a conversation as the notification rules say.
    Notify,
    /// Adds a consenting visitor to the mailing list's audience (or unsubscribes one who withdrew).
    AudienceSync,
    /// Emails the visitor what an event owes them: a welcome; a transcript and a survey at resolution.
    VisitorEmail,
    /// Emails the visitor a follow-up some hours after their conversation was resolved.
    FollowUp,
    /// A connection test (`testIntegration`).
    Test,
}

/// Where an integration run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::runs::JobStatus")]
pub enum IntegrationRunStatus {
    /// Waiting for its first try, a retry, or the connection's reauthorization.
    Pending,
    /// Done.
    Succeeded,
    /// Given up: the retries ran out, or the vendor refused what was sent.
    Failed,
    /// Dropped: the integration was disconnected.
    Cancelled,
}

named_enum! {
    /// Why a vendor call or a run failed, in classes a person can act on.
    IntegrationErrorClass {
        /// The vendor limited the requests; it is tried again after the wait the vendor asked for.
        RateLimited = "rate_limited",
        /// The vendor refused the authorization: connect the integration again.
        Authorization = "authorization",
        /// The vendor refused what was sent, such as a missing required field or a bad value.
        Validation = "validation",
        /// Several records match where one was expected (such as two contacts with one email).
        MultipleMatches = "multiple_matches",
        /// The vendor failed or answered something unexpected.
        VendorError = "vendor_error",
        /// The vendor could not be reached or did not answer in time.
        Network = "network",
        /// The connection or the server is not set up for the call.
        Configuration = "configuration",
        /// A required value was missing on our side (such as a visitor without email or phone).
        MissingField = "missing_field",
    }
}

/// What opens a ticket in the help desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::helpdesk::settings::TicketTrigger")]
pub enum HelpdeskTicketTrigger {
    /// The conversation is handed to a person.
    Handoff,
    /// The visitor submits the widget's contact form.
    FormSubmission,
    /// A visitor message shows one of the configured intents.
    Intent,
    /// The assistant could not answer `failedResponses` times in one conversation.
    FailedResponses,
}

/// A ticket's priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::helpdesk::settings::TicketPriority")]
pub enum HelpdeskTicketPriority {
    /// Low.
    Low,
    /// Normal: the help desk's default.
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

/// A ticket's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::helpdesk::settings::TicketType")]
pub enum HelpdeskTicketType {
    /// A question to answer.
    Question,
    /// Something wrong for this customer.
    Problem,
    /// One occurrence of a wider problem.
    Incident,
    /// Something to do.
    Task,
}

/// How a connection may be authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum IntegrationAuthMethod {
    /// Through the vendor's authorization page (`connectIntegration` answers its URL).
    Oauth,
    /// With a key pasted in `credentials` (connected at once).
    ApiKey,
    /// With a mail server's settings in `smtp` (checked by connecting to it, then connected at once).
    SmtpSettings,
}

/// How tickets are assigned in the help desk (Freshdesk).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::integrations::helpdesk::settings::AssignmentMode")]
pub enum HelpdeskAssignmentMode {
    /// The help desk's own rules assign it.
    None,
    /// The first rule whose intent or keyword matches gives the group and the agent.
    ByTopic,
    /// The listed agents in turn.
    RoundRobin,
    /// The listed agent with the fewest open tickets, read from the help desk.
    LoadBalanced,
    /// The first rule whose intent or keyword matches names the skilled agents; the one of them with the fewest
    /// open tickets gets it.
    Skills,
}
