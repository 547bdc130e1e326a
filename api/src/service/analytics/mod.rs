//! Analytics: conversation and knowledge-base figures over a time range, bucketed by hour, day or week, and
//! filtered by assistant; every aggregate is one SQL statement over indexed columns, with the same results on
//! SQLite and PostgreSQL; plus the streamed CSV export of a range's conversations.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{FromQueryResult, Statement};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::db::sql::{Sql, TimeBucket};
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};
use crate::service::conversations::Status;
use crate::service::{assistants, knowledge_base};

/// Bucket width of the series.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Hour,
    #[default]
    Day,
    /// ISO weeks, starting on Monday.
    Week,
}

impl From<Granularity> for TimeBucket {
    fn from(granularity: Granularity) -> Self {
        match granularity {
            Granularity::Hour => TimeBucket::Hour,
            Granularity::Day => TimeBucket::Day,
            Granularity::Week => TimeBucket::Week,
        }
    }
}

/// What to aggregate: `[from, to)`, the bucket width, and optionally one assistant.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Default: 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub granularity: Granularity,
    pub assistant_id: Option<String>,
}

/// Most buckets one series may have.
const MAX_BUCKETS: i64 = 2_000;
/// Rows of the top lists.
const TOP: i64 = 10;

/// A checked range.
#[derive(Clone, Debug)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: Granularity,
    assistant_id: Option<String>,
}

impl Range {
    fn check(&self) -> ApiResult<Window> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - Duration::days(30));
        if from >= to {
            return Err(ApiError::validation("from", "must be before to"));
        }
        let width = match self.granularity {
            Granularity::Hour => Duration::hours(1),
            Granularity::Day => Duration::days(1),
            Granularity::Week => Duration::weeks(1),
        };
        let buckets = (to - from).num_seconds() / width.num_seconds();
        if buckets > MAX_BUCKETS {
            return Err(ApiError::validation(
                "granularity",
                format!("the range holds {buckets} buckets of this width; at most {MAX_BUCKETS}"),
            ));
        }
        let assistant_id = self
            .assistant_id
            .as_deref()
            .map(|id| ids::parse(Kind::Assistant, "assistant_id", id).map(|_| id.to_owned()))
            .transpose()?;
        Ok(Window {
            from,
            to,
            granularity: self.granularity,
            assistant_id,
        })
    }
}

/// One bucket of a series.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct Bucket {
    /// Start of the bucket, UTC, RFC 3339.
    pub start: String,
    pub count: u64,
}

/// Knowledge-base queries in one bucket.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct QueryBucket {
    pub start: String,
    pub queries: u64,
    pub failed: u64,
}

