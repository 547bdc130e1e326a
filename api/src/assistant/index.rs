//! One organization's search index: BM25 on tantivy with stemming, stop words, typo tolerance and page context,
//! and the question, candidates and confidence it answers with.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use entities::knowledge_base_entry as kb;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term, doc};

use crate::assistant::analyzer::{self, analyzer, terms};
use crate::assistant::embedding::{self, Quantized};
use crate::assistant::ranking::{self, Features, Fused};
use crate::assistant::spelling::{self, edits_allowed, nearby};
use crate::assistant::vectors::{StoredVector, Vectors};

/// The analyzers' names in each index: search terms, and words as written.
const ANALYZER: &str = "kb_en";
const WORDS: &str = "kb_words";
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

impl Question {
    /// The page's title and context (at most 500 characters), whose vector nudges the question's; empty without.
    pub(crate) fn page(&self) -> String {
        [&self.page_title, &self.page_context]
            .into_iter()
            .flatten()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
            .chars()
            .take(500)
            .collect()
    }
}

/// Where a retriever placed an entry: its rank (0 is first) and its score (BM25, or cosine similarity).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub rank: usize,
    pub score: f32,
}

/// One ranked entry and what each retriever made of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub entry_id: String,
    pub title: String,
    /// The fused score that orders the candidates (comparable within one search only).
    pub score: f32,
    /// Its BM25 rank and score, when its words matched.
    pub lexical: Option<Placed>,
    /// Its rank and cosine similarity among the question's nearest entries, when it is one of them.
    pub semantic: Option<Placed>,
}

/// The ranked entries and how sure the best one answers the question.
#[derive(Clone, Debug, Default)]
pub struct Retrieval {
    pub candidates: Vec<Candidate>,
    /// The calibrated estimate, in [0, 1], that the best candidate is the entry that answers the question;
    /// 0 when nothing matched.
    pub confidence: f64,
    /// What the confidence was computed from.
    pub features: Option<Features>,
    /// Whether the semantic retriever ran (the model was ready and the organization's entries have vectors).
    pub semantic: bool,
}

struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    category: Field,
    /// Every word of the entry as written (not stored, not searched): what misspellings are corrected to.
    words: Field,
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

/// One organization's index: its entries' words and, once computed, their vectors under each model (the built-in
/// one, and the embeddings models of the assistants that use their provider's).
pub(crate) struct OrgIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    pub(crate) vectors: RwLock<HashMap<String, Vectors>>,
}

/// The lexical ranking of one question: the entries (id, title, BM25 score), best first, and each of the
/// question's terms (with its corrections) with its weight (IDF).
struct Lexical {
    ranked: Vec<(String, String, f32)>,
    weighted: Vec<(Vec<(String, f32)>, f64)>,
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

impl OrgIndex {
    pub(crate) fn build(entries: &[kb::Model]) -> tantivy::Result<Self> {
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
            words: schema.add_text_field(
                "words",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(WORDS)
                        .set_index_option(IndexRecordOption::Basic),
                ),
            ),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(ANALYZER, analyzer());
        index.tokenizers().register(WORDS, analyzer::words());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let org = OrgIndex {
            index,
            reader,
            fields,
            analyzer: analyzer(),
            vectors: RwLock::default(),
        };
        org.apply(entries, &[])?;
        Ok(org)
    }

    /// Adds (or replaces) `upserts` that are active, removes `removed` and inactive ones, and commits.
    pub(crate) fn apply(&self, upserts: &[kb::Model], removed: &[String]) -> tantivy::Result<()> {
        let mut writer = self
            .index
            .writer_with_num_threads::<TantivyDocument>(1, WRITER_BYTES)?;
        let f = &self.fields;
        for id in removed {
            writer.delete_term(Term::from_field_text(f.id, id));
        }
        if let Ok(mut sets) = self.vectors.write() {
            for vectors in sets.values_mut() {
                for id in removed {
                    vectors.remove(id);
                }
                for entry in upserts.iter().filter(|e| !e.active) {
                    vectors.remove(&entry.id);
                }
            }
        }
        for entry in upserts {
            writer.delete_term(Term::from_field_text(f.id, &entry.id));
            if entry.active {
                let tags = embedding::entry_tags(entry).join(" ");
                let category = entry.category.clone().unwrap_or_default();
                let words = [entry.title.as_str(), &entry.body, &tags, &category].join("\n");
                writer.add_document(doc!(
                    f.id => entry.id.as_str(),
                    f.title => entry.title.as_str(),
                    f.body => entry.body.as_str(),
                    f.tags => tags,
                    f.category => category,
                    f.words => words,
                ))?;
            }
        }
        writer.commit()?;
        self.reader.reload()
    }

