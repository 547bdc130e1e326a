//! An organization (tenant): every other row belongs to exactly one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// basic | standard | premium
    pub plan: String,
    /// Members sign in only through SSO (API keys keep working).
    pub sso_enforced: bool,
    /// The newest audit log entry's position (0 before the first), written with each entry: deleting the
    /// newest entries leaves the chain shorter than this.
    pub audit_head_seq: i64,
    /// The newest audit log entry's hash.
    pub audit_head_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
