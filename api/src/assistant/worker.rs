//! The background computation of entry vectors with the built-in model: queued entries, one at a time, stored and put in their index.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use crate::assistant::embedding::{self, Quantized};
use crate::assistant::index::OrgIndex;
use crate::assistant::retrieval::{Embedding, EntrySource, Loaded};
use crate::assistant::vectors::StoredVector;
use crate::error::{ApiError, ApiResult};

/// Computes queued entry vectors one at a time, off the async threads, until the retriever is gone.
pub(crate) struct Worker {
    pub(crate) entries: Arc<dyn EntrySource>,
    pub(crate) indexes: Arc<RwLock<HashMap<String, Loaded>>>,
    pub(crate) embedding: Arc<Embedding>,
}

impl Worker {
    pub(crate) async fn run(self, mut receiver: mpsc::UnboundedReceiver<(String, String)>) {
        while let Some(key) = receiver.recv().await {
            // Off the queue before it is computed: an edit made meanwhile queues the entry again, instead of
            // finding it still queued and leaving the vector of the text read before the edit.
            if let Ok(mut pending) = self.embedding.pending.lock() {
                pending.remove(&key);
                self.embedding.computing.fetch_add(1, Ordering::SeqCst);
            }
            let model = self.embedding.model.settled_model().await;
            if let Some(model) = model {
                let (organization_id, entry_id) = &key;
                if let Err(err) =
                    crate::db::background(self.compute(&model, organization_id, entry_id)).await
                {
                    // The next index build finds it missing and queues it again.
                    tracing::warn!(?err, entry_id, "could not compute an entry's vector");
                }
            }
            if let Ok(pending) = self.embedding.pending.lock() {
                let computing = self.embedding.computing.fetch_sub(1, Ordering::SeqCst) - 1;
                if pending.is_empty() && computing == 0 {
                    self.embedding.drained.notify_waiters();
                }
            }
        }
    }

    fn loaded(&self, organization_id: &str) -> Option<Arc<OrgIndex>> {
        let map = self.indexes.read().ok()?;
        let loaded = map.get(organization_id)?;
        loaded
            .vectors
            .load(Ordering::SeqCst)
            .then(|| loaded.index.clone())
    }

    /// Makes the entry's stored vector current (reusing one another instance stored) and puts it in the loaded
    /// index; an entry gone or inactive leaves it.
    async fn compute(
        &self,
        model: &Arc<embedding::Embedder>,
        organization_id: &str,
        entry_id: &str,
    ) -> ApiResult<()> {
        let entry = self
            .entries
            .one(organization_id, entry_id)
            .await?
            .filter(|e| e.active);
        let Some(entry) = entry else {
            if let Some(index) = self.loaded(organization_id) {
                index.with_vectors(model.id(), model.dimensions(), |v| v.remove(entry_id));
            }
            return Ok(());
        };
        let views = embedding::EntryViews::of(&entry);
        let digest = views.digest();
        if self.loaded(organization_id).is_some_and(|index| {
            index
                .with_vectors(model.id(), model.dimensions(), |v| {
                    v.digest(entry_id) == Some(digest.as_str())
                })
                .unwrap_or(false)
        }) {
            return Ok(());
        }
        let stored = match self
            .entries
            .vector(organization_id, entry_id, model.id())
            .await?
        {
            Some(stored) if stored.digest == digest => stored,
            _ => {
                let embedder = model.clone();
                let vector = tokio::task::spawn_blocking(move || embedder.embed_entry(&views))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal_msg)?;
                let stored = StoredVector {
                    entry_id: entry_id.to_owned(),
                    digest,
                    vector: Quantized::new(&vector),
                };
                self.entries
                    .save_vector(organization_id, model.id(), &stored)
                    .await?;
                stored
            }
        };
        // Looked up after the store: an index built meanwhile either read it or is here to take it.
        if let Some(index) = self.loaded(organization_id) {
            index.with_vectors(model.id(), model.dimensions(), |v| {
                v.upsert(&stored.entry_id, &stored.digest, &stored.vector)
            });
        }
        Ok(())
    }
}
