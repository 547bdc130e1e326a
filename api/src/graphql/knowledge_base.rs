//! Knowledge-base queries and mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::assistant::retrieval::{Question, Retriever};
use crate::error::ApiError;

use crate::graphql::enums::KnowledgeBaseRetriever;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::types::{Conn, KnowledgeBaseEntry, connection, wants_total};
use crate::graphql::{caller, engine, found};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::knowledge_base::{self, CreateEntry, EntryFilter, UpdateEntry};

#[derive(Default)]
pub struct KnowledgeBaseQuery;

/// This instance's knowledge-base indexes.
fn retriever<'a>(ctx: &Context<'a>) -> Result<&'a Retriever, ApiError> {
    Ok(engine(ctx)?.retriever())
}

/// A ranked search over the active entries, as the assistant ranks them.
#[derive(SimpleObject)]
pub struct KnowledgeBaseSearch {
    /// The calibrated probability, 0 to 1, that the best match is the entry that answers the question (the
    /// assistant answers from it at or above its confidence threshold).
    pub confidence: f64,
    /// The retrievers that ranked: lexical always, semantic too once the embedding model is loaded.
    pub retrievers: Vec<KnowledgeBaseRetriever>,
    /// The best entries, best first.
    pub matches: Vec<KnowledgeBaseMatch>,
}

/// One ranked entry.
#[derive(SimpleObject)]
pub struct KnowledgeBaseMatch {
    /// The entry.
    pub entry: KnowledgeBaseEntry,
    /// The lexical and semantic rankings fused (comparable within one search only).
    pub score: f64,
    /// The retrievers that found it.
    pub retrievers: Vec<KnowledgeBaseRetriever>,
    /// Its BM25 score, when its words matched the question's.
    pub lexical_score: Option<f64>,
    /// Its cosine similarity to the question (-1 to 1), when it is among the entries nearest in meaning.
    pub semantic_score: Option<f64>,
}

#[Object]
impl KnowledgeBaseQuery {
    /// Ranks the active entries for a visitor's question (stemming, stop words, typo tolerance), optionally
    /// nudged by the page it was asked on.
    #[graphql(complexity = "crate::graphql::cost::search(first, child_complexity)")]
    async fn knowledge_base_search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The question, as a visitor would ask it: 1 to 2,000 characters.")] query: String,
        #[graphql(
            desc = "The address of the page the question is asked on, up to 2,000 characters."
        )]
        page_url: Option<String>,
        #[graphql(
            desc = "The title of the page the question is asked on, up to 2,000 characters."
        )]
        page_title: Option<String>,
        #[graphql(desc = "Text of the page the question is asked on, up to 2,000 characters.")]
        page_context: Option<String>,
        #[graphql(desc = "How many entries to return: 1 to 50, 5 when omitted.")] first: Option<
            i32,
        >,
    ) -> async_graphql::Result<KnowledgeBaseSearch> {
        let (db, principal) = caller(ctx)?;
        let retriever = retriever(ctx)?;
        let question = Question {
            text: query,
            page_title,
            page_url,
            page_context,
        };
        let found =
            knowledge_base::search(db, retriever, principal, question, first.map(i64::from))
                .await?;
        Ok(KnowledgeBaseSearch {
            confidence: found.confidence,
            retrievers: found.retrievers.iter().map(|r| (*r).into()).collect(),
            matches: found
                .matches
                .into_iter()
                .map(|m| KnowledgeBaseMatch {
                    retrievers: m.retrievers().into_iter().map(Into::into).collect(),
                    lexical_score: m.lexical.map(|p| f64::from(p.score)),
                    semantic_score: m.semantic.map(|p| f64::from(p.score)),
                    entry: KnowledgeBaseEntry(m.entry),
                    score: f64::from(m.score),
                })
                .collect(),
        })
    }

    /// The organization's entries, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn knowledge_base_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the entries after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Only entries whose title or body contains this text (case-insensitive, up to 200 characters)."
        )]
        search: Option<String>,
        #[graphql(desc = "Only entries of this category (exact match).")] category: Option<String>,
        #[graphql(
            desc = "Only active entries (true) or only inactive ones (false); both when omitted."
        )]
        active: Option<bool>,
    ) -> async_graphql::Result<Conn<KnowledgeBaseEntry>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(
            first.map(i64::from),
            after.as_deref(),
            Kind::KnowledgeBaseEntry,
        )?;
        let filter = EntryFilter {
            search,
            category,
            active,
        };
        let total = if wants_total(ctx) {
            knowledge_base::count(db, principal, &filter).await?
        } else {
            0
        };
        let rows = knowledge_base::list(db, principal, &filter, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |e| &e.id,
            KnowledgeBaseEntry,
        ))
    }

    /// One entry by id; null when the organization has none with this id.
    async fn knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry's id.")] id: ID,
    ) -> async_graphql::Result<Option<KnowledgeBaseEntry>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, knowledge_base::get(db, principal, &id).await)?.map(KnowledgeBaseEntry))
    }
}

