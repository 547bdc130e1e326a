//! Assistants on the default confidence threshold moved to the one the multi-view entry vectors were calibrated for.

use sea_orm_migration::prelude::*;

use crate::thresholds::move_threshold;

/// The default while an entry's vector was its whole text's alone.
const OLD_DEFAULT: f64 = 0.75;
/// The default once an entry's vector also holds its title and tags (`ranking::ENTRY_VIEWS`): on the FAQ set,
/// cross-validated, the lowest threshold with at most 4.5 % of the questions answered wrongly.
const NEW_DEFAULT: f64 = 0.8;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // As in m20261209_000018: the old default meant "the default"; a threshold someone chose is kept.
        move_threshold(manager, OLD_DEFAULT, NEW_DEFAULT).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        move_threshold(manager, NEW_DEFAULT, OLD_DEFAULT).await
    }
}
