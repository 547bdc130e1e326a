//! The audit log's head kept outside the log: each organization's newest entry (seq and hash) in `audit_heads`, and each day's checkpoint of it, signed with a key derived from the master key.
//!
//! Deleting the newest entries of a hash chain leaves a shorter chain that is still intact; the head (written in
//! the transaction of each entry) and the signed checkpoints (which the database alone cannot forge) are what
//! `concierge audit verify` compares the chain's end with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    OrganizationId,
    Seq,
    Hash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Id,
    OrganizationId,
    Day,
    Seq,
    Hash,
    Signature,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditHeads::Table)
                    .col(string(AuditHeads::OrganizationId).primary_key())
                    .col(big_integer(AuditHeads::Seq))
                    .col(string(AuditHeads::Hash))
                    .col(timestamp_with_time_zone(AuditHeads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditHeads::Table, AuditHeads::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The head of every chain written so far.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO audit_heads (organization_id, seq, hash, updated_at) \
                 SELECT a.organization_id, a.seq, a.hash, a.created_at FROM audit_log a \
                 WHERE a.seq = (SELECT MAX(b.seq) FROM audit_log b WHERE b.organization_id = a.organization_id)",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(string(AuditCheckpoints::Id).primary_key())
                    .col(string(AuditCheckpoints::OrganizationId))
                    .col(string(AuditCheckpoints::Day))
                    .col(big_integer(AuditCheckpoints::Seq))
                    .col(string(AuditCheckpoints::Hash))
                    .col(string(AuditCheckpoints::Signature))
                    .col(timestamp_with_time_zone(AuditCheckpoints::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditCheckpoints::Table, AuditCheckpoints::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_checkpoints_day")
                    .table(AuditCheckpoints::Table)
                    .col(AuditCheckpoints::OrganizationId)
                    .col(AuditCheckpoints::Day)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditCheckpoints::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditHeads::Table).to_owned())
            .await?;
        Ok(())
    }
}
