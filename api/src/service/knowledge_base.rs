//! The knowledge base: entries the assistant answers from.

use std::collections::HashMap;

use entities::knowledge_base_embedding as embedding_row;
use entities::knowledge_base_entry as kb;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, ModelTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Select, Set,
};
use serde_json::json;

use crate::assistant::embedding::{Model, Quantized};
use crate::assistant::remote::RemoteModel;
use crate::assistant::retrieval::{EntrySource, Placed, Question, Retriever, StoredVector};
use crate::auth::Principal;
use crate::authz::{Action, Grant, Resource, authorize};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{self, Kind, new_id};
use crate::service::{
    Page, PageRequest, Patch, by_ids, newest_first, now, required_text, text_patch,
};

const TITLE_MAX: usize = 300;
const BODY_MAX: usize = 100_000;
const CATEGORY_MAX: usize = 100;
const TAGS_MAX: usize = 30;
const TAG_MAX: usize = 50;

/// The assistant's retriever over this knowledge base: it reads entries (and their stored vectors) here and
/// follows `db`'s announcements, keeping at most `capacity` organizations' indexes in memory, with the
/// sentence-embedding `model`.
pub fn retriever(db: &Db, capacity: usize, model: Model) -> Retriever {
    Retriever::new(
        db.clone(),
        std::sync::Arc::new(Stored(db.clone())),
        capacity,
        model,
    )
}

fn stored_vector(row: embedding_row::Model) -> Option<StoredVector> {
    Some(StoredVector {
        vector: Quantized::from_bytes(&row.vector)?,
        entry_id: row.entry_id,
        digest: row.digest,
    })
}

/// The stored entries, as the retriever reads them: the organization is the one whose index is built.
struct Stored(Db);

impl EntrySource for Stored {
    fn active<'a>(
        &'a self,
        organization_id: &'a str,
    ) -> futures_util::future::BoxFuture<'a, ApiResult<Vec<kb::Model>>> {
        Box::pin(async move {
            Ok(kb::Entity::find()
                .filter(kb::Column::OrganizationId.eq(organization_id))
                .filter(kb::Column::Active.eq(true))
                .all(self.0.conn())
                .await?)
        })
    }

    fn one<'a>(
        &'a self,
        organization_id: &'a str,
        id: &'a str,
    ) -> futures_util::future::BoxFuture<'a, ApiResult<Option<kb::Model>>> {
        Box::pin(async move {
            Ok(kb::Entity::find_by_id(id.to_owned())
                .filter(kb::Column::OrganizationId.eq(organization_id))
                .one(self.0.conn())
                .await?)
        })
    }

    fn vectors<'a>(
        &'a self,
        organization_id: &'a str,
        model: &'a str,
    ) -> futures_util::future::BoxFuture<'a, ApiResult<Vec<StoredVector>>> {
        Box::pin(async move {
            let rows = embedding_row::Entity::find()
                .filter(embedding_row::Column::OrganizationId.eq(organization_id))
                .filter(embedding_row::Column::Model.eq(model))
                .all(self.0.conn())
                .await?;
            Ok(rows.into_iter().filter_map(stored_vector).collect())
        })
    }

    fn vector<'a>(
        &'a self,
        organization_id: &'a str,
        entry_id: &'a str,
        model: &'a str,
    ) -> futures_util::future::BoxFuture<'a, ApiResult<Option<StoredVector>>> {
        Box::pin(async move {
            Ok(
                embedding_row::Entity::find_by_id((entry_id.to_owned(), model.to_owned()))
                    .filter(embedding_row::Column::OrganizationId.eq(organization_id))
                    .one(self.0.conn())
                    .await?
                    .and_then(stored_vector),
            )
        })
    }

    fn save_vector<'a>(
        &'a self,
        organization_id: &'a str,
        model: &'a str,
        vector: &'a StoredVector,
    ) -> futures_util::future::BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let row = embedding_row::ActiveModel {
                entry_id: Set(vector.entry_id.clone()),
                model: Set(model.to_owned()),
                organization_id: Set(organization_id.to_owned()),
                digest: Set(vector.digest.clone()),
                vector: Set(vector.vector.to_bytes()),
                created_at: Set(now()),
            };
            let txn = self.0.begin_write().await?;
            embedding_row::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        embedding_row::Column::EntryId,
                        embedding_row::Column::Model,
                    ])
                    .update_columns([
                        embedding_row::Column::Digest,
                        embedding_row::Column::Vector,
                        embedding_row::Column::CreatedAt,
                    ])
                    .to_owned(),
                )
                .exec(&*txn)
                .await?;
            txn.commit().await?;
            Ok(())
        })
    }
}

