//! One organization's entry vectors in int8, searched exactly (past 20,000 entries, the nearest by their signs rescored exactly), vectorized for the CPU it runs on.

use std::collections::HashMap;

use crate::assistant::embedding::{Quantized, dot};

/// An entry's vector as stored: the digest of the text it was computed from, and the vector.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVector {
    pub entry_id: String,
    pub digest: String,
    pub vector: Quantized,
}

/// Up to this many vectors a question is compared with each exactly; past it, first by the signs of their
/// components (a bit each, an eighth of the memory to read) and then exactly with the nearest by that measure.
pub const EXACT_UP_TO: usize = 20_000;
/// How many of the nearest by sign are compared exactly: at least this many, and 20 per neighbour asked for.
/// Sign agreement tracks the angle closely enough that the true nearest are among them (checked in the tests).
const RESCORED: usize = 1_000;

/// The vectors of one organization's active entries under one model.
#[derive(Debug, Default)]
pub struct Vectors {
    dimensions: usize,
    ids: Vec<String>,
    digests: Vec<String>,
    scales: Vec<f32>,
    /// `ids.len() × dimensions` components, entry after entry.
    values: Vec<i8>,
    /// `ids.len() × words` words of sign bits (1: the component is positive), entry after entry.
    signs: Vec<u64>,
    position: HashMap<String, usize>,
}

/// One neighbour: its position in the store and its cosine similarity to the question.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    position: usize,
    pub cosine: f32,
}

