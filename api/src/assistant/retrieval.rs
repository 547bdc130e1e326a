//! Ranked retrieval over an organization's active knowledge-base entries: BM25 on tantivy, stemming, stop words,
//! typo tolerance and page context.
//!
//! Each instance keeps one in-memory index per organization, built from the database on first use and kept
//! current by the knowledge-base events of the live-event bus (through Redis when several instances share a
//! database), so an edit on any instance is answerable everywhere as soon as its notice arrives.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use entities::knowledge_base_entry as kb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term, doc};
use tokio::sync::broadcast::error::RecvError;

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::bus::Signal;

/// The analyzer's name in each index.
const ANALYZER: &str = "kb_en";
/// Memory an index writer may use while applying one change (tantivy's minimum is 15 MB).
const WRITER_BYTES: usize = 15_000_000;
/// How much each field's matches weigh.
const TITLE_BOOST: f32 = 2.0;
const TAGS_BOOST: f32 = 1.5;
const CATEGORY_BOOST: f32 = 1.0;
const BODY_BOOST: f32 = 1.0;
/// A corrected (misspelled) term counts for less than one typed right.
const CORRECTION_BOOST: f32 = 0.8;
/// Page context nudges the ranking; it never outweighs the question.
const CONTEXT_BOOST: f32 = 0.3;

/// What to look for: the visitor's question and, when the widget sends them, the page it was asked on.
#[derive(Clone, Debug, Default)]
pub struct Question {
    pub text: String,
    pub page_title: Option<String>,
    pub page_url: Option<String>,
    pub page_context: Option<String>,
}

/// One ranked entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub entry_id: String,
    pub title: String,
    pub score: f32,
}

/// The ranked entries and how sure the best one answers the question.
#[derive(Clone, Debug, Default)]
pub struct Retrieval {
    pub candidates: Vec<Candidate>,
    /// In [0, 1]: the share of the question's weight (IDF) that the best entry matches, discounted when the
    /// runner-up scores almost as well. 0 when nothing matched.
    pub confidence: f64,
}

struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    category: Field,
}

impl Fields {
    fn searchable(&self) -> [(Field, f32); 4] {
        [
            (self.title, TITLE_BOOST),
            (self.tags, TAGS_BOOST),
            (self.category, CATEGORY_BOOST),
            (self.body, BODY_BOOST),
        ]
    }
}

/// One organization's index.
struct OrgIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
}

/// English function words, as in the classic NLTK list: pronouns, auxiliaries, question words and
/// prepositions carry no topic. Visitors phrase questions with them ("how do I…", "can you…") and FAQ titles are
/// questions too, so left in they would match everything a little.
const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
    "d",
    "ll",
    "m",
    "o",
    "re",
    "ve",
    "y",
    "could",
    "would",
    "might",
    "must",
    "shall",
    "may",
    "im",
    "ive",
    "dont",
    "u",
    "please",
    "hi",
    "hello",
    "thanks",
];

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| (*w).to_owned()),
        ))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// A BM25 match of `term` in `field` that counts `boost` times.
fn should(field: Field, term: &str, boost: f32) -> (Occur, Box<dyn Query>) {
    let query = TermQuery::new(
        Term::from_field_text(field, term),
        IndexRecordOption::WithFreqs,
    );
    (
        Occur::Should,
        Box::new(BoostQuery::new(Box::new(query), boost)),
    )
}

/// The analyzed terms of `text`, in order, without repeats.
fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let text = &stream.token().text;
        if !out.iter().any(|t| t == text) {
            out.push(text.clone());
        }
    }
    out
}

