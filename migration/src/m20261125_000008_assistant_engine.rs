//! The assistant engine's state: per-message sentiment, intent and reply provenance, conversation counters,
//! assistant engine settings, feedback, knowledge-base queries and monthly AI token usage.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Assistants {
    Table,
    Engine,
    ProviderKey,
}

#[derive(DeriveIden, Clone, Copy)]
enum Conversations {
    Table,
    OrganizationId,
    CreatedAt,
    FailedResponses,
    FailedTotal,
    SentimentSum,
    SentimentCount,
    FirstResponseAt,
    HandedOffAt,
    HandoffReason,
    ResolvedAt,
    HumanInvolved,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Sentiment,
    Intent,
    ReplyToId,
    ReplySource,
    FallbackReason,
    Citations,
}

#[derive(DeriveIden, Clone, Copy)]
enum Feedback {
    Table,
    Id,
    OrganizationId,
    AssistantId,
    ConversationId,
    MessageId,
    EntryId,
    TargetId,
    Helpful,
    Rating,
    Comment,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeBaseQueries {
    Table,
    Id,
    OrganizationId,
    AssistantId,
    ConversationId,
    MessageId,
    Query,
    Normalized,
    BestEntryId,
    Confidence,
    Failed,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiUsage {
    Table,
    OrganizationId,
    Month,
    PromptTokens,
    CompletionTokens,
    Requests,
}

fn index<T: Iden + Clone + 'static>(name: &str, table: T, columns: Vec<T>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

/// SQLite alters one column per statement.
async fn add_columns<T: Iden + Clone + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Assistants::Table,
            vec![
                json_null(Assistants::Engine),
                text_null(Assistants::ProviderKey),
            ],
        )
        .await?;
        add_columns(
            manager,
            Conversations::Table,
            vec![
                integer(Conversations::FailedResponses)
                    .default(0)
                    .to_owned(),
                integer(Conversations::FailedTotal).default(0).to_owned(),
                double(Conversations::SentimentSum).default(0.0).to_owned(),
                integer(Conversations::SentimentCount).default(0).to_owned(),
                timestamp_with_time_zone_null(Conversations::FirstResponseAt),
                timestamp_with_time_zone_null(Conversations::HandedOffAt),
                string_null(Conversations::HandoffReason),
                timestamp_with_time_zone_null(Conversations::ResolvedAt),
                boolean(Conversations::HumanInvolved)
                    .default(false)
                    .to_owned(),
            ],
        )
        .await?;
        add_columns(
            manager,
            Messages::Table,
            vec![
                double_null(Messages::Sentiment),
                string_null(Messages::Intent),
                string_null(Messages::ReplyToId),
                string_null(Messages::ReplySource),
                string_null(Messages::FallbackReason),
                json_null(Messages::Citations),
            ],
        )
        .await?;
        manager
            .create_index(index(
                "ix_conversations_org_created",
                Conversations::Table,
                vec![Conversations::OrganizationId, Conversations::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_messages_reply_to",
                Messages::Table,
                vec![Messages::ReplyToId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Feedback::Table)
                    .col(string(Feedback::Id).primary_key())
                    .col(string(Feedback::OrganizationId))
                    .col(string(Feedback::AssistantId))
                    .col(string(Feedback::ConversationId))
                    .col(string_null(Feedback::MessageId))
                    .col(string_null(Feedback::EntryId))
                    .col(string(Feedback::TargetId))
                    .col(boolean_null(Feedback::Helpful))
                    .col(integer_null(Feedback::Rating))
                    .col(text_null(Feedback::Comment))
                    .col(timestamp_with_time_zone(Feedback::CreatedAt))
                    .col(timestamp_with_time_zone(Feedback::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_feedback_target",
                    Feedback::Table,
                    vec![Feedback::OrganizationId, Feedback::TargetId],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_feedback_org_created",
                Feedback::Table,
                vec![Feedback::OrganizationId, Feedback::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_feedback_org_entry",
                Feedback::Table,
                vec![Feedback::OrganizationId, Feedback::EntryId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnowledgeBaseQueries::Table)
                    .col(string(KnowledgeBaseQueries::Id).primary_key())
                    .col(string(KnowledgeBaseQueries::OrganizationId))
                    .col(string(KnowledgeBaseQueries::AssistantId))
                    .col(string(KnowledgeBaseQueries::ConversationId))
                    .col(string(KnowledgeBaseQueries::MessageId))
                    .col(text(KnowledgeBaseQueries::Query))
                    .col(string(KnowledgeBaseQueries::Normalized))
                    .col(string_null(KnowledgeBaseQueries::BestEntryId))
                    .col(double(KnowledgeBaseQueries::Confidence))
                    .col(boolean(KnowledgeBaseQueries::Failed))
                    .col(timestamp_with_time_zone(KnowledgeBaseQueries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_kb_queries_org_created",
                KnowledgeBaseQueries::Table,
                vec![
                    KnowledgeBaseQueries::OrganizationId,
                    KnowledgeBaseQueries::CreatedAt,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_kb_queries_org_entry",
                KnowledgeBaseQueries::Table,
                vec![
                    KnowledgeBaseQueries::OrganizationId,
                    KnowledgeBaseQueries::BestEntryId,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AiUsage::Table)
                    .col(string(AiUsage::OrganizationId))
                    .col(string(AiUsage::Month))
                    .col(big_integer(AiUsage::PromptTokens).default(0))
                    .col(big_integer(AiUsage::CompletionTokens).default(0))
                    .col(big_integer(AiUsage::Requests).default(0))
                    .primary_key(
                        Index::create()
                            .col(AiUsage::OrganizationId)
                            .col(AiUsage::Month),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AiUsage::Table.into_iden(),
            KnowledgeBaseQueries::Table.into_iden(),
            Feedback::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for (name, table) in [
            ("ix_messages_reply_to", Messages::Table.into_iden()),
            (
                "ix_conversations_org_created",
                Conversations::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        let columns = [
            (
                Assistants::Table.into_iden(),
                vec![
                    Assistants::Engine.into_iden(),
                    Assistants::ProviderKey.into_iden(),
                ],
            ),
            (
                Conversations::Table.into_iden(),
                [
                    Conversations::FailedResponses,
                    Conversations::FailedTotal,
                    Conversations::SentimentSum,
                    Conversations::SentimentCount,
                    Conversations::FirstResponseAt,
                    Conversations::HandedOffAt,
                    Conversations::HandoffReason,
                    Conversations::ResolvedAt,
                    Conversations::HumanInvolved,
                ]
                .into_iter()
                .map(IntoIden::into_iden)
                .collect(),
            ),
            (
                Messages::Table.into_iden(),
                [
                    Messages::Sentiment,
                    Messages::Intent,
                    Messages::ReplyToId,
                    Messages::ReplySource,
                    Messages::FallbackReason,
                    Messages::Citations,
                ]
                .into_iter()
                .map(IntoIden::into_iden)
                .collect(),
            ),
        ];
        for (table, names) in columns {
            for column in names {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .drop_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
