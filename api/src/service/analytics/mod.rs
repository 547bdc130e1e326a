//! Analytics: conversation and knowledge-base figures over a time range, bucketed by hour, day or week, and
//! filtered by assistant, added up from hourly rollups (`rollups`) with the same results on SQLite and
//! PostgreSQL; plus the streamed CSV export of a range's conversations.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::db::sql::{Sql, TimeBucket};
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, Kind};
use crate::service::assistants;

pub mod conversations;
pub mod export;
pub mod knowledge_base;
pub mod rollups;

/// Bucket width of the series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default)]
pub struct Range {
    /// Default: 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
    pub granularity: Granularity,
    pub assistant_id: Option<String>,
}

/// Most buckets one series may have.
pub(crate) const MAX_BUCKETS: i64 = 2_000;
/// Rows of the top lists.
pub(crate) const TOP: i64 = 10;

/// A checked range.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    pub(crate) from: DateTime<Utc>,
    pub(crate) to: DateTime<Utc>,
    pub(crate) granularity: Granularity,
    pub(crate) assistant_id: Option<String>,
}

impl Range {
    pub(crate) fn check(&self) -> ApiResult<Window> {
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

/// The conditions every aggregate shares, on a table aliased `alias` with `organization_id`, `created_at`
/// and `assistant_id` columns: the organization, the range, and the assistant when one is asked for.
pub(crate) fn in_window(sql: &mut Sql, alias: &str, org: &str, window: &Window) -> String {
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
pub(crate) fn conversations_in(sql: &mut Sql, org: &str, window: &Window) -> String {
    in_window(sql, "c", org, window)
}

pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Every row of a raw statement, on the pool or in a transaction.
pub(crate) async fn all<T: FromQueryResult>(
    conn: &impl ConnectionTrait,
    statement: Statement,
) -> ApiResult<Vec<T>> {
    Ok(T::find_by_statement(statement).all(conn).await?)
}

/// Checks that the assistant filter names one of the caller's assistants.
pub(crate) async fn check_assistant(db: &Db, org: &str, window: &Window) -> ApiResult<()> {
    if let Some(id) = &window.assistant_id {
        assistants::find(db.conn(), org, id)
            .await
            .map_err(|_| ApiError::validation("assistant_id", format!("no assistant {id}")))?;
    }
    Ok(())
}
