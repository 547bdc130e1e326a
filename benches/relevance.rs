//! Relevance and retrieval-latency benchmark: an FAQ set through the assistant's retrieval, then latency at scale.
//!
//! `make relevance` (or `cargo bench --bench relevance -- [--faq benches/fixtures/faq.json] [--model DIR]
//! [--sizes 5000,100000] [--queries 500] [--fit yes]`). Asks every question of the FAQ set, ranked lexically only
//! (as without the model) and hybrid, and prints precision@1, recall@3, MRR, the shares answered right and wrong
//! at the default confidence threshold with the share of unanswerable questions that fall back, and the
//! coverage-versus-accuracy curve of each. `--fit yes` searches the fusion's weights and fits the confidence's
//! calibration with five-fold cross-validation, printing its curve and the coefficients. Then the p50/p99
//! retrieval latency (the question's embedding included) and answer latency (a visitor message answered through
//! the service, against an agent message on the same write path as the baseline) on a single core for
//! knowledge bases of the given sizes, with the memory their vectors take.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use api::assistant::embedding::{Embedder, EntryViews, Model, Quantized};
use api::assistant::ranking::{self, Features, Fusion, POOL};
use api::assistant::retrieval::{Placed, Question, Retriever};
use api::assistant::settings::EngineSettings;
use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use chrono::Utc;
use entities::knowledge_base_entry as kb;
use sea_orm::{EntityTrait, Set};
use serde::Deserialize;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Faq {
    entries: Vec<FaqEntry>,
    questions: Vec<FaqQuestion>,
    /// Questions about topics no entry covers: never fitted on, they measure how often the assistant falls back.
    #[serde(default)]
    unanswerable: Vec<String>,
}

