//! An assistant's provider embeddings model: questions embedded at its `/embeddings`, and the background passes that give every entry a vector under it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use entities::knowledge_base_entry as kb;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::assistant::embedding::{EntryViews, Quantized};
use crate::assistant::index::{OrgIndex, Question};
use crate::assistant::provider::{EmbeddingFailure, EmbeddingRequest, Provider};
use crate::assistant::ranking;
use crate::assistant::retrieval::{EntrySource, Loaded, read_stored};
use crate::assistant::vectors::StoredVector;
use crate::error::ApiError;

/// Texts embedded per call (OpenAI takes up to 2,048 inputs; a smaller batch loses less to a failure).
const BATCH: usize = 64;
/// A question waits at most this long for its vector before it is ranked without it.
const QUESTION_TIMEOUT: Duration = Duration::from_secs(3);
/// A batch of entries may take this long.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Failed passes (unreachable, errors) retried, after 1, 2, 4… seconds, before the pass gives up until the next
/// change or question.
const RETRIES: u32 = 5;
/// Rate-limit waits one pass sits through before it gives up.
const BUSY_WAITS: u32 = 30;
/// After a refused key, how long before another pass tries the same key again.
const REFUSED_PAUSE: Duration = Duration::from_secs(300);

/// An OpenAI-compatible embeddings model of an assistant's provider, and the name its vectors are stored under.
#[derive(Clone)]
pub struct RemoteModel {
    provider: Provider,
    base_url: String,
    model: String,
    api_key: Option<SecretString>,
    id: String,
}

impl std::fmt::Debug for RemoteModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteModel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The name vectors of `model` at `base_url` are stored under: the model and a digest of the provider's address
/// (`text-embedding-3-small@1a2b3c4d`).
pub fn model_id(base_url: &str, model: &str) -> String {
    let digest = Sha256::digest(base_url.trim_end_matches('/').as_bytes());
    format!("{model}@{}", hex::encode(&digest[..4]))
}

/// A vector of unit length (providers other than OpenAI may not normalize); `None` for a zero one.
fn unit(mut vector: Vec<f32>) -> Option<Vec<f32>> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    vector.iter_mut().for_each(|x| *x /= norm);
    Some(vector)
}

impl RemoteModel {
    /// `model` at `base_url` (`…/v1`, where `/embeddings` is appended), called with `api_key` through `provider`.
    pub fn new(
        provider: Provider,
        base_url: &str,
        model: &str,
        api_key: Option<SecretString>,
    ) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        RemoteModel {
            id: model_id(&base_url, model),
            provider,
            base_url,
            model: model.to_owned(),
            api_key,
        }
    }

    /// The name its vectors are stored under: the model and a digest of the provider's address.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fingerprint of the key, to tell a refused key from its replacement.
    fn key_digest(&self) -> [u8; 32] {
        let key = self.api_key.as_ref().map_or("", |k| k.expose_secret());
        Sha256::digest(key.as_bytes()).into()
    }

    async fn embed(
        &self,
        inputs: &[String],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbeddingFailure> {
        let vectors = self
            .provider
            .embed(EmbeddingRequest {
                base_url: &self.base_url,
                api_key: self.api_key.as_ref(),
                model: &self.model,
                inputs,
                timeout,
            })
            .await?;
        vectors
            .into_iter()
            .map(|v| unit(v).ok_or_else(|| EmbeddingFailure::Failed("a zero vector".to_owned())))
            .collect()
    }

    /// The question's vector, nudged toward its page as the built-in model's is (one call for both).
    pub(crate) async fn embed_question(
        &self,
        question: &Question,
    ) -> Result<Quantized, EmbeddingFailure> {
        let mut inputs = vec![question.text.clone()];
        let page = question.page();
        if !page.is_empty() {
            inputs.push(page);
        }
        let vectors = self.embed(&inputs, QUESTION_TIMEOUT).await?;
        let mut vectors = vectors.into_iter();
        let mut vector = vectors.next().unwrap_or_default();
        if let Some(page) = vectors.next() {
            ranking::nudge(&mut vector, &page);
        }
        Ok(Quantized::new(&vector))
    }
}

/// Where an organization's vectors under one provider model stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteStatus {
    /// A pass is computing or reading them.
    Computing,
    /// Every active entry had its vector when the last pass ended.
    Ready,
    /// The last pass gave up: why (the provider's answer).
    Failed(String),
}

