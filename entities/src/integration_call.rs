//! One call to a vendor's API made for an integration: what was asked, what came back, how long it took.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub integration_id: String,
    /// The job it was made for; null for calls made while connecting or refreshing.
    pub job_id: Option<String>,
    pub method: String,
    /// The path and query, without credentials.
    pub path: String,
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error_class: Option<String>,
    /// The start of the vendor's answer.
    pub excerpt: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
