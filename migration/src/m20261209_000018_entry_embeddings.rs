//! Knowledge-base entries' sentence vectors, one per entry and model, so no instance computes one twice; and
//! assistants on the old default confidence threshold moved to the calibrated one.

use sea_orm_migration::{prelude::*, schema::*};

use crate::thresholds::move_threshold;

/// The threshold every assistant started with while the confidence was a lexical score.
const OLD_DEFAULT: f64 = 0.35;
/// The default once the confidence became a calibrated probability that the best entry is right.
const NEW_DEFAULT: f64 = 0.75;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeBaseEmbeddings {
    Table,
    EntryId,
    Model,
    OrganizationId,
    Digest,
    Vector,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeBaseEntries {
    Table,
    Id,
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
            .create_table(
                Table::create()
                    .table(KnowledgeBaseEmbeddings::Table)
                    .col(string(KnowledgeBaseEmbeddings::EntryId))
                    .col(string(KnowledgeBaseEmbeddings::Model))
                    .col(string(KnowledgeBaseEmbeddings::OrganizationId))
                    .col(string(KnowledgeBaseEmbeddings::Digest))
                    .col(blob(KnowledgeBaseEmbeddings::Vector))
                    .col(timestamp_with_time_zone(KnowledgeBaseEmbeddings::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(KnowledgeBaseEmbeddings::EntryId)
                            .col(KnowledgeBaseEmbeddings::Model),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                KnowledgeBaseEmbeddings::Table,
                                KnowledgeBaseEmbeddings::EntryId,
                            )
                            .to(KnowledgeBaseEntries::Table, KnowledgeBaseEntries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                KnowledgeBaseEmbeddings::Table,
                                KnowledgeBaseEmbeddings::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_knowledge_base_embeddings_organization_model")
                    .table(KnowledgeBaseEmbeddings::Table)
                    .col(KnowledgeBaseEmbeddings::OrganizationId)
                    .col(KnowledgeBaseEmbeddings::Model)
                    .to_owned(),
            )
            .await?;
        // An assistant that kept the old default meant "the default": it gets the new one. A threshold someone
        // chose is kept (CHANGELOG.md says what it now means).
        move_threshold(manager, OLD_DEFAULT, NEW_DEFAULT).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        move_threshold(manager, NEW_DEFAULT, OLD_DEFAULT).await?;
        manager
            .drop_table(
                Table::drop()
                    .table(KnowledgeBaseEmbeddings::Table)
                    .to_owned(),
            )
            .await
    }
}