/// Input of `createKnowledgeBaseEntry` / `POST /knowledge-base`.
#[derive(Clone, Debug, Default)]
pub struct CreateEntry {
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub active: Option<bool>,
}

/// Input of `updateKnowledgeBaseEntry` / `PUT /knowledge-base/{id}`: absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct UpdateEntry {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Patch<String>,
    pub tags: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Filters of the entry list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntryFilter {
    /// Case-insensitive substring of the title or body.
    pub search: Option<String>,
    pub category: Option<String>,
    pub active: Option<bool>,
}

/// The stored tags of an entry.
pub fn tags(model: &kb::Model) -> Vec<String> {
    serde_json::from_value(model.tags.clone()).unwrap_or_default()
}

fn validate_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > TAGS_MAX {
        return Err(ApiError::validation(
            "tags",
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = required_text("tags", tag.trim(), TAG_MAX)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Appends an entry's event to the outbox, inside the caller's transaction.
async fn record_event(
    txn: &crate::db::WriteTxn<'_>,
    name: &str,
    entry: &kb::Model,
) -> ApiResult<()> {
    let data = json!({"entry_id": entry.id, "title": entry.title});
    outbox::record(txn, &entry.organization_id, name, None, data).await?;
    Ok(())
}

/// Creates an entry.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn create(
    db: &Db,
    retriever: &Retriever,
    principal: &Principal,
    input: CreateEntry,
) -> ApiResult<kb::Model> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Write).await?;
    let title = required_text("title", &input.title, TITLE_MAX)?;
    let body = required_text("body", &input.body, BODY_MAX)?;
    let category = match text_patch(
        "category",
        &input.category.map_or(Patch::Keep, Patch::Set),
        CATEGORY_MAX,
    )? {
        Patch::Set(c) => Some(c),
        _ => None,
    };
    let tags = validate_tags(&input.tags)?;
    let at = now();
    let txn = db.begin_write().await?;
    let entry = kb::ActiveModel {
        id: Set(new_id(Kind::KnowledgeBaseEntry)),
        organization_id: Set(grant.organization_id().to_owned()),
        title: Set(title),
        body: Set(body),
        category: Set(category),
        tags: Set(json!(tags)),
        active: Set(input.active.unwrap_or(true)),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&*txn)
    .await?;
    record_event(&txn, names::KNOWLEDGE_BASE_ENTRY_CREATED, &entry).await?;
    txn.commit().await?;
    retriever.entry_changed(&entry, false).await?;
    Ok(entry)
}

/// Updates an entry's fields.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn update(
    db: &Db,
    retriever: &Retriever,
    principal: &Principal,
    id: &str,
    input: UpdateEntry,
) -> ApiResult<kb::Model> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Write).await?;
    let id = ids::lookup(Kind::KnowledgeBaseEntry, id)?;
    let title = input
        .title
        .as_deref()
        .map(|t| required_text("title", t, TITLE_MAX))
        .transpose()?;
    let body = input
        .body
        .as_deref()
        .map(|b| required_text("body", b, BODY_MAX))
        .transpose()?;
    let category = text_patch("category", &input.category, CATEGORY_MAX)?;
    let tags = input.tags.as_deref().map(validate_tags).transpose()?;
    if title.is_none()
        && body.is_none()
        && category.is_keep()
        && tags.is_none()
        && input.active.is_none()
    {
        return Err(ApiError::validation(
            "input",
            "nothing to update: give title, body, category, tags or active",
        ));
    }
    let txn = db.begin_write().await?;
    let mut active = find(&*txn, grant.organization_id(), id)
        .await?
        .into_active_model();
    if let Some(title) = title {
        active.title = Set(title);
    }
    if let Some(body) = body {
        active.body = Set(body);
    }
    match category {
        Patch::Keep => {}
        Patch::Clear => active.category = Set(None),
        Patch::Set(c) => active.category = Set(Some(c)),
    }
    if let Some(tags) = tags {
        active.tags = Set(json!(tags));
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    active.updated_at = Set(now());
    let entry = active.update(&*txn).await?;
    record_event(&txn, names::KNOWLEDGE_BASE_ENTRY_UPDATED, &entry).await?;
    txn.commit().await?;
    retriever.entry_changed(&entry, false).await?;
    Ok(entry)
}

