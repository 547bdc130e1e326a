//! Analytics latency benchmark: the conversation and knowledge-base analytics over a seeded fixture of
//! 10,000 conversations and 100,000 messages, on SQLite and PostgreSQL, one core.
//!
//! `make analytics-bench` (or `cargo bench --bench analytics -- [--messages 100000] [--runs 30]
//! [--databases sqlite,postgres] [--budget-ms 50]`). Prints p50/p99 of each analytics call and, as the
//! baseline of the same run, of a plain count of the organization's conversations; then whether each p99 is
//! within the budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;

use std::time::{Duration, Instant};

use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use api::service::analytics::{self, Granularity, Range};
use chrono::{Duration as Span, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use secrecy::SecretString;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    messages: usize,
    runs: usize,
    databases: Vec<String>,
    budget_ms: f64,
}

fn options() -> Options {
    let mut o = Options {
        messages: 100_000,
        runs: 30,
        databases: vec!["sqlite".into(), "postgres".into()],
        budget_ms: 50.0,
    };
    let usage = "cargo bench --bench analytics -- [--messages 100000] [--runs 30] [--databases sqlite,postgres] [--budget-ms 50]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--messages" => o.messages = value.parse().unwrap(),
            "--runs" => o.runs = value.parse().unwrap(),
            "--databases" => o.databases = value.split(',').map(str::to_owned).collect(),
            "--budget-ms" => o.budget_ms = value.parse().unwrap(),
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    o
}

