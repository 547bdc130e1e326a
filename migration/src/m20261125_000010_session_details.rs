//! Session details: how the member signed in, through which SSO connection, the last use and the idle timeout.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Method,
    SsoConnectionId,
    LastSeenAt,
    IdleTimeoutSecs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            string(Sessions::Method).default("password").to_owned(),
            string_null(Sessions::SsoConnectionId),
            timestamp_with_time_zone_null(Sessions::LastSeenAt),
            big_integer_null(Sessions::IdleTimeoutSecs),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Sessions::Method,
            Sessions::SsoConnectionId,
            Sessions::LastSeenAt,
            Sessions::IdleTimeoutSecs,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
