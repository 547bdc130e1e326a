//! Knowledge-base figures of a range: entries, queries and failures per bucket, top failed queries and entries, unused entries, feedback.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::ApiResult;
use crate::service::knowledge_base;

use crate::service::analytics::rollups::{self, KnowledgeBaseFigures, Ratings, Tally};
use crate::service::analytics::{Granularity, Range, TOP, check_assistant, ratio};

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

/// Most unused entries listed.
const UNUSED_SHOWN: usize = 100;

/// Knowledge-base figures of the range.
pub async fn stats(db: &Db, principal: &Principal, range: &Range) -> ApiResult<KnowledgeBaseStats> {
    let grant = authorize(principal, Resource::Analytics, Action::Read).await?;
    let org = grant.organization_id();
    let window = range.check()?;
    check_assistant(db, org, &window).await?;

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

    let pieces = rollups::read::<KnowledgeBaseFigures>(db, org, &window).await?;
    stats.queries_per_bucket = rollups::series(
        &pieces,
        window.granularity,
        |f| f.queries > 0,
        |(queries, failed): &mut (u64, u64), f| {
            *queries += f.queries;
            *failed += f.failed;
        },
    )
    .into_iter()
    .map(|(start, (queries, failed))| QueryBucket {
        start,
        queries,
        failed,
    })
    .collect();
    let figures = rollups::total(pieces);
    stats.queries = figures.queries;
    stats.failed_queries = figures.failed;
    stats.failed_rate = ratio(stats.failed_queries, stats.queries);

    // Most asked first, then the first asked (ids are time-ordered, so the first id breaks a tie of times).
    let mut failed: Vec<(String, Tally)> = figures.failed_queries.into_iter().collect();
    failed.sort_by(|(_, a), (_, b)| {
        b.n.cmp(&a.n)
            .then(a.first_at.cmp(&b.first_at))
            .then(a.first_id.cmp(&b.first_id))
    });
    failed.truncate(TOP as usize);
    // The example is the first time each cluster was asked.
    let firsts: Vec<String> = failed
        .iter()
        .filter_map(|(_, t)| t.first_id.clone())
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
    stats.top_failed_queries = failed
        .into_iter()
        .map(|(normalized, tally)| FailedQuery {
            normalized,
            example: tally
                .first_id
                .and_then(|id| examples.remove(&id))
                .map(|row| row.query)
                .unwrap_or_default(),
            count: tally.n,
        })
        .collect();

    // Most answered first, then the first to answer; entries deleted since are left out.
    let mut hits: Vec<(String, Tally)> = figures.entry_hits.into_iter().collect();
    hits.sort_by(|(a_id, a), (b_id, b)| {
        b.n.cmp(&a.n)
            .then(a.first_at.cmp(&b.first_at))
            .then(a_id.cmp(b_id))
    });
    for chunk in hits.chunks(TOP as usize * 2) {
        let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
        let titles = knowledge_base::titles(db, org, &ids).await?;
        for (entry_id, tally) in chunk {
            if stats.top_entries.len() == TOP as usize {
                break;
            }
            if let Some(title) = titles.get(entry_id) {
                stats.top_entries.push(EntryHits {
                    entry_id: entry_id.clone(),
                    title: title.clone(),
                    hits: tally.n,
                });
            }
        }
        if stats.top_entries.len() == TOP as usize {
            break;
        }
    }

    // Active entries that answered nothing in the range, oldest first.
    let answered: std::collections::HashSet<&str> =
        hits.iter().map(|(id, _)| id.as_str()).collect();
    let unused: Vec<String> = knowledge_base::active_ids(db, org)
        .await?
        .into_iter()
        .filter(|id| !answered.contains(id.as_str()))
        .collect();
    stats.unused_entry_count = unused.len() as u64;
    let shown = &unused[..unused.len().min(UNUSED_SHOWN)];
    let titles = knowledge_base::titles(db, org, shown).await?;
    stats.unused_entries = shown
        .iter()
        .filter_map(|id| {
            Some(UnusedEntry {
                entry_id: id.clone(),
                title: titles.get(id)?.clone(),
            })
        })
        .collect();

    // Most "not helpful" first, then most helpful, then the first rated.
    let mut rated: Vec<(String, Ratings)> = figures.entry_ratings.into_iter().collect();
    rated.sort_by(|(a_id, a), (b_id, b)| {
        b.not_helpful
            .cmp(&a.not_helpful)
            .then(b.helpful.cmp(&a.helpful))
            .then(a.first_at.cmp(&b.first_at))
            .then(a_id.cmp(b_id))
    });
    let ids: Vec<String> = rated.iter().map(|(id, _)| id.clone()).collect();
    let titles = knowledge_base::titles(db, org, &ids).await?;
    stats.feedback_by_entry = rated
        .into_iter()
        .filter_map(|(entry_id, ratings)| {
            let title = titles.get(&entry_id)?.clone();
            Some(EntryFeedback {
                entry_id,
                title,
                helpful: ratings.helpful,
                not_helpful: ratings.not_helpful,
            })
        })
        .collect();
    Ok(stats)
}
