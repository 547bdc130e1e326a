//! GraphQL enums: each mirrors a domain enum (`remote`), with the conversions both ways generated.

use async_graphql::Enum;

/// A team role, from most to least privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::Role", name = "Role")]
pub enum Role {
    Owner,
    Admin,
    Agent,
    Analyst,
    Viewer,
}

/// A plan tier of DESIGN.md's plan table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::Plan", name = "Plan")]
pub enum Plan {
    Basic,
    Standard,
    Premium,
}

/// One permission a service key may be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::auth::scopes::Scope", name = "Scope")]
pub enum Scope {
    /// The organization, its assistants and plan.
    OrganizationRead,
    ConversationsRead,
    /// Create and update conversations and messages (includes reading them).
    ConversationsWrite,
    KnowledgeBaseRead,
    /// Create, update and delete entries (includes reading them).
    KnowledgeBaseWrite,
    AnalyticsRead,
    ApiKeysManage,
    MembersManage,
    AuditLogRead,
    /// Webhook endpoints (with the live-events release).
    WebhooksManage,
}

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::conversations::Status", name = "Status")]
pub enum Status {
    Open,
    HandedOff,
    Resolved,
    Closed,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::conversations::messages::Author",
    name = "Author"
)]
pub enum Author {
    Visitor,
    Assistant,
    Agent,
    System,
}

/// Bucket width of the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::analytics::Granularity",
    name = "Granularity"
)]
pub enum Granularity {
    Hour,
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
    /// Switched off by delivery (410 Gone or too many failures); `disabled_reason` says which.
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
    BottomRight,
    BottomLeft,
    TopRight,
    TopLeft,
}

/// The widget's colour scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(
    remote = "crate::service::assistants::WidgetTheme",
    name = "WidgetTheme"
)]
pub enum WidgetTheme {
    Light,
    Dark,
    Auto,
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
    /// SAML 2.0: AuthnRequest by the HTTP-Redirect binding, Response by HTTP-POST to the ACS, signatures checked
    /// by samael against the configured certificates.
    Saml,
}
