//! Analytics as GraphQL objects: the figures of `service::analytics`, field for field.

use async_graphql::{ComplexObject, SimpleObject};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use crate::graphql::enums::Granularity;
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{LabelledCount, labelled};
use crate::service::analytics;

/// Conversations started in one bucket of a series.
#[derive(SimpleObject)]
#[graphql(name = "ConversationBucket")]
pub struct Bucket {
    /// When the bucket starts (UTC, RFC 3339).
    pub start: String,
    /// How many conversations started in it.
    pub count: u64,
}

impl From<analytics::conversations::Bucket> for Bucket {
    fn from(value: analytics::conversations::Bucket) -> Self {
        Self {
            start: value.start,
            count: value.count,
        }
    }
}

/// Knowledge-base queries in one bucket of a series.
#[derive(SimpleObject)]
#[graphql(name = "KnowledgeBaseQueryBucket")]
pub struct QueryBucket {
    /// When the bucket starts (UTC, RFC 3339).
    pub start: String,
    /// How many visitor questions the assistant searched the knowledge base for.
    pub queries: u64,
    /// How many of them found no answer.
    pub failed: u64,
}

impl From<analytics::knowledge_base::QueryBucket> for QueryBucket {
    fn from(value: analytics::knowledge_base::QueryBucket) -> Self {
        Self {
            start: value.start,
            queries: value.queries,
            failed: value.failed,
        }
    }
}

/// Durations in seconds, as a median and a 90th percentile (nearest rank); null without data.
#[derive(SimpleObject)]
#[graphql(name = "DurationPercentiles")]
pub struct Percentiles {
    /// How many durations were measured.
    pub count: u64,
    /// Half of the durations are at most this long.
    pub median_seconds: Option<f64>,
    /// Nine in ten of the durations are at most this long.
    pub p90_seconds: Option<f64>,
}

impl From<analytics::conversations::Percentiles> for Percentiles {
    fn from(value: analytics::conversations::Percentiles) -> Self {
        Self {
            count: value.count,
            median_seconds: value.median_seconds,
            p90_seconds: value.p90_seconds,
        }
    }
}

/// Conversations by the sign of their running sentiment (VADER's ±0.05 convention).
#[derive(SimpleObject)]
pub struct SentimentDistribution {
    /// Conversations whose sentiment is below -0.05.
    pub negative: u64,
    /// Conversations whose sentiment is from -0.05 to 0.05.
    pub neutral: u64,
    /// Conversations whose sentiment is above 0.05.
    pub positive: u64,
    /// No visitor message scored yet.
    pub unknown: u64,
}

impl From<analytics::conversations::SentimentDistribution> for SentimentDistribution {
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
#[derive(SimpleObject)]
pub struct Csat {
    /// How many conversation ratings were given.
    pub count: u64,
    /// The mean rating, 1 to 5; null without ratings.
    pub average: Option<f64>,
}

impl From<analytics::conversations::Csat> for Csat {
    fn from(value: analytics::conversations::Csat) -> Self {
        Self {
            count: value.count,
            average: value.average,
        }
    }
}

/// Visitor messages in one hour of the day (UTC).
#[derive(SimpleObject)]
pub struct HourCount {
    /// The hour of the day, 0 to 23 (UTC).
    pub hour: u32,
    /// How many visitor messages were posted in that hour.
    pub messages: u64,
}

impl From<analytics::conversations::HourCount> for HourCount {
    fn from(value: analytics::conversations::HourCount) -> Self {
        Self {
            hour: value.hour,
            messages: value.messages,
        }
    }
}

/// Conversation figures of a range (conversations created in it).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ConversationStats {
    #[graphql(skip)]
    pub from: DateTime<Utc>,
    #[graphql(skip)]
    pub to: DateTime<Utc>,
    /// The width of the series' buckets.
    pub granularity: Granularity,
    /// How many conversations started in the range.
    pub total: u64,
    /// Every status, zero included.
    #[graphql(skip)]
    pub by_status: BTreeMap<String, u64>,
    /// Conversations started per bucket, oldest first; buckets without conversations are left out.
    pub new_conversations: Vec<Bucket>,
    /// How many messages the range's conversations hold, from every author.
    pub messages: u64,
    /// Messages per conversation; 0 without conversations.
    pub average_messages_per_conversation: f64,
    /// Share of the conversations handed off to a person.
    pub handoff_rate: f64,
    /// Share of the conversations resolved (or closed) without a person taking part.
    pub resolution_rate_without_human: f64,
    /// From the conversation's start to the first assistant or agent message.
    pub first_response: Percentiles,
    /// The range's conversations by the sign of their sentiment.
    pub sentiment: SentimentDistribution,
    /// Conversation ratings given in the range.
    pub csat: Csat,
    /// Hours of the day (UTC) by visitor messages, busiest first; hours without messages are left out.
    pub busiest_hours: Vec<HourCount>,
}

