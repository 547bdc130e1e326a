//! Hourly analytics rollups, and the hours whose rollup is stale: triggers mark an hour stale in the transaction of every change to the rows analytics counts.
//!
//! `analytics_stale` holds one row per change (the organization and the `created_at` of the row whose hour it
//! changes: a conversation's, its messages' conversation's, a knowledge-base query's, a rating's). The server
//! recomputes the hour's `analytics_rollups` rows and deletes its marks in one transaction; a reader takes the
//! rollup of an hour only when no mark of it is left, and reads the rows themselves otherwise. Triggers rather
//! than application code, so that no write (an import, a fix by hand, a future code path) can leave a rollup
//! wrong.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The conversation columns the figures read; an update that changes none of them leaves its hour as it was.
const CONVERSATION_COLUMNS: [&str; 7] = [
    "status",
    "sentiment",
    "first_response_at",
    "handed_off_at",
    "human_involved",
    "assistant_id",
    "created_at",
];

/// Tables whose own `created_at` is the hour a change of theirs makes stale.
const DATED_TABLES: [&str; 3] = ["conversations", "knowledge_base_queries", "feedback"];

fn sqlite_up() -> Vec<String> {
    let mut up = vec![
        "CREATE TABLE analytics_stale (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         organization_id varchar NOT NULL, at timestamp_with_timezone_text NOT NULL)"
            .to_owned(),
        "CREATE TABLE analytics_rollups (organization_id varchar NOT NULL, \
         hour timestamp_with_timezone_text NOT NULL, assistant_id varchar NOT NULL, \
         conversations text NOT NULL, knowledge_base text NOT NULL, \
         PRIMARY KEY (organization_id, hour, assistant_id), \
         FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE)"
            .to_owned(),
    ];
    let mark = |row: &str| {
        format!(
            "INSERT INTO analytics_stale (organization_id, at) VALUES ({row}.organization_id, {row}.created_at);"
        )
    };
    let moved = "INSERT INTO analytics_stale (organization_id, at) SELECT NEW.organization_id, NEW.created_at \
                 WHERE NEW.created_at IS NOT OLD.created_at OR NEW.organization_id IS NOT OLD.organization_id;";
    for table in DATED_TABLES {
        up.push(format!(
            "CREATE TRIGGER analytics_{table}_insert AFTER INSERT ON {table} BEGIN {} END",
            mark("NEW")
        ));
        up.push(format!(
            "CREATE TRIGGER analytics_{table}_delete AFTER DELETE ON {table} BEGIN {} END",
            mark("OLD")
        ));
    }
    let changed: Vec<String> = CONVERSATION_COLUMNS
        .iter()
        .map(|c| format!("OLD.{c} IS NOT NEW.{c}"))
        .collect();
    up.push(format!(
        "CREATE TRIGGER analytics_conversations_update AFTER UPDATE OF {} ON conversations WHEN {} \
         BEGIN {} {moved} END",
        CONVERSATION_COLUMNS.join(", "),
        changed.join(" OR "),
        mark("OLD")
    ));
    for table in ["knowledge_base_queries", "feedback"] {
        up.push(format!(
            "CREATE TRIGGER analytics_{table}_update AFTER UPDATE ON {table} BEGIN {} {moved} END",
            mark("OLD")
        ));
    }
    let message_mark = |row: &str| {
        format!(
            "INSERT INTO analytics_stale (organization_id, at) SELECT c.organization_id, c.created_at \
             FROM conversations c WHERE c.id = {row}.conversation_id;"
        )
    };
    up.push(format!(
        "CREATE TRIGGER analytics_messages_insert AFTER INSERT ON messages BEGIN {} END",
        message_mark("NEW")
    ));
    up.push(format!(
        "CREATE TRIGGER analytics_messages_delete AFTER DELETE ON messages BEGIN {} END",
        message_mark("OLD")
    ));
    up.push(format!(
        "CREATE TRIGGER analytics_messages_update AFTER UPDATE OF author, conversation_id, created_at ON messages \
         BEGIN {} {} END",
        message_mark("OLD"),
        message_mark("NEW")
    ));
    up
}

