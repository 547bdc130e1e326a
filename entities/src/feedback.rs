//! A visitor's rating: of one assistant answer (helpful or not) or of a whole conversation (CSAT 1-5).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub assistant_id: String,
    pub conversation_id: String,
    /// The rated answer (answer ratings only).
    pub message_id: Option<String>,
    /// The knowledge-base entry the rated answer came from.
    pub entry_id: Option<String>,
    /// The message id or the conversation id: one rating per target, a new rating replaces it.
    pub target_id: String,
    /// Answer ratings.
    pub helpful: Option<bool>,
    /// Conversation ratings, 1-5.
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
