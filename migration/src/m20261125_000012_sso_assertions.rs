//! SAML assertion ids already used, kept until they expire so that a replayed response is refused on every
//! instance.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SsoAssertions {
    Table,
    Id,
    ConnectionId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SsoAssertions::Table)
                    .col(string(SsoAssertions::Id).primary_key())
                    .col(string(SsoAssertions::ConnectionId))
                    .col(timestamp_with_time_zone(SsoAssertions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sso_assertions_expires")
                    .table(SsoAssertions::Table)
                    .col(SsoAssertions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SsoAssertions::Table).to_owned())
            .await
    }
}
