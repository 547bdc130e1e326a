//! Ranked retrieval over an organization's active knowledge-base entries: BM25 on tantivy, stemming, stop words,
//! typo tolerance and page context.
//!
//! Each instance keeps one in-memory index per organization, built from the database on first use and kept
//! current by the knowledge-base events of the live-event bus (through Redis when several instances share a
//! database), so an edit on any instance is answerable everywhere as soon as its notice arrives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use entities::knowledge_base_entry as kb;
use futures_util::future::BoxFuture;
use tokio::sync::broadcast::error::RecvError;

use crate::assistant::index::OrgIndex;
pub use crate::assistant::index::{Candidate, Question, Retrieval};
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
}

/// A loaded index and when it last answered (a tick of the retriever's clock), for eviction.
struct Loaded {
    index: Arc<OrgIndex>,
    used: AtomicU64,
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
    /// A retriever reading `entries`, following `db`'s announcements, keeping at most `capacity` organizations' indexes in memory
    /// (`CONCIERGE_RETRIEVAL_MAX_INDEXES`); call [`Retriever::follow`] to keep them current.
    pub fn new(db: Db, entries: Arc<dyn EntrySource>, capacity: usize) -> Self {
        Retriever {
            db,
            entries,
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
        let entries = self.entries.active(organization_id).await?;
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
