//! The conversation side of an hour's rollup: the conversations created in it (statuses, handoffs, sentiment, messages, visitor messages by hour of the day, first-response times) and the ratings given in it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::service::analytics::rollups::{Figures, PerHour, Source, add, count, slot};

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

    async fn compute(source: &Source<'_>) -> ApiResult<PerHour<Self>> {
        let mut making: PerHour<Self> = BTreeMap::new();

        #[derive(sea_orm::FromQueryResult)]
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
        let statuses = source
            .hourly::<StatusRow>(
                "c",
                "conversations c",
                |_| {
                    "c.status AS status, COUNT(*) AS total, \
                     SUM(CASE WHEN c.handed_off_at IS NOT NULL THEN 1 ELSE 0 END) AS handed_off, \
                     SUM(CASE WHEN c.status IN ('resolved', 'closed') AND NOT c.human_involved THEN 1 ELSE 0 END) AS resolved_alone, \
                     SUM(CASE WHEN c.sentiment < -0.05 THEN 1 ELSE 0 END) AS negative, \
                     SUM(CASE WHEN c.sentiment >= -0.05 AND c.sentiment <= 0.05 THEN 1 ELSE 0 END) AS neutral, \
                     SUM(CASE WHEN c.sentiment > 0.05 THEN 1 ELSE 0 END) AS positive, \
                     SUM(CASE WHEN c.sentiment IS NULL THEN 1 ELSE 0 END) AS unknown"
                        .to_owned()
                },
                "GROUP BY 1, 2, 3",
            )
            .await?;
        for row in statuses {
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

        #[derive(sea_orm::FromQueryResult)]
        struct ResponseRow {
            assistant_id: String,
            hour: String,
            v: Option<f64>,
        }
        let responses = source
            .hourly::<ResponseRow>(
                "c",
                "conversations c",
                |sql| {
                    let seconds = sql.seconds_between("c.created_at", "c.first_response_at");
                    format!("{} AS v", sql.as_double(&seconds))
                },
                "AND c.first_response_at IS NOT NULL",
            )
            .await?;
        for row in responses {
            if let Some(v) = row.v {
                let f = slot(&mut making, row.assistant_id, &row.hour)?;
                f.first_responses.push(v);
            }
        }

        #[derive(sea_orm::FromQueryResult)]
        struct MessageRow {
            assistant_id: String,
            hour: String,
            hour_of_day: i32,
            n: i64,
        }
        let messages = source
            .hourly::<MessageRow>(
                "c",
                "messages m JOIN conversations c ON c.id = m.conversation_id",
                |sql| {
                    format!(
                        "CASE WHEN m.author = 'visitor' THEN {} ELSE -1 END AS hour_of_day, COUNT(*) AS n",
                        sql.hour_of_day("m.created_at")
                    )
                },
                "AND m.organization_id = c.organization_id GROUP BY 1, 2, 3",
            )
            .await?;
        for row in messages {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
            let n = count(Some(row.n));
            f.messages += n;
            if row.hour_of_day >= 0 {
                *f.visitor_messages
                    .entry(row.hour_of_day as u32)
                    .or_default() += n;
            }
        }

        #[derive(sea_orm::FromQueryResult)]
        struct RatingRow {
            assistant_id: String,
            hour: String,
            n: i64,
            total: Option<i64>,
        }
        let ratings = source
            .hourly::<RatingRow>(
                "f",
                "feedback f",
                |_| "COUNT(*) AS n, CAST(SUM(f.rating) AS BIGINT) AS total".to_owned(),
                "AND f.rating IS NOT NULL GROUP BY 1, 2",
            )
            .await?;
        for row in ratings {
            let f = slot(&mut making, row.assistant_id, &row.hour)?;
            f.ratings += count(Some(row.n));
            f.rating_sum += row.total.unwrap_or(0);
        }
        Ok(making)
    }
}
