//! One organization's entry vectors in int8, searched exactly: a scan of contiguous memory, vectorized for the CPU it runs on.

use std::collections::HashMap;

use crate::assistant::embedding::{Quantized, dot};

/// The vectors of one organization's active entries under one model.
#[derive(Debug, Default)]
pub struct Vectors {
    dimensions: usize,
    ids: Vec<String>,
    digests: Vec<String>,
    scales: Vec<f32>,
    /// `ids.len() × dimensions` components, entry after entry.
    values: Vec<i8>,
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

    /// Bytes held, for the capacity figures: the components, the scales and the ids with their lookup.
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
        match self.position.get(id) {
            Some(&i) => {
                let d = self.dimensions;
                self.values[i * d..(i + 1) * d].copy_from_slice(&vector.values);
                self.scales[i] = vector.scale;
                digest.clone_into(&mut self.digests[i]);
            }
            None => {
                self.position.insert(id.to_owned(), self.ids.len());
                self.ids.push(id.to_owned());
                self.digests.push(digest.to_owned());
                self.scales.push(vector.scale);
                self.values.extend_from_slice(&vector.values);
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
        let d = self.dimensions;
        if i != last {
            self.values.copy_within(last * d..(last + 1) * d, i * d);
            self.ids.swap(i, last);
            self.digests.swap(i, last);
            self.scales.swap(i, last);
            self.position.insert(self.ids[i].clone(), i);
        }
        self.ids.pop();
        self.digests.pop();
        self.scales.pop();
        self.values.truncate(last * d);
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

    /// The `k` entries most similar to the question, most similar first: every vector is compared.
    pub fn nearest(&self, question: &Quantized, k: usize) -> Vec<Neighbour> {
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
        let mut best: Vec<Neighbour> = Vec::with_capacity(k + 1);
        // The k-th best so far: most entries are dismissed by this one comparison.
        let mut floor = f32::NEG_INFINITY;
        for (i, product) in dots.into_iter().enumerate() {
            let cosine = product as f32 * self.scales[i] * question.scale;
            if best.len() == k && cosine <= floor {
                continue;
            }
            let at = best.partition_point(|n| n.cosine >= cosine);
            best.insert(
                at,
                Neighbour {
                    position: i,
                    cosine,
                },
            );
            best.truncate(k);
            if best.len() == k {
                floor = best[k - 1].cosine;
            }
        }
        best
    }
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
}