/// A new knowledge-base entry.
#[derive(InputObject)]
pub struct CreateKnowledgeBaseEntryInput {
    /// The question or topic it answers, up to 300 characters.
    pub title: String,
    /// The answer, up to 100,000 characters.
    pub body: String,
    /// A grouping of your choice, such as `Billing` (up to 100 characters).
    pub category: Option<String>,
    /// Free labels, up to 30, each up to 50 characters.
    pub tags: Option<Vec<String>>,
    /// Whether the assistant answers from it; true when omitted.
    pub active: Option<bool>,
}

/// Changes to a knowledge-base entry: absent fields keep their value, `null` clears.
#[derive(InputObject, Default)]
pub struct UpdateKnowledgeBaseEntryInput {
    /// The question or topic it answers, up to 300 characters.
    pub title: Option<String>,
    /// The answer, up to 100,000 characters.
    pub body: Option<String>,
    /// A grouping of your choice; `null` clears it.
    pub category: MaybeUndefined<String>,
    /// Free labels (up to 30, each up to 50 characters); they replace the current ones.
    pub tags: Option<Vec<String>>,
    /// Whether the assistant answers from it.
    pub active: Option<bool>,
}

payload_type! {
    /// The result of `createKnowledgeBaseEntry` and `updateKnowledgeBaseEntry`.
    KnowledgeBaseEntryPayload {
        /// The entry as stored.
        knowledge_base_entry: Option<KnowledgeBaseEntry>,
    }
}

payload_type! {
    /// The result of `deleteKnowledgeBaseEntry`.
    DeleteKnowledgeBaseEntryPayload {
        /// The id of the entry deleted.
        deleted_knowledge_base_entry_id: Option<ID>,
    }
}

#[derive(Default)]
pub struct KnowledgeBaseMutation;

#[Object]
impl KnowledgeBaseMutation {
    /// Adds an entry the assistant can answer from (emits `knowledge_base.entry_created`).
    async fn create_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new entry.")] input: CreateKnowledgeBaseEntryInput,
    ) -> async_graphql::Result<Option<KnowledgeBaseEntryPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = knowledge_base::create(
            db,
            retriever(ctx)?,
            principal,
            CreateEntry {
                title: input.title,
                body: input.body,
                category: input.category,
                tags: input.tags.unwrap_or_default(),
                active: input.active,
            },
        )
        .await;
        payload(ctx, result, Args::Input, |entry| {
            KnowledgeBaseEntryPayload {
                knowledge_base_entry: Some(KnowledgeBaseEntry(entry)),
                ..Default::default()
            }
        })
    }

    /// Changes an entry; the assistant answers from the new text at once.
    async fn update_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateKnowledgeBaseEntryInput,
    ) -> async_graphql::Result<Option<KnowledgeBaseEntryPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = knowledge_base::update(
            db,
            retriever(ctx)?,
            principal,
            &id,
            UpdateEntry {
                title: input.title,
                body: input.body,
                category: input.category.into(),
                tags: input.tags,
                active: input.active,
            },
        )
        .await;
        payload(ctx, result, Args::Input, |entry| {
            KnowledgeBaseEntryPayload {
                knowledge_base_entry: Some(KnowledgeBaseEntry(entry)),
                ..Default::default()
            }
        })
    }

    /// Deletes an entry; answers already given keep their text.
    async fn delete_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry to delete.")] id: ID,
    ) -> async_graphql::Result<Option<DeleteKnowledgeBaseEntryPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = knowledge_base::delete(db, retriever(ctx)?, principal, &id).await;
        payload(ctx, result, Args::Top, |entry| {
            DeleteKnowledgeBaseEntryPayload {
                deleted_knowledge_base_entry_id: Some(ID(entry.id)),
                ..Default::default()
            }
        })
    }
}
