//! An API key: stored only as a SHA-256 hash, identified by its visible prefix.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// The first characters of the secret, safe to show.
    pub prefix: String,
    /// Hex SHA-256 of the whole secret.
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub role: String,
    pub created_by: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// JSON array of scopes (`conversations:read`, …); null means the role decides.
    pub scopes: Option<Json>,
    /// JSON array of CIDRs the key may be used from; null means anywhere.
    pub allowed_cidrs: Option<Json>,
    /// Requests made with the key (flushed periodically from memory).
    pub request_count: i64,
    /// The secret before the last rotation, valid until `previous_expires_at`.
    pub previous_secret_hash: Option<String>,
    pub previous_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
