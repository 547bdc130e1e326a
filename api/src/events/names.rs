//! The event names of the brief, and the ones added in the same `resource.verb` form.

pub const CONVERSATION_CREATED: &str = "conversation.created";
pub const CONVERSATION_UPDATED: &str = "conversation.updated";
pub const CONVERSATION_RESOLVED: &str = "conversation.resolved";
pub const MESSAGE_CREATED: &str = "message.created";
pub const HANDOFF_REQUESTED: &str = "handoff.requested";
pub const FEEDBACK_RECEIVED: &str = "feedback.received";
pub const KNOWLEDGE_BASE_QUERY_FAILED: &str = "knowledge_base.query_failed";
pub const VISITOR_UPDATED: &str = "visitor.updated";
pub const VISITOR_FORM_SUBMITTED: &str = "visitor.form_submitted";
pub const KNOWLEDGE_BASE_ENTRY_CREATED: &str = "knowledge_base.entry_created";
pub const KNOWLEDGE_BASE_ENTRY_UPDATED: &str = "knowledge_base.entry_updated";
pub const KNOWLEDGE_BASE_ENTRY_DELETED: &str = "knowledge_base.entry_deleted";
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
pub const INTEGRATION_CONNECTED: &str = "integration.connected";
pub const INTEGRATION_DISCONNECTED: &str = "integration.disconnected";
pub const INTEGRATION_AUTH_FAILED: &str = "integration.auth_failed";
pub const INTEGRATION_SYNC_FAILED: &str = "integration.sync_failed";
/// Sent by the test endpoint only; never in the stream.
pub const WEBHOOK_TEST: &str = "webhook.test";
