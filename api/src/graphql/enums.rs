//! GraphQL enums: each mirrors a domain enum (`remote`), with the conversions both ways generated.

use async_graphql::{Enum, InputObject};

/// A team role, from most to least privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::Role", name = "MemberRole")]
pub enum Role {
    /// Everything an admin may do, plus the plan, single sign-on and making other owners.
    Owner,
    /// Settings, assistants, the knowledge base, API keys, webhooks, the team and the audit log.
    Admin,
    /// Reads and replies to conversations, updates visitors and reads the knowledge base.
    Agent,
    /// Reads conversations and analytics, without changing anything.
    Analyst,
    /// Reads conversations and the knowledge base, without changing anything.
    Viewer,
}

/// The organization's plan tier, which decides the features it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::Plan", name = "OrganizationPlan")]
pub enum Plan {
    /// The core product: the website widget, conversations, the knowledge base and analytics; API keys get read-only
    /// REST access.
    Basic,
    /// Everything in Basic, plus webhooks, write and GraphQL access for API keys, and more integrations.
    Standard,
    /// Everything in Standard, plus live subscriptions, analytics export and single sign-on.
    Premium,
}

/// One permission a service key may be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::scopes::Scope", name = "ApiKeyScope")]
pub enum Scope {
    /// The organization, its assistants and plan.
    OrganizationRead,
    /// Read conversations, their messages and visitors.
    ConversationsRead,
    /// Create and update conversations and messages (includes reading them).
    ConversationsWrite,
    /// Read knowledge-base entries and search them.
    KnowledgeBaseRead,
    /// Create, update and delete entries (includes reading them).
    KnowledgeBaseWrite,
    /// Read analytics (and export them where the plan includes it).
    AnalyticsRead,
    /// List, create, rotate and revoke API keys.
    ApiKeysManage,
    /// List, invite, change and deactivate team members (granting roles up to admin).
    MembersManage,
    /// Read the audit log.
    AuditLogRead,
    /// Webhook endpoints and their deliveries.
    WebhooksManage,
}

/// A way of ranking knowledge-base entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::knowledge_base::RetrieverKind")]
pub enum KnowledgeBaseRetriever {
    /// BM25 over the entries' words, stemmed and typo-tolerant.
    Lexical,
    /// The entries nearest in meaning, by sentence vector.
    Semantic,
}

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::conversations::Status",
    name = "ConversationStatus"
)]
pub enum Status {
    /// The assistant answers the visitor's messages.
    Open,
    /// Handed to a person: the assistant no longer answers, and a team member takes over.
    HandedOff,
    /// The visitor's question was answered.
    Resolved,
    /// Ended without a resolution; no message can be added until it is reopened.
    Closed,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::conversations::messages::Author",
    name = "MessageAuthor"
)]
pub enum Author {
    /// The website visitor.
    Visitor,
    /// The assistant: an answer, the fallback message or the hand-off message.
    Assistant,
    /// A person of the team.
    Agent,
    /// An automated notice rather than a reply.
    System,
}

/// Bucket width of the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::analytics::Granularity",
    name = "AnalyticsGranularity"
)]
pub enum Granularity {
    /// One bucket per hour (UTC).
    Hour,
    /// One bucket per day (UTC); the default.
    Day,
    /// ISO weeks, starting on Monday.
    Week,
}

/// Whether deliveries go out, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::events::webhooks::WebhookStatus",
    name = "WebhookStatus"
)]
pub enum WebhookStatus {
    /// Deliveries go out.
    Active,
    /// Switched off by the organization (`active: false`).
    Paused,
    /// Switched off by delivery (410 Gone or too many failures); `disabledReason` says which.
    Disabled,
    /// The organization's plan does not include webhooks: kept, read-only, and resumed on upgrade.
    PlanInactive,
}

