//! One event owed to one webhook endpoint: its exact payload, its state and when it is next tried.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub webhook_id: String,
    /// The event, also sent as `webhook-id` so receivers can deduplicate.
    pub event_id: String,
    pub event_type: String,
    /// The body, byte for byte as every attempt sends it.
    pub payload: String,
    /// pending | succeeded | failed (retries exhausted) | cancelled (endpoint disabled or deleted)
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While set in the future, one instance is sending it.
    pub lease_until: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