    /// Ranks the entries for `question`: BM25 and, with the question's vector under a model (its id), its
    /// nearest entries, fused; the confidence is the calibrated estimate that the first is right.
    pub(crate) fn search(
        &self,
        question: &Question,
        limit: usize,
        vector: Option<(&str, &Quantized)>,
    ) -> tantivy::Result<Retrieval> {
        let searcher = self.reader.searcher();
        if searcher.num_docs() == 0 || limit == 0 {
            return Ok(Retrieval::default());
        }
        let pool = limit.max(ranking::POOL);
        let lexical = self.lexical(&searcher, question, pool)?;
        let sets = self
            .vectors
            .read()
            .map_err(|_| tantivy::TantivyError::InternalError("vectors poisoned".into()))?;
        // The question's vector and the entries' under its model, when every entry has one.
        let semantic_by = vector.and_then(|(model, v)| {
            let set = sets.get(model)?;
            complete(set, searcher.num_docs()).then_some((set, v))
        });
        let semantic: Vec<(String, f32)> = semantic_by
            .map(|(vectors, v)| {
                vectors
                    .nearest(v, pool)
                    .into_iter()
                    .filter(|n| n.cosine >= ranking::SEMANTIC_FLOOR)
                    .map(|n| (vectors.id(n).to_owned(), n.cosine))
                    .collect()
            })
            .unwrap_or_default();
        let semantic_ran = semantic_by.is_some();
        let cosine = |id: &str| semantic_by.and_then(|(vectors, v)| vectors.cosine(id, v));
        let fused = ranking::fuse(&lexical.ranked, &semantic, cosine);
        let Some(top) = fused.first() else {
            return Ok(Retrieval {
                semantic: semantic_ran,
                ..Retrieval::default()
            });
        };
        let mut analyzer = self.analyzer.clone();
        let top_terms = self.entry_terms(&searcher, &mut analyzer, &top.entry_id)?;
        let coverage = coverage(&lexical.weighted, &top_terms);
        let features = ranking::features(&fused, coverage, semantic_ran, cosine);
        drop(sets);
        let mut candidates = Vec::with_capacity(limit);
        for f in fused.into_iter().take(limit) {
            let Fused {
                entry_id,
                title,
                score,
                lexical,
                semantic,
            } = f;
            let title = match title {
                Some(title) => title,
                None => self.title(&searcher, &entry_id)?,
            };
            candidates.push(Candidate {
                entry_id,
                title,
                score,
                lexical,
                semantic,
            });
        }
        Ok(Retrieval {
            candidates,
            confidence: ranking::confidence(&features),
            features: Some(features),
            semantic: semantic_ran,
        })
    }

