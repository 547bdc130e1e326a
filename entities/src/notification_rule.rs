//! A notification rule: which events (a new conversation, a handoff, an unanswered question, a negative
//! message) email whom (the admins, the whole team, or listed addresses), for which conversations, at most once
//! per conversation and event within its window.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// new_conversation | handoff | query_failed | negative_sentiment, as a JSON list.
    pub events: Json,
    /// admins | team | addresses
    pub recipients: String,
    /// With `addresses`: the email addresses, as a JSON list.
    pub addresses: Json,
    /// Only conversations with this assistant.
    pub assistant_id: Option<String>,
    /// Only conversations started on a page whose path begins with this.
    pub page_path: Option<String>,
    /// Only conversations where a visitor message showed this intent.
    pub intent: Option<String>,
    /// At most one email per conversation and event within this many minutes.
    pub window_minutes: i32,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
