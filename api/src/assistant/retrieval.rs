//! Ranked retrieval over an organization's active knowledge-base entries: BM25 on tantivy (stemming, stop words,
//! typo tolerance, page context) fused with the nearest entries by sentence vector.
//!
//! Each instance keeps one in-memory index per organization, built from the database on first use and kept
//! current by the knowledge-base events of the live-event bus (through Redis when several instances share a
//! database), so an edit on any instance is answerable lexically everywhere as soon as its notice arrives.
//! Entry vectors are computed in the background (a write never waits for the model), stored beside the entry
//! so that a restart or another instance reuses them, and join the index within a few seconds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use entities::knowledge_base_entry as kb;
use futures_util::future::BoxFuture;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, mpsc};

use crate::assistant::embedding::{self, Model, Quantized};
use crate::assistant::index::OrgIndex;
pub use crate::assistant::index::{Candidate, Placed, Question, Retrieval};
use crate::assistant::ranking;
use crate::assistant::remote::{self, Passes, RemoteModel, RemoteStatus};
pub use crate::assistant::vectors::StoredVector;
use crate::assistant::worker::Worker;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::bus::Signal;

/// Where the retriever reads entries from: the knowledge base's own store, which the service layer provides
/// (`service::knowledge_base::retriever`), so the engine knows no table.
pub trait EntrySource: Send + Sync + 'static {
    /// The organization's active entries.
    fn active<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, ApiResult<Vec<kb::Model>>>;
    /// One entry of the organization as it is now (`None`: deleted).
    fn one<'a>(
        &'a self,
        organization_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, ApiResult<Option<kb::Model>>>;
    /// The organization's stored entry vectors under `model`.
    fn vectors<'a>(
        &'a self,
        organization_id: &'a str,
        model: &'a str,
    ) -> BoxFuture<'a, ApiResult<Vec<StoredVector>>>;
    /// One entry's stored vector under `model`.
    fn vector<'a>(
        &'a self,
        organization_id: &'a str,
        entry_id: &'a str,
        model: &'a str,
    ) -> BoxFuture<'a, ApiResult<Option<StoredVector>>>;
    /// Stores (or replaces) an entry's vector under `model`.
    fn save_vector<'a>(
        &'a self,
        organization_id: &'a str,
        model: &'a str,
        vector: &'a StoredVector,
    ) -> BoxFuture<'a, ApiResult<()>>;
}

/// A loaded index and when it last answered (a tick of the retriever's clock), for eviction.
pub(crate) struct Loaded {
    pub(crate) index: Arc<OrgIndex>,
    used: AtomicU64,
    /// Whether the stored vectors were read into it (they are once the model is ready).
    pub(crate) vectors: Arc<AtomicBool>,
}

/// The background computation of entry vectors: what is queued (an organization and an entry) and a signal
/// when the queue empties.
pub(crate) struct Embedding {
    pub(crate) model: Model,
    queue: mpsc::UnboundedSender<(String, String)>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(String, String)>>>,
    pub(crate) pending: Mutex<HashSet<(String, String)>>,
    /// Entries taken off the queue and being computed (changed under the `pending` lock).
    pub(crate) computing: AtomicUsize,
    pub(crate) drained: Notify,
    /// Vectors of the pages questions were asked on, by text: visitors ask from the same pages again and again.
    pages: Arc<Mutex<HashMap<String, Arc<Vec<f32>>>>>,
    /// The passes that embed entries with assistants' provider models.
    remote: Arc<Passes>,
}

/// Pages whose vectors are kept; past this the cache starts afresh.
const PAGES_KEPT: usize = 2_048;

