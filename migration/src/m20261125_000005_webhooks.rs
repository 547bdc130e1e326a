//! Webhook endpoints, with their signing secrets sealed under the master key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Webhooks {
    Table,
    Id,
    OrganizationId,
    Url,
    Events,
    Description,
    Active,
    SecretSealed,
    PreviousSecretSealed,
    PreviousExpiresAt,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(string(Webhooks::Id).primary_key())
                    .col(string(Webhooks::OrganizationId))
                    .col(string(Webhooks::Url))
                    .col(json(Webhooks::Events))
                    .col(string_null(Webhooks::Description))
                    .col(boolean(Webhooks::Active))
                    .col(string(Webhooks::SecretSealed))
                    .col(string_null(Webhooks::PreviousSecretSealed))
                    .col(timestamp_with_time_zone_null(Webhooks::PreviousExpiresAt))
                    .col(string_null(Webhooks::DisabledReason))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhooks_organization")
                    .table(Webhooks::Table)
                    .col(Webhooks::OrganizationId)
                    .col(Webhooks::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}