/// The passes running (with whether a change arrived meanwhile, so that they go round again), the models each
/// organization's assistants asked with (for entry changes to reach), and how the last pass of each ended.
#[derive(Default)]
pub(crate) struct Passes {
    running: Mutex<HashMap<(String, String), bool>>,
    models: Mutex<HashMap<String, HashMap<String, RemoteModel>>>,
    ended: Mutex<HashMap<(String, String), Ended>>,
    /// Signalled when the last running pass ends.
    pub(crate) idle: Notify,
}

/// How a pass ended, and when a refused key may be tried again.
#[derive(Clone)]
struct Ended {
    status: RemoteStatus,
    refused: Option<([u8; 32], Instant)>,
}

impl Passes {
    /// Whether no pass is running.
    pub(crate) fn is_idle(&self) -> bool {
        self.running.lock().map_or(true, |r| r.is_empty())
    }

    /// Remembers (or updates: its key may have changed) a model the organization's assistants ask with.
    pub(crate) fn remember(&self, organization_id: &str, remote: &RemoteModel) {
        if let Ok(mut models) = self.models.lock() {
            models
                .entry(organization_id.to_owned())
                .or_default()
                .insert(remote.id().to_owned(), remote.clone());
        }
    }

    /// The models the organization's assistants asked with.
    pub(crate) fn models(&self, organization_id: &str) -> Vec<RemoteModel> {
        self.models
            .lock()
            .ok()
            .and_then(|m| {
                m.get(organization_id)
                    .map(|m| m.values().cloned().collect())
            })
            .unwrap_or_default()
    }

    pub(crate) fn status(&self, organization_id: &str, model: &str) -> Option<RemoteStatus> {
        let key = (organization_id.to_owned(), model.to_owned());
        if self.running.lock().is_ok_and(|r| r.contains_key(&key)) {
            return Some(RemoteStatus::Computing);
        }
        self.ended
            .lock()
            .ok()
            .and_then(|e| e.get(&key).map(|e| e.status.clone()))
    }

    /// Marks a pass for `key` as due: `true` when none runs (the caller starts one); a running one goes round
    /// again.
    fn start(&self, key: &(String, String)) -> bool {
        let Ok(mut running) = self.running.lock() else {
            return false;
        };
        match running.get_mut(key) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                running.insert(key.clone(), false);
                true
            }
        }
    }

    /// Ends a pass unless a change arrived meanwhile (then `false`: it goes round again).
    fn finish(&self, key: &(String, String)) -> bool {
        let Ok(mut running) = self.running.lock() else {
            return true;
        };
        if running.get(key) == Some(&true) {
            running.insert(key.clone(), false);
            return false;
        }
        running.remove(key);
        if running.is_empty() {
            self.idle.notify_waiters();
        }
        true
    }

    fn end(&self, key: &(String, String), ended: Ended) {
        if let Ok(mut map) = self.ended.lock() {
            map.insert(key.clone(), ended);
        }
    }
}

/// Starts a background pass that makes the organization's vectors under `remote` complete, unless one runs (it
/// then goes round again) or the same key was refused a moment ago. The model is remembered for the
/// organization, so that its entries' changes start passes too.
pub(crate) fn sync(
    passes: &Arc<Passes>,
    entries: Arc<dyn EntrySource>,
    indexes: Arc<RwLock<HashMap<String, Loaded>>>,
    organization_id: &str,
    remote: &RemoteModel,
) {
    passes.remember(organization_id, remote);
    let key = (organization_id.to_owned(), remote.id().to_owned());
    let refused_lately = passes.ended.lock().is_ok_and(|ended| {
        ended
            .get(&key)
            .and_then(|e| e.refused)
            .is_some_and(|(key_digest, at)| {
                key_digest == remote.key_digest() && at.elapsed() < REFUSED_PAUSE
            })
    });
    if refused_lately || !passes.start(&key) {
        return;
    }
    let pass = Pass {
        passes: passes.clone(),
        entries,
        indexes,
        organization_id: organization_id.to_owned(),
        remote: remote.clone(),
    };
    tokio::spawn(pass.run(key));
}

/// Why a pass stopped short.
enum Stop {
    Provider(EmbeddingFailure),
    Store(ApiError),
}

impl From<ApiError> for Stop {
    fn from(err: ApiError) -> Self {
        Stop::Store(err)
    }
}

