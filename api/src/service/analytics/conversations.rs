//! Conversation figures of a range: totals, statuses, buckets, rates, first-response times, sentiment, CSAT, busy hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::db::sql::Sql;
use crate::error::{ApiError, ApiResult};
use crate::service::conversations::Status;

use crate::service::analytics::{
    Count, Granularity, Labelled, Range, Totals, all, check_assistant, conversations_in, count,
    in_window, one, percentile, ratio,
};

/// One bucket of a series.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Start of the bucket, UTC, RFC 3339.
    pub start: String,
    pub count: u64,
}

/// Seconds, as a median and a 90th percentile (nearest rank); `None` without data.
#[derive(Clone, Debug, Default)]
pub struct Percentiles {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Conversations by the sign of their running sentiment (VADER's ±0.05 convention).
#[derive(Clone, Debug, Default)]
pub struct SentimentDistribution {
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
    /// No visitor message scored yet.
    pub unknown: u64,
}

/// CSAT: conversation ratings 1-5.
#[derive(Clone, Debug, Default)]
pub struct Csat {
    pub count: u64,
    pub average: Option<f64>,
}

/// Visitor messages in one hour of the day (UTC).
#[derive(Clone, Debug)]
pub struct HourCount {
    pub hour: u32,
    pub messages: u64,
}

/// Conversation figures of a range (conversations created in it).
#[derive(Clone, Debug)]
pub struct ConversationStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub total: u64,
    /// Every status, zero included.
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

/// Conversation figures of the range.
pub async fn stats(db: &Db, principal: &Principal, range: &Range) -> ApiResult<ConversationStats> {
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
