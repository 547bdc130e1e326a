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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use chrono::{DateTime, Datelike, Duration, DurationRound, Utc};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, IsolationLevel,
    Statement, TransactionTrait,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::db::sql::{Sql, TimeBucket};
use crate::error::{ApiError, ApiResult};
use crate::service::analytics::{Granularity, Window};

/// A time range `[start, end)`.
pub(crate) type Slice = (DateTime<Utc>, DateTime<Utc>);

/// Figures of one assistant in one hour, keyed by the hour.
type PerHour<T> = Vec<(DateTime<Utc>, String, T)>;

/// What a rollup holds for one side of analytics: made from the rows of some slices, merged across hours and
/// assistants, and stored as JSON in its column of `analytics_rollups`.
pub(crate) trait Figures: Default + Serialize + DeserializeOwned + Send {
    /// Its column of `analytics_rollups`.
    const COLUMN: &'static str;

    /// Adds `other`'s figures to these.
    fn merge(&mut self, other: Self);

    /// The figures of the rows in `slices`, per hour and assistant (only `assistant` when given).
    fn compute(
        txn: &DatabaseTransaction,
        org: &str,
        slices: &[Slice],
        assistant: Option<&str>,
    ) -> impl Future<Output = ApiResult<PerHour<Self>>> + Send;
}

/// How often something was counted, and when (and by which row) first: merged hours then rank ties as one
/// query over all their rows would.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Tally {
    pub(crate) n: u64,
    /// Nanoseconds since the epoch in storage: a month of rollups parses thousands of them.
    #[serde(rename = "t", with = "chrono::serde::ts_nanoseconds")]
    pub(crate) first_at: DateTime<Utc>,
    #[serde(rename = "id", default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_id: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.n += other.n;
        self.first_at = self.first_at.min(other.first_at);
        self.first_id = match (self.first_id.take(), other.first_id) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Answer ratings of one entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Ratings {
    #[serde(rename = "y")]
    pub(crate) helpful: u64,
    #[serde(rename = "n")]
    pub(crate) not_helpful: u64,
    #[serde(rename = "t", with = "chrono::serde::ts_nanoseconds")]
    pub(crate) first_at: DateTime<Utc>,
}

/// Conversation figures of the conversations created in an hour (and the ratings given in it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ConversationFigures {
    pub(crate) total: u64,
    pub(crate) by_status: BTreeMap<String, u64>,
    pub(crate) handed_off: u64,
    pub(crate) resolved_alone: u64,
    pub(crate) negative: u64,
    pub(crate) neutral: u64,
    pub(crate) positive: u64,
    pub(crate) unknown: u64,
    /// Messages of these conversations.
    pub(crate) messages: u64,
    /// Their visitor messages by hour of the day (UTC).
    pub(crate) visitor_messages: BTreeMap<u32, u64>,
    /// Seconds to the first response, to the millisecond, of those that had one.
    pub(crate) first_responses: Vec<f64>,
    /// Conversation ratings given in the hour, and their sum.
    pub(crate) ratings: u64,
    pub(crate) rating_sum: i64,
}

/// Knowledge-base figures of the queries made (and the answers rated) in an hour.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct KnowledgeBaseFigures {
    pub(crate) queries: u64,
    pub(crate) failed: u64,
    /// Failed queries by their normalized text (the first id is the example's).
    pub(crate) failed_queries: HashMap<String, Tally>,
    /// Answered queries by their best entry.
    pub(crate) entry_hits: HashMap<String, Tally>,
    /// Rated answers by their entry.
    pub(crate) entry_ratings: HashMap<String, Ratings>,
}

fn add<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
    for (key, n) in from {
        *into.entry(key).or_default() += n;
    }
}

fn merge_with<V>(
    into: &mut HashMap<String, V>,
    from: HashMap<String, V>,
    merge: impl Fn(&mut V, V),
) {
    if into.is_empty() {
        *into = from;
        return;
    }
    for (key, value) in from {
        match into.get_mut(&key) {
            Some(existing) => merge(existing, value),
            None => {
                into.insert(key, value);
            }
        }
    }
}

