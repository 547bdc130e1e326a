//! Hourly rollups: each hour's figures per assistant kept in `analytics_rollups`, recomputed when triggers mark the hour stale, and read merged with the rows of stale hours and partial edge hours, so a range answers exactly at the cost of its hours rather than its rows.
//!
//! The invariant: an hour of an organization without a mark in `analytics_stale` has a rollup that counts every
//! committed row of that hour. Triggers (migration 20) insert a mark in the transaction of every change to
//! conversations, messages, knowledge-base queries and ratings; [`refresh`] deletes an hour's marks first and
//! then recomputes it in the same transaction (on PostgreSQL under the organization's rollup lock, so two
//! instances cannot write an older rollup over a newer one), so a mark it deletes belongs to a change it
//! counts. A reader takes, in one snapshot, the rollups of the whole hours of its range that have no mark, and
//! computes everything else (the partial hours at both ends, the stale hours) from the rows with the same
//! statements the rollups are made with. The answer is therefore the same whether or not the worker has caught
//! up; only its cost differs.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::{DateTime, Datelike, Duration, DurationRound, Utc};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, IsolationLevel,
    Statement, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::Db;
use crate::db::sql::{Sql, TimeBucket};
use crate::error::{ApiError, ApiResult};
use crate::service::analytics::{Granularity, Window, all};

mod conversations;
mod knowledge_base;

pub(crate) use conversations::ConversationFigures;
pub(crate) use knowledge_base::{KnowledgeBaseFigures, Ratings, Tally};

/// A time range `[start, end)`.
pub(crate) type Slice = (DateTime<Utc>, DateTime<Utc>);

/// Figures by (hour, assistant).
pub(crate) type PerHour<T> = BTreeMap<(DateTime<Utc>, String), T>;

/// What a rollup holds for one side of analytics: made from the rows of some slices, merged across hours and
/// assistants, and stored as JSON in its column of `analytics_rollups`.
pub(crate) trait Figures: Default + Serialize + DeserializeOwned + Send {
    /// Its column of `analytics_rollups`.
    const COLUMN: &'static str;

    /// Adds `other`'s figures to these.
    fn merge(&mut self, other: Self);

    /// The figures of the source's rows, per hour and assistant.
    fn compute(source: &Source<'_>) -> impl Future<Output = ApiResult<PerHour<Self>>> + Send;
}

pub(super) fn add<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, n) in from {
        *into.entry(key).or_default() += n;
    }
}

pub(super) fn count(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

/// `hour` as the bound of a range.
fn hour_of(label: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(label)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::internal_msg(format!("a rollup hour that is not a time: {label}")))
}

/// The organization's rows of `alias` whose `created_at` falls in one of the slices (and, when given, of the
/// assistant).
fn scope(
    sql: &mut Sql,
    alias: &str,
    org: &str,
    slices: &[Slice],
    assistant: Option<&str>,
) -> String {
    // Bound in the order of the text: SQLite's placeholders are positional.
    let mut clause = format!(
        "{alias}.organization_id = {} AND (",
        sql.bind(org.to_owned())
    );
    for (i, (start, end)) in slices.iter().enumerate() {
        if i > 0 {
            clause.push_str(" OR ");
        }
        clause.push_str(&format!("({alias}.created_at >= {}", sql.bind(*start)));
        clause.push_str(&format!(" AND {alias}.created_at < {})", sql.bind(*end)));
    }
    clause.push(')');
    if let Some(id) = assistant {
        clause.push_str(&format!(
            " AND {alias}.assistant_id = {}",
            sql.bind(id.to_owned())
        ));
    }
    clause
}

/// The rows a computation reads: the organization's, in the slices, of the assistant when one is given.
pub(crate) struct Source<'a> {
    txn: &'a DatabaseTransaction,
    org: &'a str,
    slices: &'a [Slice],
    assistant: Option<&'a str>,
}