#[derive(Deserialize)]
struct FaqEntry {
    key: String,
    category: String,
    title: String,
    body: String,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct FaqQuestion {
    question: String,
    expected: String,
}

struct Options {
    faq: String,
    model: String,
    sizes: Vec<usize>,
    queries: usize,
    fit: bool,
}

fn options() -> Options {
    let mut o = Options {
        faq: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fixtures/faq.json").to_owned(),
        model: concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2").to_owned(),
        sizes: vec![5_000, 100_000],
        queries: 500,
        fit: false,
    };
    let usage = "cargo bench --bench relevance -- [--faq benches/fixtures/faq.json] [--model models/all-MiniLM-L6-v2] [--sizes 5000,100000] [--queries 500] [--fit yes]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--faq" => o.faq = value,
            "--sizes" => o.sizes = value.split(',').map(|n| n.parse().unwrap()).collect(),
            "--queries" => o.queries = value.parse().unwrap(),
            "--model" => o.model = value,
            "--fit" => o.fit = value == "yes",
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    o
}

/// A migrated SQLite database in a temporary directory with one premium organization.
struct Fresh {
    db: Db,
    org: api::service::identity::bootstrap::Bootstrapped,
    settings: Settings,
    dir: std::path::PathBuf,
}

async fn fresh() -> Fresh {
    let dir = std::env::temp_dir().join(format!("concierge-relevance-{}", ulid::Ulid::new()));
    let settings = Settings::for_data_dir(dir.clone());
    let db = Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    let org =
        api::service::identity::bootstrap::bootstrap(&db, "Shop", Plan::Premium, "o@shop.test")
            .await
            .unwrap();
    Fresh {
        db,
        org,
        settings,
        dir,
    }
}

fn row(
    org: &str,
    id: String,
    title: String,
    body: String,
    category: &str,
    tags: &[String],
) -> kb::ActiveModel {
    let now = Utc::now();
    kb::ActiveModel {
        id: Set(id),
        organization_id: Set(org.to_owned()),
        title: Set(title),
        body: Set(body),
        category: Set(Some(category.to_owned())),
        tags: Set(serde_json::json!(tags)),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts rows of any table, 500 to a statement.
async fn insert<A>(db: &Db, rows: &[A])
where
    A: sea_orm::ActiveModelTrait + Clone + Send,
{
    for chunk in rows.chunks(500) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
}

/// The embedding model of `make model`, loaded now (the server loads it in the background).
fn model(dir: &str) -> Model {
    match Embedder::load(std::path::Path::new(dir)) {
        Ok(embedder) => Model::settled(Ok(Arc::new(embedder))),
        Err(err) => panic!("the embedding model is needed (make model): {err}"),
    }
}

/// What one question got: the expected entry's rank (if any), the features and confidence of the first.
struct Outcome {
    /// The expected entry's key (`None`: a question the knowledge base cannot answer).
    expected: Option<String>,
    /// The first candidate's key.
    first: Option<String>,
    rank: Option<usize>,
    confidence: f64,
    features: Features,
    /// Every candidate's key with its lexical and semantic placement, for re-fusing.
    candidates: Vec<(String, String, Option<Placed>, Option<Placed>)>,
}

impl Outcome {
    fn right(&self) -> bool {
        self.expected.is_some() && self.rank == Some(0)
    }
}

/// Loads the FAQ's entries into a fresh organization and asks every question (answerable and not) through a
/// retriever with `model`, after its entry vectors are computed.
async fn ask_all(faq: &Faq, model: Model) -> (Vec<Outcome>, bool) {
    let Fresh { db, org, dir, .. } = fresh().await;
    let org = org.organization.id;
    let mut key_of = HashMap::new();
    let mut rows = Vec::new();
    for entry in &faq.entries {
        let id = api::ids::new_id(api::ids::Kind::KnowledgeBaseEntry);
        key_of.insert(id.clone(), entry.key.clone());
        rows.push(row(
            &org,
            id,
            entry.title.clone(),
            entry.body.clone(),
            &entry.category,
            &entry.tags,
        ));
    }
    insert(&db, &rows).await;
    let retriever = api::service::knowledge_base::retriever(&db, 16, model);
    let follower = tokio::spawn(retriever.clone().follow());
    let ask = |text: &str| Question {
        text: text.to_owned(),
        ..Default::default()
    };
    // The first search builds the index and queues the vectors; answers are judged once they are in.
    retriever.search(&org, ask("warm up"), 1).await.unwrap();
    retriever.embedded().await;
    let questions = faq
        .questions
        .iter()
        .map(|q| (q.question.as_str(), Some(q.expected.clone())))
        .chain(faq.unanswerable.iter().map(|q| (q.as_str(), None)));
    let mut outcomes = Vec::new();
    let mut semantic = false;
    for (text, expected) in questions {
        let found = retriever.search(&org, ask(text), POOL).await.unwrap();
        semantic |= found.semantic;
        let keys: Vec<&str> = found
            .candidates
            .iter()
            .map(|c| key_of[&c.entry_id].as_str())
            .collect();
        let rank = expected
            .as_deref()
            .and_then(|e| keys.iter().position(|k| *k == e));
        outcomes.push(Outcome {
            first: keys.first().map(|k| (*k).to_owned()),
            expected,
            rank,
            confidence: found.confidence,
            features: found.features.unwrap_or_default(),
            candidates: found
                .candidates
                .iter()
                .map(|c| {
                    (
                        key_of[&c.entry_id].clone(),
                        text.to_owned(),
                        c.lexical,
                        c.semantic,
                    )
                })
                .collect(),
        });
    }
    follower.abort();
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
    (outcomes, semantic)
}

/// Precision@1, recall@3 and MRR over the answerable questions.
fn ranking_figures(outcomes: &[Outcome]) -> (f64, f64, f64) {
    let answerable: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected.is_some()).collect();
    let n = answerable.len() as f64;
    let p1 = answerable.iter().filter(|o| o.rank == Some(0)).count() as f64 / n;
    let r3 = answerable
        .iter()
        .filter(|o| o.rank.is_some_and(|r| r < 3))
        .count() as f64
        / n;
    let mrr = answerable
        .iter()
        .map(|o| o.rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0)))
        .sum::<f64>()
        / n;
    (p1, r3, mrr)
}

/// At a threshold: the share of answerable questions answered with the right entry, with a wrong one, and the
/// share of unanswerable ones that fall back.
fn at_threshold(outcomes: &[Outcome], confidence: &[f64], threshold: f64) -> (f64, f64, f64) {
    let (mut right, mut wrong, mut answerable, mut fell_back, mut unanswerable) = (0, 0, 0, 0, 0);
    for (o, c) in outcomes.iter().zip(confidence) {
        let answered = *c >= threshold;
        if o.expected.is_some() {
            answerable += 1;
            if answered && o.right() {
                right += 1;
            } else if answered {
                wrong += 1;
            }
        } else {
            unanswerable += 1;
            fell_back += usize::from(!answered);
        }
    }
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    (
        share(right, answerable),
        share(wrong, answerable),
        share(fell_back, unanswerable),
    )
}

