//! One Casbin policy line (`ptype, v0..v5`): role permissions, plan features and role assignments.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authz_policies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `p` (permission), `g` (subject → role in an organization) or `g2` (organization → plan → feature).
    pub ptype: String,
    pub v0: String,
    pub v1: String,
    pub v2: String,
    pub v3: String,
    pub v4: String,
    pub v5: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
