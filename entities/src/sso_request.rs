//! An SSO sign-in under way: keyed by the hash of its state (or SAML request id), used once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub connection_id: String,
    pub organization_id: String,
    pub nonce: Option<String>,
    /// The PKCE verifier, sealed under the master key.
    pub verifier: Option<String>,
    /// The same-origin path to return to after sign-in.
    pub return_to: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
