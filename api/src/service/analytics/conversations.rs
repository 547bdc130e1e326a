//! Conversation figures of a range: totals, statuses, buckets, rates, first-response times, sentiment, CSAT, busy hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::authz::{Action, Resource, authorize};
use crate::db::Db;
use crate::error::ApiResult;
use crate::service::conversations::Status;

use crate::service::analytics::rollups::{self, ConversationFigures};
use crate::service::analytics::{Granularity, Range, check_assistant, ratio};

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

    let pieces = rollups::read::<ConversationFigures>(db, org, &window).await?;
    let new_conversations = rollups::series(
        &pieces,
        window.granularity,
        |f| f.total > 0,
        |n: &mut u64, f| *n += f.total,
    )
    .into_iter()
    .map(|(start, count)| Bucket { start, count })
    .collect();
    let mut all = rollups::total(pieces);

    let mut by_status: BTreeMap<String, u64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (status, n) in std::mem::take(&mut all.by_status) {
        *by_status.entry(status).or_default() += n;
    }

    // Nearest rank, ascending, as the figures have always been defined.
    all.first_responses.sort_by(f64::total_cmp);
    let answered = all.first_responses.len() as u64;
    let nearest_rank = |p: f64| {
        let rank = ((p * answered as f64).ceil() as usize).max(1) - 1;
        all.first_responses.get(rank).copied()
    };
    let first_response = Percentiles {
        count: answered,
        median_seconds: nearest_rank(0.5),
        p90_seconds: nearest_rank(0.9),
    };

    let csat = Csat {
        count: all.ratings,
        // Four decimals, as the figures were when the database averaged them.
        average: (all.ratings > 0).then(|| {
            let average = all.rating_sum as f64 / all.ratings as f64;
            (average * 10_000.0).round() / 10_000.0
        }),
    };

    let mut busiest_hours: Vec<HourCount> = all
        .visitor_messages
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(hour, n)| HourCount {
            hour: *hour,
            messages: *n,
        })
        .collect();
    busiest_hours.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.hour.cmp(&b.hour)));

    Ok(ConversationStats {
        from: window.from,
        to: window.to,
        granularity: window.granularity,
        total: all.total,
        by_status,
        new_conversations,
        messages: all.messages,
        average_messages_per_conversation: ratio(all.messages, all.total),
        handoff_rate: ratio(all.handed_off, all.total),
        resolution_rate_without_human: ratio(all.resolved_alone, all.total),
        first_response,
        sentiment: SentimentDistribution {
            negative: all.negative,
            neutral: all.neutral,
            positive: all.positive,
            unknown: all.unknown,
        },
        csat,
        busiest_hours,
    })
}
