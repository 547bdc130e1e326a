//! An SSO connection of an organization: an identity provider, how its attributes map to members and roles.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// `saml`, `oidc` or `oauth2`.
    pub protocol: String,
    pub enabled: bool,
    /// The protocol's settings (issuer, client id, URLs…), as the service's typed struct serialized.
    pub settings: Json,
    /// The client secret, sealed under the master key.
    pub secret_sealed: Option<String>,
    /// Which claim or attribute holds the email, the name and the groups.
    pub attributes: Json,
    /// Ordered role-mapping rules.
    pub role_rules: Json,
    /// The role when no rule matches (unless `deny_unmatched`).
    pub default_role: String,
    /// Refuse sign-in when no rule matches.
    pub deny_unmatched: bool,
    /// Create members at their first sign-in.
    pub jit_provisioning: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
