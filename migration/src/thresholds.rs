//! Moving assistants that kept the default confidence threshold to a new default.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, JsonValue};

#[derive(DeriveIden, Clone, Copy)]
enum Assistants {
    Table,
    Id,
    Engine,
}

/// Rewrites the `confidence_threshold` of every assistant's stored engine settings that holds `from` to `to`.
pub(crate) async fn move_threshold(
    manager: &SchemaManager<'_>,
    from: f64,
    to: f64,
) -> Result<(), DbErr> {
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
