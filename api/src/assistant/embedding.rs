//! The sentence-embedding model (all-MiniLM-L6-v2 or another BERT-class folder) on candle, on the CPU, and its int8 vectors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use encoder::{Bert, Config};
use entities::knowledge_base_entry as kb;

use crate::assistant::ranking;

/// Word pieces one text is cut to: the model was trained on at most 256 (its position table allows 512).
const MAX_TOKENS: usize = 256;

/// A loaded model: its tokenizer, its weights and the name its vectors are stored under.
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
    id: String,
    dimensions: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &self.id)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Reads the model in `dir` (`config.json`, `tokenizer.json`, `model.safetensors`) and embeds one sentence
    /// to prove it works. The error says which file is missing or wrong.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let file = |name: &str| -> Result<PathBuf, String> {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!("{} is missing", path.display()))
            }
        };
        let config_path = file("config.json")?;
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|err| format!("{}: {err}", config_path.display()))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|err| format!("{}: {err}", config_path.display()))?;
        let tokenizer_path = file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|err| format!("{}: {err}", tokenizer_path.display()))?;
        // The file pads every text to a fixed length; padding would dilute the mean of a short question.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|err| format!("{}: {err}", tokenizer_path.display()))?;
        let weights_path = file("model.safetensors")?;
        let weights = std::fs::read(&weights_path)
            .map_err(|err| format!("{}: {err}", weights_path.display()))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|err| format!("{}: {err}", weights_path.display()))?;
        let model =
            Bert::load(vb, &config).map_err(|err| format!("{}: {err}", weights_path.display()))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_owned());
        let mut embedder = Embedder {
            model,
            tokenizer,
            id: String::new(),
            dimensions: config.hidden_size,
        };
        // The stored vectors are keyed by the model's name and a digest of what it computes: one sentence's vector
        // (another model, or other weights under the same name, gives another key and so new vectors).
        let probe = embedder
            .embed("What is the model's fingerprint?")
            .map_err(|err| format!("{}: {err}", weights_path.display()))?;
        let mut digest = Sha256::new();
        for value in &probe {
            digest.update(((value * 1e4).round() as i32).to_le_bytes());
        }
        let digest = digest.finalize();
        embedder.id = format!("{name}:{}", hex::encode(&digest[..6]));
        Ok(embedder)
    }

    /// The name the model's vectors are stored under: the folder's name and a digest of its output.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Components of a vector.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Whether `word` (lower case) is one whole piece of the model's vocabulary: a word it has read as such.
    pub fn knows(&self, word: &str) -> bool {
        self.tokenizer.token_to_id(word).is_some()
    }

    /// An entry's vector: its views' vectors composed ([`EntryViews::compose`]).
    pub fn embed_entry(&self, views: &EntryViews) -> Result<Vec<f32>, String> {
        let vectors = views
            .texts()
            .iter()
            .map(|text| self.embed(text))
            .collect::<Result<Vec<_>, _>>()?;
        views
            .compose(&vectors)
            .ok_or_else(|| "the model gave no usable vector".to_owned())
    }

    /// The unit-length mean of the text's token vectors (what sentence-transformers computes for this model).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        let run = || -> Result<Vec<f32>, String> {
            let encoding = self
                .tokenizer
                .encode(text, true)
                .map_err(|err| format!("tokenizing: {err}"))?;
            let mean: Vec<f32> = self
                .model
                .mean_pooled(encoding.get_ids())
                .and_then(|t| t.to_vec1())
                .map_err(|err| err.to_string())?;
            let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err("the model gave no usable vector".to_owned());
            }
            Ok(mean.into_iter().map(|x| x / norm).collect())
        };
        // A malformed model must not take the request (or the worker) down with it.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|_| Err("the model failed on this text".to_owned()))
    }
}

