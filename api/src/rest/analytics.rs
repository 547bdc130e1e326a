//! `/analytics/conversations` and `/analytics/knowledge-base`: figures of a range (`from`, `to`, `granularity`,
//! `assistant_id` in the query string).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::rest::extract::{ApiQuery, Caller};
use crate::service::analytics;
use crate::service::analytics::Granularity;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversations))
        .routes(routes!(knowledge_base))
        .routes(routes!(export))
}

/// Conversation figures of a time range: volume, statuses, handoffs, response times, sentiment and CSAT.
#[utoipa::path(get, operation_id = "getConversationAnalytics", path = "/analytics/conversations", tag = "analytics", params(RangeBody),
    responses((status = 200, description = "The figures of the conversations created in the range.", body = ConversationStatsJson)))]
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

/// Knowledge-base figures of a time range: questions looked up and failed, entries used and unused, ratings.
#[utoipa::path(get, operation_id = "getKnowledgeBaseAnalytics", path = "/analytics/knowledge-base", tag = "analytics", params(RangeBody),
    responses((status = 200, description = "The knowledge base's figures for the range.", body = KnowledgeBaseStatsJson)))]
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

/// Downloads the range's conversations as a CSV file (premium plan).
///
/// RFC 4180 CSV, streamed page by page: a header row, then one row per conversation created in the range, oldest
/// first. The columns are `id`, `assistant_id`, `visitor_id`, `status`, `subject`, `source_url`, `created_at`,
/// `first_response_seconds`, `messages`, `sentiment`, `failed_responses`, `handoff_reason`, `handed_off_at`,
/// `resolved_at`, `human_involved` and `csat`; an empty cell is a missing value. A subject or source URL that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that a spreadsheet does not
/// read it as a formula. If reading fails midway, the download stops short.
#[utoipa::path(get, operation_id = "exportConversations", path = "/analytics/conversations/export", tag = "analytics", params(RangeBody),
    responses(
        (status = 200, description = "The conversations as CSV.", content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"conversations-<UTC time of the export>.csv\"`"))),
        (status = 403, description = "The organization's plan is below premium (`PLAN_UPGRADE_REQUIRED`), or the role or key may not export (`FORBIDDEN`).",
            body = crate::rest::openapi::ErrorBody),
    ))]
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
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeBody {
    /// Start of the range, included: an RFC 3339 date-time; 30 days before `to` when omitted. Must be before
    /// `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the range, excluded: an RFC 3339 date-time; now when omitted.
    pub to: Option<DateTime<Utc>>,
    /// Width of the series' buckets: `hour`, `day` (the default) or `week` (ISO weeks, starting on Monday). The
    /// range may hold at most 2,000 buckets.
    #[serde(default)]
    #[param(value_type = String)]
    pub granularity: Granularity,
    /// Only the figures of this assistant of the organization; all assistants when omitted.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketJson {
    /// Start of the bucket, UTC, RFC 3339 (e.g. `2025-01-31T00:00:00Z`).
    pub start: String,
    /// Conversations created in the bucket.
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

/// A duration in seconds, as a median and a 90th percentile (nearest rank); null without data.
#[derive(Debug, Serialize, ToSchema)]
pub struct PercentilesJson {
    /// How many conversations it is measured on: those of the range that got a response.
    pub count: u64,
    /// The median, in seconds to the millisecond; null when `count` is 0.
    pub median_seconds: Option<f64>,
    /// The 90th percentile, in seconds to the millisecond; null when `count` is 0.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct SentimentDistributionJson {
    /// Conversations with a sentiment below -0.05.
    pub negative: u64,
    /// Conversations with a sentiment from -0.05 to 0.05.
    pub neutral: u64,
    /// Conversations with a sentiment above 0.05.
    pub positive: u64,
    /// Conversations without a sentiment: no visitor message scored yet.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct CsatJson {
    /// How many conversation ratings were given.
    pub count: u64,
    /// Their average, 1 to 5, to four decimals; null without ratings.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct HourCountJson {
    /// The hour of the day, UTC: 0 to 23.
    pub hour: u32,
    /// Visitor messages of the range's conversations written in that hour.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationStatsJson {
    /// Start of the range, included (the default applied when none was asked for).
    pub from: DateTime<Utc>,
    /// End of the range, excluded (the default applied when none was asked for).
    pub to: DateTime<Utc>,
    /// Width of the buckets of `new_conversations`: `hour`, `day` or `week`.
    #[schema(value_type = String)]
    pub granularity: Granularity,
    /// Conversations created in the range.
    pub total: u64,
    /// Those conversations per current status: `open`, `handed_off`, `resolved` and `closed`, every status
    /// present, zero included.
    #[schema(value_type = Object)]
    pub by_status: BTreeMap<String, u64>,
    /// Conversations created per bucket, oldest first; buckets without any are left out.
    pub new_conversations: Vec<BucketJson>,
    /// Messages of those conversations, from every author.
    pub messages: u64,
    /// `messages` divided by `total`; 0 without conversations.
    pub average_messages_per_conversation: f64,
    /// Share of the conversations handed off to a person, 0 to 1; 0 without conversations.
    pub handoff_rate: f64,
    /// Share of the conversations resolved (or closed) without a person taking part, 0 to 1; 0 without
    /// conversations.
    pub resolution_rate_without_human: f64,
    /// From the conversation's start to the first assistant or agent message.
    pub first_response: PercentilesJson,
    /// The conversations by the sign of their sentiment.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryBucketJson {
    /// Start of the bucket, UTC, RFC 3339 (e.g. `2025-01-31T00:00:00Z`).
    pub start: String,
    /// Visitor questions looked up in the knowledge base in the bucket.
    pub queries: u64,
    /// Those of them no entry answered confidently enough.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedQueryJson {
    /// Lower-cased, punctuation-free text that clusters the variants, at most 200 characters.
    pub normalized: String,
    /// The first of the texts as asked.
    pub example: String,
    /// How many times it was asked and failed in the range.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryHitsJson {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
    pub title: String,
    /// Questions of the range it answered as the confident best match.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct UnusedEntryJson {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryFeedbackJson {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
    pub title: String,
    /// Answers from the entry rated helpful in the range.
    pub helpful: u64,
    /// Answers from the entry rated not helpful in the range.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeBaseStatsJson {
    /// Entries in the knowledge base now, whatever the range or assistant.
    pub total: u64,
    /// Of them, the active ones.
    pub active: u64,
    /// Of them, the inactive ones.
    pub inactive: u64,
    /// Entries per category, now, whatever the range or assistant; uncategorized entries count under `""`.
    #[schema(value_type = Object)]
    pub by_category: BTreeMap<String, u64>,
    /// Start of the range, included (the default applied when none was asked for).
    pub from: DateTime<Utc>,
    /// End of the range, excluded (the default applied when none was asked for).
    pub to: DateTime<Utc>,
    /// Width of the buckets of `queries_per_bucket`: `hour`, `day` or `week`.
    #[schema(value_type = String)]
    pub granularity: Granularity,
    /// Visitor questions looked up in the knowledge base in the range.
    pub queries: u64,
    /// Those of them that failed: no entry matched with the assistant's minimum confidence.
    pub failed_queries: u64,
    /// `failed_queries` divided by `queries`, 0 to 1; 0 without queries.
    pub failed_rate: f64,
    /// Queries per bucket, oldest first; buckets without any are left out.
    pub queries_per_bucket: Vec<QueryBucketJson>,
    /// The failed questions asked most often, at most 10, most asked first.
    pub top_failed_queries: Vec<FailedQueryJson>,
    /// The entries that answered most questions, at most 10, most used first.
    pub top_entries: Vec<EntryHitsJson>,
    /// Active entries that answered no question in the range (at most 100, oldest first).
    pub unused_entries: Vec<UnusedEntryJson>,
    /// How many active entries answered no question in the range, all of them counted.
    pub unused_entry_count: u64,
    /// Answer ratings given in the range, per entry: most rated not helpful first.
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
