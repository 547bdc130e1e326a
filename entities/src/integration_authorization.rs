//! An OAuth grant under way for an integration: keyed by the hash of its `state`, bound to the member who started it, used once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub integration_id: String,
    pub organization_id: String,
    pub provider: String,
    /// The member who started it; only their session may finish it.
    pub user_id: String,
    /// The PKCE verifier, sealed under the master key.
    pub verifier: Option<String>,
    /// The path on this server the browser returns to.
    pub return_to: String,
    /// The account choices made when it started (login host, data centre).
    pub account: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
