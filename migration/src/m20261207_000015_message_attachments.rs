//! Message attachments: the screenshots visitors and members attach, their bytes in the object store.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum MessageAttachments {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    MessageId,
    UploadedBy,
    ContentType,
    ByteSize,
    Sha256,
    StorageKey,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Conversations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageAttachments::Table)
                    .col(string(MessageAttachments::Id).primary_key())
                    .col(string(MessageAttachments::OrganizationId))
                    .col(string(MessageAttachments::ConversationId))
                    .col(string_null(MessageAttachments::MessageId))
                    .col(string(MessageAttachments::UploadedBy))
                    .col(string(MessageAttachments::ContentType))
                    .col(big_integer(MessageAttachments::ByteSize))
                    .col(string(MessageAttachments::Sha256))
                    .col(string(MessageAttachments::StorageKey))
                    .col(timestamp_with_time_zone(MessageAttachments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                MessageAttachments::Table,
                                MessageAttachments::ConversationId,
                            )
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_message_attachments_message")
                    .table(MessageAttachments::Table)
                    .col(MessageAttachments::MessageId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_message_attachments_conversation")
                    .table(MessageAttachments::Table)
                    .col(MessageAttachments::ConversationId)
                    .col(MessageAttachments::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MessageAttachments::Table).to_owned())
            .await
    }
}
