//! How the lexical and the semantic rankings are fused, and the calibrated confidence that the first entry is right.
//!
//! The fusion's weights and the calibration's coefficients are fitted by `make relevance -- --fit` on the
//! project's FAQ set (`benches/fixtures/faq.json`) with cross-validation, never on single questions; the bench
//! prints them and the coverage-versus-accuracy curve they give.

use crate::assistant::index::Placed;

/// Candidates each retriever contributes to the fusion.
pub const POOL: usize = 30;
/// Below this cosine similarity an entry is not counted as a semantic match (unrelated texts score about 0–0.15
/// with all-MiniLM-L6-v2).
pub const SEMANTIC_FLOOR: f32 = 0.2;

/// How much the page a question is asked on counts in its vector: the question's vector plus this much of the
/// page's (title and context), so "how do I send it back" asked on a headphones page leans to the electronics
/// returns entry, while a question that says what it wants keeps its entry. Not fitted (the FAQ set has no
/// pages): a nudge that never outweighs the question.
pub const PAGE_WEIGHT: f32 = 0.2;

/// Nudges a question's vector toward its page's: [`PAGE_WEIGHT`] of the page's vector added.
pub fn nudge(question: &mut [f32], page: &[f32]) {
    for (q, p) in question.iter_mut().zip(page) {
        *q += PAGE_WEIGHT * p;
    }
}

/// How much each view of an entry counts in its vector ([`crate::assistant::embedding::EntryViews`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewWeights {
    /// Title and body together.
    pub full: f32,
    /// The title alone (left out when the body is empty: the whole is the title then).
    pub title: f32,
    /// The tags, comma-separated (left out when there are none).
    pub tags: f32,
}

/// The views' weights: on the FAQ set the nearest entry by the whole text alone is right for 0.770 of the
/// questions; with the title at a quarter and the tags at half of the whole's weight, 0.834, the best of the grid
/// that `make relevance -- --fit yes` prints (its neighbours score 0.81–0.83; a conditional-logit fit,
/// five-fold cross-validated over entries, gives about 1 : 0.41 : 0.46).
pub const ENTRY_VIEWS: ViewWeights = ViewWeights {
    full: 1.0,
    title: 0.25,
    tags: 0.5,
};

/// The least runner-up similarity a lead is measured from (questions and unrelated entries of one shop's FAQ
/// score about 0.2–0.4).
pub const RUNNER_UP_FLOOR: f64 = 0.4;

/// How the two rankings combine into one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: an entry scores `weight / (k + rank)` from each retriever that placed it (rank 1
    /// first).
    Ranks { k: f32, lexical: f32, semantic: f32 },
    /// A weighted sum of the entry's BM25 score over the best one of the search and its cosine similarity.
    Scores { lexical: f32, semantic: f32 },
}

/// The fusion the assistant ranks with: on the FAQ set the meaning ranks far better than the words (precision@1
/// 0.770 by vectors alone, 0.433 by BM25 alone), so the nearest entry leads and BM25 breaks near-ties; the
/// grid's best (`make relevance -- --fit yes`), with the smallest semantic weight that reaches it.
pub const FUSION: Fusion = Fusion::Ranks {
    k: 1.0,
    lexical: 1.0,
    semantic: 4.0,
};

/// One fused candidate: the title when the lexical side read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub entry_id: String,
    pub title: Option<String>,
    pub score: f32,
    pub lexical: Option<Placed>,
    pub semantic: Option<Placed>,
}

/// The two rankings fused with [`FUSION`], best first; `cosine` gives any entry's similarity to the question.
pub fn fuse(
    lexical: &[(String, String, f32)],
    semantic: &[(String, f32)],
    cosine: impl Fn(&str) -> Option<f32>,
) -> Vec<Fused> {
    fuse_with(FUSION, lexical, semantic, cosine)
}

