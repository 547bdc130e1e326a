//! Relevance and retrieval-latency benchmark: an FAQ set through the assistant's retrieval, then latency at scale.
//!
//! `make relevance` (or `cargo bench --bench relevance -- [--faq benches/fixtures/faq.json] [--sizes 5000,100000]
//! [--queries 500]`). Prints precision@1, recall@3, MRR and the failed-query rate (confidence below the
//! assistant's default threshold, 0.35), how often the best entry is right above and below that threshold, and
//! the p50/p99 retrieval latency on a single core for knowledge bases of the given sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use api::assistant::retrieval::{Question, Retriever};
use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use chrono::Utc;
use entities::knowledge_base_entry as kb;
use sea_orm::{EntityTrait, Set};
use serde::Deserialize;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The assistant's default confidence threshold.
const THRESHOLD: f64 = 0.35;

#[derive(Deserialize)]
struct Faq {
    entries: Vec<FaqEntry>,
    questions: Vec<FaqQuestion>,
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
    sizes: Vec<usize>,
    queries: usize,
}

fn options() -> Options {
    let mut o = Options {
        faq: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fixtures/faq.json").to_owned(),
        sizes: vec![5_000, 100_000],
        queries: 500,
    };
    let usage = "cargo bench --bench relevance -- [--faq benches/fixtures/faq.json] [--sizes 5000,100000] [--queries 500]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--faq" => o.faq = value,
            "--sizes" => o.sizes = value.split(',').map(|n| n.parse().unwrap()).collect(),
            "--queries" => o.queries = value.parse().unwrap(),
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    o
}

/// A fresh SQLite database with one organization; returns it, the organization id and the data dir.
async fn fresh() -> (Db, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("concierge-relevance-{}", ulid::Ulid::new()));
    let settings = Settings::for_data_dir(dir.clone());
    let db = Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    let org = api::service::organizations::bootstrap(&db, "Shop", Plan::Premium, "o@shop.test")
        .await
        .unwrap();
    (db, org.organization.id, dir)
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

async fn insert(db: &Db, rows: Vec<kb::ActiveModel>) {
    for chunk in rows.chunks(500) {
        kb::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
}

async fn relevance(faq: &Faq) {
    let (db, org, dir) = fresh().await;
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
    insert(&db, rows).await;
    let retriever = Retriever::new(db.clone());
    let (mut hits1, mut hits3, mut reciprocal, mut failed) = (0usize, 0usize, 0.0f64, 0usize);
    let (mut answered, mut answered_right, mut failed_right) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for q in &faq.questions {
        let question = Question {
            text: q.question.clone(),
            ..Default::default()
        };
        let found = retriever.search(&org, question, 10).await.unwrap();
        let keys: Vec<&str> = found
            .candidates
            .iter()
            .map(|c| key_of[&c.entry_id].as_str())
            .collect();
        let rank = keys.iter().position(|k| *k == q.expected);
        let right = rank == Some(0);
        hits1 += usize::from(right);
        hits3 += usize::from(rank.is_some_and(|r| r < 3));
        reciprocal += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
        if found.confidence < THRESHOLD {
            failed += 1;
            failed_right += usize::from(right);
        } else {
            answered += 1;
            answered_right += usize::from(right);
        }
        if !right {
            misses.push(format!(
                "  {:?}: expected {}, got {:?} (confidence {:.2})",
                q.question,
                q.expected,
                keys.first(),
                found.confidence
            ));
        }
    }
    let n = faq.questions.len() as f64;
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    println!(
        "## relevance: {} entries, {} questions (benches/fixtures/faq.json)\n",
        faq.entries.len(),
        faq.questions.len()
    );
    println!("| precision@1 | recall@3 | MRR | failed-query rate (confidence < {THRESHOLD}) |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {:.3} | {:.3} | {:.3} | {:.3} |",
        hits1 as f64 / n,
        hits3 as f64 / n,
        reciprocal / n,
        failed as f64 / n
    );
    println!(
        "\nbest entry right when answered (confidence ≥ {THRESHOLD}): {:.1} % of {answered}; when it fell back: {:.1} % of {failed}",
        pct(answered_right, answered),
        pct(failed_right, failed)
    );
    if std::env::var("RELEVANCE_SHOW_MISSES").is_ok() {
        println!("\nmisses:\n{}", misses.join("\n"));
    }
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
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

async fn latency(faq: &Faq, size: usize, queries: usize) {
    let (db, org, dir) = fresh().await;
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
    insert(&db, rows).await;
    let retriever = Retriever::new(db.clone());
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
    let build = built.elapsed();
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
    latencies.sort();
    let pick = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "| {size} | {:.1} s | {:.2} | {:.2} |",
        build.as_secs_f64(),
        pick(0.5),
        pick(0.99)
    );
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
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
        relevance(&faq).await;
        println!(
            "\n## retrieval latency: {} questions one at a time, one core\n",
            o.queries
        );
        println!("| entries | index build | p50 ms | p99 ms |");
        println!("|---:|---:|---:|---:|");
        for &size in &o.sizes {
            latency(&faq, size, o.queries).await;
        }
    });
}
