//! One message of a conversation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub conversation_id: String,
    /// visitor | assistant | agent | system
    pub author: String,
    pub body: String,
    pub source_entry_id: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: DateTimeUtc,
    /// Visitor messages: VADER compound score in [-1, 1].
    pub sentiment: Option<f64>,
    /// Visitor messages: the first of the assistant's intents that matched.
    pub intent: Option<String>,
    /// Assistant replies: the visitor message answered.
    pub reply_to_id: Option<String>,
    /// Assistant replies: knowledge_base | ai | fallback | handoff.
    pub reply_source: Option<String>,
    /// Assistant replies: why the AI provider was not used or its answer not given.
    pub fallback_reason: Option<String>,
    /// Assistant replies: the knowledge-base entry ids the answer cites.
    pub citations: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