fn count(n: Option<i64>) -> u64 {
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

async fn rows<T: FromQueryResult>(
    txn: &DatabaseTransaction,
    statement: Statement,
) -> ApiResult<Vec<T>> {
    Ok(T::find_by_statement(statement).all(txn).await?)
}

/// Figures being made, by (hour, assistant).
type Making<T> = BTreeMap<(DateTime<Utc>, String), T>;

/// The figures of `assistant` in the hour labelled `hour`.
fn slot<'a, T: Default>(
    making: &'a mut Making<T>,
    assistant: String,
    hour: &str,
) -> ApiResult<&'a mut T> {
    Ok(making.entry((hour_of(hour)?, assistant)).or_default())
}

impl Figures for ConversationFigures {
    const COLUMN: &'static str = "conversations";

    fn merge(&mut self, other: Self) {
        self.total += other.total;
        add(&mut self.by_status, other.by_status);
        self.handed_off += other.handed_off;
        self.resolved_alone += other.resolved_alone;
        self.negative += other.negative;
        self.neutral += other.neutral;
        self.positive += other.positive;
        self.unknown += other.unknown;
        self.messages += other.messages;
        add(&mut self.visitor_messages, other.visitor_messages);
        self.first_responses.extend(other.first_responses);
        self.ratings += other.ratings;
        self.rating_sum += other.rating_sum;
    }