/// Deletes an entry and returns what it was.
#[tracing::instrument(skip_all, fields(org = ?principal.organization))]
pub async fn delete(
    db: &Db,
    retriever: &Retriever,
    principal: &Principal,
    id: &str,
) -> ApiResult<kb::Model> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Delete).await?;
    let id = ids::lookup(Kind::KnowledgeBaseEntry, id)?;
    let txn = db.begin_write().await?;
    let entry = find(&*txn, grant.organization_id(), id).await?;
    entry.clone().delete(&*txn).await?;
    record_event(&txn, names::KNOWLEDGE_BASE_ENTRY_DELETED, &entry).await?;
    txn.commit().await?;
    retriever.entry_changed(&entry, true).await?;
    Ok(entry)
}

async fn find(
    conn: &impl sea_orm::ConnectionTrait,
    organization_id: &str,
    id: &str,
) -> ApiResult<kb::Model> {
    kb::Entity::find_by_id(id.to_owned())
        .filter(kb::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("knowledge-base entry", id))
}

/// One entry of the caller's organization.
pub async fn get(db: &Db, principal: &Principal, id: &str) -> ApiResult<kb::Model> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Read).await?;
    let id = ids::lookup(Kind::KnowledgeBaseEntry, id)?;
    find(db.conn(), grant.organization_id(), id).await
}

/// Entries by id, for the federation entity resolver.
pub async fn get_many(
    db: &Db,
    principal: &Principal,
    ids: &[String],
) -> ApiResult<HashMap<String, kb::Model>> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Read).await?;
    by_ids::<kb::Entity>(
        db.conn(),
        kb::Column::OrganizationId,
        kb::Column::Id,
        grant.organization_id(),
        ids,
        |row| &row.id,
    )
    .await
}

fn filtered(grant: &Grant<'_>, filter: &EntryFilter) -> ApiResult<Select<kb::Entity>> {
    let mut query =
        kb::Entity::find().filter(kb::Column::OrganizationId.eq(grant.organization_id()));
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let search = crate::service::optional_text("search", search, 200)?;
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let like = |column: kb::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            Condition::any()
                .add(like(kb::Column::Title))
                .add(like(kb::Column::Body)),
        );
    }
    if let Some(category) = &filter.category {
        query = query.filter(kb::Column::Category.eq(category));
    }
    if let Some(active) = filter.active {
        query = query.filter(kb::Column::Active.eq(active));
    }
    Ok(query)
}

/// The organization's entries, newest first.
pub async fn list(
    db: &Db,
    principal: &Principal,
    filter: &EntryFilter,
    page: &PageRequest,
) -> ApiResult<Page<kb::Model>> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Read).await?;
    let query = filtered(&grant, filter)?;
    newest_first(db.conn(), query, kb::Column::Id, page).await
}

/// How many entries match the filter.
pub async fn count(db: &Db, principal: &Principal, filter: &EntryFilter) -> ApiResult<u64> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Read).await?;
    Ok(filtered(&grant, filter)?.count(db.conn()).await?)
}

