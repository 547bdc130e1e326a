//! The audit log's head kept outside the log: each organization's newest entry (seq and hash) in its row, and each day's checkpoint of it, signed with a key derived from the master key.
//!
//! Deleting the newest entries of a hash chain leaves a shorter chain that is still intact; the head in the
//! organization row (written in the transaction of each entry) and the signed checkpoints (which the database
//! alone cannot forge) are what `concierge audit verify` compares the chain's end with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    AuditHeadSeq,
    AuditHeadHash,
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
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(
                        ColumnDef::new(Organizations::AuditHeadSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(ColumnDef::new(Organizations::AuditHeadHash).string().null())
                    .to_owned(),
            )
            .await?;
        // The head of every chain written so far.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE organizations SET \
                 audit_head_seq = COALESCE((SELECT MAX(a.seq) FROM audit_log a WHERE a.organization_id = organizations.id), 0), \
                 audit_head_hash = (SELECT a.hash FROM audit_log a WHERE a.organization_id = organizations.id \
                   ORDER BY a.seq DESC LIMIT 1)",
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
        for column in [Organizations::AuditHeadHash, Organizations::AuditHeadSeq] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