/// The question's vector (of its words spelled as the entries or the model know them), nudged toward the page it
/// was asked on ([`ranking::PAGE_WEIGHT`] of the vector of its title and context).
fn question_vector(
    model: &embedding::Embedder,
    index: &OrgIndex,
    pages: &Mutex<HashMap<String, Arc<Vec<f32>>>>,
    question: &Question,
) -> Result<Vec<f32>, String> {
    let text = index
        .spelled(&question.text, |word| model.knows(word))
        .map_err(|err| format!("spelling: {err}"))?;
    let mut vector = model.embed(&text)?;
    let page = question.page();
    if page.is_empty() {
        return Ok(vector);
    }
    let cached = pages.lock().ok().and_then(|p| p.get(&page).cloned());
    let page_vector = match cached {
        Some(v) => v,
        None => {
            let v = Arc::new(model.embed(&page)?);
            if let Ok(mut p) = pages.lock() {
                if p.len() >= PAGES_KEPT {
                    p.clear();
                }
                p.insert(page, v.clone());
            }
            v
        }
    };
    ranking::nudge(&mut vector, &page_vector);
    Ok(vector)
}

/// The indexes of the organizations that asked most recently on this instance, at most `capacity` of them.
#[derive(Clone)]
pub struct Retriever {
    /// Where knowledge-base changes are announced.
    db: Db,
    entries: Arc<dyn EntrySource>,
    indexes: Arc<RwLock<HashMap<String, Loaded>>>,
    /// Most indexes kept; the least recently used is dropped to make room (and rebuilt when needed again).
    capacity: usize,
    /// Ticks on every use, ordering the indexes by recency.
    clock: Arc<AtomicU64>,
    /// Knowledge-base changes (and lost notices) seen, so an index built while one arrived is not kept.
    changes: Arc<AtomicU64>,
    embedding: Arc<Embedding>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever").finish_non_exhaustive()
    }
}

