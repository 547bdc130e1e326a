//! The knowledge-base side of an hour's rollup: the queries made in it (failed ones by their text, answered ones by their entry) and the answers rated in it, each with when it was first seen so that merged hours rank ties as one query would.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::service::analytics::rollups::{Figures, PerHour, Source, count, slot};

/// How often something was counted, and when (and by which row) first.
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

impl Ratings {
    fn merge(&mut self, other: Ratings) {
        self.helpful += other.helpful;
        self.not_helpful += other.not_helpful;
        self.first_at = self.first_at.min(other.first_at);
    }
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

/// Adds `from` into `into`, merging the values of a key both hold.
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

impl Figures for KnowledgeBaseFigures {
    const COLUMN: &'static str = "knowledge_base";

    fn merge(&mut self, other: Self) {
        self.queries += other.queries;
        self.failed += other.failed;
        merge_with(&mut self.failed_queries, other.failed_queries, Tally::merge);
        merge_with(&mut self.entry_hits, other.entry_hits, Tally::merge);
        merge_with(&mut self.entry_ratings, other.entry_ratings, Ratings::merge);
    }

    async fn compute(source: &Source<'_>) -> ApiResult<PerHour<Self>> {
        let mut making: PerHour<Self> = BTreeMap::new();

        #[derive(sea_orm::FromQueryResult)]
        struct QueryRow {
            assistant_id: String,
            hour: String,
            n: i64,
            failed: Option<i64>,
        }
        let queries = source
            .hourly::<QueryRow>(
                "q",
                "knowledge_base_queries q",
                |_| "COUNT(*) AS n, SUM(CASE WHEN q.failed THEN 1 ELSE 0 END) AS failed".to_owned(),
                "GROUP BY 1, 2",
            )
            .await?;
        for row in queries {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
            f.queries += count(Some(row.n));
            f.failed += count(row.failed);
        }

        #[derive(sea_orm::FromQueryResult)]
        struct TallyRow {
            assistant_id: String,
            hour: String,
            key: String,
            n: i64,
            first_at: DateTime<Utc>,
            first_id: String,
        }
        for failed in [true, false] {
            let (key, condition) = if failed {
                ("q.normalized", "AND q.failed")
            } else {
                (
                    "q.best_entry_id",
                    "AND NOT q.failed AND q.best_entry_id IS NOT NULL",
                )
            };
            let tallies = source
                .hourly::<TallyRow>(
                    "q",
                    "knowledge_base_queries q",
                    |_| {
                        format!(
                            "{key} AS key, COUNT(*) AS n, MIN(q.created_at) AS first_at, MIN(q.id) AS first_id"
                        )
                    },
                    &format!("{condition} GROUP BY 1, 2, 3"),
                )
                .await?;
            for row in tallies {
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
                // One row per key of an hour and assistant.
                into.insert(row.key, tally);
            }
        }

        #[derive(sea_orm::FromQueryResult)]
        struct RatingRow {
            assistant_id: String,
            hour: String,
            entry_id: String,
            helpful: Option<i64>,
            not_helpful: Option<i64>,
            first_at: DateTime<Utc>,
        }
        let ratings = source
            .hourly::<RatingRow>(
                "f",
                "feedback f",
                |_| {
                    "f.entry_id AS entry_id, SUM(CASE WHEN f.helpful THEN 1 ELSE 0 END) AS helpful, \
                     SUM(CASE WHEN f.helpful THEN 0 ELSE 1 END) AS not_helpful, MIN(f.created_at) AS first_at"
                        .to_owned()
                },
                "AND f.helpful IS NOT NULL AND f.entry_id IS NOT NULL GROUP BY 1, 2, 3",
            )
            .await?;
        for row in ratings {
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
        Ok(making)
    }
}
