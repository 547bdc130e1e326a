//! A day's checkpoint of an organization's audit log head, signed with a key derived from the master key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The head's position in the chain when the checkpoint was last written that day.
    pub seq: i64,
    /// The head entry's hash.
    pub hash: String,
    /// Base64url HMAC-SHA256 of the organization, day, seq and hash.
    pub signature: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