/// Reads the organization's vectors stored under `model` into `index` (off the async threads) for its active
/// `entries`, and returns the entries still without a current one (new, edited, or never computed).
pub(crate) async fn read_stored(
    source: &dyn EntrySource,
    organization_id: &str,
    index: &Arc<OrgIndex>,
    model: &str,
    dimensions: usize,
    entries: Vec<kb::Model>,
) -> ApiResult<Vec<kb::Model>> {
    let stored = source.vectors(organization_id, model).await?;
    let (index, model) = (index.clone(), model.to_owned());
    tokio::task::spawn_blocking(move || index.merge_stored(&model, dimensions, entries, stored))
        .await
        .map_err(ApiError::internal)
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
    /// A retriever reading `entries`, following `db`'s announcements, keeping at most `capacity` organizations' indexes in memory
    /// (`CONCIERGE_RETRIEVAL_MAX_INDEXES`), with the sentence-embedding `model`; call [`Retriever::follow`] to keep
    /// them current and compute entry vectors.
    pub fn new(db: Db, entries: Arc<dyn EntrySource>, capacity: usize, model: Model) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        Retriever {
            db,
            entries,
            indexes: Arc::default(),
            capacity: capacity.max(1),
            clock: Arc::default(),
            changes: Arc::default(),
            embedding: Arc::new(Embedding {
                model,
                queue,
                receiver: Mutex::new(Some(receiver)),
                pending: Mutex::default(),
                computing: AtomicUsize::new(0),
                drained: Notify::new(),
                pages: Arc::default(),
                remote: Arc::default(),
            }),
        }
    }

    /// The sentence-embedding model and its state.
    pub fn model(&self) -> &Model {
        &self.embedding.model
    }

    /// How many entry vectors the organization's loaded index holds (under every model), and the bytes they take.
    pub fn vector_memory(&self, organization_id: &str) -> Option<(usize, usize)> {
        let map = self.indexes.read().ok()?;
        let sets = map.get(organization_id)?.index.vectors.read().ok()?;
        Some(sets.values().fold((0, 0), |(n, bytes), v| {
            (n + v.len(), bytes + v.memory_bytes())
        }))
    }

    /// Waits until no entry vector is waiting to be computed (the model settled, the queue drained and no
    /// provider pass runs).
    pub async fn embedded(&self) {
        loop {
            let drained = self.embedding.drained.notified();
            let idle = self.embedding.remote.idle.notified();
            let empty = self.embedding.pending.lock().map_or(true, |pending| {
                pending.is_empty() && self.embedding.computing.load(Ordering::SeqCst) == 0
            });
            if empty && self.embedding.remote.is_idle() {
                return;
            }
            tokio::select! {
                () = drained => {}
                () = idle => {}
            }
        }
    }

    /// Where the organization's vectors under an assistant's provider model (its [`remote::model_id`]) stand on
    /// this instance (`None`: no pass was started here).
    pub fn remote_status(&self, organization_id: &str, model_id: &str) -> Option<RemoteStatus> {
        self.embedding.remote.status(organization_id, model_id)
    }

    /// Queues an entry's vector to be computed (or read from the store) and put in its organization's index.
    fn queue_vector(&self, organization_id: &str, entry_id: &str) {
        let key = (organization_id.to_owned(), entry_id.to_owned());
        let fresh = self
            .embedding
            .pending
            .lock()
            .is_ok_and(|mut pending| pending.insert(key.clone()));
        if fresh {
            let _ = self.embedding.queue.send(key);
        }
    }

    /// How many organizations' indexes are in memory.
    pub fn loaded_count(&self) -> usize {
        self.indexes.read().map_or(0, |map| map.len())
    }

    /// Ranks the organization's active entries for `question`, with the built-in model.
    pub async fn search(
        &self,
        organization_id: &str,
        question: Question,
        limit: usize,
    ) -> ApiResult<Retrieval> {
        self.search_with(organization_id, question, limit, None)
            .await
    }

    /// Ranks the organization's active entries for `question`, with `remote` (an assistant's provider's
    /// embeddings model) when it has embedded every entry and answers in time, else with the built-in model, else
    /// by the words alone.
    pub async fn search_with(
        &self,
        organization_id: &str,
        question: Question,
        limit: usize,
        remote: Option<&RemoteModel>,
    ) -> ApiResult<Retrieval> {
        let index = self.index(organization_id).await?;
        let remote_vector = match remote {
            Some(remote) => {
                self.remote_vector(organization_id, &index, remote, &question)
                    .await?
            }
            None => None,
        };
        // No vector is computed for a question the words alone will rank (entries still without theirs).
        let model = self
            .embedding
            .model
            .ready()
            .filter(|model| remote_vector.is_none() && index.vectors_complete(model.id()));
        let pages = self.embedding.pages.clone();
        tokio::task::spawn_blocking(move || {
            let vector = remote_vector.or_else(|| {
                let model = model?;
                match question_vector(&model, &index, &pages, &question) {
                    Ok(vector) => Some((model.id().to_owned(), Quantized::new(&vector))),
                    Err(err) => {
                        tracing::warn!(error = %err, "could not embed a question; ranking it lexically");
                        None
                    }
                }
            });
            let vector = vector.as_ref().map(|(model, v)| (model.as_str(), v));
            index.search(&question, limit, vector)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(search_error)
    }

    /// The question's vector under `remote` with the model's id, when every entry has one under it and the
    /// provider answers in time; otherwise `None`, and a pass is started if entries lack theirs.
    async fn remote_vector(
        &self,
        organization_id: &str,
        index: &Arc<OrgIndex>,
        remote: &RemoteModel,
        question: &Question,
    ) -> ApiResult<Option<(String, Quantized)>> {
        if !index.has_vectors(remote.id()) {
            // A new index (or a new model): the vectors stored under it join at once, and the organization's
            // entry changes reach the model from now on.
            self.embedding.remote.remember(organization_id, remote);
            let entries = self.entries.active(organization_id).await?;
            read_stored(
                self.entries.as_ref(),
                organization_id,
                index,
                remote.id(),
                0,
                entries,
            )
            .await?;
        }
        if !index.vectors_complete(remote.id()) {
            self.sync_remote(organization_id, remote);
            return Ok(None);
        }
        match remote.embed_question(question).await {
            Ok(vector) => Ok(Some((remote.id().to_owned(), vector))),
            Err(err) => {
                tracing::warn!(model = remote.id(), error = %err, "the provider could not embed a question; ranking it without");
                Ok(None)
            }
        }
    }

    /// Brings the organization's vectors under every provider model its assistants asked with up to date.
    fn resync_remote(&self, organization_id: &str) {
        for remote in self.embedding.remote.models(organization_id) {
            self.sync_remote(organization_id, &remote);
        }
    }

    /// Makes the organization's vectors under `remote` complete in the background (read from the store, or
    /// computed by the provider); a pass already running goes round once more.
    pub(crate) fn sync_remote(&self, organization_id: &str, remote: &RemoteModel) {
        remote::sync(
            &self.embedding.remote,
            self.entries.clone(),
            self.indexes.clone(),
            organization_id,
            remote,
        );
    }

    fn loaded(&self, organization_id: &str) -> Option<Arc<OrgIndex>> {
        self.loaded_with_vectors(organization_id)
            .map(|(index, _)| index)
    }

    fn loaded_with_vectors(
        &self,
        organization_id: &str,
    ) -> Option<(Arc<OrgIndex>, Arc<AtomicBool>)> {
        let map = self.indexes.read().ok()?;
        let loaded = map.get(organization_id)?;
        loaded.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some((loaded.index.clone(), loaded.vectors.clone()))
    }

    async fn index(&self, organization_id: &str) -> ApiResult<Arc<OrgIndex>> {
        if let Some((index, vectors)) = self.loaded_with_vectors(organization_id) {
            if !vectors.load(Ordering::SeqCst) && self.embedding.model.ready().is_some() {
                // The model became ready after the index was built: its stored vectors join it now.
                vectors.store(true, Ordering::SeqCst);
                let entries = self.entries.active(organization_id).await?;
                self.read_vectors(organization_id, &index, entries).await?;
            }
            return Ok(index);
        }
        let seen = self.changes.load(Ordering::SeqCst);
        let entries = self.entries.active(organization_id).await?;
        // The entries come back with the index: their vectors are matched against the same snapshot.
        let (index, entries) =
            tokio::task::spawn_blocking(move || OrgIndex::build(&entries).map(|i| (i, entries)))
                .await
                .map_err(ApiError::internal)?
                .map_err(search_error)?;
        let index = Arc::new(index);
        let with_vectors = self.embedding.model.ready().is_some();
        // The index is in the map before its vectors are read, so a vector the worker finishes meanwhile is
        // either in the store when they are read or put in the index by the worker: none is missed.
        if self.changes.load(Ordering::SeqCst) == seen
            && let Ok(mut map) = self.indexes.write()
        {
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
                        vectors: Arc::new(AtomicBool::new(with_vectors)),
                    },
                );
            }
        }
        // (A change that arrived while the entries were read leaves this copy out of the map: it answers this
        // search and the next builds afresh.)
        if with_vectors {
            self.read_vectors(organization_id, &index, entries).await?;
        }
        Ok(index)
    }

    /// Reads the organization's stored vectors under the ready model into `index`, for its active `entries`; an
    /// entry without a current one (new, edited, or never computed) is queued.
    async fn read_vectors(
        &self,
        organization_id: &str,
        index: &Arc<OrgIndex>,
        entries: Vec<kb::Model>,
    ) -> ApiResult<()> {
        let Some(model) = self.embedding.model.ready() else {
            return Ok(());
        };
        let missing = read_stored(
            self.entries.as_ref(),
            organization_id,
            index,
            model.id(),
            model.dimensions(),
            entries,
        )
        .await?;
        for entry in missing {
            self.queue_vector(organization_id, &entry.id);
        }
        Ok(())
    }

    /// Applies knowledge-base events from the bus to the loaded indexes until the bus closes. A lost notice
    /// (a lagging receiver, a Redis reconnect) drops every index, to be rebuilt from the table on next use.
    pub async fn follow(self) {
        let receiver = self
            .embedding
            .receiver
            .lock()
            .ok()
            .and_then(|mut r| r.take());
        if let Some(receiver) = receiver {
            let worker = Worker {
                entries: self.entries.clone(),
                indexes: self.indexes.clone(),
                embedding: self.embedding.clone(),
            };
            tokio::join!(worker.run(receiver), self.follow_bus());
        } else {
            self.follow_bus().await;
        }
    }

    async fn follow_bus(&self) {
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
                    self.queue_vector(&event.organization_id, id);
                    self.resync_remote(&event.organization_id);
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
        if !deleted && entry.active {
            // Its vector is computed in the background (and stored even when no index here holds it).
            self.queue_vector(&entry.organization_id, &entry.id);
            self.resync_remote(&entry.organization_id);
        }
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
        let current = crate::db::background(self.entries.one(organization_id, id)).await?;
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
