//! A local object's copy at a vendor, per connection: a retry finds it instead of creating a second one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration_id: String,
    /// contact | case
    #[sea_orm(primary_key, auto_increment = false)]
    pub object: String,
    /// The visitor or conversation id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub local_id: String,
    pub organization_id: String,
    pub remote_id: String,
    /// A hash of what was last sent, so an unchanged object is not sent again.
    pub payload_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