impl From<EmbeddingFailure> for Stop {
    fn from(failure: EmbeddingFailure) -> Self {
        Stop::Provider(failure)
    }
}

/// One organization's entries brought up to date under one provider model.
struct Pass {
    passes: Arc<Passes>,
    entries: Arc<dyn EntrySource>,
    indexes: Arc<RwLock<HashMap<String, Loaded>>>,
    organization_id: String,
    remote: RemoteModel,
}

impl Pass {
    async fn run(self, key: (String, String)) {
        let (mut failures, mut waits) = (0u32, 0u32);
        loop {
            let ended = match self.once().await {
                Ok(()) => Some(Ended {
                    status: RemoteStatus::Ready,
                    refused: None,
                }),
                Err(Stop::Provider(EmbeddingFailure::Busy(wait))) if waits < BUSY_WAITS => {
                    waits += 1;
                    tokio::time::sleep(wait).await;
                    None
                }
                Err(Stop::Provider(EmbeddingFailure::Refused(why))) => {
                    tracing::warn!(model = self.remote.id(), organization_id = %self.organization_id, %why, "the provider refused the key; entries are not embedded with it until it changes");
                    Some(Ended {
                        status: RemoteStatus::Failed(why),
                        refused: Some((self.remote.key_digest(), Instant::now())),
                    })
                }
                Err(stop) => {
                    let why = match stop {
                        Stop::Provider(failure) => failure.to_string(),
                        Stop::Store(err) => format!("{err:?}"),
                    };
                    failures += 1;
                    if failures > RETRIES {
                        tracing::warn!(model = self.remote.id(), organization_id = %self.organization_id, %why, "could not embed the entries with the provider; trying again on the next change or question");
                        Some(Ended {
                            status: RemoteStatus::Failed(why),
                            refused: None,
                        })
                    } else {
                        tokio::time::sleep(Duration::from_secs(1 << (failures - 1))).await;
                        None
                    }
                }
            };
            if let Some(ended) = ended {
                self.passes.end(&key, ended);
                if self.passes.finish(&key) {
                    return;
                }
                (failures, waits) = (0, 0);
            }
        }
    }

    fn index(&self) -> Option<Arc<OrgIndex>> {
        let map = self.indexes.read().ok()?;
        map.get(&self.organization_id).map(|l| l.index.clone())
    }

    /// Reads the stored vectors into the loaded index and computes the missing ones, a batch at a time (each
    /// batch stored as it comes, so a failure loses none of them).
    async fn once(&self) -> Result<(), Stop> {
        let org = self.organization_id.as_str();
        let model = self.remote.id();
        let entries = self.entries.active(org).await?;
        let missing: Vec<kb::Model> = match self.index() {
            Some(index) => {
                read_stored(self.entries.as_ref(), org, &index, model, 0, entries).await?
            }
            None => {
                let stored = self.entries.vectors(org, model).await?;
                let current: HashMap<String, String> =
                    stored.into_iter().map(|v| (v.entry_id, v.digest)).collect();
                entries
                    .into_iter()
                    .filter(|e| current.get(&e.id) != Some(&digest(e)))
                    .collect()
            }
        };
        // Up to three views an entry: a batch of entries whose texts fit one call.
        for batch in missing.chunks(BATCH / 3) {
            let views: Vec<EntryViews> = batch.iter().map(EntryViews::of).collect();
            let texts: Vec<String> = views.iter().flat_map(EntryViews::texts).collect();
            let mut vectors = self.remote.embed(&texts, BATCH_TIMEOUT).await?.into_iter();
            for (entry, views) in batch.iter().zip(&views) {
                let own: Vec<Vec<f32>> = vectors.by_ref().take(views.count()).collect();
                let vector = views.compose(&own).ok_or_else(|| {
                    EmbeddingFailure::Failed(
                        "the provider's vectors do not fit together".to_owned(),
                    )
                })?;
                let stored = StoredVector {
                    entry_id: entry.id.clone(),
                    digest: views.digest(),
                    vector: Quantized::new(&vector),
                };
                self.entries.save_vector(org, model, &stored).await?;
                if let Some(index) = self.index() {
                    index.with_vectors(model, 0, |v| {
                        v.upsert(&stored.entry_id, &stored.digest, &stored.vector)
                    });
                }
            }
        }
        Ok(())
    }
}

fn digest(entry: &kb::Model) -> String {
    EntryViews::of(entry).digest()
}