/// Where the widget's launcher sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::assistants::WidgetPosition",
    name = "WidgetPosition"
)]
pub enum WidgetPosition {
    /// The bottom right corner of the page; the default.
    BottomRight,
    /// The bottom left corner of the page.
    BottomLeft,
    /// The top right corner of the page.
    TopRight,
    /// The top left corner of the page.
    TopLeft,
}

/// The widget's colour scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::assistants::WidgetTheme",
    name = "WidgetTheme"
)]
pub enum WidgetTheme {
    /// Light colours; the default.
    Light,
    /// Dark colours.
    Dark,
    /// Light or dark, chosen automatically for the visitor.
    Auto,
}

/// Where the widget goes: a plain website or a site builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::embed::Platform", name = "EmbedPlatform")]
pub enum EmbedPlatform {
    /// Any website: the script tag before `</body>`.
    Html,
    /// WordPress: the plugin and its shortcode.
    Wordpress,
    /// Shopify: the theme app embed, or the tag in `theme.liquid` with the page's product.
    Shopify,
    /// Wix: Custom Code in the site's settings (standard plan and above).
    Wix,
    /// Squarespace: Code Injection, or a Code block on one page (standard plan and above).
    Squarespace,
}

/// A connection's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::identity::sso::settings::Protocol",
    name = "SsoProtocol"
)]
pub enum SsoProtocol {
    /// OpenID Connect: discovery, authorization code with PKCE, id_token verified against the JWKS.
    Oidc,
    /// OAuth 2.0 without OpenID Connect: authorization code with PKCE, then the userinfo endpoint, read with
    /// JSON paths.
    #[graphql(name = "OAUTH2")]
    OAuth2,
    /// SAML 2.0: AuthnRequest by the HTTP-Redirect binding, Response by HTTP-POST to the assertion consumer
    /// service, signatures checked against the configured certificates.
    Saml,
}

/// Which way a list runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    /// Oldest or smallest first.
    Asc,
    /// Newest or largest first.
    Desc,
}

/// The field a list is ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum CreatedAtOrderField {
    /// When the object was created.
    CreatedAt,
}

/// How a list is ordered.
#[derive(Clone, Copy, Debug, InputObject)]
#[graphql(name = "CreatedAtOrder")]
pub struct CreatedAtOrder {
    /// The field to order by.
    pub field: CreatedAtOrderField,
    /// Which way.
    pub direction: OrderDirection,
}

impl From<CreatedAtOrder> for crate::service::Order {
    fn from(order: CreatedAtOrder) -> Self {
        match order.direction {
            OrderDirection::Asc => crate::service::Order::OldestFirst,
            OrderDirection::Desc => crate::service::Order::NewestFirst,
        }
    }
}

/// The `resource.verb` names of event types.
pub fn names(types: Vec<EventType>) -> Vec<String> {
    types.into_iter().map(|t| t.name().to_owned()).collect()
}