fn admin_url() -> String {
    std::env::var("CONCIERGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database of the kind; returns its settings and what to drop afterwards.
async fn database(kind: &str) -> (Settings, Option<String>) {
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let mut settings =
        Settings::for_data_dir(std::env::temp_dir().join(format!("concierge-analytics-{id}")));
    if kind == "postgres" {
        let name = format!("concierge_bench_{id}");
        let mut admin_settings = settings.clone();
        admin_settings.database_url = Some(SecretString::from(admin_url()));
        let admin = Db::connect(&admin_settings).await.unwrap();
        admin
            .conn()
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let (prefix, _) = admin_url()
            .rsplit_once('/')
            .map(|(p, d)| (p.to_owned(), d.to_owned()))
            .unwrap();
        settings.database_url = Some(SecretString::from(format!("{prefix}/{name}")));
        return (settings, Some(name));
    }
    (settings, None)
}

/// Seeds the fixture: conversations over the last 30 days with every analytics column filled, ten messages
/// each, a knowledge-base query per visitor message and feedback on a tenth of the answers.
async fn seed(db: &Db, org: &api::service::identity::bootstrap::Bootstrapped, messages: usize) {
    use entities::{
        conversation, feedback, knowledge_base_entry as kb, knowledge_base_query, message, visitor,
    };
    let org_id = org.organization.id.clone();
    let assistant = org.assistant.id.clone();
    let now = Utc::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let entries: Vec<String> = (0..500).map(|i| format!("kb_01JE{i:022}")).collect();
    let rows: Vec<kb::ActiveModel> = entries
        .iter()
        .enumerate()
        .map(|(i, id)| kb::ActiveModel {
            id: Set(id.clone()),
            organization_id: Set(org_id.clone()),
            title: Set(format!("Entry {i}")),
            body: Set("Body".into()),
            category: Set(None),
            tags: Set(serde_json::json!([])),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    for chunk in rows.chunks(500) {
        kb::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    let per = 10;
    let conversations = messages / per;
    let (mut visitors, mut convs, mut msgs, mut queries, mut ratings) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in 0..conversations {
        let created = now - Span::seconds(next(30 * 86_400) as i64 + 60);
        let vid = format!("vis_01JE{c:022}");
        let cid = format!("conv_01JE{c:022}");
        visitors.push(visitor::ActiveModel {
            id: Set(vid.clone()),
            organization_id: Set(org_id.clone()),
            name: Set(None),
            email: Set(None),
            phone: Set(None),
            marketing_consent: Set(false),
            marketing_consent_at: Set(None),
            unsubscribed_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        let handed_off = next(5) == 0;
        let status = ["open", "resolved", "resolved", "closed"][next(4) as usize];
        convs.push(conversation::ActiveModel {
            id: Set(cid.clone()),
            organization_id: Set(org_id.clone()),
            assistant_id: Set(assistant.clone()),
            visitor_id: Set(vid),
            status: Set(if handed_off { "handed_off" } else { status }.into()),
            sentiment: Set(Some(next(2001) as f64 / 1000.0 - 1.0)),
            first_response_at: Set(Some(created + Span::milliseconds(next(20_000) as i64))),
            handed_off_at: Set(handed_off.then_some(created + Span::seconds(30))),
            human_involved: Set(handed_off),
            event_seq: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        });
        for m in 0..per {
            let at = created + Span::seconds(m as i64 * 20);
            let mid = format!("msg_01JE{:022}", c * per + m);
            let visitor_turn = m % 2 == 0;
            msgs.push(message::ActiveModel {
                id: Set(mid.clone()),
                organization_id: Set(org_id.clone()),
                conversation_id: Set(cid.clone()),
                author: Set(if visitor_turn { "visitor" } else { "assistant" }.into()),
                body: Set("How long does shipping take to Berlin?".into()),
                created_at: Set(at),
                ..Default::default()
            });
            if visitor_turn {
                let failed = next(4) == 0;
                let text = format!("question number {}", next(300));
                queries.push(knowledge_base_query::ActiveModel {
                    id: Set(format!("kbq_01JE{:022}", c * per + m)),
                    organization_id: Set(org_id.clone()),
                    assistant_id: Set(assistant.clone()),
                    conversation_id: Set(cid.clone()),
                    message_id: Set(mid.clone()),
                    query: Set(text.clone()),
                    normalized: Set(text),
                    best_entry_id: Set(Some(entries[next(400) as usize].clone())),
                    confidence: Set(if failed { 0.2 } else { 0.7 }),
                    failed: Set(failed),
                    created_at: Set(at),
                });
            } else if next(10) == 0 {
                ratings.push(feedback::ActiveModel {
                    id: Set(format!("fb_01JE{:022}", c * per + m)),
                    organization_id: Set(org_id.clone()),
                    assistant_id: Set(assistant.clone()),
                    conversation_id: Set(cid.clone()),
                    message_id: Set(Some(mid.clone())),
                    entry_id: Set(Some(entries[next(400) as usize].clone())),
                    target_id: Set(mid),
                    helpful: Set(Some(next(3) != 0)),
                    rating: Set(None),
                    comment: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                });
            }
        }
        if next(4) == 0 {
            ratings.push(feedback::ActiveModel {
                id: Set(format!("fb_01JF{c:022}")),
                organization_id: Set(org_id.clone()),
                assistant_id: Set(assistant.clone()),
                conversation_id: Set(cid.clone()),
                message_id: Set(None),
                entry_id: Set(None),
                target_id: Set(cid),
                helpful: Set(None),
                rating: Set(Some(next(5) as i32 + 1)),
                comment: Set(None),
                created_at: Set(created + Span::minutes(5)),
                updated_at: Set(created + Span::minutes(5)),
            });
        }
    }
    for chunk in visitors.chunks(1000) {
        visitor::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    for chunk in convs.chunks(1000) {
        conversation::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    for chunk in msgs.chunks(1000) {
        message::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    for chunk in queries.chunks(1000) {
        knowledge_base_query::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    for chunk in ratings.chunks(1000) {
        feedback::Entity::insert_many(chunk.to_vec())
            .exec(db.conn())
            .await
            .unwrap();
    }
    // Fresh statistics, as a live database has them.
    db.conn().execute_unprepared("ANALYZE").await.unwrap();
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn timed<F, Fut>(runs: usize, mut call: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..3 {
        call().await;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    )
}

async fn run(kind: &str, o: &Options) -> Vec<(String, f64)> {
    let (settings, drop_database) = database(kind).await;
    let db = Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    let org =
        api::service::identity::bootstrap::bootstrap(&db, "Shop", Plan::Premium, "o@shop.test")
            .await
            .unwrap();
    let seeded = Instant::now();
    seed(&db, &org, o.messages).await;
    let seeding = seeded.elapsed();
    // Every hour just written is stale: first the figures computed from the rows, as right after an upgrade,
    // then the worker's catch-up and the figures from the rollups.
    let authz = api::authz::Authz::load(&db).await.unwrap();
    let owner = api::service::identity::api_keys::authenticate(
        &db,
        &authz,
        &org.secret,
        Default::default(),
    )
    .await
    .unwrap();
    let range = |granularity| Range {
        from: Some(Utc::now() - Span::days(30)),
        to: Some(Utc::now()),
        granularity,
        assistant_id: None,
    };
    let month = range(Granularity::Day);
    let from_rows = timed(3, || async {
        analytics::conversations::stats(&db, &owner, &month)
            .await
            .unwrap();
    })
    .await;
    let caught_up = Instant::now();
    let hours = analytics::rollups::catch_up(&db).await.unwrap();
    let catching_up = caught_up.elapsed();
    db.conn().execute_unprepared("ANALYZE").await.unwrap();
    let filter = api::service::conversations::ConversationFilter::default();
    let baseline = timed(o.runs, || async {
        api::service::conversations::count(&db, &owner, &filter)
            .await
            .unwrap();
    })
    .await;
    let mut rows = vec![
        ("count of conversations (baseline)".to_owned(), baseline),
        (
            "conversations analytics, by day, every hour stale (from the rows)".to_owned(),
            from_rows,
        ),
    ];
    for (name, granularity) in [("day", Granularity::Day), ("hour", Granularity::Hour)] {
        let r = range(granularity);
        let figures = timed(o.runs, || async {
            let stats = analytics::conversations::stats(&db, &owner, &r)
                .await
                .unwrap();
            assert_eq!(stats.messages as usize, o.messages);
        })
        .await;
        rows.push((format!("conversations analytics, by {name}"), figures));
        let figures = timed(o.runs, || async {
            analytics::knowledge_base::stats(&db, &owner, &r)
                .await
                .unwrap();
        })
        .await;
        rows.push((format!("knowledge-base analytics, by {name}"), figures));
    }
    println!(
        "\n### {kind}: {} conversations, {} messages (seeded in {:.1} s; {hours} hours rolled up in {:.1} s)\n",
        o.messages / 10,
        o.messages,
        seeding.as_secs_f64(),
        catching_up.as_secs_f64()
    );
    println!("| call | p50 ms | p99 ms | p50 / baseline p50 |");
    println!("|---|---:|---:|---:|");
    let mut p99s = Vec::new();
    for (name, (p50, p99)) in &rows {
        println!("| {name} | {p50:.1} | {p99:.1} | {:.1} |", p50 / baseline.0);
        if !name.contains("baseline") && !name.contains("stale") {
            p99s.push((format!("{kind}: {name}"), *p99));
        }
    }
    drop(db);
    if let Some(name) = drop_database {
        let mut admin_settings = settings.clone();
        admin_settings.database_url = Some(SecretString::from(admin_url()));
        let admin = Db::connect(&admin_settings).await.unwrap();
        admin
            .conn()
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(&settings.data_dir);
    p99s
}

fn main() {
    let o = options();
    // One core: a current-thread runtime, one call at a time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Concierge analytics benchmark, {}: {} runs per call after 3 warm-ups, one core",
            Utc::now().format("%Y-%m-%d"),
            o.runs
        );
        let mut all = Vec::new();
        for kind in &o.databases {
            all.extend(run(kind, &o).await);
        }
        println!("\nbudget: p99 at most {} ms per call", o.budget_ms);
        let over: Vec<_> = all.iter().filter(|(_, p99)| *p99 > o.budget_ms).collect();
        for (name, p99) in &over {
            println!("OVER BUDGET: {name}: p99 {p99:.1} ms");
        }
        if over.is_empty() {
            println!("every call within budget");
        } else {
            std::process::exit(1);
        }
    });
}
