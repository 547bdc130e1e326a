//! `/analytics/conversations` and `/analytics/knowledge-base`: figures of a range (`from`, `to`, `granularity`,
//! `assistant_id` in the query string).

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::ApiError;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::analytics;
use crate::service::analytics::Granularity;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/conversations", get(conversations))
        .route("/analytics/knowledge-base", get(knowledge_base))
        .route("/analytics/conversations/export", get(export))
}

async fn conversations(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<RangeBody>,
) -> Result<Json<ConversationStatsJson>, ApiError> {
    Ok(Json(
        analytics::conversations::stats(&state.db, &principal, &range.into())
            .await
            .map_err(ApiError::in_query)?
            .into(),
    ))
}

async fn knowledge_base(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<RangeBody>,
) -> Result<Json<KnowledgeBaseStatsJson>, ApiError> {
    Ok(Json(
        analytics::knowledge_base::stats(&state.db, &principal, &range.into())
            .await
            .map_err(ApiError::in_query)?
            .into(),
    ))
}

/// The range's conversations as CSV (RFC 4180, a header row, one row per conversation, oldest first), streamed
/// page by page; the full API plan only.
async fn export(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiQuery(range): ApiQuery<RangeBody>,
) -> Result<Response, ApiError> {
    let export = analytics::export::export_conversations(&state.db, &principal, &range.into())
        .await
        .map_err(ApiError::in_query)?;
    let header = export.header()?;
    // States: the next page to read after this id, `Some(None)` for the first page, `None` when done.
    let pages = futures_util::stream::unfold(
        (export, Some(None::<String>)),
        |(export, next)| async move {
            let after = next?;
            match export.page(after.as_deref()).await {
                Ok((bytes, more)) => Some((Ok(bytes), (export, more.map(Some)))),
                Err(err) => {
                    tracing::error!(error = %err.public_message(), "CSV export stopped");
                    Some((
                        Err(std::io::Error::other("the export stopped")),
                        (export, None),
                    ))
                }
            }
        },
    );
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(header)]).chain(pages);
    let filename = format!(
        "conversations-{}.csv",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// What to aggregate: `[from, to)`, the bucket width, and optionally one assistant.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeBody {
    /// Default: 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub granularity: Granularity,
    pub assistant_id: Option<String>,
}

impl From<RangeBody> for crate::service::analytics::Range {
    fn from(body: RangeBody) -> Self {
        Self {
            from: body.from,
            to: body.to,
            granularity: body.granularity,
            assistant_id: body.assistant_id,
        }
    }
}

/// One bucket of a series.
#[derive(Debug, Serialize)]
pub struct BucketJson {
    /// Start of the bucket, UTC, RFC 3339.
    pub start: String,
    pub count: u64,
}

impl From<analytics::conversations::Bucket> for BucketJson {
    fn from(value: analytics::conversations::Bucket) -> Self {
        Self {
            start: value.start,
            count: value.count,
        }
    }
}

