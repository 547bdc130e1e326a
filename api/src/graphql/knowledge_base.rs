//! Knowledge-base queries and mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use crate::graphql::caller;
use crate::graphql::types::{Conn, KnowledgeBaseEntry, connection, wants_total};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::knowledge_base::{self, CreateEntry, EntryFilter, UpdateEntry};

#[derive(Default)]
pub struct KnowledgeBaseQuery;

#[Object]
impl KnowledgeBaseQuery {
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
        let entry = knowledge_base::delete(db, principal, &id).await?;
        Ok(ID(entry.id))
    }
}