/// Declares a GraphQL enum over a closed set of stored names, with `stored` (name → value) and `name` (value →
/// name); a stored name outside the set is an internal error.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$value_doc:meta])* $value:ident = $stored:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
        pub enum $name {
            $($(#[$value_doc])* $value,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$value),+];

            /// The name it is stored and sent under elsewhere (REST, webhooks).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$value => $stored,)+
                }
            }

            /// The value of a stored name.
            pub fn stored(name: &str) -> Result<Self, crate::error::ApiError> {
                Self::ALL.iter().copied().find(|v| v.name() == name).ok_or_else(|| {
                    crate::error::ApiError::internal_msg(format!(
                        concat!("stored ", stringify!($name), " {:?}"),
                        name
                    ))
                })
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// What happened: the type of an event, delivered to webhooks under its `resource.verb` name
    /// (`CONVERSATION_CREATED` is `conversation.created`).
    EventType {
        /// A visitor or an API client started a conversation.
        ConversationCreated = crate::events::names::CONVERSATION_CREATED,
        /// A conversation's status, subject or sentiment changed.
        ConversationUpdated = crate::events::names::CONVERSATION_UPDATED,
        /// A conversation was marked resolved.
        ConversationResolved = crate::events::names::CONVERSATION_RESOLVED,
        /// A message was added to a conversation.
        MessageCreated = crate::events::names::MESSAGE_CREATED,
        /// A conversation was handed to a person.
        HandoffRequested = crate::events::names::HANDOFF_REQUESTED,
        /// A visitor rated an answer or a conversation.
        FeedbackReceived = crate::events::names::FEEDBACK_RECEIVED,
        /// The assistant found no answer in the knowledge base.
        KnowledgeBaseQueryFailed = crate::events::names::KNOWLEDGE_BASE_QUERY_FAILED,
        /// A visitor's contact details changed.
        VisitorUpdated = crate::events::names::VISITOR_UPDATED,
        /// A visitor left their contact details through the widget's contact form, in a conversation.
        VisitorFormSubmitted = crate::events::names::VISITOR_FORM_SUBMITTED,
        /// A knowledge-base entry was added.
        KnowledgeBaseEntryCreated = crate::events::names::KNOWLEDGE_BASE_ENTRY_CREATED,
        /// A knowledge-base entry was changed.
        KnowledgeBaseEntryUpdated = crate::events::names::KNOWLEDGE_BASE_ENTRY_UPDATED,
        /// A knowledge-base entry was deleted.
        KnowledgeBaseEntryDeleted = crate::events::names::KNOWLEDGE_BASE_ENTRY_DELETED,
        /// Deliveries to a webhook endpoint were switched off after failing.
        WebhookDisabled = crate::events::names::WEBHOOK_DISABLED,
        /// An integration was connected (or reconnected) to its vendor.
        IntegrationConnected = crate::events::names::INTEGRATION_CONNECTED,
        /// An integration was disconnected.
        IntegrationDisconnected = crate::events::names::INTEGRATION_DISCONNECTED,
        /// An integration's authorization was refused for good: it waits for the organization to reconnect it.
        IntegrationAuthFailed = crate::events::names::INTEGRATION_AUTH_FAILED,
        /// An integration job failed for good: the vendor refused what was sent, or its retries ran out.
        IntegrationSyncFailed = crate::events::names::INTEGRATION_SYNC_FAILED,
        /// A test delivery sent by `testWebhook`; never in the event stream.
        WebhookTest = crate::events::names::WEBHOOK_TEST,
    }
}

named_enum! {
    /// Why a conversation was handed to a person.
    HandoffReason {
        /// A team member or an API client handed it off.
        Requested = "requested",
        /// The visitor asked for a person.
        VisitorRequest = "visitor_request",
        /// The assistant failed to answer several times in a row.
        FailedResponses = "failed_responses",
        /// The visitor's message read as too negative.
        NegativeSentiment = "negative_sentiment",
    }
}

named_enum! {
    /// Where an assistant reply came from.
    ReplySource {
        /// A knowledge-base entry, quoted.
        KnowledgeBase = "knowledge_base",
        /// The AI provider, grounded in knowledge-base entries.
        Ai = "ai",
        /// The fallback message: nothing answered the question well enough.
        Fallback = "fallback",
        /// The hand-off message: the conversation went to a person.
        Handoff = "handoff",
    }
}

named_enum! {
    /// How a caller signed in.
    SignInMethod {
        /// Email and password.
        Password = "password",
        /// SAML 2.0 single sign-on.
        Saml = "saml",
        /// OpenID Connect single sign-on.
        Oidc = "oidc",
        /// OAuth 2.0 single sign-on.
        #[graphql(name = "OAUTH2")]
        OAuth2 = "oauth2",
        /// An API key (not a sign-in: keys are sent with every request).
        ApiKey = "api_key",
        /// A website visitor's widget session.
        Visitor = "visitor",
    }
}

named_enum! {
    /// Who is acting.
    ActorType {
        /// A team member, signed in.
        User = "user",
        /// An API key.
        ApiKey = "api_key",
        /// A website visitor, through the widget.
        Visitor = "visitor",
    }
}

named_enum! {
    /// Where one webhook delivery stands.
    WebhookDeliveryStatus {
        /// Waiting for its first attempt or for a retry.
        Pending = "pending",
        /// The endpoint answered 2xx.
        Succeeded = "succeeded",
        /// Every attempt failed; it will not be retried on its own (`redeliverWebhook` sends it again).
        Failed = "failed",
        /// Dropped without sending: the endpoint was deleted, paused or disabled, or the plan no longer includes
        /// webhooks.
        Cancelled = "cancelled",
    }
}

/// What an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::audit::AuditAction")]
pub enum AuditAction {
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An API key's secret was replaced.
    ApiKeyRotated,
    /// A visitor email's template changed, was turned on or off, or was put back to the default.
    EmailTemplateUpdated,
    /// An integration was connected.
    IntegrationConnected,
    /// An integration was disconnected.
    IntegrationDisconnected,
    /// An integration's settings changed.
    IntegrationUpdated,
    /// A member was deactivated.
    MemberDeactivated,
    /// An invitation link was issued to a member.
    MemberInvitationIssued,
    /// A member was invited.
    MemberInvited,
    /// A member signed in.
    MemberLogin,
    /// A sign-in failed (wrong password, locked or deactivated account).
    MemberLoginFailed,
    /// A member signed out.
    MemberLogout,
    /// A member set a password through an invitation.
    MemberPasswordSet,
    /// A member was created by their first single sign-on.
    MemberProvisioned,
    /// A member's role changed, by a person or by single sign-on role mapping.
    MemberRoleChanged,
    /// A single sign-on was refused.
    MemberSsoFailed,
    /// The organization was created.
    OrganizationCreated,
    /// The organization's plan changed.
    OrganizationPlanChanged,
    /// Single sign-on was required or made optional.
    OrganizationSsoEnforced,
    /// A member's session was ended.
    SessionRevoked,
    /// A single sign-on connection was added.
    SsoConnectionCreated,
    /// A single sign-on connection was deleted.
    SsoConnectionDeleted,
    /// A single sign-on connection was changed.
    SsoConnectionUpdated,
    /// A webhook endpoint was added.
    WebhookCreated,
    /// A webhook endpoint was deleted.
    WebhookDeleted,
    /// A webhook endpoint's signing secret was replaced.
    WebhookSecretRotated,
    /// A webhook endpoint was changed.
    WebhookUpdated,
}

named_enum! {
    /// Who acted, as the audit log records it.
    AuditActorType {
        /// A team member, signed in.
        User = "user",
        /// An API key.
        ApiKey = "api_key",
        /// A website visitor, through the widget.
        Visitor = "visitor",
        /// Someone not signed in, such as a refused single sign-on.
        Anonymous = "anonymous",
        /// The server itself.
        System = "system",
    }
}

/// What a permission is about (`Me.permissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PermissionResource {
    /// The organization's name and settings.
    Organization,
    /// Assistants and their widget settings.
    Assistants,
    /// Website visitors and their contact details.
    Visitors,
    /// Conversations.
    Conversations,
    /// Messages of conversations.
    Messages,
    /// The knowledge base.
    KnowledgeBase,
    /// Analytics (and its CSV export).
    Analytics,
    /// API keys.
    ApiKeys,
    /// The audit log.
    AuditLog,
    /// Team members.
    Members,
    /// The organization's plan.
    Plan,
    /// Webhook endpoints and their deliveries.
    Webhooks,
    /// Single sign-on connections and enforcement.
    Sso,
    /// The embed code of site builders (Wix, Squarespace).
    Cms,
    /// Integrations: connections to CRMs, help desks and email services.
    Integrations,
    /// Connecting a CRM with the default field mapping.
    Crm,
    /// A CRM's custom field mappings, case-creation rules and workflow triggers.
    CrmAdvanced,
    /// Connecting a help desk.
    Helpdesk,
}