fn tags_text(model: &kb::Model) -> String {
    model
        .tags
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

impl OrgIndex {
    fn build(entries: &[kb::Model]) -> tantivy::Result<Self> {
        let text = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            title: schema.add_text_field("title", text.clone()),
            body: schema.add_text_field("body", text.clone()),
            tags: schema.add_text_field("tags", text.clone()),
            category: schema.add_text_field("category", text),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let org = OrgIndex {
            index,
            reader,
            fields,
            analyzer: analyzer(),
        };
        org.apply(entries, &[])?;
        Ok(org)
    }

    /// Adds (or replaces) `upserts` that are active, removes `removed` and inactive ones, and commits.
    fn apply(&self, upserts: &[kb::Model], removed: &[String]) -> tantivy::Result<()> {
        let mut writer = self
            .index
            .writer_with_num_threads::<TantivyDocument>(1, WRITER_BYTES)?;
        let f = &self.fields;
        for id in removed {
            writer.delete_term(Term::from_field_text(f.id, id));
        }
        for entry in upserts {
            writer.delete_term(Term::from_field_text(f.id, &entry.id));
            if entry.active {
                writer.add_document(doc!(
                    f.id => entry.id.as_str(),
                    f.title => entry.title.as_str(),
                    f.body => entry.body.as_str(),
                    f.tags => tags_text(entry),
                    f.category => entry.category.clone().unwrap_or_default(),
                ))?;
            }
        }
        writer.commit()?;
        self.reader.reload()
    }

    fn search(&self, question: &Question, limit: usize) -> tantivy::Result<Retrieval> {
        let mut analyzer = self.analyzer.clone();
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let documents = searcher.num_docs();
        if documents == 0 || limit == 0 {
            return Ok(Retrieval::default());
        }
        let doc_freq = |term: &str| -> tantivy::Result<u64> {
            let mut most = 0;
            for (field, _) in f.searchable() {
                most = most.max(searcher.doc_freq(&Term::from_field_text(field, term))?);
            }
            Ok(most)
        };
        let idf = |n: u64| {
            let (n, total) = (n as f64, documents as f64);
            (1.0 + (total - n + 0.5) / (n + 0.5)).ln()
        };
        // Each term of the question, or what it was probably meant to be when the index has no such term.
        let mut weighted: Vec<(Vec<(String, f32)>, f64)> = Vec::new();
        for term in terms(&mut analyzer, &question.text) {
            let known = doc_freq(&term)?;
            if known > 0 {
                weighted.push((vec![(term, 1.0)], idf(known)));
                continue;
            }
            let corrections = self.corrections(&searcher, &term)?;
            // An unknown word weighs as much as the rarest: the question asks something the entries lack.
            let weight = corrections
                .iter()
                .map(|(_, n)| idf(*n))
                .fold(idf(0), f64::min);
            weighted.push((
                corrections
                    .into_iter()
                    .map(|(t, _)| (t, CORRECTION_BOOST))
                    .collect(),
                weight,
            ));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (variants, _) in &weighted {
            for (term, boost) in variants {
                for (field, field_boost) in f.searchable() {
                    clauses.push(should(field, term, boost * field_boost));
                }
            }
        }
        if clauses.is_empty() {
            return Ok(Retrieval::default());
        }
        let question_terms: HashSet<String> = weighted
            .iter()
            .flat_map(|(v, _)| v.iter().map(|(t, _)| t.clone()))
            .collect();
        let context = [
            &question.page_title,
            &question.page_url,
            &question.page_context,
        ]
        .into_iter()
        .flatten()
        .map(|text| text.replace(['/', '-', '_', '.', '?', '=', '&'], " "))
        .collect::<Vec<_>>()
        .join(" ");
        for term in terms(&mut analyzer, &context) {
            if question_terms.contains(&term) || doc_freq(&term)? == 0 {
                continue;
            }
            for (field, field_boost) in f.searchable() {
                clauses.push(should(field, &term, CONTEXT_BOOST * field_boost));
            }
        }
        let query = BooleanQuery::new(clauses);
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut candidates = Vec::with_capacity(top.len());
        let mut best_terms = HashSet::new();
        for (rank, (score, address)) in top.into_iter().enumerate() {
            let document: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| {
                document
                    .get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            if rank == 0 {
                for field in [f.title, f.body, f.tags, f.category] {
                    best_terms.extend(terms(&mut analyzer, &text(field)));
                }
            }
            candidates.push(Candidate {
                entry_id: text(f.id),
                title: text(f.title),
                score,
            });
        }
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let matched: f64 = weighted
            .iter()
            .filter(|(variants, _)| variants.iter().any(|(t, _)| best_terms.contains(t)))
            .map(|(_, w)| w)
            .sum();
        let coverage = if total > 0.0 { matched / total } else { 0.0 };
        let margin = match candidates.as_slice() {
            [] => 0.0,
            [_] => 1.0,
            [first, second, ..] if first.score > 0.0 => {
                f64::from((first.score - second.score) / first.score)
            }
            _ => 0.0,
        };
        let confidence = if candidates.is_empty() {
            0.0
        } else {
            (coverage * (0.6 + 0.4 * margin)).clamp(0.0, 1.0)
        };
        Ok(Retrieval {
            candidates,
            confidence,
        })
    }

    /// Index terms within one edit (two for long words) of `term`, with their document frequency.
    fn corrections(
        &self,
        searcher: &tantivy::Searcher,
        term: &str,
    ) -> tantivy::Result<Vec<(String, u64)>> {
        let length = term.chars().count();
        if length < 4 {
            return Ok(Vec::new());
        }
        let distance = if length >= 8 { 2 } else { 1 };
        let mut found: HashMap<String, u64> = HashMap::new();
        for (field, _) in self.fields.searchable() {
            let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, term), distance, true);
            let automaton = fuzzy.automaton()?;
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted.terms().search(&automaton).into_stream()?;
                while stream.advance() {
                    if let Ok(text) = std::str::from_utf8(stream.key()) {
                        let n = stream.value().doc_freq as u64;
                        *found.entry(text.to_owned()).or_default() += n;
                    }
                }
            }
        }
        let mut corrections: Vec<(String, u64)> = found.into_iter().collect();
        // The most common spellings first; a few are plenty.
        corrections.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        corrections.truncate(3);
        Ok(corrections)
    }
}

