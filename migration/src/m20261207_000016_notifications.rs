//! Email: what an email job sends (sealed, as it names recipients and may carry an invitation link), and the
//! organization's notification rules (which events email whom).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationJobs {
    Table,
    Payload,
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationRules {
    Table,
    Id,
    OrganizationId,
    Name,
    Events,
    Recipients,
    Addresses,
    AssistantId,
    PagePath,
    Intent,
    WindowMinutes,
    Enabled,
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
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationJobs::Table)
                    .add_column(text_null(IntegrationJobs::Payload))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationRules::Table)
                    .col(string(NotificationRules::Id).primary_key())
                    .col(string(NotificationRules::OrganizationId))
                    .col(string(NotificationRules::Name))
                    .col(json(NotificationRules::Events))
                    .col(string(NotificationRules::Recipients))
                    .col(json(NotificationRules::Addresses))
                    .col(string_null(NotificationRules::AssistantId))
                    .col(string_null(NotificationRules::PagePath))
                    .col(string_null(NotificationRules::Intent))
                    .col(integer(NotificationRules::WindowMinutes))
                    .col(boolean(NotificationRules::Enabled))
                    .col(timestamp_with_time_zone(NotificationRules::CreatedAt))
                    .col(timestamp_with_time_zone(NotificationRules::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationRules::Table, NotificationRules::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notification_rules_organization")
                    .table(NotificationRules::Table)
                    .col(NotificationRules::OrganizationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NotificationRules::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IntegrationJobs::Table)
                    .drop_column(IntegrationJobs::Payload)
                    .to_owned(),
            )
            .await
    }
}
