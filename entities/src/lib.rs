//! SeaORM entities of Concierge: table shapes only, no GraphQL or HTTP derives.

pub mod ai_usage;
pub mod api_key;
pub mod api_key_usage;
pub mod assistant;
pub mod audit_checkpoint;
pub mod audit_entry;
pub mod audit_head;
pub mod authz_policy;
pub mod conversation;
pub mod email_template;
pub mod event;
pub mod feedback;
pub mod integration;
pub mod integration_authorization;
pub mod integration_call;
pub mod integration_job;
pub mod integration_link;
pub mod knowledge_base_embedding;
pub mod knowledge_base_entry;
pub mod knowledge_base_query;
pub mod message;
pub mod message_attachment;
pub mod notification_rule;
pub mod organization;
pub mod session;
pub mod sso_assertion;
pub mod sso_connection;
pub mod sso_domain;
pub mod sso_request;
pub mod user;
pub mod visitor;
pub mod webhook;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod widget_session;

pub mod prelude {
    //! The entities under short names.
    pub use super::ai_usage::Entity as AiUsage;
    pub use super::api_key::Entity as ApiKey;
    pub use super::assistant::Entity as Assistant;
    pub use super::audit_entry::Entity as AuditEntry;
    pub use super::authz_policy::Entity as AuthzPolicy;
    pub use super::conversation::Entity as Conversation;
    pub use super::event::Entity as Event;
    pub use super::feedback::Entity as Feedback;
    pub use super::integration::Entity as Integration;
    pub use super::integration_call::Entity as IntegrationCall;
    pub use super::integration_job::Entity as IntegrationJob;
    pub use super::knowledge_base_embedding::Entity as KnowledgeBaseEmbedding;
    pub use super::knowledge_base_entry::Entity as KnowledgeBaseEntry;
    pub use super::knowledge_base_query::Entity as KnowledgeBaseQuery;
    pub use super::message::Entity as Message;
    pub use super::message_attachment::Entity as MessageAttachment;
    pub use super::organization::Entity as Organization;
    pub use super::session::Entity as Session;
    pub use super::user::Entity as User;
    pub use super::visitor::Entity as Visitor;
    pub use super::webhook::Entity as Webhook;
    pub use super::webhook_attempt::Entity as WebhookAttempt;
    pub use super::webhook_delivery::Entity as WebhookDelivery;
    pub use super::widget_session::Entity as WidgetSession;
}