/// A loaded index and when it last answered (a tick of the retriever's clock), for eviction.
struct Loaded {
    index: Arc<OrgIndex>,
    used: AtomicU64,
}

/// The indexes of the organizations that asked most recently on this instance, at most `capacity` of them.
#[derive(Clone)]
pub struct Retriever {
    db: Db,
    indexes: Arc<RwLock<HashMap<String, Loaded>>>,
    /// Most indexes kept; the least recently used is dropped to make room (and rebuilt when needed again).
    capacity: usize,
    /// Ticks on every use, ordering the indexes by recency.
    clock: Arc<AtomicU64>,
    /// Knowledge-base changes (and lost notices) seen, so an index built while one arrived is not kept.
    changes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever").finish_non_exhaustive()
    }
}

/// Puts one entry's current state (`None`: gone) into `index`, off the async threads.
async fn apply_one(index: Arc<OrgIndex>, current: Option<kb::Model>, id: &str) -> ApiResult<()> {
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || match current {
        Some(entry) => index.apply(&[entry], &[]),
        None => index.apply(&[], &[id]),
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(search_error)
}

fn search_error(err: tantivy::TantivyError) -> ApiError {
    ApiError::internal_msg(format!("knowledge-base search failed: {err}"))
}

impl Retriever {
    /// A retriever over `db` keeping at most `capacity` organizations' indexes in memory
    /// (`CONCIERGE_RETRIEVAL_MAX_INDEXES`); call [`Retriever::follow`] to keep them current.
    pub fn new(db: Db, capacity: usize) -> Self {
        Retriever {
            db,
            indexes: Arc::default(),
            capacity: capacity.max(1),
            clock: Arc::default(),
            changes: Arc::default(),
        }
    }

    /// How many organizations' indexes are in memory.
    pub fn loaded_count(&self) -> usize {
        self.indexes.read().map_or(0, |map| map.len())
    }

    /// Ranks the organization's active entries for `question`.
    pub async fn search(
        &self,
        organization_id: &str,
        question: Question,
        limit: usize,
    ) -> ApiResult<Retrieval> {
        let index = self.index(organization_id).await?;
        tokio::task::spawn_blocking(move || index.search(&question, limit))
            .await
            .map_err(ApiError::internal)?
            .map_err(search_error)
    }

    fn loaded(&self, organization_id: &str) -> Option<Arc<OrgIndex>> {
        let map = self.indexes.read().ok()?;
        let loaded = map.get(organization_id)?;
        loaded.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some(loaded.index.clone())
    }

    async fn index(&self, organization_id: &str) -> ApiResult<Arc<OrgIndex>> {
        if let Some(index) = self.loaded(organization_id) {
            return Ok(index);
        }
        let seen = self.changes.load(Ordering::SeqCst);
        let entries = kb::Entity::find()
            .filter(kb::Column::OrganizationId.eq(organization_id))
            .filter(kb::Column::Active.eq(true))
            .all(self.db.conn())
            .await?;
        let index = tokio::task::spawn_blocking(move || OrgIndex::build(&entries))
            .await
            .map_err(ApiError::internal)?
            .map_err(search_error)?;
        let index = Arc::new(index);
        if self.changes.load(Ordering::SeqCst) != seen {
            // A change arrived while the entries were read: answer from this copy, build afresh next time.
            return Ok(index);
        }
        if let Ok(mut map) = self.indexes.write() {
            // Another request may have built it meanwhile; either copy is current.
            if !map.contains_key(organization_id) {
                while map.len() >= self.capacity {
                    let Some(oldest) = map
                        .iter()
                        .min_by_key(|(_, loaded)| loaded.used.load(Ordering::Relaxed))
                        .map(|(org, _)| org.clone())
                    else {
                        break;
                    };
                    map.remove(&oldest);
                }
                map.insert(
                    organization_id.to_owned(),
                    Loaded {
                        index: index.clone(),
                        used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
                    },
                );
            }
        }
        Ok(index)
    }

    /// Applies knowledge-base events from the bus to the loaded indexes until the bus closes. A lost notice
    /// (a lagging receiver, a Redis reconnect) drops every index, to be rebuilt from the table on next use.
    pub async fn follow(self) {
        let mut rx = self.db.bus().subscribe();
        loop {
            match rx.recv().await {
                Ok(Signal::Event(notice)) => {
                    let event = &notice.event;
                    if !event.event.starts_with("knowledge_base.entry_") {
                        continue;
                    }
                    self.changes.fetch_add(1, Ordering::SeqCst);
                    let Some(index) = self.loaded(&event.organization_id) else {
                        continue;
                    };
                    let Some(id) = event.data.get("entry_id").and_then(|v| v.as_str()) else {
                        continue;
                    };
                    if let Err(err) = self.refresh(index, &event.organization_id, id).await {
                        tracing::warn!(?err, "could not apply a knowledge-base change; rebuilding");
                        self.forget(&event.organization_id);
                    }
                }
                Ok(Signal::Access(_)) => {}
                Ok(Signal::Resync) | Err(RecvError::Lagged(_)) => {
                    self.changes.fetch_add(1, Ordering::SeqCst);
                    self.forget_all();
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Puts an entry this instance just changed into its index at once, so the writer reads its own write;
    /// other instances apply the change when its notice arrives. `deleted` removes it.
    pub async fn entry_changed(&self, entry: &kb::Model, deleted: bool) -> ApiResult<()> {
        let Some(index) = self.loaded(&entry.organization_id) else {
            return Ok(());
        };
        let current = (!deleted).then(|| entry.clone());
        if let Err(err) = apply_one(index, current, &entry.id).await {
            tracing::warn!(?err, "could not apply a knowledge-base change; rebuilding");
            self.forget(&entry.organization_id);
        }
        Ok(())
    }

    /// Re-reads one entry and puts its current state in the index.
    async fn refresh(
        &self,
        index: Arc<OrgIndex>,
        organization_id: &str,
        id: &str,
    ) -> ApiResult<()> {
        let current = crate::db::background(
            kb::Entity::find_by_id(id.to_owned())
                .filter(kb::Column::OrganizationId.eq(organization_id))
                .one(self.db.conn()),
        )
        .await?;
        apply_one(index, current, id).await
    }

    fn forget(&self, organization_id: &str) {
        if let Ok(mut map) = self.indexes.write() {
            map.remove(organization_id);
        }
    }

    fn forget_all(&self) {
        if let Ok(mut map) = self.indexes.write() {
            map.clear();
        }
    }
}