/// Seconds, as a median and a 90th percentile (nearest rank); `None` without data.
#[derive(Clone, Debug, Default, Serialize, async_graphql::SimpleObject)]
pub struct Percentiles {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Conversations by the sign of their running sentiment (VADER's ±0.05 convention).
#[derive(Clone, Debug, Default, Serialize, async_graphql::SimpleObject)]
pub struct SentimentDistribution {
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
    /// No visitor message scored yet.
    pub unknown: u64,
}

/// CSAT: conversation ratings 1-5.
#[derive(Clone, Debug, Default, Serialize, async_graphql::SimpleObject)]
pub struct Csat {
    pub count: u64,
    pub average: Option<f64>,
}

/// Visitor messages in one hour of the day (UTC).
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct HourCount {
    pub hour: u32,
    pub messages: u64,
}

/// Conversation figures of a range (conversations created in it).
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
#[graphql(complex)]
pub struct ConversationStats {
    #[graphql(skip)]
    pub from: DateTime<Utc>,
    #[graphql(skip)]
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub total: u64,
    /// Every status, zero included.
    #[graphql(skip)]
    pub by_status: BTreeMap<String, u64>,
    pub new_conversations: Vec<Bucket>,
    pub messages: u64,
    pub average_messages_per_conversation: f64,
    /// Share of the conversations handed off to a person.
    pub handoff_rate: f64,
    /// Share of the conversations resolved (or closed) without a person taking part.
    pub resolution_rate_without_human: f64,
    /// From the conversation's start to the first assistant or agent message.
    pub first_response: Percentiles,
    pub sentiment: SentimentDistribution,
    /// Conversation ratings given in the range.
    pub csat: Csat,
    /// Hours of the day (UTC) by visitor messages, busiest first; hours without messages are left out.
    pub busiest_hours: Vec<HourCount>,
}

#[async_graphql::ComplexObject]
impl ConversationStats {
    async fn from(&self) -> crate::graphql::types::Timestamp {
        crate::graphql::types::Timestamp(self.from)
    }
    async fn to(&self) -> crate::graphql::types::Timestamp {
        crate::graphql::types::Timestamp(self.to)
    }
    /// Every status with its count, zero included.
    async fn by_status(&self) -> Vec<crate::graphql::types::LabelledCount> {
        crate::graphql::types::labelled(&self.by_status)
    }
}

/// A failed query text and how often it was asked.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct FailedQuery {
    /// Lower-cased, punctuation-free text that clusters the variants.
    pub normalized: String,
    /// One of the texts as asked.
    pub example: String,
    pub count: u64,
}

/// An entry and how often it answered.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct EntryHits {
    pub entry_id: String,
    pub title: String,
    pub hits: u64,
}

/// An entry that answered nothing in the range.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct UnusedEntry {
    pub entry_id: String,
    pub title: String,
}

/// Answer ratings of one entry.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
pub struct EntryFeedback {
    pub entry_id: String,
    pub title: String,
    pub helpful: u64,
    pub not_helpful: u64,
}

/// Knowledge-base figures of a range.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
#[graphql(complex)]
pub struct KnowledgeBaseStats {
    pub total: u64,
    pub active: u64,
    pub inactive: u64,
    /// Entries per category; uncategorized entries count under `""`.
    #[graphql(skip)]
    pub by_category: BTreeMap<String, u64>,
    #[graphql(skip)]
    pub from: DateTime<Utc>,
    #[graphql(skip)]
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub queries: u64,
    pub failed_queries: u64,
    pub failed_rate: f64,
    pub queries_per_bucket: Vec<QueryBucket>,
    pub top_failed_queries: Vec<FailedQuery>,
    pub top_entries: Vec<EntryHits>,
    /// Active entries that answered no question in the range (at most 100, oldest first).
    pub unused_entries: Vec<UnusedEntry>,
    pub unused_entry_count: u64,
    pub feedback_by_entry: Vec<EntryFeedback>,
}

#[async_graphql::ComplexObject]
impl KnowledgeBaseStats {
    async fn from(&self) -> crate::graphql::types::Timestamp {
        crate::graphql::types::Timestamp(self.from)
    }
    async fn to(&self) -> crate::graphql::types::Timestamp {
        crate::graphql::types::Timestamp(self.to)
    }
    /// Entries per category; uncategorized entries count under the empty label.
    async fn by_category(&self) -> Vec<crate::graphql::types::LabelledCount> {
        crate::graphql::types::labelled(&self.by_category)
    }
}

/// The conditions every aggregate shares, on a table aliased `alias` with `organization_id`, `created_at`
/// and `assistant_id` columns: the organization, the range, and the assistant when one is asked for.
fn in_window(sql: &mut Sql, alias: &str, org: &str, window: &Window) -> String {
    let mut clause = format!(
        "{alias}.organization_id = {} AND {alias}.created_at >= {} AND {alias}.created_at < {}",
        sql.bind(org.to_owned()),
        sql.bind(window.from),
        sql.bind(window.to)
    );
    if let Some(id) = &window.assistant_id {
        clause.push_str(&format!(
            " AND {alias}.assistant_id = {}",
            sql.bind(id.clone())
        ));
    }
    clause
}

/// The conversations of the range, on the alias `c`.
fn conversations_in(sql: &mut Sql, org: &str, window: &Window) -> String {
    in_window(sql, "c", org, window)
}