/// Where the model stands: loading in the background, ready, or unavailable (and why). Until it is ready the
/// assistant ranks lexically.
#[derive(Clone, Debug, Default)]
pub struct Model {
    state: Arc<OnceLock<Result<Arc<Embedder>, String>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl Model {
    /// Starts loading the model in `dir` on a blocking thread; the server does not wait for it.
    pub fn load_in_background(dir: PathBuf) -> Self {
        let model = Model::default();
        let loading = model.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let outcome = Embedder::load(&dir).map(Arc::new);
            match &outcome {
                Ok(embedder) => tracing::info!(
                    model = embedder.id(),
                    millis = started.elapsed().as_millis() as u64,
                    "the embedding model is loaded: semantic retrieval is on"
                ),
                Err(err) => tracing::warn!(
                    error = %err,
                    "the embedding model could not be loaded: the assistant ranks lexically only"
                ),
            }
            loading.settle(outcome);
        });
        model
    }

    /// A model already decided: loaded, or unavailable for `reason`.
    pub fn settled(outcome: Result<Arc<Embedder>, String>) -> Self {
        let model = Model::default();
        model.settle(outcome);
        model
    }

    fn settle(&self, outcome: Result<Arc<Embedder>, String>) {
        let _ = self.state.set(outcome);
        self.notify.notify_waiters();
    }

    /// The model, when it is loaded.
    pub fn ready(&self) -> Option<Arc<Embedder>> {
        self.state.get().and_then(|s| s.as_ref().ok()).cloned()
    }

    /// Waits until the model is loaded or known to be unavailable; `None` in the latter case.
    pub async fn settled_model(&self) -> Option<Arc<Embedder>> {
        loop {
            let notified = self.notify.notified();
            if let Some(state) = self.state.get() {
                return state.as_ref().ok().cloned();
            }
            notified.await;
        }
    }

    /// What `/readyz` says of it: `ready`, `loading`, or `unavailable: why`.
    pub fn status(&self) -> String {
        match self.state.get() {
            None => "loading".to_owned(),
            Some(Ok(_)) => "ready".to_owned(),
            Some(Err(reason)) => format!("unavailable: {reason}"),
        }
    }
}

/// A unit vector in int8: components scaled by `scale` (the largest magnitude over 127), a quarter of the
/// memory of f32 for a ranking that barely moves.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub scale: f32,
    pub values: Vec<i8>,
}

impl Quantized {
    pub fn new(vector: &[f32]) -> Self {
        let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        Quantized {
            scale,
            values: vector
                .iter()
                .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
        }
    }

    /// The stored form: the scale (f32, little-endian) then the components.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.values.len());
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend(self.values.iter().map(|v| *v as u8));
        out
    }

    /// The stored form read back; `None` when it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (scale, values) = bytes.split_first_chunk::<4>()?;
        let scale = f32::from_le_bytes(*scale);
        (scale.is_finite() && scale > 0.0 && !values.is_empty()).then(|| Quantized {
            scale,
            values: values.iter().map(|v| *v as i8).collect(),
        })
    }
}

/// The dot product of two int8 vectors, written so the compiler vectorizes it.
#[inline(always)]
pub fn dot(a: &[i8], b: &[i8]) -> i32 {
    let mut sum = 0i32;
    for (x, y) in a.iter().zip(b) {
        sum += i32::from(*x) * i32::from(*y);
    }
    sum
}

/// What an entry's vector is made of: the vectors of a few views of it (title and body together, the title
/// alone, the tags), weighted by [`ranking::ENTRY_VIEWS`] and summed to unit length. A question worded like the
/// title, or naming a tag's topic, finds the entry even when the body says it at length in other words.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryViews {
    /// Each view's text and weight; the first is the whole entry.
    views: Vec<(String, f32)>,
}

impl EntryViews {
    pub fn new(title: &str, body: &str, tags: &[&str]) -> Self {
        let weights = ranking::ENTRY_VIEWS;
        let mut views = vec![(format!("{title}\n{body}"), weights.full)];
        if !title.trim().is_empty() && !body.trim().is_empty() {
            views.push((title.to_owned(), weights.title));
        }
        let tags: Vec<&str> = tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        if !tags.is_empty() {
            views.push((tags.join(", "), weights.tags));
        }
        EntryViews { views }
    }

    /// The views of a stored entry (its tags are a JSON array of strings).
    pub fn of(entry: &kb::Model) -> Self {
        Self::new(&entry.title, &entry.body, &entry_tags(entry))
    }

    /// How many views the entry has.
    pub fn count(&self) -> usize {
        self.views.len()
    }

    /// The texts to embed, one per view.
    pub fn texts(&self) -> Vec<String> {
        self.views.iter().map(|(text, _)| text.clone()).collect()
    }

    /// The entry's vector from its views' vectors (in the order of [`EntryViews::texts`]): their weighted sum
    /// at unit length; `None` when they are not as many or sum to nothing.
    pub fn compose(&self, vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
        let first = vectors.first()?;
        if vectors.len() != self.views.len() || vectors.iter().any(|v| v.len() != first.len()) {
            return None;
        }
        let mut sum = vec![0.0f32; first.len()];
        for ((_, weight), vector) in self.views.iter().zip(vectors) {
            for (s, x) in sum.iter_mut().zip(vector) {
                *s += weight * x;
            }
        }
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        (norm.is_finite() && norm > 0.0).then(|| sum.into_iter().map(|x| x / norm).collect())
    }

    /// The digest of the views and their weights: a stored vector is current when it was computed from this.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (text, weight) in &self.views {
            hasher.update(weight.to_le_bytes());
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        hex::encode(&hasher.finalize()[..12])
    }
}

