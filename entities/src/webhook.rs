//! A webhook endpoint: where and which events to deliver, with its signing secret sealed under the master key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub url: String,
    /// JSON array of event names.
    pub events: Json,
    pub description: Option<String>,
    /// Whether the organization wants deliveries (a plan without webhooks pauses them without changing this).
    pub active: bool,
    /// `whsec_…`, sealed (AES-256-GCM) under the master key.
    pub secret_sealed: String,
    /// The secret before the last rotation, still signing until `previous_expires_at`.
    pub previous_secret_sealed: Option<String>,
    pub previous_expires_at: Option<DateTimeUtc>,
    /// Why deliveries stopped on their own (410 Gone, too many failures), if they did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Failed attempts in a row; a success resets it, and reaching the configured limit disables the endpoint.
    pub consecutive_failures: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