#[derive(FromQueryResult)]
struct Totals {
    total: i64,
    handed_off: Option<i64>,
    resolved_alone: Option<i64>,
    negative: Option<i64>,
    neutral: Option<i64>,
    positive: Option<i64>,
    unknown: Option<i64>,
    answered: Option<i64>,
}

#[derive(FromQueryResult)]
struct Labelled {
    label: String,
    n: i64,
}

#[derive(FromQueryResult)]
struct Number {
    v: Option<f64>,
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

fn count(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

async fn all<T: FromQueryResult>(db: &Db, statement: Statement) -> ApiResult<Vec<T>> {
    Ok(T::find_by_statement(statement).all(db.conn()).await?)
}

async fn one<T: FromQueryResult>(db: &Db, statement: Statement) -> ApiResult<Option<T>> {
    Ok(T::find_by_statement(statement).one(db.conn()).await?)
}

/// The value at nearest rank `p` (0..1) of `expression` over the rows of `from_where`, ascending.
async fn percentile(
    db: &Db,
    org: &str,
    window: &Window,
    expression: impl Fn(&Sql) -> String,
    p: f64,
    n: u64,
) -> ApiResult<Option<f64>> {
    if n == 0 {
        return Ok(None);
    }
    let rank = ((p * n as f64).ceil() as i64 - 1).max(0);
    let mut sql = Sql::new(db.backend());
    let value = sql.as_double(&expression(&sql));
    let clause = conversations_in(&mut sql, org, window);
    let text = format!(
        "SELECT {value} AS v FROM conversations c \
         WHERE {clause} AND c.first_response_at IS NOT NULL ORDER BY v LIMIT 1 OFFSET {rank}"
    );
    Ok(one::<Number>(db, sql.statement(text))
        .await?
        .and_then(|r| r.v))
}

/// Checks that the assistant filter names one of the caller's assistants.
async fn check_assistant(db: &Db, org: &str, window: &Window) -> ApiResult<()> {
    if let Some(id) = &window.assistant_id {
        assistants::find(db.conn(), org, id)
            .await
            .map_err(|_| ApiError::validation("assistant_id", format!("no assistant {id}")))?;
    }
    Ok(())
}

/// Conversation figures of the range.
pub async fn conversations(
    db: &Db,
    principal: &Principal,
    range: &Range,
) -> ApiResult<ConversationStats> {
    let grant = authorize(principal, Resource::Analytics, Action::Read).await?;
    let org = grant.organization_id();
    let window = range.check()?;
    check_assistant(db, org, &window).await?;
    let backend = db.backend();

    let mut sql = Sql::new(backend);
    let clause = conversations_in(&mut sql, org, &window);
    let totals = one::<Totals>(
        db,
        sql.statement(format!(
            "SELECT COUNT(*) AS total, \
             SUM(CASE WHEN c.handed_off_at IS NOT NULL THEN 1 ELSE 0 END) AS handed_off, \
             SUM(CASE WHEN c.status IN ('resolved', 'closed') AND NOT c.human_involved THEN 1 ELSE 0 END) AS resolved_alone, \
             SUM(CASE WHEN c.sentiment < -0.05 THEN 1 ELSE 0 END) AS negative, \
             SUM(CASE WHEN c.sentiment >= -0.05 AND c.sentiment <= 0.05 THEN 1 ELSE 0 END) AS neutral, \
             SUM(CASE WHEN c.sentiment > 0.05 THEN 1 ELSE 0 END) AS positive, \
             SUM(CASE WHEN c.sentiment IS NULL THEN 1 ELSE 0 END) AS unknown, \
             SUM(CASE WHEN c.first_response_at IS NOT NULL THEN 1 ELSE 0 END) AS answered \
             FROM conversations c WHERE {clause}"
        )),
    )
    .await?
    .ok_or_else(|| ApiError::internal_msg("an aggregate returned no row"))?;
    let total = count(Some(totals.total));

    let mut sql = Sql::new(backend);
    let clause = conversations_in(&mut sql, org, &window);
    let statuses = all::<Labelled>(
        db,
        sql.statement(format!(
            "SELECT c.status AS label, COUNT(*) AS n FROM conversations c WHERE {clause} GROUP BY c.status"
        )),
    )
    .await?;
    let mut by_status: BTreeMap<String, u64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for row in statuses {
        *by_status.entry(row.label).or_default() += count(Some(row.n));
    }

    let mut sql = Sql::new(backend);
    let bucket = sql.bucket("c.created_at", window.granularity.into());
    let clause = conversations_in(&mut sql, org, &window);
    let new_conversations = all::<Labelled>(
        db,
        sql.statement(format!(
            "SELECT {bucket} AS label, COUNT(*) AS n FROM conversations c WHERE {clause} GROUP BY 1 ORDER BY 1"
        )),
    )
    .await?
    .into_iter()
    .map(|row| Bucket {
        start: row.label,
        count: count(Some(row.n)),
    })
    .collect();

    let mut sql = Sql::new(backend);
    let clause = conversations_in(&mut sql, org, &window);
    let messages = count(
        one::<Count>(
            db,
            sql.statement(format!(
                "SELECT COUNT(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 WHERE m.organization_id = c.organization_id AND {clause}"
            )),
        )
        .await?
        .map(|r| r.n),
    );

    let answered = count(totals.answered);
    let first_response = Percentiles {
        count: answered,
        median_seconds: percentile(
            db,
            org,
            &window,
            |sql| sql.seconds_between("c.created_at", "c.first_response_at"),
            0.5,
            answered,
        )
        .await?,
        p90_seconds: percentile(
            db,
            org,
            &window,
            |sql| sql.seconds_between("c.created_at", "c.first_response_at"),
            0.9,
            answered,
        )
        .await?,
    };

    let mut sql = Sql::new(backend);
    let clause = format!(
        "{} AND f.rating IS NOT NULL",
        in_window(&mut sql, "f", org, &window)
    );
    #[derive(FromQueryResult)]
    struct CsatRow {
        n: i64,
        average: Option<f64>,
    }
    let average = sql.as_double("AVG(f.rating)");
    let csat = one::<CsatRow>(
        db,
        sql.statement(format!(
            "SELECT COUNT(*) AS n, {average} AS average FROM feedback f WHERE {clause}"
        )),
    )
    .await?
    .map(|r| Csat {
        count: count(Some(r.n)),
        // Four decimals: the backends' float sums may differ in the last bits.
        average: r.average.map(|a| (a * 10_000.0).round() / 10_000.0),
    })
    .unwrap_or_default();

    let mut sql = Sql::new(backend);
    let hour = sql.hour_of_day("m.created_at");
    let clause = conversations_in(&mut sql, org, &window);
    #[derive(FromQueryResult)]
    struct HourRow {
        hour: i32,
        n: i64,
    }
    let busiest_hours = all::<HourRow>(
        db,
        sql.statement(format!(
            "SELECT {hour} AS hour, COUNT(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.organization_id = c.organization_id AND m.author = 'visitor' AND {clause} \
             GROUP BY 1 ORDER BY 2 DESC, 1 ASC"
        )),
    )
    .await?
    .into_iter()
    .map(|row| HourCount {
        hour: row.hour.max(0) as u32,
        messages: count(Some(row.n)),
    })
    .collect();

    Ok(ConversationStats {
        from: window.from,
        to: window.to,
        granularity: window.granularity,
        total,
        by_status,
        new_conversations,
        messages,
        average_messages_per_conversation: ratio(messages, total),
        handoff_rate: ratio(count(totals.handed_off), total),
        resolution_rate_without_human: ratio(count(totals.resolved_alone), total),
        first_response,
        sentiment: SentimentDistribution {
            negative: count(totals.negative),
            neutral: count(totals.neutral),
            positive: count(totals.positive),
            unknown: count(totals.unknown),
        },
        csat,
        busiest_hours,
    })
}

/// The knowledge-base queries of the range, on the alias `q`.
fn queries_in(sql: &mut Sql, org: &str, window: &Window) -> String {
    in_window(sql, "q", org, window)
}

/// Knowledge-base figures of the range.
pub async fn knowledge_base(
    db: &Db,
    principal: &Principal,
    range: &Range,
) -> ApiResult<KnowledgeBaseStats> {
    let grant = authorize(principal, Resource::Analytics, Action::Read).await?;
    let org = grant.organization_id();
    let window = range.check()?;
    check_assistant(db, org, &window).await?;
    let backend = db.backend();

    let mut stats = KnowledgeBaseStats {
        total: 0,
        active: 0,
        inactive: 0,
        by_category: BTreeMap::new(),
        from: window.from,
        to: window.to,
        granularity: window.granularity,
        queries: 0,
        failed_queries: 0,
        failed_rate: 0.0,
        queries_per_bucket: Vec::new(),
        top_failed_queries: Vec::new(),
        top_entries: Vec::new(),
        unused_entries: Vec::new(),
        unused_entry_count: 0,
        feedback_by_entry: Vec::new(),
    };
    for (category, active, n) in knowledge_base::counts_by_category(db, org).await? {
        let n = n.max(0) as u64;
        stats.total += n;
        if active {
            stats.active += n;
        } else {
            stats.inactive += n;
        }
        *stats
            .by_category
            .entry(category.unwrap_or_default())
            .or_default() += n;
    }

    #[derive(FromQueryResult)]
    struct BucketRow {
        label: String,
        n: i64,
        failed: Option<i64>,
    }
    let mut sql = Sql::new(backend);
    let bucket = sql.bucket("q.created_at", window.granularity.into());
    let clause = queries_in(&mut sql, org, &window);
    let buckets = all::<BucketRow>(
        db,
        sql.statement(format!(
            "SELECT {bucket} AS label, COUNT(*) AS n, SUM(CASE WHEN q.failed THEN 1 ELSE 0 END) AS failed \
             FROM knowledge_base_queries q WHERE {clause} GROUP BY 1 ORDER BY 1"
        )),
    )
    .await?;
    for row in buckets {
        stats.queries += count(Some(row.n));
        stats.failed_queries += count(row.failed);
        stats.queries_per_bucket.push(QueryBucket {
            start: row.label,
            queries: count(Some(row.n)),
            failed: count(row.failed),
        });
    }
    stats.failed_rate = ratio(stats.failed_queries, stats.queries);

    #[derive(FromQueryResult)]
    struct FailedRow {
        normalized: String,
        n: i64,
        first_id: String,
    }
    let mut sql = Sql::new(backend);
    let clause = queries_in(&mut sql, org, &window);
    stats.top_failed_queries = all::<FailedRow>(
        db,
        sql.statement(format!(
            "SELECT q.normalized AS normalized, COUNT(*) AS n, MIN(q.id) AS first_id \
             FROM knowledge_base_queries q WHERE {clause} AND q.failed \
             GROUP BY q.normalized ORDER BY 2 DESC, MIN(q.created_at) ASC, 3 ASC LIMIT {TOP}"
        )),
    )
    .await?
    .into_iter()
    .map(|row| FailedQuery {
        normalized: row.normalized,
        example: row.first_id,
        count: count(Some(row.n)),
    })
    .collect();
    // The example is the first time each cluster was asked (ids are time-ordered).
    let firsts: Vec<String> = stats
        .top_failed_queries
        .iter()
        .map(|q| q.example.clone())
        .collect();
    let mut examples = crate::service::by_ids::<entities::knowledge_base_query::Entity>(
        db.conn(),
        entities::knowledge_base_query::Column::OrganizationId,
        entities::knowledge_base_query::Column::Id,
        org,
        &firsts,
        |row| &row.id,
    )
    .await?;
    for failed in &mut stats.top_failed_queries {
        failed.example = examples
            .remove(&failed.example)
            .map(|row| row.query)
            .unwrap_or_default();
    }

    #[derive(FromQueryResult)]
    struct HitRow {
        entry_id: String,
        title: String,
        n: i64,
    }
    let mut sql = Sql::new(backend);
    let clause = queries_in(&mut sql, org, &window);
    stats.top_entries = all::<HitRow>(
        db,
        sql.statement(format!(
            "SELECT q.best_entry_id AS entry_id, e.title AS title, COUNT(*) AS n \
             FROM knowledge_base_queries q JOIN knowledge_base_entries e ON e.id = q.best_entry_id \
             WHERE {clause} AND NOT q.failed AND e.organization_id = q.organization_id \
             GROUP BY q.best_entry_id, e.title ORDER BY 3 DESC, MIN(q.created_at) ASC LIMIT {TOP}"
        )),
    )
    .await?
    .into_iter()
    .map(|row| EntryHits {
        entry_id: row.entry_id,
        title: row.title,
        hits: count(Some(row.n)),
    })
    .collect();

    #[derive(FromQueryResult)]
    struct EntryRow {
        entry_id: String,
        title: String,
    }
    let unused = |sql: &mut Sql| {
        let org_value = sql.bind(org.to_owned());
        let clause = queries_in(sql, org, &window);
        format!(
            "FROM knowledge_base_entries e WHERE e.organization_id = {org_value} AND e.active \
             AND NOT EXISTS (SELECT 1 FROM knowledge_base_queries q WHERE {clause} \
             AND q.best_entry_id = e.id AND NOT q.failed)"
        )
    };
    let mut sql = Sql::new(backend);
    let from_where = unused(&mut sql);
    stats.unused_entries = all::<EntryRow>(
        db,
        sql.statement(format!(
            "SELECT e.id AS entry_id, e.title AS title {from_where} ORDER BY e.created_at, e.id LIMIT 100"
        )),
    )
    .await?
    .into_iter()
    .map(|row| UnusedEntry {
        entry_id: row.entry_id,
        title: row.title,
    })
    .collect();
    let mut sql = Sql::new(backend);
    let from_where = unused(&mut sql);
    stats.unused_entry_count = count(
        one::<Count>(
            db,
            sql.statement(format!("SELECT COUNT(*) AS n {from_where}")),
        )
        .await?
        .map(|r| r.n),
    );

    #[derive(FromQueryResult)]
    struct FeedbackRow {
        entry_id: String,
        title: String,
        helpful: Option<i64>,
        not_helpful: Option<i64>,
    }
    let mut sql = Sql::new(backend);
    let clause = format!(
        "{} AND f.helpful IS NOT NULL",
        in_window(&mut sql, "f", org, &window)
    );
    stats.feedback_by_entry = all::<FeedbackRow>(
        db,
        sql.statement(format!(
            "SELECT f.entry_id AS entry_id, e.title AS title, \
             SUM(CASE WHEN f.helpful THEN 1 ELSE 0 END) AS helpful, \
             SUM(CASE WHEN f.helpful THEN 0 ELSE 1 END) AS not_helpful \
             FROM feedback f JOIN knowledge_base_entries e ON e.id = f.entry_id \
             WHERE {clause} AND e.organization_id = f.organization_id \
             GROUP BY f.entry_id, e.title ORDER BY 4 DESC, 3 DESC, MIN(f.created_at) ASC"
        )),
    )
    .await?
    .into_iter()
    .map(|row| EntryFeedback {
        entry_id: row.entry_id,
        title: row.title,
        helpful: count(row.helpful),
        not_helpful: count(row.not_helpful),
    })
    .collect();
    Ok(stats)
}

/// Conversations per page of the CSV export.
const EXPORT_PAGE: u64 = 500;

/// The CSV export's header row.
pub const EXPORT_COLUMNS: [&str; 16] = [
    "id",
    "assistant_id",
    "visitor_id",
    "status",
    "subject",
    "source_url",
    "created_at",
    "first_response_seconds",
    "messages",
    "sentiment",
    "failed_responses",
    "handoff_reason",
    "handed_off_at",
    "resolved_at",
    "human_involved",
    "csat",
];

#[derive(FromQueryResult)]
struct ExportRow {
    id: String,
    assistant_id: String,
    visitor_id: String,
    status: String,
    subject: Option<String>,
    source_url: Option<String>,
    created_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    messages: i64,
    sentiment: Option<f64>,
    failed_total: i32,
    handoff_reason: Option<String>,
    handed_off_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    human_involved: bool,
    csat: Option<i32>,
}

/// A checked export: the caller may export, the range is valid; pages are read as the stream is consumed.
pub struct Export {
    db: Db,
    organization_id: String,
    window: Window,
}

/// Checks that the caller may export (the full API plan) and the range; nothing is read yet.
pub async fn export_conversations(
    db: &Db,
    principal: &Principal,
    range: &Range,
) -> ApiResult<Export> {
    let grant = authorize(principal, Resource::Analytics, Action::Export).await?;
    let window = range.check()?;
    check_assistant(db, grant.organization_id(), &window).await?;
    Ok(Export {
        db: db.clone(),
        organization_id: grant.organization_id().to_owned(),
        window,
    })
}

/// A spreadsheet must not read a visitor's text as a formula: such cells get a leading apostrophe.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_line(fields: &[String]) -> ApiResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields).map_err(ApiError::internal)?;
    writer
        .into_inner()
        .map_err(|e| ApiError::internal_msg(e.to_string()))
}

impl Export {
    /// The header row.
    pub fn header(&self) -> ApiResult<Vec<u8>> {
        csv_line(&EXPORT_COLUMNS.map(str::to_owned))
    }

