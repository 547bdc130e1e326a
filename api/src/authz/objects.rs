//! What authorization is asked about: the resources, the plan features and the actions of the policy.

use crate::auth::roles::Role;

/// What is being acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Organization,
    Assistant,
    Visitor,
    Conversation,
    Message,
    KnowledgeBase,
    Analytics,
    ApiKey,
    AuditLog,
    /// Team members.
    Member,
    /// The organization's plan: owners change it.
    Plan,
    /// Webhook endpoints.
    Webhook,
    /// SSO connections and enforcement.
    Sso,
    /// The embed snippets of site builders (Wix, Squarespace): a plan feature.
    Cms,
    /// Connections to vendors (CRMs, help desks, email): listed by every plan, connected by what it includes.
    Integration,
    /// Connecting a CRM with the default mapping: a plan feature.
    Crm,
    /// A CRM's custom field mappings, case-creation rules and workflow triggers: a plan feature.
    CrmAdvanced,
    /// Connecting a help desk: a plan feature.
    Helpdesk,
    /// The embed widget's visitor endpoints: a visitor's own session, conversations and messages.
    Widget,
    /// Giving a member or a key this role (or touching someone who holds it).
    Role(Role),
}

impl Resource {
    /// What a member or key may be told it can do (`Me.permissions`): every resource but the visitors' widget
    /// and the role grants.
    pub const LISTED: [Resource; 18] = [
        Resource::Organization,
        Resource::Assistant,
        Resource::Visitor,
        Resource::Conversation,
        Resource::Message,
        Resource::KnowledgeBase,
        Resource::Analytics,
        Resource::ApiKey,
        Resource::AuditLog,
        Resource::Member,
        Resource::Plan,
        Resource::Webhook,
        Resource::Sso,
        Resource::Cms,
        Resource::Integration,
        Resource::Crm,
        Resource::CrmAdvanced,
        Resource::Helpdesk,
    ];

    /// The object name in `policy.csv`.
    pub fn object(self) -> &'static str {
        match self {
            Resource::Organization => "organization",
            Resource::Assistant => "assistants",
            Resource::Visitor => "visitors",
            Resource::Conversation => "conversations",
            Resource::Message => "messages",
            Resource::KnowledgeBase => "knowledge_base",
            Resource::Analytics => "analytics",
            Resource::ApiKey => "api_keys",
            Resource::AuditLog => "audit_log",
            Resource::Member => "members",
            Resource::Plan => "plan",
            Resource::Webhook => "webhooks",
            Resource::Widget => "widget",
            Resource::Sso => "sso",
            Resource::Cms => "cms",
            Resource::Integration => "integrations",
            Resource::Crm => "crm",
            Resource::CrmAdvanced => "crm_advanced",
            Resource::Helpdesk => "helpdesk",
            Resource::Role(Role::Owner) => "roles.owner",
            Resource::Role(Role::Admin) => "roles.admin",
            Resource::Role(Role::Agent) => "roles.agent",
            Resource::Role(Role::Analyst) => "roles.analyst",
            Resource::Role(Role::Viewer) => "roles.viewer",
        }
    }

    pub(crate) fn noun(self) -> String {
        match self {
            Resource::Organization => "the organization".to_owned(),
            Resource::Assistant => "assistants".to_owned(),
            Resource::Visitor => "visitors".to_owned(),
            Resource::Conversation => "conversations".to_owned(),
            Resource::Message => "messages".to_owned(),
            Resource::KnowledgeBase => "the knowledge base".to_owned(),
            Resource::Analytics => "analytics".to_owned(),
            Resource::ApiKey => "API keys".to_owned(),
            Resource::AuditLog => "the audit log".to_owned(),
            Resource::Member => "team members".to_owned(),
            Resource::Plan => "the plan".to_owned(),
            Resource::Webhook => "webhooks".to_owned(),
            Resource::Widget => "the website widget".to_owned(),
            Resource::Sso => "single sign-on".to_owned(),
            Resource::Cms => "site-builder integrations".to_owned(),
            Resource::Integration => "integrations".to_owned(),
            Resource::Crm => "CRM integrations".to_owned(),
            Resource::CrmAdvanced => "custom CRM mappings and rules".to_owned(),
            Resource::Helpdesk => "help-desk integrations".to_owned(),
            Resource::Role(role) => format!("the {role} role"),
        }
    }
}

/// A plan feature (docs/reference/authorization.md lists each plan's) that decides whether objects are active, not only who may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Webhooks,
    /// Email and the other integrations of every plan.
    IntegrationsBasic,
    Crm,
    CrmAdvanced,
    Helpdesk,
}

impl Feature {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Feature::Webhooks => "webhooks",
            Feature::IntegrationsBasic => "integrations.basic",
            Feature::Crm => "integrations.crm",
            Feature::CrmAdvanced => "integrations.crm_advanced",
            Feature::Helpdesk => "integrations.helpdesk",
        }
    }
}

/// What is being done to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Delete,
    /// Assign a role.
    Grant,
    /// Download in bulk (the analytics CSV export).
    Export,
}

impl Action {
    /// The actions `Me.permissions` lists (granting a role is told by the role itself).
    pub const LISTED: [Action; 4] = [Action::Read, Action::Write, Action::Delete, Action::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Grant => "grant",
            Action::Export => "export",
        }
    }

    pub(crate) fn verb(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "change",
            Action::Delete => "delete",
            Action::Grant => "grant",
            Action::Export => "export",
        }
    }
}
