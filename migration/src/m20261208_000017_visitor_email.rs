//! Email to visitors: their marketing consent and unsubscription, and the organization's template overrides.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Visitors {
    Table,
    MarketingConsent,
    MarketingConsentAt,
    UnsubscribedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailTemplates {
    Table,
    Id,
    OrganizationId,
    Kind,
    Enabled,
    Subject,
    Text,
    Html,
    SendgridTemplateId,
    DelayHours,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Visitors::Table)
                    .add_column(boolean(Visitors::MarketingConsent).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Visitors::Table)
                    .add_column(timestamp_with_time_zone_null(Visitors::MarketingConsentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Visitors::Table)
                    .add_column(timestamp_with_time_zone_null(Visitors::UnsubscribedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTemplates::Table)
                    .col(string(EmailTemplates::Id).primary_key())
                    .col(string(EmailTemplates::OrganizationId))
                    .col(string(EmailTemplates::Kind))
                    .col(boolean(EmailTemplates::Enabled))
                    .col(text_null(EmailTemplates::Subject))
                    .col(text_null(EmailTemplates::Text))
                    .col(text_null(EmailTemplates::Html))
                    .col(string_null(EmailTemplates::SendgridTemplateId))
                    .col(integer_null(EmailTemplates::DelayHours))
                    .col(timestamp_with_time_zone(EmailTemplates::CreatedAt))
                    .col(timestamp_with_time_zone(EmailTemplates::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailTemplates::Table, EmailTemplates::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_email_templates_organization_kind")
                    .table(EmailTemplates::Table)
                    .col(EmailTemplates::OrganizationId)
                    .col(EmailTemplates::Kind)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailTemplates::Table).to_owned())
            .await?;
        for column in [
            Visitors::UnsubscribedAt,
            Visitors::MarketingConsentAt,
            Visitors::MarketingConsent,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Visitors::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