/// The two rankings (lexical: id, title, BM25 score; semantic: id, cosine; each best first) fused, best first;
/// ties go to the better lexical rank, then the id.
pub fn fuse_with(
    fusion: Fusion,
    lexical: &[(String, String, f32)],
    semantic: &[(String, f32)],
    cosine: impl Fn(&str) -> Option<f32>,
) -> Vec<Fused> {
    let best_bm25 = lexical.first().map_or(0.0, |(_, _, s)| *s);
    let mut out: Vec<Fused> = Vec::with_capacity(lexical.len() + semantic.len());
    for (rank, (id, title, score)) in lexical.iter().enumerate() {
        out.push(Fused {
            entry_id: id.clone(),
            title: Some(title.clone()),
            score: match fusion {
                Fusion::Ranks { k, lexical, .. } => lexical / (k + rank as f32 + 1.0),
                Fusion::Scores { lexical, semantic } => {
                    let relative = if best_bm25 > 0.0 {
                        score / best_bm25
                    } else {
                        0.0
                    };
                    lexical * relative + semantic * cosine(id).unwrap_or(0.0)
                }
            },
            lexical: Some(Placed {
                rank,
                score: *score,
            }),
            semantic: None,
        });
    }
    for (rank, (id, similarity)) in semantic.iter().enumerate() {
        let placed = Placed {
            rank,
            score: *similarity,
        };
        let found = out.iter_mut().find(|f| &f.entry_id == id);
        let part = match fusion {
            Fusion::Ranks { k, semantic, .. } => semantic / (k + rank as f32 + 1.0),
            // A lexical candidate already counts its similarity.
            Fusion::Scores { semantic, .. } if found.is_none() => semantic * similarity,
            Fusion::Scores { .. } => 0.0,
        };
        match found {
            Some(found) => {
                found.score += part;
                found.semantic = Some(placed);
            }
            None => out.push(Fused {
                entry_id: id.clone(),
                title: None,
                score: part,
                lexical: None,
                semantic: Some(placed),
            }),
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| {
                let rank = |f: &Fused| f.lexical.map_or(usize::MAX, |p| p.rank);
                rank(a).cmp(&rank(b))
            })
            .then_with(|| a.entry_id.cmp(&b.entry_id))
    });
    out
}

/// What the confidence in the first candidate is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Features {
    /// The share of the question's weight (IDF) that the first entry's words cover.
    pub coverage: f64,
    /// Its BM25 score less the best other's, over the larger of the two: 1 when only it matched lexically,
    /// negative when another matched better, 0 when none did.
    pub lexical_margin: f64,
    /// Whether it is BM25's first.
    pub lexical_first: bool,
    /// Whether semantic retrieval ran.
    pub semantic: bool,
    /// Its cosine similarity to the question (0 without a vector).
    pub cosine: f64,
    /// Its cosine similarity less the best other nearest entry's (at least [`RUNNER_UP_FLOOR`]).
    pub cosine_margin: f64,
    /// Whether it is the nearest entry.
    pub semantic_first: bool,
}

impl Features {
    /// The hybrid calibration's inputs, the intercept's 1 first. (Whether the first is the nearest entry is left
    /// out: with [`FUSION`] it nearly always is.)
    pub fn hybrid(&self) -> [f64; 6] {
        [
            1.0,
            self.coverage,
            self.lexical_margin,
            f64::from(u8::from(self.lexical_first)),
            self.cosine,
            self.cosine_margin,
        ]
    }

    /// The lexical calibration's inputs (when no vector is at hand), the intercept's 1 first.
    pub fn lexical(&self) -> [f64; 3] {
        [1.0, self.coverage, self.lexical_margin]
    }
}

/// The features of the first of `fused`, given its coverage and the cosine similarity of any entry.
pub fn features(
    fused: &[Fused],
    coverage: f64,
    semantic: bool,
    cosine: impl Fn(&str) -> Option<f32>,
) -> Features {
    let Some(top) = fused.first() else {
        return Features::default();
    };
    let bm25 = |f: &Fused| f.lexical.map_or(0.0, |p| f64::from(p.score));
    let best_other_bm25 = fused[1..].iter().map(bm25).fold(0.0, f64::max);
    let largest = bm25(top).max(best_other_bm25);
    let lexical_margin = if largest > 0.0 {
        (bm25(top) - best_other_bm25) / largest
    } else {
        0.0
    };
    let top_cosine = f64::from(cosine(&top.entry_id).unwrap_or(0.0));
    // The runner-up's similarity, but never less than what an unrelated entry of the same shop scores: with one
    // or two entries, the lead over "nothing" says nothing.
    let best_other_cosine = fused[1..]
        .iter()
        .filter_map(|f| f.semantic.map(|p| f64::from(p.score)))
        .fold(RUNNER_UP_FLOOR, f64::max);
    Features {
        coverage,
        lexical_margin,
        lexical_first: top.lexical.is_some_and(|p| p.rank == 0),
        semantic,
        cosine: top_cosine,
        cosine_margin: if semantic {
            top_cosine - best_other_cosine
        } else {
            0.0
        },
        semantic_first: top.semantic.is_some_and(|p| p.rank == 0),
    }
}

