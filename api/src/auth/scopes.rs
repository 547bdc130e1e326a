//! API key scopes: an explicit list narrows a key below its role; `authz/policy.csv` says what each allows.

use serde::{Deserialize, Serialize};

/// One permission a service key may be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The organization, its assistants and plan.
    #[serde(rename = "organization:read")]
    OrganizationRead,
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    /// Create and update conversations and messages (includes reading them).
    #[serde(rename = "conversations:write")]
    ConversationsWrite,
    #[serde(rename = "knowledge_base:read")]
    KnowledgeBaseRead,
    /// Create, update and delete entries (includes reading them).
    #[serde(rename = "knowledge_base:write")]
    KnowledgeBaseWrite,
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    #[serde(rename = "members:manage")]
    MembersManage,
    #[serde(rename = "audit_log:read")]
    AuditLogRead,
    /// Webhook endpoints (with the live-events release).
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
}

impl Scope {
    /// The scope's name, as REST writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrganizationRead => "organization:read",
            Scope::ConversationsRead => "conversations:read",
            Scope::ConversationsWrite => "conversations:write",
            Scope::KnowledgeBaseRead => "knowledge_base:read",
            Scope::KnowledgeBaseWrite => "knowledge_base:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::ApiKeysManage => "api_keys:manage",
            Scope::MembersManage => "members:manage",
            Scope::AuditLogRead => "audit_log:read",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }
}
