//! Authorization: the one place that says allow or deny. Every service function calls [`authorize`] first.

use crate::auth::{Actor, Plan, Principal, Role};
use crate::error::{ApiError, ApiResult};

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
    /// The organization's plan: owners only.
    Plan,
}

/// What is being done to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    Delete,
}

/// The role table of the authorization issue, in its simplest form; roles × plans and Casbin replace it there.
fn role_allows(role: Role, resource: Resource, action: Action) -> bool {
    use Action::*;
    use Resource::*;
    match role {
        Role::Owner => true,
        Role::Admin => resource != Plan || action == Read,
        Role::Agent => match resource {
            Conversation | Message | Visitor => matches!(action, Read | Write),
            Organization | Assistant | KnowledgeBase | Member | Plan => action == Read,
            Analytics | ApiKey | AuditLog => false,
        },
        Role::Analyst => match resource {
            Conversation | Message | Visitor | Analytics | Organization | Assistant | Plan => {
                action == Read
            }
            KnowledgeBase | ApiKey | AuditLog | Member => false,
        },
        Role::Viewer => match resource {
            Conversation | Message | Visitor | KnowledgeBase | Organization | Assistant | Plan => {
                action == Read
            }
            Analytics | ApiKey | AuditLog | Member => false,
        },
    }
}

/// DESIGN.md's API-access tier: API keys of a basic organization get read-only REST; team members signed in
/// through a session are limited by their role, not by the API tier.
fn plan_allows_api_writes(principal: &Principal) -> bool {
    !(principal.plan == Plan::Basic && matches!(principal.actor, Actor::ApiKey { .. }))
}

/// Whether the caller's plan includes GraphQL (standard and premium API access, or any session).
pub fn plan_allows_graphql(principal: &Principal) -> ApiResult<()> {
    if plan_allows_api_writes(principal) {
        Ok(())
    } else {
        Err(ApiError::PlanUpgradeRequired(
            "GraphQL API access needs the standard plan; the basic plan's API is read-only REST"
                .to_owned(),
        ))
    }
}

/// Allows or denies `action` on `resource` for `principal`.
pub fn authorize(principal: &Principal, resource: Resource, action: Action) -> ApiResult<()> {
    if action != Action::Read && !plan_allows_api_writes(principal) {
        return Err(ApiError::PlanUpgradeRequired(
            "the basic plan's API access is read-only: upgrade to standard to change data with an API key"
                .to_owned(),
        ));
    }
    let scoped_out = principal
        .scopes
        .as_ref()
        .is_some_and(|scopes| !scopes.iter().any(|s| s.covers(resource, action)));
    if scoped_out && role_allows(principal.role, resource, action) {
        return Err(ApiError::Forbidden(format!(
            "this key's scopes do not allow {} on {}",
            action_verb(action),
            resource_noun(resource)
        )));
    }
    if role_allows(principal.role, resource, action) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the {} role may not {} {}",
            principal.role,
            action_verb(action),
            resource_noun(resource)
        )))
    }
}

fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::Write => "change",
        Action::Delete => "delete",
    }
}

fn resource_noun(resource: Resource) -> &'static str {
    match resource {
        Resource::Organization => "the organization",
        Resource::Assistant => "assistants",
        Resource::Visitor => "visitors",
        Resource::Conversation => "conversations",
        Resource::Message => "messages",
        Resource::KnowledgeBase => "the knowledge base",
        Resource::Analytics => "analytics",
        Resource::ApiKey => "API keys",
        Resource::AuditLog => "the audit log",
        Resource::Member => "team members",
        Resource::Plan => "the plan",
    }
}