/// Logistic-regression coefficients over [`Features::hybrid`].
pub const HYBRID: [f64; 6] = [0.376, 3.956, 0.534, -1.405, 1.089, 5.182];
/// Logistic-regression coefficients over [`Features::lexical`].
pub const LEXICAL: [f64; 3] = [-4.0, 6.0, 2.0];

/// The logistic function of a linear combination.
pub fn logistic(coefficients: &[f64], inputs: &[f64]) -> f64 {
    let z: f64 = coefficients.iter().zip(inputs).map(|(c, x)| c * x).sum();
    1.0 / (1.0 + (-z).exp())
}

/// The calibrated probability that the first candidate is the right entry.
pub fn confidence(features: &Features) -> f64 {
    let p = if features.semantic {
        logistic(&HYBRID, &features.hybrid())
    } else {
        logistic(&LEXICAL, &features.lexical())
    };
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexical(ids: &[&str]) -> Vec<(String, String, f32)> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| ((*id).to_owned(), format!("title {id}"), 10.0 - i as f32))
            .collect()
    }

    fn semantic(ids: &[&str]) -> Vec<(String, f32)> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| ((*id).to_owned(), 0.8 - 0.1 * i as f32))
            .collect()
    }

    #[test]
    fn an_entry_both_retrievers_place_well_comes_first() {
        let fused = fuse_with(
            Fusion::Ranks {
                k: 60.0,
                lexical: 1.0,
                semantic: 1.0,
            },
            &lexical(&["a", "b", "c"]),
            &semantic(&["b", "d", "a"]),
            |_| None,
        );
        let ids: Vec<&str> = fused.iter().map(|f| f.entry_id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "d", "c"]);
        assert_eq!(fused[0].lexical.map(|p| p.rank), Some(1));
        assert_eq!(fused[0].semantic.map(|p| p.rank), Some(0));
        assert_eq!(fused[2].title, None);
        let only_lexical = fuse(&lexical(&["a", "b"]), &[], |_| None);
        assert_eq!(only_lexical[0].entry_id, "a");
        // By scores, a close second lexically with a much nearer meaning wins.
        let by_scores = fuse_with(
            Fusion::Scores {
                lexical: 0.2,
                semantic: 1.0,
            },
            &lexical(&["a", "b"]),
            &[("b".to_owned(), 0.8), ("a".to_owned(), 0.3)],
            |id| Some(if id == "a" { 0.3 } else { 0.8 }),
        );
        assert_eq!(by_scores[0].entry_id, "b");
        assert!((by_scores[0].score - (0.2 * 0.9 + 0.8)).abs() < 1e-6);
    }

    #[test]
    fn agreement_and_margins_raise_the_confidence() {
        let both = fuse(&lexical(&["a", "b"]), &semantic(&["a", "b"]), |_| None);
        let cos = |id: &str| Some(if id == "a" { 0.8 } else { 0.7 });
        let agreed = features(&both, 1.0, true, cos);
        assert!(agreed.lexical_first && agreed.semantic_first);
        assert!((agreed.cosine_margin - 0.1).abs() < 1e-6);
        // Alone, an entry leads by its similarity over the floor, not over nothing.
        let alone = features(&fuse(&[], &semantic(&["a"]), |_| None), 0.0, true, |_| {
            Some(0.5)
        });
        assert!((alone.cosine_margin - (0.5 - RUNNER_UP_FLOOR)).abs() < 1e-6);
        let split = fuse(&lexical(&["a", "b"]), &semantic(&["b", "a"]), |_| None);
        let disagreed = features(&split, 0.5, true, cos);
        assert!(confidence(&agreed) > confidence(&disagreed));
        let nothing = features(&[], 0.0, true, cos);
        assert!(confidence(&nothing) < confidence(&disagreed));
        let lexical_only = features(&fuse(&lexical(&["a"]), &[], |_| None), 1.0, false, |_| None);
        assert!(!lexical_only.semantic && lexical_only.lexical_margin == 1.0);
        assert!((0.0..=1.0).contains(&confidence(&lexical_only)));
    }
}