/// The tags of a stored entry (a JSON array of strings; anything else is no tag).
pub fn entry_tags(entry: &kb::Model) -> Vec<&str> {
    entry
        .tags
        .as_array()
        .map(|tags| tags.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_vectors_keep_their_ranking_and_survive_storage() {
        let a = [0.6f32, -0.8, 0.0];
        let b = [0.6f32, 0.8, 0.0];
        let (qa, qb) = (Quantized::new(&a), Quantized::new(&b));
        let cos = dot(&qa.values, &qb.values) as f32 * qa.scale * qb.scale;
        assert!((cos - (-0.28)).abs() < 0.02, "{cos}");
        assert_eq!(Quantized::from_bytes(&qa.to_bytes()), Some(qa));
        assert_eq!(Quantized::from_bytes(&[0, 0]), None);
        assert_eq!(Quantized::from_bytes(&0f32.to_le_bytes()), None);
    }

    /// The model `make model` fetches (the whole suite runs after it).
    const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/all-MiniLM-L6-v2");

    #[test]
    fn the_model_computes_what_the_reference_implementation_does() {
        let embedder = Embedder::load(Path::new(MODEL)).unwrap();
        assert_eq!(embedder.dimensions(), 384);
        assert!(
            embedder.id().starts_with("all-MiniLM-L6-v2:"),
            "{}",
            embedder.id()
        );
        let question = embedder
            .embed("Do you offer international shipping?")
            .unwrap();
        // The first components candle-transformers' BertModel gives for this sentence (mean-pooled, unit length).
        let reference = [
            -0.007_605_5,
            -0.010_111,
            0.013_636,
            -0.004_018_5,
            0.034_551,
            -0.062_415,
            -0.008_963_6,
            -0.006_763_3,
        ];
        for (got, want) in question.iter().zip(reference) {
            assert!((got - want).abs() < 1e-4, "{got} against {want}");
        }
        let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let shipping = embedder
            .embed("Shipping abroad: We ship to 40 countries.")
            .unwrap();
        let password = embedder.embed("How do I reset my password?").unwrap();
        assert!(cosine(&question, &shipping) > 0.6);
        assert!(cosine(&question, &password) < 0.1);
    }

    #[test]
    fn a_corrupt_model_file_is_refused_with_its_name() {
        let dir = std::env::temp_dir().join(format!("concierge-model-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["config.json", "tokenizer.json"] {
            std::fs::copy(Path::new(MODEL).join(name), dir.join(name)).unwrap();
        }
        std::fs::write(dir.join("model.safetensors"), b"not a safetensors file").unwrap();
        let err = Embedder::load(&dir).unwrap_err();
        assert!(err.contains("model.safetensors"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_entry_is_its_views_weighted_and_its_digest_follows_them() {
        let tags = ["shipping", " abroad ", ""];
        let views = EntryViews::new("Shipping abroad", "We ship to 40 countries.", &tags);
        assert_eq!(
            views.texts(),
            [
                "Shipping abroad\nWe ship to 40 countries.",
                "Shipping abroad",
                "shipping, abroad"
            ]
        );
        let weights = ranking::ENTRY_VIEWS;
        let composed = views
            .compose(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 1.0]])
            .unwrap();
        let (x, y) = (weights.full, weights.title + weights.tags);
        let norm = (x * x + y * y).sqrt();
        assert!((composed[0] - x / norm).abs() < 1e-6 && (composed[1] - y / norm).abs() < 1e-6);
        // Not one vector per view, or vectors of different sizes: nothing.
        assert_eq!(views.compose(&[vec![1.0, 0.0]]), None);
        assert_eq!(views.compose(&[vec![1.0], vec![0.0, 1.0], vec![1.0]]), None);
        // A title alone is the whole entry; no tags, no tags view.
        assert_eq!(EntryViews::new("Hours", "", &[]).texts(), ["Hours\n"]);
        let untagged = EntryViews::new("Shipping abroad", "We ship to 40 countries.", &[]);
        assert_eq!(untagged.texts().len(), 2);
        // The digest changes with any view.
        assert_ne!(untagged.digest(), views.digest());
        assert_ne!(
            EntryViews::new("Shipping abroad", "We ship to 41 countries.", &tags).digest(),
            views.digest()
        );
        assert_eq!(
            EntryViews::new("Shipping abroad", "We ship to 40 countries.", &tags).digest(),
            views.digest()
        );
    }

    #[test]
    fn a_missing_model_folder_says_which_file() {
        let err = Embedder::load(Path::new("/nonexistent/model")).unwrap_err();
        assert!(err.contains("config.json is missing"), "{err}");
    }
}
