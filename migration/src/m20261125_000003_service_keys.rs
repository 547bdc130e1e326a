//! Service keys: scopes, allowed networks, rotation with a grace period, request counts and daily usage.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    Scopes,
    AllowedCidrs,
    RequestCount,
    PreviousSecretHash,
    PreviousExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeyUsage {
    Table,
    ApiKeyId,
    Day,
    OrganizationId,
    Requests,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            json_null(ApiKeys::Scopes),
            json_null(ApiKeys::AllowedCidrs),
            big_integer(ApiKeys::RequestCount).default(0).to_owned(),
            string_null(ApiKeys::PreviousSecretHash),
            timestamp_with_time_zone_null(ApiKeys::PreviousExpiresAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_previous_secret_hash")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::PreviousSecretHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeyUsage::Table)
                    .col(string(ApiKeyUsage::ApiKeyId))
                    .col(string(ApiKeyUsage::Day))
                    .col(string(ApiKeyUsage::OrganizationId))
                    .col(big_integer(ApiKeyUsage::Requests))
                    .primary_key(
                        Index::create()
                            .col(ApiKeyUsage::ApiKeyId)
                            .col(ApiKeyUsage::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeyUsage::Table, ApiKeyUsage::ApiKeyId)
                            .to(ApiKeys::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeyUsage::Table).to_owned())
            .await?;
        for column in [
            ApiKeys::Scopes,
            ApiKeys::AllowedCidrs,
            ApiKeys::RequestCount,
            ApiKeys::PreviousSecretHash,
            ApiKeys::PreviousExpiresAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
