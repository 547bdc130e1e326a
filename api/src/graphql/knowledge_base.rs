//! Knowledge-base queries and mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::assistant::retrieval::{Question, Retriever};
use crate::error::ApiError;

use crate::graphql::types::{Conn, KnowledgeBaseEntry, connection, wants_total};
use crate::graphql::{caller, engine};
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
    /// 0 to 1: how well the best match answers the question (the assistant answers from it at or above its
    /// threshold, 0.35 by default).
    pub confidence: f64,
    pub matches: Vec<KnowledgeBaseMatch>,
}

/// One ranked entry.
#[derive(SimpleObject)]
pub struct KnowledgeBaseMatch {
    pub entry: KnowledgeBaseEntry,
    /// The BM25 relevance score (comparable within one search only).
    pub score: f64,
}

#[Object]
impl KnowledgeBaseQuery {
    /// Ranks the active entries for a visitor's question (stemming, stop words, typo tolerance), optionally
    /// nudged by the page it was asked on.
    async fn knowledge_base_search(
        &self,
        ctx: &Context<'_>,
        query: String,
        page_url: Option<String>,
        page_title: Option<String>,
        page_context: Option<String>,
        #[graphql(desc = "1 to 50; 5 when omitted")] first: Option<i32>,
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
            matches: found
                .matches
                .into_iter()
                .map(|m| KnowledgeBaseMatch {
                    entry: KnowledgeBaseEntry(m.entry),
                    score: f64::from(m.score),
                })
                .collect(),
        })
    }

    /// The organization's entries, newest first.
    async fn knowledge_base_entries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "Case-insensitive text in the title or body")] search: Option<String>,
        category: Option<String>,
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

    /// One entry by id.
    async fn knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<KnowledgeBaseEntry> {
        let (db, principal) = caller(ctx)?;
        Ok(KnowledgeBaseEntry(
            knowledge_base::get(db, principal, &id).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct CreateKnowledgeBaseEntryInput {
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Defaults to true.
    pub active: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct UpdateKnowledgeBaseEntryInput {
    pub title: Option<String>,
    pub body: Option<String>,
    /// `null` clears it.
    pub category: MaybeUndefined<String>,
    pub tags: Option<Vec<String>>,
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct KnowledgeBaseMutation;

#[Object]
impl KnowledgeBaseMutation {
    async fn create_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        input: CreateKnowledgeBaseEntryInput,
    ) -> async_graphql::Result<KnowledgeBaseEntry> {
        let (db, principal) = caller(ctx)?;
        let entry = knowledge_base::create(
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
        .await?;
        Ok(KnowledgeBaseEntry(entry))
    }

    async fn update_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateKnowledgeBaseEntryInput,
    ) -> async_graphql::Result<KnowledgeBaseEntry> {
        let (db, principal) = caller(ctx)?;
        let entry = knowledge_base::update(
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
        .await?;
        Ok(KnowledgeBaseEntry(entry))
    }

    /// Deletes an entry; answers its id.
    async fn delete_knowledge_base_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ID> {
        let (db, principal) = caller(ctx)?;
        let entry = knowledge_base::delete(db, retriever(ctx)?, principal, &id).await?;
        Ok(ID(entry.id))
    }
}