impl PermissionResource {
    /// The GraphQL name of a listed resource (`None` for the widget and role grants, which are not listed).
    pub fn of(resource: crate::authz::Resource) -> Option<Self> {
        use crate::authz::Resource as R;
        Some(match resource {
            R::Organization => Self::Organization,
            R::Assistant => Self::Assistants,
            R::Visitor => Self::Visitors,
            R::Conversation => Self::Conversations,
            R::Message => Self::Messages,
            R::KnowledgeBase => Self::KnowledgeBase,
            R::Analytics => Self::Analytics,
            R::ApiKey => Self::ApiKeys,
            R::AuditLog => Self::AuditLog,
            R::Member => Self::Members,
            R::Plan => Self::Plan,
            R::Webhook => Self::Webhooks,
            R::Sso => Self::Sso,
            R::Cms => Self::Cms,
            R::Integration => Self::Integrations,
            R::Crm => Self::Crm,
            R::CrmAdvanced => Self::CrmAdvanced,
            R::Helpdesk => Self::Helpdesk,
            R::Widget | R::Role(_) => return None,
        })
    }
}

/// What a permission allows (`Me.permissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PermissionAction {
    /// Read it.
    Read,
    /// Create or change it.
    Write,
    /// Delete it.
    Delete,
    /// Download it in bulk (the analytics CSV export).
    Export,
}