fn postgres_up() -> Vec<String> {
    let mut up = vec![
        "CREATE TABLE analytics_stale (id bigserial PRIMARY KEY, organization_id varchar NOT NULL, \
         at timestamp with time zone NOT NULL)"
            .to_owned(),
        "CREATE TABLE analytics_rollups (organization_id varchar NOT NULL \
         REFERENCES organizations (id) ON DELETE CASCADE, hour timestamp with time zone NOT NULL, \
         assistant_id varchar NOT NULL, conversations text NOT NULL, knowledge_base text NOT NULL, \
         PRIMARY KEY (organization_id, hour, assistant_id))"
            .to_owned(),
        // A queue: rows come and go all day, so autovacuum clears them after a fixed number rather than a
        // fifth of the table.
        "ALTER TABLE analytics_stale SET (autovacuum_vacuum_scale_factor = 0, \
         autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, \
         autovacuum_analyze_threshold = 5000)"
            .to_owned(),
        "CREATE FUNCTION analytics_stale_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF TG_OP <> 'INSERT' THEN \
           INSERT INTO analytics_stale (organization_id, at) VALUES (OLD.organization_id, OLD.created_at); \
         END IF; \
         IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.organization_id, NEW.created_at) \
             IS DISTINCT FROM (OLD.organization_id, OLD.created_at)) THEN \
           INSERT INTO analytics_stale (organization_id, at) VALUES (NEW.organization_id, NEW.created_at); \
         END IF; \
         RETURN NULL; END $$"
            .to_owned(),
        "CREATE FUNCTION analytics_stale_message() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF TG_OP <> 'INSERT' THEN \
           INSERT INTO analytics_stale (organization_id, at) \
           SELECT c.organization_id, c.created_at FROM conversations c WHERE c.id = OLD.conversation_id; \
         END IF; \
         IF TG_OP <> 'DELETE' THEN \
           INSERT INTO analytics_stale (organization_id, at) \
           SELECT c.organization_id, c.created_at FROM conversations c WHERE c.id = NEW.conversation_id; \
         END IF; \
         RETURN NULL; END $$"
            .to_owned(),
    ];
    for table in DATED_TABLES {
        up.push(format!(
            "CREATE TRIGGER analytics_{table}_insert_delete AFTER INSERT OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION analytics_stale_row()"
        ));
    }
    let changed: Vec<String> = CONVERSATION_COLUMNS
        .iter()
        .map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}"))
        .collect();
    up.push(format!(
        "CREATE TRIGGER analytics_conversations_update AFTER UPDATE OF {} ON conversations \
         FOR EACH ROW WHEN ({}) EXECUTE FUNCTION analytics_stale_row()",
        CONVERSATION_COLUMNS.join(", "),
        changed.join(" OR ")
    ));
    for table in ["knowledge_base_queries", "feedback"] {
        up.push(format!(
            "CREATE TRIGGER analytics_{table}_update AFTER UPDATE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION analytics_stale_row()"
        ));
    }
    up.push(
        "CREATE TRIGGER analytics_messages_change AFTER INSERT OR DELETE OR UPDATE OF author, conversation_id, \
         created_at ON messages FOR EACH ROW EXECUTE FUNCTION analytics_stale_message()"
            .to_owned(),
    );
    up
}

/// Every hour that already holds rows is stale, so the server rolls up the past once after the upgrade.
fn backfill(hour: &str) -> Vec<String> {
    DATED_TABLES
        .iter()
        .map(|table| {
            format!(
                "INSERT INTO analytics_stale (organization_id, at) SELECT organization_id, MIN(created_at) \
                 FROM {table} GROUP BY organization_id, {}",
                hour.replace("{}", "created_at")
            )
        })
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (mut statements, hour) = match manager.get_database_backend() {
            DbBackend::Postgres => (postgres_up(), "date_trunc('hour', {})"),
            _ => (sqlite_up(), "strftime('%Y-%m-%dT%H', {})"),
        };
        statements.push(
            "CREATE INDEX ix_analytics_stale_org_at ON analytics_stale (organization_id, at)"
                .to_owned(),
        );
        statements.extend(backfill(hour));
        let db = manager.get_connection();
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let mut triggers: Vec<(String, &str)> = Vec::new();
        for table in DATED_TABLES {
            if postgres {
                triggers.push((format!("analytics_{table}_insert_delete"), table));
            } else {
                triggers.push((format!("analytics_{table}_insert"), table));
                triggers.push((format!("analytics_{table}_delete"), table));
            }
        }
        for table in DATED_TABLES {
            triggers.push((format!("analytics_{table}_update"), table));
        }
        if postgres {
            triggers.push(("analytics_messages_change".to_owned(), "messages"));
        } else {
            for change in ["insert", "delete", "update"] {
                triggers.push((format!("analytics_messages_{change}"), "messages"));
            }
        }
        for (trigger, table) in triggers {
            let statement = if postgres {
                format!("DROP TRIGGER IF EXISTS {trigger} ON {table}")
            } else {
                format!("DROP TRIGGER IF EXISTS {trigger}")
            };
            db.execute_unprepared(&statement).await?;
        }
        if postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS analytics_stale_row()")
                .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS analytics_stale_message()")
                .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS analytics_rollups")
            .await?;
        db.execute_unprepared("DROP TABLE IF EXISTS analytics_stale")
            .await?;
        Ok(())
    }
}
