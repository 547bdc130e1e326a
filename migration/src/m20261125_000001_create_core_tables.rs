//! The core tables: organizations, users, API keys, assistants, visitors, conversations, messages, knowledge base and events.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
    Name,
    Plan,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    OrganizationId,
    Email,
    Name,
    Role,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    OrganizationId,
    Name,
    Prefix,
    SecretHash,
    Role,
    CreatedBy,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Assistants {
    Table,
    Id,
    OrganizationId,
    Name,
    Widget,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Visitors {
    Table,
    Id,
    OrganizationId,
    Name,
    Email,
    Phone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Conversations {
    Table,
    Id,
    OrganizationId,
    AssistantId,
    VisitorId,
    Status,
    Subject,
    SourceUrl,
    PageContext,
    PageTitle,
    Browser,
    Device,
    Sentiment,
    EventSeq,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    Author,
    Body,
    SourceEntryId,
    Confidence,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeBaseEntries {
    Table,
    Id,
    OrganizationId,
    Title,
    Body,
    Category,
    Tags,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Id,
    OrganizationId,
    Event,
    ConversationId,
    Sequence,
    Data,
    CreatedAt,
}

/// The foreign key from `table.organization_id` to the organization, deleted with it.
fn org_fk<T: Iden + Clone + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index<T: Iden + Clone + 'static>(name: &str, table: T, columns: Vec<T>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(string(Organizations::Id).primary_key())
                    .col(string(Organizations::Name))
                    .col(string(Organizations::Plan))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string(Users::OrganizationId))
                    .col(string(Users::Email))
                    .col(string_null(Users::Name))
                    .col(string(Users::Role))
                    .col(boolean(Users::Active))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(&mut org_fk(Users::Table, Users::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_users_org_email",
                    Users::Table,
                    vec![Users::OrganizationId, Users::Email],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::OrganizationId))
                    .col(string(ApiKeys::Name))
                    .col(string(ApiKeys::Prefix))
                    .col(string(ApiKeys::SecretHash).unique_key())
                    .col(string(ApiKeys::Role))
                    .col(string_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .foreign_key(&mut org_fk(ApiKeys::Table, ApiKeys::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_api_keys_org",
                ApiKeys::Table,
                vec![ApiKeys::OrganizationId, ApiKeys::Id],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assistants::Table)
                    .col(string(Assistants::Id).primary_key())
                    .col(string(Assistants::OrganizationId))
                    .col(string(Assistants::Name))
                    .col(json(Assistants::Widget))
                    .col(timestamp_with_time_zone(Assistants::CreatedAt))
                    .col(timestamp_with_time_zone(Assistants::UpdatedAt))
                    .foreign_key(&mut org_fk(Assistants::Table, Assistants::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_assistants_org",
                Assistants::Table,
                vec![Assistants::OrganizationId, Assistants::Id],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Visitors::Table)
                    .col(string(Visitors::Id).primary_key())
                    .col(string(Visitors::OrganizationId))
                    .col(string_null(Visitors::Name))
                    .col(string_null(Visitors::Email))
                    .col(string_null(Visitors::Phone))
                    .col(timestamp_with_time_zone(Visitors::CreatedAt))
                    .col(timestamp_with_time_zone(Visitors::UpdatedAt))
                    .foreign_key(&mut org_fk(Visitors::Table, Visitors::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_visitors_org",
                Visitors::Table,
                vec![Visitors::OrganizationId, Visitors::Id],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(string(Conversations::Id).primary_key())
                    .col(string(Conversations::OrganizationId))
                    .col(string(Conversations::AssistantId))
                    .col(string(Conversations::VisitorId))
                    .col(string(Conversations::Status))
                    .col(string_null(Conversations::Subject))
                    .col(text_null(Conversations::SourceUrl))
                    .col(text_null(Conversations::PageContext))
                    .col(text_null(Conversations::PageTitle))
                    .col(string_null(Conversations::Browser))
                    .col(string_null(Conversations::Device))
                    .col(double_null(Conversations::Sentiment))
                    .col(big_integer(Conversations::EventSeq).default(0))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        Conversations::Table,
                        Conversations::OrganizationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::AssistantId)
                            .to(Assistants::Table, Assistants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::VisitorId)
                            .to(Visitors::Table, Visitors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_conversations_org",
                Conversations::Table,
                vec![Conversations::OrganizationId, Conversations::Id],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_conversations_org_status",
                Conversations::Table,
                vec![
                    Conversations::OrganizationId,
                    Conversations::Status,
                    Conversations::Id,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_conversations_visitor",
                Conversations::Table,
                vec![Conversations::VisitorId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(string(Messages::Id).primary_key())
                    .col(string(Messages::OrganizationId))
                    .col(string(Messages::ConversationId))
                    .col(string(Messages::Author))
                    .col(text(Messages::Body))
                    .col(string_null(Messages::SourceEntryId))
                    .col(double_null(Messages::Confidence))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .foreign_key(&mut org_fk(Messages::Table, Messages::OrganizationId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_messages_conversation",
                Messages::Table,
                vec![Messages::ConversationId, Messages::Id],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_messages_org_conversation",
                Messages::Table,
                vec![
                    Messages::OrganizationId,
                    Messages::ConversationId,
                    Messages::Id,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnowledgeBaseEntries::Table)
                    .col(string(KnowledgeBaseEntries::Id).primary_key())
                    .col(string(KnowledgeBaseEntries::OrganizationId))
                    .col(string(KnowledgeBaseEntries::Title))
                    .col(text(KnowledgeBaseEntries::Body))
                    .col(string_null(KnowledgeBaseEntries::Category))
                    .col(json(KnowledgeBaseEntries::Tags))
                    .col(boolean(KnowledgeBaseEntries::Active))
                    .col(timestamp_with_time_zone(KnowledgeBaseEntries::CreatedAt))
                    .col(timestamp_with_time_zone(KnowledgeBaseEntries::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        KnowledgeBaseEntries::Table,
                        KnowledgeBaseEntries::OrganizationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_kb_org",
                KnowledgeBaseEntries::Table,
                vec![
                    KnowledgeBaseEntries::OrganizationId,
                    KnowledgeBaseEntries::Id,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(string(Events::Id).primary_key())
                    .col(string(Events::OrganizationId))
                    .col(string(Events::Event))
                    .col(string_null(Events::ConversationId))
                    .col(big_integer(Events::Sequence))
                    .col(json(Events::Data))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .foreign_key(&mut org_fk(Events::Table, Events::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_events_org",
                Events::Table,
                vec![Events::OrganizationId, Events::Id],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_events_conversation",
                Events::Table,
                vec![Events::ConversationId, Events::Sequence],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Events::Table.into_iden(),
            KnowledgeBaseEntries::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
            Visitors::Table.into_iden(),
            Assistants::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