/// Seconds, as a median and a 90th percentile (nearest rank); `None` without data.
#[derive(Debug, Serialize)]
pub struct PercentilesJson {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl From<analytics::conversations::Percentiles> for PercentilesJson {
    fn from(value: analytics::conversations::Percentiles) -> Self {
        Self {
            count: value.count,
            median_seconds: value.median_seconds,
            p90_seconds: value.p90_seconds,
        }
    }
}

/// Conversations by the sign of their running sentiment (VADER's ±0.05 convention).
#[derive(Debug, Serialize)]
pub struct SentimentDistributionJson {
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
    /// No visitor message scored yet.
    pub unknown: u64,
}

impl From<analytics::conversations::SentimentDistribution> for SentimentDistributionJson {
    fn from(value: analytics::conversations::SentimentDistribution) -> Self {
        Self {
            negative: value.negative,
            neutral: value.neutral,
            positive: value.positive,
            unknown: value.unknown,
        }
    }
}

/// CSAT: conversation ratings 1-5.
#[derive(Debug, Serialize)]
pub struct CsatJson {
    pub count: u64,
    pub average: Option<f64>,
}

impl From<analytics::conversations::Csat> for CsatJson {
    fn from(value: analytics::conversations::Csat) -> Self {
        Self {
            count: value.count,
            average: value.average,
        }
    }
}

/// Visitor messages in one hour of the day (UTC).
#[derive(Debug, Serialize)]
pub struct HourCountJson {
    pub hour: u32,
    pub messages: u64,
}

impl From<analytics::conversations::HourCount> for HourCountJson {
    fn from(value: analytics::conversations::HourCount) -> Self {
        Self {
            hour: value.hour,
            messages: value.messages,
        }
    }
}

/// Conversation figures of a range (conversations created in it).
#[derive(Debug, Serialize)]
pub struct ConversationStatsJson {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub total: u64,
    /// Every status, zero included.
    pub by_status: BTreeMap<String, u64>,
    pub new_conversations: Vec<BucketJson>,
    pub messages: u64,
    pub average_messages_per_conversation: f64,
    /// Share of the conversations handed off to a person.
    pub handoff_rate: f64,
    /// Share of the conversations resolved (or closed) without a person taking part.
    pub resolution_rate_without_human: f64,
    /// From the conversation's start to the first assistant or agent message.
    pub first_response: PercentilesJson,
    pub sentiment: SentimentDistributionJson,
    /// Conversation ratings given in the range.
    pub csat: CsatJson,
    /// Hours of the day (UTC) by visitor messages, busiest first; hours without messages are left out.
    pub busiest_hours: Vec<HourCountJson>,
}

impl From<analytics::conversations::ConversationStats> for ConversationStatsJson {
    fn from(value: analytics::conversations::ConversationStats) -> Self {
        Self {
            from: value.from,
            to: value.to,
            granularity: value.granularity,
            total: value.total,
            by_status: value.by_status,
            new_conversations: value
                .new_conversations
                .into_iter()
                .map(Into::into)
                .collect(),
            messages: value.messages,
            average_messages_per_conversation: value.average_messages_per_conversation,
            handoff_rate: value.handoff_rate,
            resolution_rate_without_human: value.resolution_rate_without_human,
            first_response: value.first_response.into(),
            sentiment: value.sentiment.into(),
            csat: value.csat.into(),
            busiest_hours: value.busiest_hours.into_iter().map(Into::into).collect(),
        }
    }
}

/// Knowledge-base queries in one bucket.
#[derive(Debug, Serialize)]
pub struct QueryBucketJson {
    pub start: String,
    pub queries: u64,
    pub failed: u64,
}

impl From<analytics::knowledge_base::QueryBucket> for QueryBucketJson {
    fn from(value: analytics::knowledge_base::QueryBucket) -> Self {
        Self {
            start: value.start,
            queries: value.queries,
            failed: value.failed,
        }
    }
}

/// A failed query text and how often it was asked.
#[derive(Debug, Serialize)]
pub struct FailedQueryJson {
    /// Lower-cased, punctuation-free text that clusters the variants.
    pub normalized: String,
    /// One of the texts as asked.
    pub example: String,
    pub count: u64,
}

impl From<analytics::knowledge_base::FailedQuery> for FailedQueryJson {
    fn from(value: analytics::knowledge_base::FailedQuery) -> Self {
        Self {
            normalized: value.normalized,
            example: value.example,
            count: value.count,
        }
    }
}

/// An entry and how often it answered.
#[derive(Debug, Serialize)]
pub struct EntryHitsJson {
    pub entry_id: String,
    pub title: String,
    pub hits: u64,
}

impl From<analytics::knowledge_base::EntryHits> for EntryHitsJson {
    fn from(value: analytics::knowledge_base::EntryHits) -> Self {
        Self {
            entry_id: value.entry_id,
            title: value.title,
            hits: value.hits,
        }
    }
}

/// An entry that answered nothing in the range.
#[derive(Debug, Serialize)]
pub struct UnusedEntryJson {
    pub entry_id: String,
    pub title: String,
}

impl From<analytics::knowledge_base::UnusedEntry> for UnusedEntryJson {
    fn from(value: analytics::knowledge_base::UnusedEntry) -> Self {
        Self {
            entry_id: value.entry_id,
            title: value.title,
        }
    }
}

/// Answer ratings of one entry.
#[derive(Debug, Serialize)]
pub struct EntryFeedbackJson {
    pub entry_id: String,
    pub title: String,
    pub helpful: u64,
    pub not_helpful: u64,
}

impl From<analytics::knowledge_base::EntryFeedback> for EntryFeedbackJson {
    fn from(value: analytics::knowledge_base::EntryFeedback) -> Self {
        Self {
            entry_id: value.entry_id,
            title: value.title,
            helpful: value.helpful,
            not_helpful: value.not_helpful,
        }
    }
}

/// Knowledge-base figures of a range.
#[derive(Debug, Serialize)]
pub struct KnowledgeBaseStatsJson {
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
    pub queries_per_bucket: Vec<QueryBucketJson>,
    pub top_failed_queries: Vec<FailedQueryJson>,
    pub top_entries: Vec<EntryHitsJson>,
    /// Active entries that answered no question in the range (at most 100, oldest first).
    pub unused_entries: Vec<UnusedEntryJson>,
    pub unused_entry_count: u64,
    pub feedback_by_entry: Vec<EntryFeedbackJson>,
}

impl From<analytics::knowledge_base::KnowledgeBaseStats> for KnowledgeBaseStatsJson {
    fn from(value: analytics::knowledge_base::KnowledgeBaseStats) -> Self {
        Self {
            total: value.total,
            active: value.active,
            inactive: value.inactive,
            by_category: value.by_category,
            from: value.from,
            to: value.to,
            granularity: value.granularity,
            queries: value.queries,
            failed_queries: value.failed_queries,
            failed_rate: value.failed_rate,
            queries_per_bucket: value
                .queries_per_bucket
                .into_iter()
                .map(Into::into)
                .collect(),
            top_failed_queries: value
                .top_failed_queries
                .into_iter()
                .map(Into::into)
                .collect(),
            top_entries: value.top_entries.into_iter().map(Into::into).collect(),
            unused_entries: value.unused_entries.into_iter().map(Into::into).collect(),
            unused_entry_count: value.unused_entry_count,
            feedback_by_entry: value
                .feedback_by_entry
                .into_iter()
                .map(Into::into)
                .collect(),
        }
    }
}