    /// `text` with its misspellings corrected to the entries' words (see [`spelling::spelled`]).
    pub(crate) fn spelled<'a>(
        &self,
        text: &'a str,
        known: impl Fn(&str) -> bool,
    ) -> tantivy::Result<Cow<'a, str>> {
        spelling::spelled(&self.reader.searcher(), self.fields.words, text, known)
    }

    /// Whether every entry has its vector under `model`, so that a question's vector is worth computing.
    pub(crate) fn vectors_complete(&self, model: &str) -> bool {
        let documents = self.reader.searcher().num_docs();
        self.vectors
            .read()
            .is_ok_and(|sets| sets.get(model).is_some_and(|v| complete(v, documents)))
    }

    /// Whether vectors under `model` were put in this index (all of them or not).
    pub(crate) fn has_vectors(&self, model: &str) -> bool {
        self.vectors
            .read()
            .is_ok_and(|sets| sets.contains_key(model))
    }

    /// Puts the `stored` vectors under `model` that are current for `entries` into the index; the entries still
    /// without a current one (new, edited, or never computed) are returned.
    pub(crate) fn merge_stored(
        &self,
        model: &str,
        dimensions: usize,
        entries: Vec<kb::Model>,
        stored: Vec<StoredVector>,
    ) -> Vec<kb::Model> {
        let stored: HashMap<&str, &StoredVector> =
            stored.iter().map(|v| (v.entry_id.as_str(), v)).collect();
        self.with_vectors(model, dimensions, |vectors| {
            entries
                .into_iter()
                .filter(|entry| {
                    let digest = embedding::EntryViews::of(entry).digest();
                    match stored.get(entry.id.as_str()) {
                        // One the worker put there meanwhile is at least as new.
                        _ if vectors.digest(&entry.id) == Some(digest.as_str()) => false,
                        Some(v) if v.digest == digest => {
                            vectors.upsert(&v.entry_id, &v.digest, &v.vector);
                            false
                        }
                        _ => true,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// Runs `f` on the vectors under `model` (an empty set of `dimensions` when there are none yet).
    pub(crate) fn with_vectors<T>(
        &self,
        model: &str,
        dimensions: usize,
        f: impl FnOnce(&mut Vectors) -> T,
    ) -> Option<T> {
        let mut sets = self.vectors.write().ok()?;
        let set = sets
            .entry(model.to_owned())
            .or_insert_with(|| Vectors::new(dimensions));
        Some(f(set))
    }

    /// The BM25 ranking: each term of the question (or what it was probably meant to be), with page context.
    fn lexical(
        &self,
        searcher: &Searcher,
        question: &Question,
        limit: usize,
    ) -> tantivy::Result<Lexical> {
        let mut analyzer = self.analyzer.clone();
        let f = &self.fields;
        let documents = searcher.num_docs();
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
            let corrections = self.corrections(searcher, &term)?;
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
            return Ok(Lexical {
                ranked: Vec::new(),
                weighted,
            });
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
        let mut ranked = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            ranked.push((text_of(&document, f.id), text_of(&document, f.title), score));
        }
        Ok(Lexical { ranked, weighted })
    }

    /// The stored document of an entry.
    fn document(&self, searcher: &Searcher, id: &str) -> tantivy::Result<Option<TantivyDocument>> {
        let query = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        match searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())?
            .first()
        {
            Some((_, address)) => Ok(Some(searcher.doc(*address)?)),
            None => Ok(None),
        }
    }

    fn title(&self, searcher: &Searcher, id: &str) -> tantivy::Result<String> {
        Ok(self
            .document(searcher, id)?
            .map(|d| text_of(&d, self.fields.title))
            .unwrap_or_default())
    }

    /// The analyzed terms of an entry's title, body, tags and category.
    fn entry_terms(
        &self,
        searcher: &Searcher,
        analyzer: &mut TextAnalyzer,
        id: &str,
    ) -> tantivy::Result<HashSet<String>> {
        let f = &self.fields;
        let mut out = HashSet::new();
        if let Some(document) = self.document(searcher, id)? {
            for field in [f.title, f.body, f.tags, f.category] {
                out.extend(terms(analyzer, &text_of(&document, field)));
            }
        }
        Ok(out)
    }

    /// Index terms within one edit (two for long words) of `term`, with their document frequency.
    fn corrections(&self, searcher: &Searcher, term: &str) -> tantivy::Result<Vec<(String, u64)>> {
        let Some(distance) = edits_allowed(term) else {
            return Ok(Vec::new());
        };
        let mut found: HashMap<String, u64> = HashMap::new();
        for (field, _) in self.fields.searchable() {
            nearby(searcher, field, term, distance, &mut found)?;
        }
        let mut corrections: Vec<(String, u64)> = found.into_iter().collect();
        // The most common spellings first; a few are plenty.
        corrections.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        corrections.truncate(3);
        Ok(corrections)
    }
}

/// The meaning ranks only once every entry has its vector: an entry still without one could never come first,
/// so until then (a few seconds after a write) the words alone rank.
fn complete(vectors: &Vectors, documents: u64) -> bool {
    !vectors.is_empty() && vectors.len() as u64 >= documents
}

fn text_of(document: &TantivyDocument, field: Field) -> String {
    document
        .get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The share of the question's weight (IDF) whose terms (or one of their corrections) the entry contains.
fn coverage(weighted: &[(Vec<(String, f32)>, f64)], entry_terms: &HashSet<String>) -> f64 {
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let matched: f64 = weighted
        .iter()
        .filter(|(variants, _)| variants.iter().any(|(t, _)| entry_terms.contains(t)))
        .map(|(_, w)| w)
        .sum();
    if total > 0.0 { matched / total } else { 0.0 }
}
