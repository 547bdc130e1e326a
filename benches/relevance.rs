//! Relevance and retrieval-latency benchmark: an FAQ set through the assistant's retrieval, then latency at scale.
//!
//! `make relevance` (or `cargo bench --bench relevance -- [--faq benches/fixtures/faq.json] [--sizes 5000,100000]
//! [--queries 500]`). Prints precision@1, recall@3, MRR and the failed-query rate (confidence below the
//! assistant's default threshold, 0.35), how often the best entry is right above and below that threshold, and
//! the p50/p99 retrieval latency and answer latency (a visitor message answered through the service, against an
//! agent message on the same write path as the baseline) on a single core for knowledge bases of the given sizes.
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

async fn insert(db: &Db, rows: Vec<kb::ActiveModel>) {
    for chunk in rows.chunks(500) {
        kb::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
}

async fn relevance(faq: &Faq) {
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
    insert(&db, rows).await;
    let retriever = api::service::knowledge_base::retriever(&db, 16);
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
    insert(&db, rows).await;
    let retriever = api::service::knowledge_base::retriever(&db, 16);
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
        "| {size} | {:.1} s | {r50:.2} | {r99:.2} | {a50:.2} | {a99:.2} | {p50:.2} | {p99:.2} | {:.2} |",
        build.as_secs_f64(),
        a50 / p50
    );
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
        relevance(&faq).await;
        println!(
            "\n## retrieval and answer latency: {} questions one at a time, one core\n",
            o.queries
        );
        println!(
            "retrieval: the ranked search alone; answer: a visitor message through the service, retrieval and \
             the stored reply with their events; plain: an agent message on the same write path (the baseline)\n"
        );
        println!(
            "| entries | index build | retrieval p50 ms | retrieval p99 ms | answer p50 ms | answer p99 ms | plain p50 ms | plain p99 ms | answer / plain p50 |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for &size in &o.sizes {
            latency(&faq, size, o.queries).await;
        }
    });
}
