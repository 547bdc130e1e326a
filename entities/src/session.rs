//! A member's signed-in session: a bearer token stored only as its SHA-256 hash.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// How the member signed in: `password`, `saml`, `oidc` or `oauth2`.
    pub method: String,
    /// The SSO connection of an SSO sign-in.
    pub sso_connection_id: Option<String>,
    /// The last request made with the session, to the minute (idle expiry counts from it).
    pub last_seen_at: Option<DateTimeUtc>,
    /// Seconds without a request after which the session ends (set at sign-in; `NULL`: no idle expiry).
    pub idle_timeout_secs: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