fn print_curve(outcomes: &[Outcome], confidence: &[f64], default: f64) {
    println!(
        "| threshold | answered right | answered wrong | fell back | unanswerable that fell back |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut thresholds: Vec<f64> = (1..20).map(|i| f64::from(i) * 0.05).collect();
    thresholds.push(default);
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    for t in thresholds {
        let (right, wrong, unanswerable) = at_threshold(outcomes, confidence, t);
        let mark = if (t - default).abs() < 1e-9 {
            " (default)"
        } else {
            ""
        };
        println!(
            "| {t:.2}{mark} | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
            100.0 * right,
            100.0 * wrong,
            100.0 * (1.0 - right - wrong),
            100.0 * unanswerable
        );
    }
}

/// Fits logistic-regression coefficients to `(inputs, label)` by Newton's method with a light L2 penalty on
/// everything but the intercept.
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best by index
fn fit_logistic<const N: usize>(samples: &[([f64; N], bool)]) -> [f64; N] {
    const PENALTY: f64 = 0.1;
    let mut w = [0.0f64; N];
    for _ in 0..50 {
        let mut gradient = [0.0f64; N];
        let mut hessian = [[0.0f64; N]; N];
        for (x, y) in samples {
            let p = ranking::logistic(&w, x);
            let r = p - f64::from(u8::from(*y));
            for i in 0..N {
                gradient[i] += r * x[i];
                for j in 0..N {
                    hessian[i][j] += p * (1.0 - p) * x[i] * x[j];
                }
            }
        }
        for i in 1..N {
            gradient[i] += PENALTY * w[i];
            hessian[i][i] += PENALTY;
        }
        hessian[0][0] += 1e-9;
        let step = solve(hessian, gradient);
        for i in 0..N {
            w[i] -= step[i];
        }
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-9 {
            break;
        }
    }
    w
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best by index
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> [f64; N] {
    for col in 0..N {
        let pivot = (col..N)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-12 {
            continue;
        }
        for row in (col + 1)..N {
            let f = a[row][col] / d;
            for k in col..N {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; N];
    for col in (0..N).rev() {
        let s: f64 = ((col + 1)..N).map(|k| a[col][k] * x[k]).sum();
        x[col] = if a[col][col].abs() < 1e-12 {
            0.0
        } else {
            (b[col] - s) / a[col][col]
        };
    }
    x
}

/// Out-of-fold confidences: five folds by expected entry (an entry's paraphrases never train the model that
/// judges them), fitted on the answerable questions only; the unanswerable ones are always held out.
fn cross_validated<const N: usize>(
    outcomes: &[Outcome],
    inputs: impl Fn(&Features) -> [f64; N],
) -> Vec<f64> {
    let mut keys: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o.expected.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let fold = |o: &Outcome| {
        o.expected
            .as_deref()
            .map(|e| keys.binary_search(&e).unwrap() % 5)
    };
    let mut out = vec![0.0; outcomes.len()];
    for k in 0..5 {
        let training: Vec<([f64; N], bool)> = outcomes
            .iter()
            .filter(|o| fold(o).is_some_and(|f| f != k))
            .map(|o| (inputs(&o.features), o.right()))
            .collect();
        let w = fit_logistic(&training);
        for (i, o) in outcomes.iter().enumerate() {
            if fold(o) == Some(k) || (o.expected.is_none() && k == 0) {
                out[i] = ranking::logistic(&w, &inputs(&o.features));
            }
        }
    }
    out
}

/// The lowest threshold (in steps of 0.01) at which at most `wrong_max` of the answerable questions get a wrong
/// entry.
fn threshold_for(outcomes: &[Outcome], confidence: &[f64], wrong_max: f64) -> f64 {
    (1..100)
        .map(|i| f64::from(i) / 100.0)
        .find(|t| at_threshold(outcomes, confidence, *t).1 <= wrong_max)
        .unwrap_or(0.99)
}

/// Precision@1 of `fusion` over the answerable questions, re-fused from the candidates' placements (a
/// candidate outside the nearest entries counts a similarity of 0).
fn precision_with(outcomes: &[Outcome], fusion: Fusion) -> f64 {
    let mut right = 0usize;
    let mut n = 0usize;
    for o in outcomes.iter().filter(|o| o.expected.is_some()) {
        n += 1;
        let mut lexical: Vec<(usize, &str, f32)> = o
            .candidates
            .iter()
            .filter_map(|(key, _, l, _)| l.map(|p| (p.rank, key.as_str(), p.score)))
            .collect();
        lexical.sort_unstable_by_key(|(r, _, _)| *r);
        let mut semantic: Vec<(usize, &str, f32)> = o
            .candidates
            .iter()
            .filter_map(|(key, _, _, s)| s.map(|p| (p.rank, key.as_str(), p.score)))
            .collect();
        semantic.sort_unstable_by_key(|(r, _, _)| *r);
        let lexical: Vec<(String, String, f32)> = lexical
            .iter()
            .map(|(_, key, score)| ((*key).to_owned(), String::new(), *score))
            .collect();
        let cosine = |id: &str| {
            semantic
                .iter()
                .find(|(_, k, _)| *k == id)
                .map(|(_, _, s)| *s)
        };
        let semantic_list: Vec<(String, f32)> = semantic
            .iter()
            .map(|(_, key, score)| ((*key).to_owned(), *score))
            .collect();
        let fused = ranking::fuse_with(fusion, &lexical, &semantic_list, cosine);
        right += usize::from(fused.first().map(|f| f.entry_id.as_str()) == o.expected.as_deref());
    }
    right as f64 / n as f64
}

/// The best fusion for precision@1 over a grid of rank fusions and score fusions.
fn best_fusion(outcomes: &[Outcome]) -> (Fusion, f64) {
    let mut grid = Vec::new();
    for k in [1.0f32, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 100.0] {
        for semantic in [0.25f32, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0] {
            grid.push(Fusion::Ranks {
                k,
                lexical: 1.0,
                semantic,
            });
        }
    }
    for lexical in [
        0.0f32, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0,
    ] {
        grid.push(Fusion::Scores {
            lexical,
            semantic: 1.0,
        });
    }
    let mut best = (ranking::FUSION, 0.0);
    for fusion in grid {
        let p1 = precision_with(outcomes, fusion);
        if std::env::var("RELEVANCE_SHOW_GRID").is_ok() {
            println!("  {fusion:?}: {p1:.3}");
        }
        if p1 > best.1 + 1e-9 {
            best = (fusion, p1);
        }
    }
    best
}

async fn relevance(faq: &Faq, model_dir: &str, fit: bool) {
    println!(
        "## relevance: {} entries, {} questions and {} the knowledge base cannot answer (benches/fixtures/faq.json)\n",
        faq.entries.len(),
        faq.questions.len(),
        faq.unanswerable.len()
    );
    let threshold = EngineSettings::default().confidence_threshold;
    let unavailable = Model::settled(Err("lexical only".to_owned()));
    let (lexical, _) = ask_all(faq, unavailable).await;
    let (hybrid, semantic) = ask_all(faq, model(model_dir)).await;
    assert!(semantic, "the semantic retriever ran");
    println!(
        "| ranking | precision@1 | recall@3 | MRR | answered right | answered wrong | unanswerable that fell back |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, outcomes) in [("lexical only (no model)", &lexical), ("hybrid", &hybrid)] {
        let (p1, r3, mrr) = ranking_figures(outcomes);
        let confidence: Vec<f64> = outcomes.iter().map(|o| o.confidence).collect();
        let (right, wrong, fell_back) = at_threshold(outcomes, &confidence, threshold);
        println!(
            "| {name} | {p1:.3} | {r3:.3} | {mrr:.3} | {:.1} % | {:.1} % | {:.1} % |",
            100.0 * right,
            100.0 * wrong,
            100.0 * fell_back
        );
    }
    println!("\nat the default threshold {threshold}; coverage against accuracy, lexical only:\n");
    let confidence: Vec<f64> = lexical.iter().map(|o| o.confidence).collect();
    print_curve(&lexical, &confidence, threshold);
    println!("\nhybrid:\n");
    let confidence: Vec<f64> = hybrid.iter().map(|o| o.confidence).collect();
    print_curve(&hybrid, &confidence, threshold);
    if std::env::var("RELEVANCE_SHOW_MISSES").is_ok() {
        println!("\nmisses and answered unanswerables:");
        for o in &hybrid {
            if !o.right() && (o.expected.is_some() || o.confidence >= threshold) {
                println!(
                    "  {:?}: expected {:?}, got {:?} (confidence {:.2}, {:?})",
                    o.candidates.first().map(|c| c.1.as_str()).unwrap_or(""),
                    o.expected,
                    o.first,
                    o.confidence,
                    o.features
                );
            }
        }
    }
    if fit {
        print_view_grid(faq, model_dir);
        let (fusion, p1) = best_fusion(&hybrid);
        println!(
            "\n## fit\n\nbest fusion on the grid: {fusion:?}, precision@1 {p1:.3} (the assistant's: {:?})",
            ranking::FUSION
        );
        for (name, outcomes, cv) in [
            (
                "lexical",
                &lexical,
                cross_validated(&lexical, |f| f.lexical()),
            ),
            ("hybrid", &hybrid, cross_validated(&hybrid, |f| f.hybrid())),
        ] {
            let t = threshold_for(outcomes, &cv, 0.045);
            println!(
                "\n{name} calibration, five-fold cross-validated; lowest threshold with at most 4.5 % wrong: {t:.2}\n"
            );
            print_curve(outcomes, &cv, t);
        }
        let lexical_w = fit_logistic(
            &lexical
                .iter()
                .filter(|o| o.expected.is_some())
                .map(|o| (o.features.lexical(), o.right()))
                .collect::<Vec<_>>(),
        );
        let hybrid_w = fit_logistic(
            &hybrid
                .iter()
                .filter(|o| o.expected.is_some())
                .map(|o| (o.features.hybrid(), o.right()))
                .collect::<Vec<_>>(),
        );
        println!(
            "\ncoefficients on every answerable question:\npub const HYBRID: [f64; 6] = {hybrid_w:.3?};\npub const LEXICAL: [f64; 3] = {lexical_w:.3?};"
        );
    }
}

/// Precision@1 of the nearest entry alone (no BM25, no spelling) for a grid of the entry views' weights
/// ([`ranking::ENTRY_VIEWS`]): each view of every entry and every question embedded once, the weighted sums
/// compared.
fn print_view_grid(faq: &Faq, model_dir: &str) {
    let embedder = model(model_dir).ready().unwrap();
    let embed = |text: &str| embedder.embed(text).unwrap();
    // Per entry: its key and its views' vectors (whole, title, tags; a missing view as zeros).
    let zero = vec![0.0f32; embedder.dimensions()];
    let entries: Vec<(String, [Vec<f32>; 3])> = faq
        .entries
        .iter()
        .map(|e| {
            let tags = e.tags.join(", ");
            let views = [
                embed(&format!("{}\n{}", e.title, e.body)),
                embed(&e.title),
                if tags.is_empty() {
                    zero.clone()
                } else {
                    embed(&tags)
                },
            ];
            (e.key.clone(), views)
        })
        .collect();
    let questions: Vec<(Vec<f32>, &str)> = faq
        .questions
        .iter()
        .map(|q| (embed(&q.question), q.expected.as_str()))
        .collect();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let weights = [0.0f32, 0.25, 0.5, 0.75, 1.0];
    println!(
        "\nentry views: precision@1 of the nearest entry alone, the whole entry at weight 1, rows the title's weight, columns the tags'\n"
    );
    println!(
        "| title \\ tags | {} |",
        weights.map(|w| format!("{w:.2}")).join(" | ")
    );
    println!("|---:|{}", "---:|".repeat(weights.len()));
    for title in weights {
        let cells = weights.map(|tags| {
            let composed: Vec<(&str, Vec<f32>)> = entries
                .iter()
                .map(|(key, [full, t, g])| {
                    let mut v: Vec<f32> = (0..full.len())
                        .map(|i| full[i] + title * t[i] + tags * g[i])
                        .collect();
                    let norm = dot(&v, &v).sqrt();
                    v.iter_mut().for_each(|x| *x /= norm);
                    (key.as_str(), v)
                })
                .collect();
            let right = questions
                .iter()
                .filter(|(q, expected)| {
                    composed
                        .iter()
                        .max_by(|a, b| dot(q, &a.1).total_cmp(&dot(q, &b.1)))
                        .is_some_and(|(key, _)| key == expected)
                })
                .count();
            format!("{:.3}", right as f64 / questions.len() as f64)
        });
        println!("| {title:.2} | {} |", cells.join(" | "));
    }
}

/// Words to generate synthetic entries from: the FAQ's own vocabulary, so queries hit realistic postings.
fn vocabulary(faq: &Faq) -> Vec<String> {
    let mut words: Vec<String> = faq
        .entries
        .iter()
        .flat_map(|e| {
            format!("{} {}", e.title, e.body)
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| w.len() > 2)
        .collect();
    words.sort();
    words.dedup();
    words
}

async fn latency(faq: &Faq, model_dir: &str, size: usize, queries: usize) {
    let fresh = fresh().await;
    let (db, dir) = (fresh.db.clone(), fresh.dir.clone());
    let org = fresh.org.organization.id.clone();
    let words = vocabulary(faq);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut rows = Vec::with_capacity(size);
    for i in 0..size {
        let (title, body) = if i < faq.entries.len() {
            (faq.entries[i].title.clone(), faq.entries[i].body.clone())
        } else {
            let title: Vec<&str> = (0..6).map(|_| words[next(words.len())].as_str()).collect();
            let body: Vec<&str> = (0..40).map(|_| words[next(words.len())].as_str()).collect();
            (title.join(" "), body.join(" "))
        };
        rows.push(row(
            &org,
            api::ids::new_id(api::ids::Kind::KnowledgeBaseEntry),
            title,
            body,
            "general",
            &[],
        ));
    }
    // The generated entries get random unit vectors (the search costs the same whatever they hold: every vector's
    // signs, then the same number compared exactly); the FAQ's own are computed by the retriever's worker.
    let model = model(model_dir);
    let embedder = model.ready().unwrap();
    let mut embedding_rows = Vec::with_capacity(size);
    for r in rows.iter().skip(faq.entries.len()) {
        let mut v: Vec<f32> = (0..embedder.dimensions())
            .map(|_| (0..4).map(|_| next(1000) as f32 / 1000.0 - 0.5).sum())
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        embedding_rows.push(entities::knowledge_base_embedding::ActiveModel {
            entry_id: r.id.clone(),
            model: Set(embedder.id().to_owned()),
            organization_id: Set(org.clone()),
            digest: Set(EntryViews::new(r.title.as_ref(), r.body.as_ref(), &[]).digest()),
            vector: Set(Quantized::new(&v).to_bytes()),
            created_at: Set(Utc::now()),
        });
    }
    insert(&db, &rows).await;
    insert(&db, &embedding_rows).await;
    let retriever = api::service::knowledge_base::retriever(&db, 16, model);
    let follower = tokio::spawn(retriever.clone().follow());
    let built = Instant::now();
    retriever
        .search(
            &org,
            Question {
                text: "warm up".into(),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    retriever.embedded().await;
    let build = built.elapsed();
    // The vector search alone (past 20,000 entries by signs first), over vectors like the index's.
    let mut store = api::assistant::vectors::Vectors::new(embedder.dimensions());
    for (i, row) in embedding_rows.iter().enumerate() {
        let bytes = row.vector.clone().unwrap();
        store.upsert(&i.to_string(), "", &Quantized::from_bytes(&bytes).unwrap());
    }
    let probe = Quantized::new(&embedder.embed("How long does shipping take?").unwrap());
    let mut scans: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(store.nearest(&probe, POOL));
            started.elapsed()
        })
        .collect();
    let (s50, s99) = (percentile(&mut scans, 0.5), percentile(&mut scans, 0.99));
    drop(store);
    let (vector_count, vector_bytes) = retriever.vector_memory(&org).unwrap_or_default();
    let mut latencies: Vec<Duration> = Vec::with_capacity(queries);
    for i in 0..queries {
        let q = &faq.questions[i % faq.questions.len()];
        let started = Instant::now();
        retriever
            .search(
                &org,
                Question {
                    text: q.question.clone(),
                    ..Default::default()
                },
                10,
            )
            .await
            .unwrap();
        latencies.push(started.elapsed());
    }
    let (answers, plain) = answer_latency(&fresh, retriever, faq, queries).await;
    let (r50, r99) = (
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
    );
    let (mut answers, mut plain) = (answers, plain);
    let (a50, a99) = (
        percentile(&mut answers, 0.5),
        percentile(&mut answers, 0.99),
    );
    let (p50, p99) = (percentile(&mut plain, 0.5), percentile(&mut plain, 0.99));
    println!(
        "| {size} | {:.1} s | {vector_count} in {:.1} MiB | {s50:.2} / {s99:.2} | {r50:.2} | {r99:.2} | {a50:.2} | {a99:.2} | {p50:.2} | {p99:.2} | {:.2} |",
        build.as_secs_f64(),
        vector_bytes as f64 / (1024.0 * 1024.0),
        a50 / p50
    );
    follower.abort();
    drop(db);
    drop(fresh);
    let _ = std::fs::remove_dir_all(dir);
}

/// The value at `p` (0..1) of `samples`, in milliseconds.
fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// Visitor questions answered through the service (retrieval, the reply and both transactions with their events),
/// and, as the baseline of the same run, agent messages that take the same write path without an answer.
async fn answer_latency(
    fresh: &Fresh,
    retriever: Retriever,
    faq: &Faq,
    queries: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    use api::service::conversations::{self, messages};
    let authz = api::authz::Authz::load(&fresh.db).await.unwrap();
    let owner = api::service::identity::api_keys::authenticate(
        &fresh.db,
        &authz,
        &fresh.org.secret,
        Default::default(),
    )
    .await
    .unwrap();
    let sealer = std::sync::Arc::new(api::secrets::Sealer::from_settings(&fresh.settings).unwrap());
    let engine = api::assistant::Engine::new(retriever, sealer, &fresh.settings).unwrap();
    let mut answers = Vec::with_capacity(queries);
    let mut plain = Vec::with_capacity(queries);
    for i in 0..queries {
        // A new conversation each time, so no handoff silences the assistant (its creation is not timed).
        let conversation = conversations::posting::start_conversation(
            &fresh.db,
            &engine,
            &owner,
            conversations::posting::CreateConversation::default(),
        )
        .await
        .unwrap()
        .conversation
        .id;
        let question = &faq.questions[i % faq.questions.len()].question;
        let ask = |author, body: String| conversations::posting::CreateMessage {
            author,
            body,
            source_entry_id: None,
            confidence: None,
            attachment_ids: Vec::new(),
        };
        let started = Instant::now();
        let posted = conversations::posting::post_message(
            &fresh.db,
            &engine,
            &owner,
            &conversation,
            ask(messages::Author::Visitor, question.clone()),
            None,
        )
        .await
        .unwrap();
        answers.push(started.elapsed());
        assert!(!posted.replies.is_empty(), "the assistant answered");
        let started = Instant::now();
        conversations::posting::post_message(
            &fresh.db,
            &engine,
            &owner,
            &conversation,
            ask(messages::Author::Agent, question.clone()),
            None,
        )
        .await
        .unwrap();
        plain.push(started.elapsed());
    }
    (answers, plain)
}

fn main() {
    let o = options();
    let faq: Faq = serde_json::from_str(&std::fs::read_to_string(&o.faq).unwrap()).unwrap();
    // One core: a current-thread runtime, and tantivy's work runs on its blocking pool one query at a time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Concierge relevance benchmark, {}\n",
            Utc::now().format("%Y-%m-%d")
        );
        relevance(&faq, &o.model, o.fit).await;
        println!(
            "\n## retrieval and answer latency: {} questions one at a time, one core\n",
            o.queries
        );
        println!(
            "retrieval: the ranked search alone; answer: a visitor message through the service, retrieval and \
             the stored reply with their events; plain: an agent message on the same write path (the baseline)\n"
        );
        println!(
            "| entries | index build | vectors in memory | vector scan p50 / p99 ms | retrieval p50 ms | retrieval p99 ms | answer p50 ms | answer p99 ms | plain p50 ms | plain p99 ms | answer / plain p50 |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for &size in &o.sizes {
            latency(&faq, &o.model, size, o.queries).await;
        }
    });
}
