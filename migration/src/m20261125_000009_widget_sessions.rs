//! Widget sessions: the bearer tokens that website visitors hold in the embed widget, stored only as hashes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum WidgetSessions {
    Table,
    Id,
    OrganizationId,
    AssistantId,
    VisitorId,
    TokenHash,
    Origin,
    Ip,
    UserAgent,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Visitors {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Assistants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WidgetSessions::Table)
                    .col(string(WidgetSessions::Id).primary_key())
                    .col(string(WidgetSessions::OrganizationId))
                    .col(string(WidgetSessions::AssistantId))
                    .col(string(WidgetSessions::VisitorId))
                    .col(string(WidgetSessions::TokenHash).unique_key())
                    .col(string_null(WidgetSessions::Origin))
                    .col(string_null(WidgetSessions::Ip))
                    .col(string_null(WidgetSessions::UserAgent))
                    .col(timestamp_with_time_zone(WidgetSessions::CreatedAt))
                    .col(timestamp_with_time_zone(WidgetSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(WidgetSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WidgetSessions::Table, WidgetSessions::VisitorId)
                            .to(Visitors::Table, Visitors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WidgetSessions::Table, WidgetSessions::AssistantId)
                            .to(Assistants::Table, Assistants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_widget_sessions_visitor")
                    .table(WidgetSessions::Table)
                    .col(WidgetSessions::VisitorId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_widget_sessions_expires")
                    .table(WidgetSessions::Table)
                    .col(WidgetSessions::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WidgetSessions::Table).to_owned())
            .await
    }
}
