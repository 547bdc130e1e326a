//! The database handle: one pool, a statement counter, and serialized write transactions on SQLite.

pub(crate) mod sql;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sha2::Digest;
use tokio::sync::{Mutex, MutexGuard};

use crate::auth::key_cache::KeyCache;
use crate::config::Settings;
use crate::events::bus::{Bus, Notice, Signal};

tokio::task_local! {
    /// Set while background work (webhook delivery, usage flushing) runs, so its statements are not counted.
    static BACKGROUND: ();
}

/// Runs `work` as background work: its statements do not count in [`Db::statement_count`].
pub async fn background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
}

/// The database shared by every request.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    statements: Arc<AtomicU64>,
    /// SQLite allows one writer: taking this before `BEGIN` avoids `SQLITE_BUSY` on lock upgrade.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Where committed events are announced.
    bus: Bus,
    /// API keys recently read, until their organization's access changes.
    keys: Arc<KeyCache>,
}

/// A write transaction; it rolls back when dropped without [`WriteTxn::commit`].
pub struct WriteTxn<'a> {
    txn: DatabaseTransaction,
    _guard: Option<MutexGuard<'a, ()>>,
    bus: &'a Bus,
    /// Events (and access changes) written in this transaction, announced once it commits.
    signals: std::sync::Mutex<Vec<Signal>>,
    /// The organizations whose event stream this transaction has locked.
    streams: std::sync::Mutex<Vec<String>>,
    /// Whether this transaction queued webhook deliveries: the deliverer is woken once it commits.
    queued: std::sync::atomic::AtomicBool,
}

impl std::ops::Deref for WriteTxn<'_> {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn<'_> {
    /// Commits, then announces the transaction's events to live subscribers.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        let signals = std::mem::take(&mut *self.signals.lock().unwrap_or_else(|e| e.into_inner()));
        self.bus.publish(signals);
        if self.queued.load(Ordering::Relaxed) {
            self.bus.wake_deliverer();
        }
        Ok(())
    }

    /// Remembers that this transaction queued webhook deliveries, to wake the deliverer after the commit.
    pub(crate) fn wake_deliverer(&self) {
        self.queued.store(true, Ordering::Relaxed);
    }

    /// Remembers an event written in this transaction, to announce after the commit.
    pub(crate) fn announce(&self, notice: Notice) {
        self.signal(Signal::Event(Arc::new(notice)));
    }

    /// Tells the organization's live subscribers, after the commit, that someone's access changed.
    pub fn announce_access_change(&self, organization_id: &str) {
        self.signal(Signal::Access(organization_id.into()));
    }

    fn signal(&self, signal: Signal) {
        self.signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(signal);
    }

    /// On PostgreSQL, takes the transaction-scoped advisory lock of `name` among the locks of `class` (the
    /// first key, so that kinds of lock never collide); SQLite runs one writer at a time anyway.
    pub(crate) async fn lock_name(&self, class: i32, name: &str) -> Result<(), DbErr> {
        if self.txn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let digest = sha2::Sha256::digest(name.as_bytes());
        let key = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        self.txn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1, $2)",
                [class.into(), key.into()],
            ))
            .await?;
        Ok(())
    }

    /// Marks the organization's stream as locked by this transaction; false if it already was.
    pub(crate) fn mark_stream_locked(&self, organization_id: &str) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.iter().any(|s| s == organization_id) {
            return false;
        }
        streams.push(organization_id.to_owned());
        true
    }
}

impl Db {
    /// Connects to the configured database (creating the SQLite file and data dir if needed).
    /// Errors name what failed and the setting to look at, in one line.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        use anyhow::Context;
        let url = settings.database_url();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            anyhow::bail!(
                "DATABASE_URL must be a postgres:// URL (or unset, for SQLite in CONCIERGE_DATA_DIR), not {}",
                redacted(&url)
            );
        }
        if sqlite {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!(
                    "cannot create the data folder {} (CONCIERGE_DATA_DIR)",
                    settings.data_dir.display()
                )
            })?;
        } else {
            // One plain connection first: the pool would wait out its timeout and say only that it did.
            use sea_orm::sqlx::Connection;
            let reason = match tokio::time::timeout(
                Duration::from_secs(10),
                sea_orm::sqlx::PgConnection::connect(&url),
            )
            .await
            {
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    None
                }
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some("no answer within 10 s".to_owned()),
            };
            if let Some(reason) = reason {
                anyhow::bail!(
                    "cannot connect to the database at {} (DATABASE_URL): {reason}",
                    redacted(&url)
                );
            }
        }
        let mut options = ConnectOptions::new(url.clone());
        options
            .max_connections(settings.db_max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_millis(settings.db_acquire_timeout_ms.max(1)))
            .sqlx_logging(false);
        if sqlite {
            options.map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // 64 MiB page cache, memory-mapped reads and in-memory temp b-trees (window sorts).
                    .pragma("cache_size", "-65536")
                    .pragma("mmap_size", "268435456")
                    .pragma("temp_store", "memory")
            });
        }
        let mut conn = Database::connect(options).await.with_context(|| {
            if sqlite {
                format!(
                    "cannot open the SQLite database in {} (CONCIERGE_DATA_DIR)",
                    settings.data_dir.display()
                )
            } else {
                format!(
                    "cannot connect to the database at {} (DATABASE_URL)",
                    redacted(&url)
                )
            }
        })?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        conn.set_metric_callback(move |info| {
            // The callback runs in the task that ran the statement.
            if BACKGROUND.try_with(|_| ()).is_err() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if info.elapsed > Duration::from_millis(500) {
                tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow statement");
            }
        });
        Ok(Self {
            conn,
            statements,
            write_lock: sqlite.then(|| Arc::new(Mutex::new(()))),
            bus: Bus::new(),
            keys: Arc::default(),
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context;
        migration::Migrator::up(&self.conn, None)
            .await
            .context("cannot bring the database's tables up to date (DATABASE_URL)")
    }

    /// Announces committed events through Redis instead of in process only.
    pub fn share_events(&mut self, bus: Bus) {
        self.bus = bus;
        // Read under the old bus's clock.
        self.keys.clear();
    }

    /// API keys recently read, until their organization's access changes on any instance.
    pub fn key_cache(&self) -> &KeyCache {
        &self.keys
    }

    /// The live-event bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Starts a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTxn<'_>, DbErr> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        // On SQLite, BEGIN IMMEDIATE takes the write lock up front: a writer of another process (a second
        // instance, `concierge org set-plan`) makes it wait out the busy timeout instead of failing the
        // transaction when it upgrades from read to write. PostgreSQL ignores the option.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(WriteTxn {
            txn: self.conn.begin_with_options(options).await?,
            _guard: guard,
            bus: &self.bus,
            signals: std::sync::Mutex::default(),
            streams: std::sync::Mutex::default(),
            queued: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// How many SQL statements requests have run on this handle (background work aside); tests use it to prove
    /// there is no N+1.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Runs one raw statement (used by tools, not by request paths).
    pub async fn execute_unprepared(&self, sql: &str) -> Result<(), DbErr> {
        self.conn.execute_unprepared(sql).await.map(|_| ())
    }
}

/// A database URL for messages: its password replaced by `***`.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "an unreadable URL".to_owned(),
    }
}
