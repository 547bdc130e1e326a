//! A website visitor's widget session: a bearer token, stored only as its SHA-256 hash, bound to one assistant.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "widget_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub assistant_id: String,
    pub visitor_id: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The website origin (`Origin` header) the session was started from.
    pub origin: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    /// When the token was last used, to the hour (it is not written on every request).
    pub last_seen_at: DateTimeUtc,
    /// Idle expiry: moves forward as the visitor comes back.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
