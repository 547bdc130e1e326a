//! An image a visitor or a member attached to a message (a screenshot): its bytes live in the object store under
//! `storage_key`; the row says what they are, checked by their first bytes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub conversation_id: String,
    /// Null until a message claims the upload.
    pub message_id: Option<String>,
    /// visitor | agent | system: who uploaded it.
    pub uploaded_by: String,
    /// image/png | image/jpeg | image/webp, read from the bytes.
    pub content_type: String,
    pub byte_size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where the bytes are in the object store.
    pub storage_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
