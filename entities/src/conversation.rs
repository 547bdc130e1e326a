//! A conversation between a visitor and an assistant (and maybe an agent).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub assistant_id: String,
    pub visitor_id: String,
    /// open | handed_off | resolved | closed
    pub status: String,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    /// -1.0 (negative) ..= 1.0 (positive), set by the assistant engine.
    pub sentiment: Option<f64>,
    /// Failed assistant responses in a row (reset by a confident answer or by an agent handing the conversation back).
    pub failed_responses: i32,
    /// Failed assistant responses in all.
    pub failed_total: i32,
    /// Sum and count of the visitor messages' sentiment scores (`sentiment` is their mean).
    pub sentiment_sum: f64,
    pub sentiment_count: i32,
    /// When the assistant or an agent first answered.
    pub first_response_at: Option<DateTimeUtc>,
    /// When the conversation was last handed off, and why.
    pub handed_off_at: Option<DateTimeUtc>,
    pub handoff_reason: Option<String>,
    /// When the conversation was last resolved.
    pub resolved_at: Option<DateTimeUtc>,
    /// Whether a person took part (a handoff or an agent message).
    pub human_involved: bool,
    /// Last per-conversation event sequence number handed out.
    pub event_seq: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
