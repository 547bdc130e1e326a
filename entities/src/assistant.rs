//! An assistant: what a website embeds, with its widget settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assistants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub name: String,
    /// The widget settings, as the service's typed struct serialized.
    pub widget: Json,
    /// The assistant engine's settings (thresholds, handoff, intents, AI provider), as the service's typed struct
    /// serialized; `NULL` means the defaults.
    pub engine: Option<Json>,
    /// The AI provider's API key, sealed under the master key.
    pub provider_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
