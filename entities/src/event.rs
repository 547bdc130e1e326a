//! The outbox: every domain event, written in the transaction of its change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    /// `resource.verb`, e.g. `conversation.created`.
    pub event: String,
    pub conversation_id: Option<String>,
    /// Per-conversation sequence (0 for events without a conversation).
    pub sequence: i64,
    pub data: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