impl Vectors {
    pub fn new(dimensions: usize) -> Self {
        Vectors {
            dimensions,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Sign words per vector.
    fn words(&self) -> usize {
        self.dimensions.div_ceil(64)
    }

    /// Bytes held, for the capacity figures: the components with their signs, the scales and the ids with their
    /// lookup.
    pub fn memory_bytes(&self) -> usize {
        let strings: usize = self
            .ids
            .iter()
            .chain(&self.digests)
            .map(|s| s.capacity() + std::mem::size_of::<String>())
            .sum();
        // The lookup holds a second copy of each id.
        let ids: usize = self.ids.iter().map(String::capacity).sum();
        self.values.capacity()
            + self.signs.capacity() * 8
            + self.scales.capacity() * 4
            + strings
            + ids
            + self.position.capacity() * (std::mem::size_of::<(String, usize)>() + 1)
    }

    /// The digest of the text the entry's stored vector was computed from.
    pub fn digest(&self, id: &str) -> Option<&str> {
        self.position.get(id).map(|&i| self.digests[i].as_str())
    }

    /// Adds or replaces an entry's vector; one of another length than those held is refused (an empty store takes
    /// the length of its first).
    pub fn upsert(&mut self, id: &str, digest: &str, vector: &Quantized) -> bool {
        if self.ids.is_empty() {
            self.dimensions = vector.values.len();
        }
        if vector.values.len() != self.dimensions || self.dimensions == 0 {
            return false;
        }
        let words = self.words();
        let signs = signs(&vector.values);
        match self.position.get(id) {
            Some(&i) => {
                let d = self.dimensions;
                self.values[i * d..(i + 1) * d].copy_from_slice(&vector.values);
                self.signs[i * words..(i + 1) * words].copy_from_slice(&signs);
                self.scales[i] = vector.scale;
                digest.clone_into(&mut self.digests[i]);
            }
            None => {
                self.position.insert(id.to_owned(), self.ids.len());
                self.ids.push(id.to_owned());
                self.digests.push(digest.to_owned());
                self.scales.push(vector.scale);
                self.values.extend_from_slice(&vector.values);
                self.signs.extend_from_slice(&signs);
            }
        }
        true
    }

    /// Drops an entry's vector (the last one takes its place).
    pub fn remove(&mut self, id: &str) {
        let Some(i) = self.position.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        let (d, words) = (self.dimensions, self.words());
        if i != last {
            self.values.copy_within(last * d..(last + 1) * d, i * d);
            self.signs
                .copy_within(last * words..(last + 1) * words, i * words);
            self.ids.swap(i, last);
            self.digests.swap(i, last);
            self.scales.swap(i, last);
            self.position.insert(self.ids[i].clone(), i);
        }
        self.ids.pop();
        self.digests.pop();
        self.scales.pop();
        self.values.truncate(last * d);
        self.signs.truncate(last * words);
    }

    /// The entry id at a neighbour's position.
    pub fn id(&self, neighbour: Neighbour) -> &str {
        &self.ids[neighbour.position]
    }

    /// The cosine similarity of one entry to the question, when it has a vector.
    pub fn cosine(&self, id: &str, question: &Quantized) -> Option<f32> {
        let &i = self.position.get(id)?;
        Some(self.score(i, question))
    }

    fn score(&self, i: usize, question: &Quantized) -> f32 {
        let d = self.dimensions;
        dot(&self.values[i * d..(i + 1) * d], &question.values) as f32
            * self.scales[i]
            * question.scale
    }

    /// The `k` entries most similar to the question, most similar first: every vector is compared exactly up to
    /// [`EXACT_UP_TO`] of them, past it the nearest by their signs.
    pub fn nearest(&self, question: &Quantized, k: usize) -> Vec<Neighbour> {
        if self.len() <= EXACT_UP_TO {
            self.nearest_exact(question, k)
        } else {
            self.nearest_by_signs(question, k)
        }
    }

    /// The `k` entries most similar to the question, every vector compared exactly.
    pub fn nearest_exact(&self, question: &Quantized, k: usize) -> Vec<Neighbour> {
        let d = self.dimensions;
        if k == 0 || question.values.len() != d || d == 0 {
            return Vec::new();
        }
        // Every dot product in one pass, compiled for the best instruction set the CPU has (AVX2 widens and
        // multiplies 16 components at a time; the portable build only 8 with SSE2).
        let q = question.values.as_slice();
        let mut dots = vec![0i32; self.ids.len()];
        pulp::Arch::new().dispatch(|| {
            for (out, v) in dots.iter_mut().zip(self.values.chunks_exact(d)) {
                *out = dot(v, q);
            }
        });
        top(
            dots.into_iter()
                .enumerate()
                .map(|(i, product)| (i, product as f32 * self.scales[i] * question.scale)),
            k,
        )
    }

    /// The `k` entries most similar to the question among the [`RESCORED`] (or `20 × k`) whose signs agree most
    /// with its signs, compared exactly.
    pub fn nearest_by_signs(&self, question: &Quantized, k: usize) -> Vec<Neighbour> {
        let (d, words) = (self.dimensions, self.words());
        if k == 0 || question.values.len() != d || d == 0 {
            return Vec::new();
        }
        let q = signs(&question.values);
        let mut differ = vec![0u16; self.ids.len()];
        pulp::Arch::new().dispatch(|| {
            for (out, s) in differ.iter_mut().zip(self.signs.chunks_exact(words)) {
                *out = s
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| (a ^ b).count_ones() as u16)
                    .sum();
            }
        });
        // The fewest differing signs that still leaves enough candidates, by a count of each number of them.
        let wanted = RESCORED.max(20 * k).min(differ.len());
        let mut counts = vec![0usize; words * 64 + 1];
        for &n in &differ {
            counts[usize::from(n)] += 1;
        }
        let mut most = 0;
        let mut taken = 0;
        for (n, count) in counts.iter().enumerate() {
            taken += count;
            most = n;
            if taken >= wanted {
                break;
            }
        }
        top(
            differ
                .iter()
                .enumerate()
                .filter(|(_, n)| usize::from(**n) <= most)
                .map(|(i, _)| (i, self.score(i, question))),
            k,
        )
    }
}

/// The sign bits of a vector's components, 64 to a word.
fn signs(values: &[i8]) -> Vec<u64> {
    let mut words = vec![0u64; values.len().div_ceil(64)];
    for (i, v) in values.iter().enumerate() {
        if *v > 0 {
            words[i / 64] |= 1 << (i % 64);
        }
    }
    words
}

/// The `k` best of `(position, cosine)`, best first.
fn top(scored: impl Iterator<Item = (usize, f32)>, k: usize) -> Vec<Neighbour> {
    let mut best: Vec<Neighbour> = Vec::with_capacity(k + 1);
    // The k-th best so far: most entries are dismissed by this one comparison.
    let mut floor = f32::NEG_INFINITY;
    for (position, cosine) in scored {
        if best.len() == k && cosine <= floor {
            continue;
        }
        let at = best.partition_point(|n| n.cosine >= cosine);
        best.insert(at, Neighbour { position, cosine });
        best.truncate(k);
        if best.len() == k {
            floor = best[k - 1].cosine;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Quantized {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        Quantized::new(&v.iter().map(|x| x / n).collect::<Vec<_>>())
    }

    #[test]
    fn nearest_ranks_by_cosine_and_follows_upserts_and_removals() {
        let mut store = Vectors::new(3);
        store.upsert("a", "1", &unit(&[1.0, 0.0, 0.0]));
        store.upsert("b", "1", &unit(&[0.7, 0.7, 0.0]));
        store.upsert("c", "1", &unit(&[0.0, 0.0, 1.0]));
        assert!(!store.upsert("bad", "1", &unit(&[1.0, 0.0])));
        let q = unit(&[0.9, 0.1, 0.0]);
        let ids = |s: &Vectors, k| {
            s.nearest(&q, k)
                .into_iter()
                .map(|n| s.id(n).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&store, 2), ["a", "b"]);
        store.upsert("a", "2", &unit(&[0.0, 1.0, 0.0]));
        assert_eq!(store.digest("a"), Some("2"));
        assert_eq!(ids(&store, 3), ["b", "a", "c"]);
        store.remove("b");
        assert_eq!(ids(&store, 3), ["a", "c"]);
        assert_eq!(store.len(), 2);
        assert!(store.cosine("c", &q).is_some_and(|c| c.abs() < 0.02));
        store.remove("a");
        store.remove("c");
        assert!(store.is_empty() && store.nearest(&q, 3).is_empty());
    }

    /// Vectors around 400 topics, as entries' vectors gather around what they are about.
    fn clustered(n: usize, dimensions: usize) -> (Vectors, Vec<Vec<f32>>) {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 2001) as f32 / 1000.0 - 1.0
        };
        let topics: Vec<Vec<f32>> = (0..400)
            .map(|_| (0..dimensions).map(|_| noise()).collect())
            .collect();
        let mut store = Vectors::new(dimensions);
        for i in 0..n {
            let topic = &topics[i % topics.len()];
            let v: Vec<f32> = topic.iter().map(|t| t + 0.8 * noise()).collect();
            store.upsert(&i.to_string(), "", &unit(&v));
        }
        let questions = topics
            .iter()
            .take(50)
            .map(|t| t.iter().map(|x| x + 0.8 * noise()).collect())
            .collect();
        (store, questions)
    }

    #[test]
    fn past_the_exact_size_the_nearest_by_signs_are_the_nearest() {
        let (mut store, questions) = clustered(EXACT_UP_TO + 5_000, 384);
        let (mut found, mut wanted) = (0, 0);
        for q in &questions {
            let q = unit(q);
            let exact = store.nearest_exact(&q, 30);
            let by_signs = store.nearest(&q, 30);
            assert_eq!(by_signs.len(), 30);
            // Those it finds are ranked, and scored, exactly.
            assert!(by_signs.windows(2).all(|w| w[0].cosine >= w[1].cosine));
            for n in &by_signs {
                assert_eq!(store.cosine(store.id(*n), &q), Some(n.cosine));
            }
            wanted += exact.len();
            found += exact
                .iter()
                .filter(|e| by_signs.iter().any(|b| b.position == e.position))
                .count();
            assert_eq!(by_signs[0], exact[0]);
        }
        assert!(
            found * 100 >= wanted * 99,
            "{found} of {wanted} true neighbours found"
        );
        // Removals keep the signs in step with the vectors.
        let first = store.nearest(&unit(&questions[0]), 1)[0];
        let id = store.id(first).to_owned();
        store.remove(&id);
        assert!(
            store
                .nearest(&unit(&questions[0]), 30)
                .iter()
                .all(|n| store.id(*n) != id)
        );
        assert_eq!(store.signs.len(), store.len() * store.words());
    }
}