impl PermissionAction {
    /// The GraphQL name of a listed action (`None` for granting a role).
    pub fn of(action: crate::authz::Action) -> Option<Self> {
        use crate::authz::Action as A;
        Some(match action {
            A::Read => Self::Read,
            A::Write => Self::Write,
            A::Delete => Self::Delete,
            A::Export => Self::Export,
            A::Grant => return None,
        })
    }
}

/// A feature that a plan includes (`plans`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PlanFeature {
    /// Conversations, the knowledge base, assistants, analytics, API keys, members and the audit log.
    Core,
    /// The website widget and its embed code for plain HTML, WordPress and Shopify.
    Embed,
    /// Email integrations and the other integrations of every plan.
    IntegrationsBasic,
    /// The embed code for site builders (Wix, Squarespace).
    IntegrationsCms,
    /// CRM integrations.
    IntegrationsCrm,
    /// Help-desk integrations.
    IntegrationsHelpdesk,
    /// Webhooks: signed events posted to your endpoints.
    Webhooks,
    /// API keys that change data (below, keys only read through REST).
    ApiWrite,
    /// The GraphQL API for API keys.
    ApiGraphql,
    /// A CRM's custom field mappings, case-creation rules and workflow triggers.
    IntegrationsCrmAdvanced,
    /// Live GraphQL subscriptions for API keys.
    ApiSubscriptions,
    /// The analytics CSV export.
    ApiAnalyticsExport,
    /// Single sign-on (SAML 2.0, OpenID Connect, OAuth 2.0) and its enforcement.
    Sso,
}

impl PlanFeature {
    /// The feature of a name in the policy (`api.graphql`), if the API names it.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "core" => Self::Core,
            "embed" => Self::Embed,
            "integrations.basic" => Self::IntegrationsBasic,
            "integrations.cms" => Self::IntegrationsCms,
            "integrations.crm" => Self::IntegrationsCrm,
            "integrations.helpdesk" => Self::IntegrationsHelpdesk,
            "webhooks" => Self::Webhooks,
            "api.write" => Self::ApiWrite,
            "api.graphql" => Self::ApiGraphql,
            "integrations.crm_advanced" => Self::IntegrationsCrmAdvanced,
            "api.subscriptions" => Self::ApiSubscriptions,
            "api.analytics_export" => Self::ApiAnalyticsExport,
            "sso" => Self::Sso,
            _ => return None,
        })
    }
}