    async fn compute(
        txn: &DatabaseTransaction,
        org: &str,
        slices: &[Slice],
        assistant: Option<&str>,
    ) -> ApiResult<PerHour<Self>> {
        let backend = txn.get_database_backend();
        let mut making: Making<Self> = BTreeMap::new();

        #[derive(FromQueryResult)]
        struct StatusRow {
            assistant_id: String,
            hour: String,
            status: String,
            total: i64,
            handed_off: Option<i64>,
            resolved_alone: Option<i64>,
            negative: Option<i64>,
            neutral: Option<i64>,
            positive: Option<i64>,
            unknown: Option<i64>,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("c.created_at", TimeBucket::Hour);
        let clause = scope(&mut sql, "c", org, slices, assistant);
        for row in rows::<StatusRow>(
            txn,
            sql.statement(format!(
                "SELECT c.assistant_id AS assistant_id, {hour} AS hour, c.status AS status, COUNT(*) AS total, \
                 SUM(CASE WHEN c.handed_off_at IS NOT NULL THEN 1 ELSE 0 END) AS handed_off, \
                 SUM(CASE WHEN c.status IN ('resolved', 'closed') AND NOT c.human_involved THEN 1 ELSE 0 END) AS resolved_alone, \
                 SUM(CASE WHEN c.sentiment < -0.05 THEN 1 ELSE 0 END) AS negative, \
                 SUM(CASE WHEN c.sentiment >= -0.05 AND c.sentiment <= 0.05 THEN 1 ELSE 0 END) AS neutral, \
                 SUM(CASE WHEN c.sentiment > 0.05 THEN 1 ELSE 0 END) AS positive, \
                 SUM(CASE WHEN c.sentiment IS NULL THEN 1 ELSE 0 END) AS unknown \
                 FROM conversations c WHERE {clause} GROUP BY 1, 2, 3"
            )),
        )
        .await?
        {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
                let total = count(Some(row.total));
                f.total += total;
                *f.by_status.entry(row.status).or_default() += total;
                f.handed_off += count(row.handed_off);
                f.resolved_alone += count(row.resolved_alone);
                f.negative += count(row.negative);
                f.neutral += count(row.neutral);
                f.positive += count(row.positive);
                f.unknown += count(row.unknown);
        }

        #[derive(FromQueryResult)]
        struct ResponseRow {
            assistant_id: String,
            hour: String,
            v: Option<f64>,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("c.created_at", TimeBucket::Hour);
        let seconds = sql.as_double(&sql.seconds_between("c.created_at", "c.first_response_at"));
        let clause = scope(&mut sql, "c", org, slices, assistant);
        for row in rows::<ResponseRow>(
            txn,
            sql.statement(format!(
                "SELECT c.assistant_id AS assistant_id, {hour} AS hour, {seconds} AS v \
                 FROM conversations c WHERE {clause} AND c.first_response_at IS NOT NULL"
            )),
        )
        .await?
        {
            if let Some(v) = row.v {
                let f = slot(&mut making, row.assistant_id, &row.hour)?;
                f.first_responses.push(v);
            }
        }

        #[derive(FromQueryResult)]
        struct MessageRow {
            assistant_id: String,
            hour: String,
            hour_of_day: i32,
            n: i64,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("c.created_at", TimeBucket::Hour);
        let of_day = sql.hour_of_day("m.created_at");
        let clause = scope(&mut sql, "c", org, slices, assistant);
        for row in rows::<MessageRow>(
            txn,
            sql.statement(format!(
                "SELECT c.assistant_id AS assistant_id, {hour} AS hour, \
                 CASE WHEN m.author = 'visitor' THEN {of_day} ELSE -1 END AS hour_of_day, COUNT(*) AS n \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.organization_id = c.organization_id AND {clause} GROUP BY 1, 2, 3"
            )),
        )
        .await?
        {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
                let n = count(Some(row.n));
                f.messages += n;
                if row.hour_of_day >= 0 {
                    *f.visitor_messages.entry(row.hour_of_day as u32).or_default() += n;
                }
        }

        #[derive(FromQueryResult)]
        struct RatingRow {
            assistant_id: String,
            hour: String,
            n: i64,
            total: Option<i64>,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("f.created_at", TimeBucket::Hour);
        let clause = scope(&mut sql, "f", org, slices, assistant);
        for row in rows::<RatingRow>(
            txn,
            sql.statement(format!(
                "SELECT f.assistant_id AS assistant_id, {hour} AS hour, COUNT(*) AS n, \
                 CAST(SUM(f.rating) AS BIGINT) AS total \
                 FROM feedback f WHERE {clause} AND f.rating IS NOT NULL GROUP BY 1, 2"
            )),
        )
        .await?
        {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
            f.ratings += count(Some(row.n));
            f.rating_sum += row.total.unwrap_or(0);
        }
        Ok(flatten(making))
    }
}

impl Figures for KnowledgeBaseFigures {
    const COLUMN: &'static str = "knowledge_base";

    fn merge(&mut self, other: Self) {
        self.queries += other.queries;
        self.failed += other.failed;
        merge_with(&mut self.failed_queries, other.failed_queries, Tally::merge);
        merge_with(&mut self.entry_hits, other.entry_hits, Tally::merge);
        merge_with(&mut self.entry_ratings, other.entry_ratings, |a, b| {
            a.helpful += b.helpful;
            a.not_helpful += b.not_helpful;
            a.first_at = a.first_at.min(b.first_at);
        });
    }

    async fn compute(
        txn: &DatabaseTransaction,
        org: &str,
        slices: &[Slice],
        assistant: Option<&str>,
    ) -> ApiResult<PerHour<Self>> {
        let backend = txn.get_database_backend();
        let mut making: Making<Self> = BTreeMap::new();

        #[derive(FromQueryResult)]
        struct QueryRow {
            assistant_id: String,
            hour: String,
            n: i64,
            failed: Option<i64>,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("q.created_at", TimeBucket::Hour);
        let clause = scope(&mut sql, "q", org, slices, assistant);
        for row in rows::<QueryRow>(
            txn,
            sql.statement(format!(
                "SELECT q.assistant_id AS assistant_id, {hour} AS hour, COUNT(*) AS n, \
                 SUM(CASE WHEN q.failed THEN 1 ELSE 0 END) AS failed \
                 FROM knowledge_base_queries q WHERE {clause} GROUP BY 1, 2"
            )),
        )
        .await?
        {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
            f.queries += count(Some(row.n));
            f.failed += count(row.failed);
        }

        #[derive(FromQueryResult)]
        struct TallyRow {
            assistant_id: String,
            hour: String,
            key: String,
            n: i64,
            first_at: DateTime<Utc>,
            first_id: String,
        }
        for failed in [true, false] {
            let mut sql = Sql::new(backend);
            let hour = sql.bucket("q.created_at", TimeBucket::Hour);
            let clause = scope(&mut sql, "q", org, slices, assistant);
            let (key, condition) = if failed {
                ("q.normalized", "q.failed")
            } else {
                (
                    "q.best_entry_id",
                    "NOT q.failed AND q.best_entry_id IS NOT NULL",
                )
            };
            for row in rows::<TallyRow>(
                txn,
                sql.statement(format!(
                    "SELECT q.assistant_id AS assistant_id, {hour} AS hour, {key} AS key, COUNT(*) AS n, \
                     MIN(q.created_at) AS first_at, MIN(q.id) AS first_id \
                     FROM knowledge_base_queries q WHERE {clause} AND {condition} GROUP BY 1, 2, 3"
                )),
            )
            .await?
            {
                let f = slot(&mut making, row.assistant_id, &row.hour)?;
                    let tally = Tally {
                        n: count(Some(row.n)),
                        first_at: row.first_at,
                        first_id: failed.then_some(row.first_id),
                    };
                    let into = if failed {
                        &mut f.failed_queries
                    } else {
                        &mut f.entry_hits
                    };
                    merge_with(into, HashMap::from([(row.key, tally)]), Tally::merge);
            }
        }

        #[derive(FromQueryResult)]
        struct RatingRow {
            assistant_id: String,
            hour: String,
            entry_id: String,
            helpful: Option<i64>,
            not_helpful: Option<i64>,
            first_at: DateTime<Utc>,
        }
        let mut sql = Sql::new(backend);
        let hour = sql.bucket("f.created_at", TimeBucket::Hour);
        let clause = scope(&mut sql, "f", org, slices, assistant);
        for row in rows::<RatingRow>(
            txn,
            sql.statement(format!(
                "SELECT f.assistant_id AS assistant_id, {hour} AS hour, f.entry_id AS entry_id, \
                 SUM(CASE WHEN f.helpful THEN 1 ELSE 0 END) AS helpful, \
                 SUM(CASE WHEN f.helpful THEN 0 ELSE 1 END) AS not_helpful, MIN(f.created_at) AS first_at \
                 FROM feedback f WHERE {clause} AND f.helpful IS NOT NULL AND f.entry_id IS NOT NULL \
                 GROUP BY 1, 2, 3"
            )),
        )
        .await?
        {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
                f.entry_ratings.insert(
                    row.entry_id,
                    Ratings {
                        helpful: count(row.helpful),
                        not_helpful: count(row.not_helpful),
                        first_at: row.first_at,
                    },
                );
        }
        Ok(flatten(making))
    }
}

fn flatten<T>(keyed: BTreeMap<(DateTime<Utc>, String), T>) -> PerHour<T> {
    keyed
        .into_iter()
        .map(|((hour, assistant), figures)| (hour, assistant, figures))
        .collect()
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
    Ok(rows::<Mark>(txn, sql.statement(text))
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
        for rollup in rows::<Rollup>(&txn, sql.statement(text)).await? {
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
        for (hour, _, figures) in T::compute(&txn, org, &slices, assistant).await? {
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

/// Recomputes one hour of one organization from its rows, deleting its marks first (in the same transaction).
async fn refresh(db: &Db, org: &str, hour: DateTime<Utc>) -> ApiResult<()> {
    let txn = db.begin_write().await?;
    let backend = db.backend();
    let end = hour + Duration::hours(1);
    if backend == DbBackend::Postgres {
        let digest = Sha256::digest(org.as_bytes());
        let key = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [ROLLUP_LOCK_CLASS.into(), key.into()],
        ))
        .await?;
    }
    let mut sql = Sql::new(backend);
    let text = format!(
        "DELETE FROM analytics_stale WHERE organization_id = {} AND at >= {} AND at < {}",
        sql.bind(org.to_owned()),
        sql.bind(hour),
        sql.bind(end)
    );
    txn.execute_raw(sql.statement(text)).await?;
    let slices = [(hour, end)];
    let mut per_assistant: BTreeMap<String, (ConversationFigures, KnowledgeBaseFigures)> =
        BTreeMap::new();
    for (_, assistant, figures) in ConversationFigures::compute(&txn, org, &slices, None).await? {
        per_assistant.entry(assistant).or_default().0.merge(figures);
    }
    for (_, assistant, figures) in KnowledgeBaseFigures::compute(&txn, org, &slices, None).await? {
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
    Ok(())
}

fn to_json<T: Serialize>(figures: &T) -> ApiResult<String> {
    serde_json::to_string(figures).map_err(|err| ApiError::internal_msg(err.to_string()))
}

/// Marks read per round of [`catch_up`].
const BATCH: u64 = 1_000;

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
    let (mut cursor, mut done) = (0_i64, 0);
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
            return Ok(done);
        };
        cursor = end;
        for mark in marks {
            let hour = (mark.organization_id, floor_hour(mark.at));
            if seen.contains(&hour) {
                continue;
            }
            match refresh(db, &hour.0, hour.1).await {
                Ok(()) => done += 1,
                Err(err) => tracing::warn!(
                    organization_id = %hour.0, hour = %hour.1, error = ?err,
                    "rolling up an analytics hour failed; it stays stale"
                ),
            }
            seen.insert(hour);
        }
    }
}
