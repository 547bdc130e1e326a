//! Integrations: each organization's connection to a vendor, OAuth grants under way, the jobs owed to each
//! connection with the vendor calls they made, and the links from local objects to their remote copies.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Integrations {
    Table,
    Id,
    OrganizationId,
    Provider,
    Status,
    Credentials,
    Account,
    Settings,
    TokenExpiresAt,
    RefreshLeaseUntil,
    LastRefreshedAt,
    RefreshFailures,
    LastError,
    ConnectedBy,
    ConnectedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationAuthorizations {
    Table,
    Id,
    IntegrationId,
    OrganizationId,
    Provider,
    UserId,
    Verifier,
    ReturnTo,
    Account,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationJobs {
    Table,
    Id,
    OrganizationId,
    IntegrationId,
    Kind,
    Trigger,
    EventId,
    Subject,
    ConversationId,
    VisitorId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    Created,
    Updated,
    Skipped,
    Failed,
    Outcome,
    ErrorClass,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationCalls {
    Table,
    Id,
    OrganizationId,
    IntegrationId,
    JobId,
    Method,
    Path,
    StatusCode,
    DurationMs,
    ErrorClass,
    Excerpt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IntegrationLinks {
    Table,
    IntegrationId,
    Object,
    LocalId,
    OrganizationId,
    RemoteId,
    PayloadHash,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Integrations::Table)
                    .col(string(Integrations::Id).primary_key())
                    .col(string(Integrations::OrganizationId))
                    .col(string(Integrations::Provider))
                    .col(string(Integrations::Status))
                    .col(text_null(Integrations::Credentials))
                    .col(json(Integrations::Account))
                    .col(json(Integrations::Settings))
                    .col(timestamp_with_time_zone_null(Integrations::TokenExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        Integrations::RefreshLeaseUntil,
                    ))
                    .col(timestamp_with_time_zone_null(Integrations::LastRefreshedAt))
                    .col(integer(Integrations::RefreshFailures).default(0))
                    .col(text_null(Integrations::LastError))
                    .col(string_null(Integrations::ConnectedBy))
                    .col(timestamp_with_time_zone_null(Integrations::ConnectedAt))
                    .col(timestamp_with_time_zone(Integrations::CreatedAt))
                    .col(timestamp_with_time_zone(Integrations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Integrations::Table, Integrations::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_integrations_provider")
                    .table(Integrations::Table)
                    .col(Integrations::OrganizationId)
                    .col(Integrations::Provider)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationAuthorizations::Table)
                    .col(string(IntegrationAuthorizations::Id).primary_key())
                    .col(string(IntegrationAuthorizations::IntegrationId))
                    .col(string(IntegrationAuthorizations::OrganizationId))
                    .col(string(IntegrationAuthorizations::Provider))
                    .col(string(IntegrationAuthorizations::UserId))
                    .col(text_null(IntegrationAuthorizations::Verifier))
                    .col(string(IntegrationAuthorizations::ReturnTo))
                    .col(json(IntegrationAuthorizations::Account))
                    .col(timestamp_with_time_zone(
                        IntegrationAuthorizations::CreatedAt,
                    ))
                    .col(timestamp_with_time_zone(
                        IntegrationAuthorizations::ExpiresAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                IntegrationAuthorizations::Table,
                                IntegrationAuthorizations::IntegrationId,
                            )
                            .to(Integrations::Table, Integrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationJobs::Table)
                    .col(string(IntegrationJobs::Id).primary_key())
                    .col(string(IntegrationJobs::OrganizationId))
                    .col(string(IntegrationJobs::IntegrationId))
                    .col(string(IntegrationJobs::Kind))
                    .col(string(IntegrationJobs::Trigger))
                    .col(string_null(IntegrationJobs::EventId))
                    .col(string(IntegrationJobs::Subject))
                    .col(string_null(IntegrationJobs::ConversationId))
                    .col(string_null(IntegrationJobs::VisitorId))
                    .col(string(IntegrationJobs::Status))
                    .col(integer(IntegrationJobs::Attempts))
                    .col(timestamp_with_time_zone(IntegrationJobs::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(IntegrationJobs::LeaseUntil))
                    .col(integer(IntegrationJobs::Created).default(0))
                    .col(integer(IntegrationJobs::Updated).default(0))
                    .col(integer(IntegrationJobs::Skipped).default(0))
                    .col(integer(IntegrationJobs::Failed).default(0))
                    .col(text_null(IntegrationJobs::Outcome))
                    .col(string_null(IntegrationJobs::ErrorClass))
                    .col(timestamp_with_time_zone(IntegrationJobs::CreatedAt))
                    .col(timestamp_with_time_zone(IntegrationJobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(IntegrationJobs::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IntegrationJobs::Table, IntegrationJobs::IntegrationId)
                            .to(Integrations::Table, Integrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_jobs_due")
                    .table(IntegrationJobs::Table)
                    .col(IntegrationJobs::Status)
                    .col(IntegrationJobs::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // An event owes each integration each kind of job once, however often it is enqueued.
        manager
            .create_index(
                Index::create()
                    .name("ux_integration_jobs_event")
                    .table(IntegrationJobs::Table)
                    .col(IntegrationJobs::IntegrationId)
                    .col(IntegrationJobs::EventId)
                    .col(IntegrationJobs::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_jobs_subject")
                    .table(IntegrationJobs::Table)
                    .col(IntegrationJobs::IntegrationId)
                    .col(IntegrationJobs::Subject)
                    .col(IntegrationJobs::Status)
                    .col(IntegrationJobs::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_jobs_integration")
                    .table(IntegrationJobs::Table)
                    .col(IntegrationJobs::IntegrationId)
                    .col(IntegrationJobs::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationCalls::Table)
                    .col(string(IntegrationCalls::Id).primary_key())
                    .col(string(IntegrationCalls::OrganizationId))
                    .col(string(IntegrationCalls::IntegrationId))
                    .col(string_null(IntegrationCalls::JobId))
                    .col(string(IntegrationCalls::Method))
                    .col(text(IntegrationCalls::Path))
                    .col(integer_null(IntegrationCalls::StatusCode))
                    .col(big_integer(IntegrationCalls::DurationMs))
                    .col(string_null(IntegrationCalls::ErrorClass))
                    .col(text_null(IntegrationCalls::Excerpt))
                    .col(timestamp_with_time_zone(IntegrationCalls::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IntegrationCalls::Table, IntegrationCalls::IntegrationId)
                            .to(Integrations::Table, Integrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_integration_calls_job")
                    .table(IntegrationCalls::Table)
                    .col(IntegrationCalls::JobId)
                    .col(IntegrationCalls::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IntegrationLinks::Table)
                    .col(string(IntegrationLinks::IntegrationId))
                    .col(string(IntegrationLinks::Object))
                    .col(string(IntegrationLinks::LocalId))
                    .col(string(IntegrationLinks::OrganizationId))
                    .col(string(IntegrationLinks::RemoteId))
                    .col(string_null(IntegrationLinks::PayloadHash))
                    .col(timestamp_with_time_zone(IntegrationLinks::CreatedAt))
                    .col(timestamp_with_time_zone(IntegrationLinks::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(IntegrationLinks::IntegrationId)
                            .col(IntegrationLinks::Object)
                            .col(IntegrationLinks::LocalId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IntegrationLinks::Table, IntegrationLinks::IntegrationId)
                            .to(Integrations::Table, Integrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IntegrationLinks::Table.into_iden(),
            IntegrationCalls::Table.into_iden(),
            IntegrationJobs::Table.into_iden(),
            IntegrationAuthorizations::Table.into_iden(),
            Integrations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