    /// The rows after conversation `after` (one page, oldest first), and the id to continue after; `None` at
    /// the end.
    pub async fn page(&self, after: Option<&str>) -> ApiResult<(Vec<u8>, Option<String>)> {
        let mut sql = Sql::new(self.db.backend());
        let mut clause = conversations_in(&mut sql, &self.organization_id, &self.window);
        if let Some(after) = after {
            clause.push_str(&format!(" AND c.id > {}", sql.bind(after.to_owned())));
        }
        let rows = all::<ExportRow>(
            &self.db,
            sql.statement(format!(
                "SELECT c.id, c.assistant_id, c.visitor_id, c.status, c.subject, c.source_url, c.created_at, \
                 c.first_response_at, c.sentiment, c.failed_total, c.handoff_reason, c.handed_off_at, \
                 c.resolved_at, c.human_involved, \
                 (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.organization_id = c.organization_id) AS messages, \
                 (SELECT f.rating FROM feedback f WHERE f.organization_id = c.organization_id AND f.target_id = c.id) AS csat \
                 FROM conversations c WHERE {clause} ORDER BY c.id LIMIT {EXPORT_PAGE}"
            )),
        )
        .await?;
        let mut out = Vec::new();
        let mut last = None;
        let full = rows.len() as u64 == EXPORT_PAGE;
        let time = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default()
        };
        for row in rows {
            let first_response = row
                .first_response_at
                .map(|t| {
                    format!(
                        "{:.3}",
                        (t - row.created_at).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_default();
            out.extend(csv_line(&[
                row.id.clone(),
                row.assistant_id,
                row.visitor_id,
                row.status,
                cell(row.subject.as_deref().unwrap_or("")),
                cell(row.source_url.as_deref().unwrap_or("")),
                time(Some(row.created_at)),
                first_response,
                row.messages.to_string(),
                row.sentiment.map(|s| format!("{s:.4}")).unwrap_or_default(),
                row.failed_total.to_string(),
                row.handoff_reason.unwrap_or_default(),
                time(row.handed_off_at),
                time(row.resolved_at),
                row.human_involved.to_string(),
                row.csat.map(|c| c.to_string()).unwrap_or_default(),
            ])?);
            last = Some(row.id);
        }
        Ok((out, if full { last } else { None }))
    }
}
