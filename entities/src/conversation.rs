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
    /// Last per-conversation event sequence number handed out.
    pub event_seq: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