impl Source<'_> {
    /// `SELECT {alias}.assistant_id AS assistant_id, <the hour of {alias}.created_at> AS hour, <columns> FROM
    /// {from} WHERE <the source's rows of {alias}> {rest}`; `columns` may use the backend's dialect.
    pub(super) async fn hourly<R: FromQueryResult>(
        &self,
        alias: &str,
        from: &str,
        columns: impl FnOnce(&Sql) -> String,
        rest: &str,
    ) -> ApiResult<Vec<R>> {
        let mut sql = Sql::new(self.txn.get_database_backend());
        let hour = sql.bucket(&format!("{alias}.created_at"), TimeBucket::Hour);
        let columns = columns(&sql);
        let clause = scope(&mut sql, alias, self.org, self.slices, self.assistant);
        let text = format!(
            "SELECT {alias}.assistant_id AS assistant_id, {hour} AS hour, {columns} \
             FROM {from} WHERE {clause} {rest}"
        );
        all(self.txn, sql.statement(text)).await
    }
}

/// The figures of `assistant` in the hour labelled `hour`.
pub(super) fn slot<'a, T: Default>(
    making: &'a mut PerHour<T>,
    assistant: String,
    hour: &str,
) -> ApiResult<&'a mut T> {
    Ok(making.entry((hour_of(hour)?, assistant)).or_default())
}

/// The start of `at`'s hour.
pub(crate) fn floor_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

/// The first whole hour at or after `at`.
fn ceil_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(at);
    if floor == at {
        at
    } else {
        floor + Duration::hours(1)
    }
}

/// The start of the bucket of `granularity` that holds `hour`, as the series label it has (RFC 3339, UTC).
pub(crate) fn bucket_label(hour: DateTime<Utc>, granularity: Granularity) -> String {
    let day = || hour.duration_trunc(Duration::days(1)).unwrap_or(hour);
    let start = match granularity {
        Granularity::Hour => hour,
        Granularity::Day => day(),
        Granularity::Week => {
            let day = day();
            day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
        }
    };
    start.format("%Y-%m-%dT%H:00:00Z").to_string()
}

