//! One visitor question the assistant looked up in the knowledge base, with what it found.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_base_queries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub assistant_id: String,
    pub conversation_id: String,
    /// The visitor message asked.
    pub message_id: String,
    pub query: String,
    /// Lower-cased, punctuation-free, whitespace-collapsed: failed queries cluster on it.
    pub normalized: String,
    pub best_entry_id: Option<String>,
    pub confidence: f64,
    /// Below the assistant's threshold.
    pub failed: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
