//! API key scopes: an explicit list narrows a key below its role, e.g. `conversations:read` for an export job.

use serde::{Deserialize, Serialize};

use crate::authz::{Action, Resource};

/// One permission a service key may be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
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
    /// Every (resource, action) pair the scope grants.
    pub fn grants(self) -> &'static [(Resource, Action)] {
        use Action::*;
        use Resource::*;
        match self {
            Scope::OrganizationRead => &[(Organization, Read), (Assistant, Read), (Plan, Read)],
            Scope::ConversationsRead => &[(Conversation, Read), (Message, Read), (Visitor, Read)],
            Scope::ConversationsWrite => &[
                (Conversation, Read),
                (Conversation, Write),
                (Message, Read),
                (Message, Write),
                (Visitor, Read),
                (Visitor, Write),
            ],
            Scope::KnowledgeBaseRead => &[(KnowledgeBase, Read)],
            Scope::KnowledgeBaseWrite => &[
                (KnowledgeBase, Read),
                (KnowledgeBase, Write),
                (KnowledgeBase, Delete),
            ],
            Scope::AnalyticsRead => &[(Analytics, Read)],
            Scope::ApiKeysManage => &[(ApiKey, Read), (ApiKey, Write), (ApiKey, Delete)],
            Scope::MembersManage => &[(Member, Read), (Member, Write), (Member, Delete)],
            Scope::AuditLogRead => &[(AuditLog, Read)],
            Scope::WebhooksManage => &[],
        }
    }

    /// Whether the scope allows `action` on `resource`.
    pub fn covers(self, resource: Resource, action: Action) -> bool {
        self.grants().contains(&(resource, action))
    }

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
