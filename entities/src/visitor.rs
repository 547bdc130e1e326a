//! A website visitor who talks to an assistant.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "visitors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organization_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Whether the visitor agreed to marketing email (the widget's checkbox, or the visitor API): only then is
    /// the visitor ever added to a mailing list.
    pub marketing_consent: bool,
    /// When the consent was last given or withdrawn.
    pub marketing_consent_at: Option<DateTimeUtc>,
    /// When the visitor unsubscribed from the organization's emails (transcripts, follow-ups, surveys).
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
