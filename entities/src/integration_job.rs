//! Work owed to one integration (written with the event that causes it) and, once run, what it came to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub integration_id: String,
    /// What to do: contact_sync | case_create | case_update | test
    pub kind: String,
    /// The event type that caused it, or `manual`.
    pub trigger: String,
    pub event_id: Option<String>,
    /// Jobs of one subject (a visitor) run one at a time, in the order they were owed.
    pub subject: String,
    pub conversation_id: Option<String>,
    pub visitor_id: Option<String>,
    /// pending | succeeded | failed | cancelled
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While in the future, one instance is running it.
    pub lease_until: Option<DateTimeUtc>,
    /// Records created, updated, skipped and failed at the vendor.
    pub created: i32,
    pub updated: i32,
    pub skipped: i32,
    pub failed: i32,
    /// What happened, in words.
    pub outcome: Option<String>,
    /// missing_field | multiple_matches | rate_limited | authorization | validation | vendor_error | network | configuration
    pub error_class: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// What an email job sends, sealed (recipients, an invitation's link).
    pub payload: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