/// A read-only transaction: one snapshot for the rollups, the marks and the rows.
async fn begin_read(db: &Db) -> ApiResult<DatabaseTransaction> {
    Ok(match db.backend() {
        DbBackend::Postgres => {
            db.conn()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
        _ => db.conn().begin().await?,
    })
}

#[derive(FromQueryResult)]
struct Mark {
    at: DateTime<Utc>,
}

/// The organization's hours in `[from, to)` with a mark.
async fn stale_hours(
    txn: &DatabaseTransaction,
    org: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<BTreeSet<DateTime<Utc>>> {
    let mut sql = Sql::new(txn.get_database_backend());
    let text = format!(
        "SELECT at FROM analytics_stale WHERE organization_id = {} AND at >= {} AND at < {}",
        sql.bind(org.to_owned()),
        sql.bind(from),
        sql.bind(to)
    );
    Ok(all::<Mark>(txn, sql.statement(text))
        .await?
        .into_iter()
        .map(|mark| floor_hour(mark.at))
        .collect())
}

/// Most runs of stale hours read one by one; more are read as one range from the first to the last (the
/// clean hours between them from their rows too), as right after an upgrade.
const MAX_RUNS: usize = 8;

/// The figures of the window in pieces, each of one hour (of one assistant, or of a part of the hour):
/// rollups where they are current, rows elsewhere.
pub(crate) async fn read<T: Figures>(
    db: &Db,
    org: &str,
    window: &Window,
) -> ApiResult<Vec<(DateTime<Utc>, T)>> {
    let txn = begin_read(db).await?;
    let assistant = window.assistant_id.as_deref();
    let (first, last) = (ceil_hour(window.from), floor_hour(window.to));
    let mut pieces: Vec<(DateTime<Utc>, T)> = Vec::new();
    let mut slices: Vec<Slice> = Vec::new();
    if first >= last {
        slices.push((window.from, window.to));
    } else {
        // Stale hours, in runs of consecutive ones.
        let mut runs: Vec<Slice> = Vec::new();
        for hour in stale_hours(&txn, org, first, last).await? {
            match runs.last_mut() {
                Some((_, end)) if *end == hour => *end = hour + Duration::hours(1),
                _ => runs.push((hour, hour + Duration::hours(1))),
            }
        }
        if runs.len() > MAX_RUNS {
            let (start, end) = (runs[0].0, runs[runs.len() - 1].1);
            runs = vec![(start, end)];
        }
        #[derive(FromQueryResult)]
        struct Rollup {
            hour: DateTime<Utc>,
            figures: String,
        }
        let mut sql = Sql::new(db.backend());
        let mut text = format!(
            "SELECT hour, {} AS figures FROM analytics_rollups \
             WHERE organization_id = {} AND hour >= {} AND hour < {}",
            T::COLUMN,
            sql.bind(org.to_owned()),
            sql.bind(first),
            sql.bind(last)
        );
        if let Some(id) = assistant {
            text.push_str(&format!(" AND assistant_id = {}", sql.bind(id.to_owned())));
        }
        for rollup in all::<Rollup>(&txn, sql.statement(text)).await? {
            if runs
                .iter()
                .any(|(start, end)| *start <= rollup.hour && rollup.hour < *end)
            {
                continue;
            }
            let figures: T = serde_json::from_str(&rollup.figures).map_err(|err| {
                ApiError::internal_msg(format!("an analytics rollup that does not parse: {err}"))
            })?;
            pieces.push((rollup.hour, figures));
        }
        if window.from < first {
            slices.push((window.from, first));
        }
        slices.extend(runs);
        if last < window.to {
            slices.push((last, window.to));
        }
    }
    if !slices.is_empty() {
        let source = Source {
            txn: &txn,
            org,
            slices: &slices,
            assistant,
        };
        for ((hour, _), figures) in T::compute(&source).await? {
            pieces.push((hour, figures));
        }
    }
    txn.commit().await?;
    Ok(pieces)
}

/// Every piece's figures added up.
pub(crate) fn total<T: Figures>(pieces: Vec<(DateTime<Utc>, T)>) -> T {
    let mut pieces = pieces.into_iter().map(|(_, figures)| figures);
    let mut sum = pieces.next().unwrap_or_default();
    for figures in pieces {
        sum.merge(figures);
    }
    sum
}

/// The series of `granularity`: every piece that `counts` is added into its bucket by `add`; buckets with
/// nothing are left out.
pub(crate) fn series<T, C: Default>(
    pieces: &[(DateTime<Utc>, T)],
    granularity: Granularity,
    counts: impl Fn(&T) -> bool,
    add: impl Fn(&mut C, &T),
) -> BTreeMap<String, C> {
    let mut buckets: BTreeMap<String, C> = BTreeMap::new();
    for (hour, figures) in pieces.iter().filter(|(_, figures)| counts(figures)) {
        add(
            buckets.entry(bucket_label(*hour, granularity)).or_default(),
            figures,
        );
    }
    buckets
}

/// The first key of the rollup locks, so they cannot collide with other advisory locks.
const ROLLUP_LOCK_CLASS: i32 = 0x726f_6c6c; // "roll"

/// Recomputes one hour of one organization from its rows, deleting its marks first (in the same transaction);
/// returns how many marks it deleted.
async fn refresh(db: &Db, org: &str, hour: DateTime<Utc>) -> ApiResult<u64> {
    let txn = db.begin_write().await?;
    let backend = db.backend();
    let end = hour + Duration::hours(1);
    txn.lock_name(ROLLUP_LOCK_CLASS, org).await?;
    let mut sql = Sql::new(backend);
    let text = format!(
        "DELETE FROM analytics_stale WHERE organization_id = {} AND at >= {} AND at < {}",
        sql.bind(org.to_owned()),
        sql.bind(hour),
        sql.bind(end)
    );
    let cleared = txn.execute_raw(sql.statement(text)).await?.rows_affected();
    let slices = [(hour, end)];
    let source = Source {
        txn: &txn,
        org,
        slices: &slices,
        assistant: None,
    };
    let mut per_assistant: BTreeMap<String, (ConversationFigures, KnowledgeBaseFigures)> =
        BTreeMap::new();
    for ((_, assistant), figures) in ConversationFigures::compute(&source).await? {
        per_assistant.entry(assistant).or_default().0.merge(figures);
    }
    for ((_, assistant), figures) in KnowledgeBaseFigures::compute(&source).await? {
        per_assistant.entry(assistant).or_default().1.merge(figures);
    }
    let mut sql = Sql::new(backend);
    let text = format!(
        "DELETE FROM analytics_rollups WHERE organization_id = {} AND hour = {}",
        sql.bind(org.to_owned()),
        sql.bind(hour)
    );
    txn.execute_raw(sql.statement(text)).await?;
    if !per_assistant.is_empty() {
        let mut sql = Sql::new(backend);
        let mut values = Vec::new();
        for (assistant, (conversations, knowledge_base)) in per_assistant {
            values.push(format!(
                "({}, {}, {}, {}, {})",
                sql.bind(org.to_owned()),
                sql.bind(hour),
                sql.bind(assistant),
                sql.bind(to_json(&conversations)?),
                sql.bind(to_json(&knowledge_base)?)
            ));
        }
        let text = format!(
            "INSERT INTO analytics_rollups (organization_id, hour, assistant_id, conversations, knowledge_base) \
             VALUES {}",
            values.join(", ")
        );
        txn.execute_raw(sql.statement(text)).await?;
    }
    txn.commit().await?;
    Ok(cleared)
}

fn to_json<T: Serialize>(figures: &T) -> ApiResult<String> {
    serde_json::to_string(figures).map_err(|err| ApiError::internal_msg(err.to_string()))
}

/// Marks read per round of [`catch_up`].
const BATCH: u64 = 1_000;

/// Marks cleared in one call after which PostgreSQL's two tables are vacuumed at once.
const VACUUM_AFTER: u64 = 10_000;

/// Rolls up every hour marked stale before the call; returns how many hours it recomputed. An hour that fails
/// is logged and keeps its marks for the next call; the others go on.
pub async fn catch_up(db: &Db) -> ApiResult<usize> {
    #[derive(FromQueryResult)]
    struct Last {
        id: Option<i64>,
    }
    #[derive(FromQueryResult)]
    struct Numbered {
        id: i64,
        organization_id: String,
        at: DateTime<Utc>,
    }
    let backend = db.backend();
    let last = Last::find_by_statement(Statement::from_string(
        backend,
        "SELECT MAX(id) AS id FROM analytics_stale",
    ))
    .one(db.conn())
    .await?
    .and_then(|row| row.id);
    let Some(last) = last else {
        return Ok(0);
    };
    let mut seen: BTreeSet<(String, DateTime<Utc>)> = BTreeSet::new();
    let (mut cursor, mut done, mut cleared) = (0_i64, 0, 0);
    loop {
        let mut sql = Sql::new(backend);
        let text = format!(
            "SELECT id, organization_id, at FROM analytics_stale WHERE id > {} AND id <= {} \
             ORDER BY id LIMIT {BATCH}",
            sql.bind(cursor),
            sql.bind(last)
        );
        let marks = Numbered::find_by_statement(sql.statement(text))
            .all(db.conn())
            .await?;
        let Some(end) = marks.last().map(|mark| mark.id) else {
            if backend == DbBackend::Postgres && cleared >= VACUUM_AFTER {
                // A large catch-up leaves both tables full of dead rows that every read of the marks would
                // walk until autovacuum's next round; clear them now.
                if let Err(err) = db
                    .execute_unprepared("VACUUM (ANALYZE) analytics_stale, analytics_rollups")
                    .await
                {
                    tracing::warn!(error = ?err, "vacuuming the analytics rollups failed");
                }
            }
            return Ok(done);
        };
        cursor = end;
        for mark in marks {
            let hour = (mark.organization_id, floor_hour(mark.at));
            if seen.contains(&hour) {
                continue;
            }
            match refresh(db, &hour.0, hour.1).await {
                Ok(marks) => {
                    done += 1;
                    cleared += marks;
                }
                Err(err) => tracing::warn!(
                    organization_id = %hour.0, hour = %hour.1, error = ?err,
                    "rolling up an analytics hour failed; it stays stale"
                ),
            }
            seen.insert(hour);
        }
    }
}