/// Entry counts per category (`None` for uncategorized), for analytics.
pub(crate) async fn counts_by_category(
    db: &Db,
    organization_id: &str,
) -> ApiResult<Vec<(Option<String>, bool, i64)>> {
    Ok(kb::Entity::find()
        .select_only()
        .column(kb::Column::Category)
        .column(kb::Column::Active)
        .column_as(kb::Column::Id.count(), "n")
        .filter(kb::Column::OrganizationId.eq(organization_id))
        .group_by(kb::Column::Category)
        .group_by(kb::Column::Active)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// The ids of the organization's active entries, oldest first, for analytics.
pub(crate) async fn active_ids(db: &Db, organization_id: &str) -> ApiResult<Vec<String>> {
    use sea_orm::{Order, QueryOrder};
    Ok(kb::Entity::find()
        .select_only()
        .column(kb::Column::Id)
        .filter(kb::Column::OrganizationId.eq(organization_id))
        .filter(kb::Column::Active.eq(true))
        .order_by(kb::Column::CreatedAt, Order::Asc)
        .order_by(kb::Column::Id, Order::Asc)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// The titles of the organization's entries among `ids` (an id of no entry is left out), for analytics.
pub(crate) async fn titles(
    db: &Db,
    organization_id: &str,
    ids: &[String],
) -> ApiResult<std::collections::HashMap<String, String>> {
    let mut titles = std::collections::HashMap::new();
    // A bounded number of placeholders per statement, whatever the number of ids.
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = kb::Entity::find()
            .select_only()
            .column(kb::Column::Id)
            .column(kb::Column::Title)
            .filter(kb::Column::OrganizationId.eq(organization_id))
            .filter(kb::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(db.conn())
            .await?;
        titles.extend(rows);
    }
    Ok(titles)
}

/// The longest question searched.
const QUESTION_MAX: usize = 2_000;
/// The most matches one search returns.
pub const SEARCH_LIMIT_MAX: usize = 50;

crate::text_enum::text_enum! {
    /// A way of ranking entries: by the question's words, or by its meaning.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum RetrieverKind {
        /// BM25 over the entries' words, stemmed and typo-tolerant.
        Lexical = "lexical",
        /// The nearest entries by sentence vector (all-MiniLM-L6-v2).
        Semantic = "semantic",
    }
}

/// One ranked entry of a search.
#[derive(Clone, Debug)]
pub struct SearchMatch {
    pub entry: kb::Model,
    /// The fused score that ranks it.
    pub score: f32,
    /// Its BM25 rank and score, when its words matched.
    pub lexical: Option<Placed>,
    /// Its rank and cosine similarity among the entries nearest the question, when it is one of them.
    pub semantic: Option<Placed>,
}

impl SearchMatch {
    /// The retrievers that placed it.
    pub fn retrievers(&self) -> Vec<RetrieverKind> {
        let mut out = Vec::with_capacity(2);
        if self.lexical.is_some() {
            out.push(RetrieverKind::Lexical);
        }
        if self.semantic.is_some() {
            out.push(RetrieverKind::Semantic);
        }
        out
    }
}

/// A ranked search and the confidence that its best match answers the question.
#[derive(Clone, Debug)]
pub struct SearchResult {
    pub confidence: f64,
    pub matches: Vec<SearchMatch>,
    /// The retrievers that ranked: lexical always, semantic once the embedding model is ready and the entries
    /// have vectors.
    pub retrievers: Vec<RetrieverKind>,
}

/// Ranks the organization's active entries for a visitor's question, as the assistant does.
pub async fn search(
    db: &Db,
    retriever: &Retriever,
    principal: &Principal,
    question: Question,
    limit: Option<i64>,
) -> ApiResult<SearchResult> {
    let grant = authorize(principal, Resource::KnowledgeBase, Action::Read).await?;
    let text = required_text("query", question.text.trim(), QUESTION_MAX)?;
    let limit = match limit {
        None => 5,
        Some(n) if (1..=SEARCH_LIMIT_MAX as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::validation(
                "limit",
                format!("must be between 1 and {SEARCH_LIMIT_MAX}"),
            ));
        }
    };
    let context = |field: &str, value: Option<String>| {
        crate::service::optional_field(field, value.as_deref(), QUESTION_MAX)
    };
    let question = Question {
        text,
        page_title: context("page_title", question.page_title)?,
        page_url: context("page_url", question.page_url)?,
        page_context: context("page_context", question.page_context)?,
    };
    rank(
        db,
        retriever,
        grant.organization_id(),
        question,
        limit,
        None,
    )
    .await
}

/// The ranked entries of the retriever's candidates, best first, read from the table (an entry deleted since
/// the index saw it is left out). The caller has authorized the organization.
pub(crate) async fn rank(
    db: &Db,
    retriever: &Retriever,
    organization_id: &str,
    question: Question,
    limit: usize,
    remote: Option<&RemoteModel>,
) -> ApiResult<SearchResult> {
    let retrieval = retriever
        .search_with(organization_id, question, limit, remote)
        .await?;
    let ids: Vec<String> = retrieval
        .candidates
        .iter()
        .map(|c| c.entry_id.clone())
        .collect();
    let mut entries = by_ids::<kb::Entity>(
        db.conn(),
        kb::Column::OrganizationId,
        kb::Column::Id,
        organization_id,
        &ids,
        |row| &row.id,
    )
    .await?;
    let matches = retrieval
        .candidates
        .into_iter()
        .filter_map(|c| {
            entries.remove(&c.entry_id).map(|entry| SearchMatch {
                entry,
                score: c.score,
                lexical: c.lexical,
                semantic: c.semantic,
            })
        })
        .collect();
    let mut retrievers = vec![RetrieverKind::Lexical];
    if retrieval.semantic {
        retrievers.push(RetrieverKind::Semantic);
    }
    Ok(SearchResult {
        confidence: retrieval.confidence,
        matches,
        retrievers,
    })
}
