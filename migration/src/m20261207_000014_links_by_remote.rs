//! Links found by their remote copy: a help desk's notice names its ticket, and the conversation is the one
//! whose link points at it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationLinks {
    Table,
    IntegrationId,
    Object,
    RemoteId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_links_remote")
                    .table(IntegrationLinks::Table)
                    .col(IntegrationLinks::IntegrationId)
                    .col(IntegrationLinks::Object)
                    .col(IntegrationLinks::RemoteId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_integration_links_remote")
                    .table(IntegrationLinks::Table)
                    .to_owned(),
            )
            .await
    }
}
