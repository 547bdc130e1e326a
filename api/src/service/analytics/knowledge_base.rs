//! Knowledge-base figures of a range: entries, queries and failures per bucket, top failed queries and entries, unused entries, feedback.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::db::sql::Sql;
use crate::error::ApiResult;
use crate::service::knowledge_base;

use crate::service::analytics::{
    Count, Granularity, Range, TOP, Window, all, check_assistant, count, in_window, one, ratio,
};

/// Knowledge-base queries in one bucket.
#[derive(Clone, Debug)]
pub struct QueryBucket {
    pub start: String,
    pub queries: u64,
    pub failed: u64,
}

/// A failed query text and how often it was asked.
#[derive(Clone, Debug)]
pub struct FailedQuery {
    /// Lower-cased, punctuation-free text that clusters the variants.
    pub normalized: String,
    /// One of the texts as asked.
    pub example: String,
    pub count: u64,
}

/// An entry and how often it answered.
#[derive(Clone, Debug)]
pub struct EntryHits {
    pub entry_id: String,
    pub title: String,
    pub hits: u64,
}

/// An entry that answered nothing in the range.
#[derive(Clone, Debug)]
pub struct UnusedEntry {
    pub entry_id: String,
    pub title: String,
}

/// Answer ratings of one entry.
#[derive(Clone, Debug)]
pub struct EntryFeedback {
    pub entry_id: String,
    pub title: String,
    pub helpful: u64,
    pub not_helpful: u64,
}

/// Knowledge-base figures of a range.
#[derive(Clone, Debug)]
pub struct KnowledgeBaseStats {
    pub total: u64,
    pub active: u64,
    pub inactive: u64,
    /// Entries per category; uncategorized entries count under `""`.
    pub by_category: BTreeMap<String, u64>,
    pub from: DateTime<Utc>,
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

/// The knowledge-base queries of the range, on the alias `q`.
fn queries_in(sql: &mut Sql, org: &str, window: &Window) -> String {
    in_window(sql, "q", org, window)
}

/// Knowledge-base figures of the range.
pub async fn stats(db: &Db, principal: &Principal, range: &Range) -> ApiResult<KnowledgeBaseStats> {
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
