//! Knowledge-base entries' sentence vectors, one per entry and model, so no instance computes one twice; and
//! assistants on the old default confidence threshold moved to the calibrated one.

use sea_orm_migration::sea_orm::{ConnectionTrait, JsonValue};
use sea_orm_migration::{prelude::*, schema::*};

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

#[derive(DeriveIden, Clone, Copy)]
enum Assistants {
    Table,
    Id,
    Engine,
}

/// Rewrites the `confidence_threshold` of every assistant's stored engine settings that holds `from` to `to`.
async fn move_threshold(manager: &SchemaManager<'_>, from: f64, to: f64) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            Query::select()
                .columns([Assistants::Id, Assistants::Engine])
                .from(Assistants::Table)
                .and_where(Expr::col(Assistants::Engine).is_not_null()),
        )
        .await?;
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let Some(mut engine) = row.try_get::<Option<JsonValue>>("", "engine")? else {
            continue;
        };
        let on_old = engine
            .get("confidence_threshold")
            .and_then(JsonValue::as_f64)
            .is_some_and(|t| (t - from).abs() < 1e-9);
        if !on_old {
            continue;
        }
        engine["confidence_threshold"] = JsonValue::from(to);
        db.execute(
            Query::update()
                .table(Assistants::Table)
                .value(Assistants::Engine, engine)
                .and_where(Expr::col(Assistants::Id).eq(id)),
        )
        .await?;
    }
    Ok(())
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
