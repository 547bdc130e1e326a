//! An organization's connection to one vendor (at most one per provider): sealed credentials, refresh bookkeeping, settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    /// The provider's key (`hubspot`, `salesforce`, `zoho`).
    pub provider: String,
    /// pending | connected | reauthorization_required | error | disconnected
    pub status: String,
    /// The credentials as JSON, sealed under the master key; never returned.
    pub credentials: Option<String>,
    /// What identifies the vendor account, shown to the organization: the portal id, `instance_url`,
    /// `api_domain`, the data centre or login host chosen.
    pub account: Json,
    /// The category's typed settings, as JSON.
    pub settings: Json,
    pub token_expires_at: Option<DateTimeUtc>,
    /// While in the future, one instance is refreshing the access token.
    pub refresh_lease_until: Option<DateTimeUtc>,
    pub last_refreshed_at: Option<DateTimeUtc>,
    /// Refreshes that failed in a row.
    pub refresh_failures: i32,
    pub last_error: Option<String>,
    /// The member who connected it.
    pub connected_by: Option<String>,
    pub connected_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
