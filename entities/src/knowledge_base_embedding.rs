//! A knowledge-base entry's sentence vector under one embedding model.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_base_embeddings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    /// The model's name and output digest (`all-MiniLM-L6-v2:3f…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub model: String,
    pub organization_id: String,
    /// Digest of the text the vector was computed from: a different one means the entry changed since.
    pub digest: String,
    /// The scale (f32, little-endian) and then the int8 components.
    pub vector: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