impl From<analytics::conversations::ConversationStats> for ConversationStats {
    fn from(value: analytics::conversations::ConversationStats) -> Self {
        Self {
            from: value.from,
            to: value.to,
            granularity: value.granularity.into(),
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

#[ComplexObject]
impl ConversationStats {
    /// The start of the range (inclusive).
    async fn from(&self) -> Timestamp {
        Timestamp(self.from)
    }
    /// The end of the range (exclusive).
    async fn to(&self) -> Timestamp {
        Timestamp(self.to)
    }
    /// Every status with its count, zero included.
    async fn by_status(&self) -> Vec<LabelledCount> {
        labelled(&self.by_status)
    }
}

/// A failed query text and how often it was asked.
#[derive(SimpleObject)]
pub struct FailedQuery {
    /// Lower-cased, punctuation-free text that clusters the variants.
    pub normalized: String,
    /// One of the texts as asked.
    pub example: String,
    /// How many times it was asked in the range.
    pub count: u64,
}

impl From<analytics::knowledge_base::FailedQuery> for FailedQuery {
    fn from(value: analytics::knowledge_base::FailedQuery) -> Self {
        Self {
            normalized: value.normalized,
            example: value.example,
            count: value.count,
        }
    }
}

/// An entry and how often it answered.
#[derive(SimpleObject)]
pub struct EntryHits {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
    pub title: String,
    /// How many questions in the range it answered best.
    pub hits: u64,
}

impl From<analytics::knowledge_base::EntryHits> for EntryHits {
    fn from(value: analytics::knowledge_base::EntryHits) -> Self {
        Self {
            entry_id: value.entry_id,
            title: value.title,
            hits: value.hits,
        }
    }
}

/// An entry that answered nothing in the range.
#[derive(SimpleObject)]
pub struct UnusedEntry {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
    pub title: String,
}

impl From<analytics::knowledge_base::UnusedEntry> for UnusedEntry {
    fn from(value: analytics::knowledge_base::UnusedEntry) -> Self {
        Self {
            entry_id: value.entry_id,
            title: value.title,
        }
    }
}

/// Answer ratings of one entry.
#[derive(SimpleObject)]
pub struct EntryFeedback {
    /// The entry's id.
    pub entry_id: String,
    /// The entry's title.
    pub title: String,
    /// Answers from it rated helpful in the range.
    pub helpful: u64,
    /// Answers from it rated not helpful in the range.
    pub not_helpful: u64,
}

impl From<analytics::knowledge_base::EntryFeedback> for EntryFeedback {
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
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct KnowledgeBaseStats {
    /// Entries in the knowledge base now, whatever the range.
    pub total: u64,
    /// Entries the assistant answers from now.
    pub active: u64,
    /// Entries switched off now.
    pub inactive: u64,
    /// Entries per category; uncategorized entries count under `""`.
    #[graphql(skip)]
    pub by_category: BTreeMap<String, u64>,
    #[graphql(skip)]
    pub from: DateTime<Utc>,
    #[graphql(skip)]
    pub to: DateTime<Utc>,
    /// The width of the series' buckets.
    pub granularity: Granularity,
    /// Visitor questions the assistant searched the knowledge base for in the range.
    pub queries: u64,
    /// How many of those questions found no answer good enough.
    pub failed_queries: u64,
    /// The share of questions that failed, 0 to 1; 0 without questions.
    pub failed_rate: f64,
    /// Questions and failures per bucket, oldest first; buckets without questions are left out.
    pub queries_per_bucket: Vec<QueryBucket>,
    /// The questions that failed most often, up to 10, most frequent first.
    pub top_failed_queries: Vec<FailedQuery>,
    /// The entries that answered most questions, up to 10, most used first.
    pub top_entries: Vec<EntryHits>,
    /// Active entries that answered no question in the range (at most 100, oldest first).
    pub unused_entries: Vec<UnusedEntry>,
    /// How many active entries answered no question in the range.
    pub unused_entry_count: u64,
    /// Answer ratings per entry, given in the range, the most rated not helpful first.
    pub feedback_by_entry: Vec<EntryFeedback>,
}

impl From<analytics::knowledge_base::KnowledgeBaseStats> for KnowledgeBaseStats {
    fn from(value: analytics::knowledge_base::KnowledgeBaseStats) -> Self {
        Self {
            total: value.total,
            active: value.active,
            inactive: value.inactive,
            by_category: value.by_category,
            from: value.from,
            to: value.to,
            granularity: value.granularity.into(),
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

#[ComplexObject]
impl KnowledgeBaseStats {
    /// The start of the range (inclusive).
    async fn from(&self) -> Timestamp {
        Timestamp(self.from)
    }
    /// The end of the range (exclusive).
    async fn to(&self) -> Timestamp {
        Timestamp(self.to)
    }
    /// Entries per category; uncategorized entries count under the empty label.
    async fn by_category(&self) -> Vec<LabelledCount> {
        labelled(&self.by_category)
    }
}
