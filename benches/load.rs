//! Load benchmark: seeds a realistic dataset, serves it on loopback and measures throughput and latency.
//!
//! `make bench` (or `cargo bench --bench load -- --help`). Every scenario is reported with its throughput as
//! a ratio to a `GET /healthz` baseline measured in the same run, because shared machines are noisy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;
#[path = "support/fanout.rs"]
mod fanout;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use api::startup::Application;
use chrono::Utc;
use entities::{conversation, knowledge_base_entry, message, visitor};
use sea_orm::{EntityTrait, Set};
use secrecy::SecretString;
use serde_json::json;

/// The same allocator as the `concierge` binary, so the in-process server is measured as shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    backends: Vec<String>,
    conversations: usize,
    messages: usize,
    entries: usize,
    seconds: u64,
    concurrency: usize,
    postgres_url: String,
    scenarios: Vec<Scenario>,
    rate_limits: RateLimitMode,
    /// Subscriber counts of the fan-out scenario.
    subscribers: Vec<usize>,
}

/// Whether the server under test limits requests; `Both` serves one database from two servers, one with limits
/// and one without, and alternates between them so the limiter's overhead is a ratio within one run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RateLimitMode {
    Off,
    On,
    Both,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite".into(), "postgres".into()],
        conversations: 10_000,
        messages: 100_000,
        entries: 5_000,
        seconds: 10,
        concurrency: 16,
        postgres_url: std::env::var("CONCIERGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        scenarios: Scenario::ALL.to_vec(),
        rate_limits: RateLimitMode::Off,
        subscribers: vec![1_000, 10_000],
    };
    let usage = "cargo bench --bench load -- [--backend sqlite,postgres] [--conversations 10000] [--messages 100000] [--entries 5000] [--seconds 10] [--concurrency 16] [--scenarios baseline,typename,dashboard,dashboard-floor,rest-list,create-message,webhooks,fanout] [--rate-limits off|on|both] [--subscribers 1000,10000]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--backend" => o.backends = value.split(',').map(str::to_owned).collect(),
            "--conversations" => o.conversations = value.parse().unwrap(),
            "--messages" => o.messages = value.parse().unwrap(),
            "--entries" => o.entries = value.parse().unwrap(),
            "--seconds" => o.seconds = value.parse().unwrap(),
            "--concurrency" => o.concurrency = value.parse().unwrap(),
            "--subscribers" => {
                o.subscribers = value.split(',').map(|n| n.parse().unwrap()).collect()
            }
            "--rate-limits" => {
                o.rate_limits = match value.as_str() {
                    "on" => RateLimitMode::On,
                    "off" => RateLimitMode::Off,
                    "both" => RateLimitMode::Both,
                    other => panic!("--rate-limits takes on, off or both, not {other}"),
                }
            }
            "--scenarios" => {
                o.scenarios = value
                    .split(',')
                    .map(|name| {
                        Scenario::ALL
                            .into_iter()
                            .find(|s| s.key() == name)
                            .unwrap_or_else(|| panic!("unknown scenario {name}"))
                    })
                    .collect();
            }
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    o
}

fn id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

/// Inserts the dataset in large batches (seeding is not what is measured).
async fn seed(db: &Db, org: &str, assistant: &str, o: &Options) -> Vec<String> {
    let now = Utc::now();
    let mut conversation_ids = Vec::with_capacity(o.conversations);
    for chunk in (0..o.conversations).collect::<Vec<_>>().chunks(1000) {
        let mut visitors = Vec::new();
        let mut conversations = Vec::new();
        for i in chunk {
            let vid = id("vis_");
            let cid = id("conv_");
            visitors.push(visitor::ActiveModel {
                id: Set(vid.clone()),
                organization_id: Set(org.into()),
                name: Set(Some(format!("Visitor {i}"))),
                email: Set(Some(format!("v{i}@example.test"))),
                phone: Set(None),
                marketing_consent: Set(false),
                marketing_consent_at: Set(None),
                unsubscribed_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            conversations.push(conversation::ActiveModel {
                id: Set(cid.clone()),
                organization_id: Set(org.into()),
                assistant_id: Set(assistant.into()),
                visitor_id: Set(vid),
                status: Set(["open", "handed_off", "resolved", "closed"][i % 4].into()),
                subject: Set(Some(format!("Question {i}"))),
                source_url: Set(Some("https://shop.example/products/1".into())),
                page_context: Set(None),
                page_title: Set(Some("Product".into())),
                browser: Set(Some("Firefox".into())),
                device: Set(Some("desktop".into())),
                sentiment: Set(None),
                event_seq: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            conversation_ids.push(cid);
        }
        visitor::Entity::insert_many(visitors)
            .exec(db.conn())
            .await
            .unwrap();
        conversation::Entity::insert_many(conversations)
            .exec(db.conn())
            .await
            .unwrap();
    }
    let per = o.messages / o.conversations.max(1);
    let mut batch = Vec::new();
    for cid in &conversation_ids {
        for m in 0..per {
            batch.push(message::ActiveModel {
                id: Set(id("msg_")),
                organization_id: Set(org.into()),
                conversation_id: Set(cid.clone()),
                author: Set(if m % 2 == 0 { "visitor" } else { "assistant" }.into()),
                body: Set(format!(
                    "Message {m} of a realistic length, asking about delivery times and returns."
                )),
                source_entry_id: Set(None),
                confidence: Set(None),
                created_at: Set(now),
                ..Default::default()
            });
            if batch.len() == 1000 {
                message::Entity::insert_many(std::mem::take(&mut batch))
                    .exec(db.conn())
                    .await
                    .unwrap();
            }
        }
    }
    if !batch.is_empty() {
        message::Entity::insert_many(batch)
            .exec(db.conn())
            .await
            .unwrap();
    }
    let mut entries = Vec::new();
    for i in 0..o.entries {
        entries.push(knowledge_base_entry::ActiveModel {
            id: Set(id("kb_")),
            organization_id: Set(org.into()),
            title: Set(format!("Article {i}")),
            body: Set("How long does shipping take? Orders ship within two business days.".into()),
            category: Set(Some(["shipping", "returns", "billing"][i % 3].into())),
            tags: Set(json!(["faq"])),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        });
        if entries.len() == 1000 {
            knowledge_base_entry::Entity::insert_many(std::mem::take(&mut entries))
                .exec(db.conn())
                .await
                .unwrap();
        }
    }
    if !entries.is_empty() {
        knowledge_base_entry::Entity::insert_many(entries)
            .exec(db.conn())
            .await
            .unwrap();
    }
    // A production database has planner statistics; a freshly bulk-loaded one has none yet.
    db.execute_unprepared("ANALYZE").await.unwrap();
    conversation_ids
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Baseline,
    Dashboard,
    /// The dashboard's page without the server: its statements and serde_json, in the benchmark's process.
    DashboardFloor,
    /// `{ __typename }` with an API key: authentication and GraphQL's fixed cost.
    Typename,
    RestList,
    CreateMessage,
    Webhooks,
    Fanout,
}

impl Scenario {
    const ALL: [Scenario; 8] = [
        Scenario::Baseline,
        Scenario::Typename,
        Scenario::Dashboard,
        Scenario::DashboardFloor,
        Scenario::RestList,
        Scenario::CreateMessage,
        Scenario::Webhooks,
        Scenario::Fanout,
    ];

    fn key(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Dashboard => "dashboard",
            Scenario::DashboardFloor => "dashboard-floor",
            Scenario::Typename => "typename",
            Scenario::RestList => "rest-list",
            Scenario::CreateMessage => "create-message",
            Scenario::Webhooks => "webhooks",
            Scenario::Fanout => "fanout",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "GET /healthz (baseline)",
            Scenario::Dashboard => {
                "GraphQL dashboard (50 conv + visitor + last 20 msgs, both totalCounts)"
            }
            Scenario::DashboardFloor => {
                "the dashboard's statements + serde_json in process (the floor)"
            }
            Scenario::Typename => "GraphQL { __typename } with an API key",
            Scenario::RestList => "GET /api/v1/conversations?limit=50",
            Scenario::CreateMessage => "POST /api/v1/conversations/{id}/messages",
            Scenario::Webhooks => {
                "webhook deliveries to a loopback receiver (per second; p50/p99: one event, post to receipt)"
            }
            Scenario::Fanout => "subscription fan-out",
        }
    }
}

/// The dashboard's page: the first 50 conversations with their visitor and their 20 latest messages, and both
/// connections' `totalCount`.
const DASHBOARD_QUERY: &str = "{ conversations(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status subject createdAt visitor { id name email } messages(last: 20) { totalCount pageInfo { hasPreviousPage } edges { node { id author body createdAt } } } } } } }";

/// The same page as [`DASHBOARD_QUERY`] without HTTP, authentication or GraphQL: the statements the server
/// runs for it (through the service layer, which adds only the in-memory authorization), the response built
/// with `serde_json` and serialized.
async fn dashboard_page(db: &Db, principal: &api::auth::Principal) -> Vec<u8> {
    use api::service::conversations::{self, ConversationFilter, messages, visitors};
    let filter = ConversationFilter::default();
    let request =
        api::service::PageRequest::new(Some(50), None, api::ids::Kind::Conversation).unwrap();
    let total = conversations::count(db, principal, &filter).await.unwrap();
    let page = conversations::list(db, principal, &filter, &request)
        .await
        .unwrap();
    let ids: Vec<String> = page.items.iter().map(|c| c.id.clone()).collect();
    let visitor_ids: Vec<String> = page.items.iter().map(|c| c.visitor_id.clone()).collect();
    let visitors = visitors::get_many(db, principal, &visitor_ids)
        .await
        .unwrap();
    let mut latest = messages::latest_for_conversations(db, principal, &ids, 20)
        .await
        .unwrap();
    let counts = messages::count_for_conversations(db, principal, &ids)
        .await
        .unwrap();
    let edges: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|c| {
            let v = visitors.get(&c.visitor_id);
            let rows = latest.remove(&c.id).unwrap_or_default();
            let count = counts.get(&c.id).copied().unwrap_or(0);
            json!({"cursor": c.id, "node": {
                "id": c.id, "status": c.status, "subject": c.subject, "createdAt": c.created_at,
                "visitor": v.map(|v| json!({"id": v.id, "name": v.name, "email": v.email})),
                "messages": {
                    "totalCount": count,
                    "pageInfo": {"hasPreviousPage": count > rows.len() as u64},
                    "edges": rows.iter().map(|m| json!({"node": {
                        "id": m.id, "author": m.author, "body": m.body, "createdAt": m.created_at,
                    }})).collect::<Vec<_>>(),
                },
            }})
        })
        .collect();
    serde_json::to_vec(&json!({"data": {"conversations": {
        "totalCount": total,
        "pageInfo": {"hasNextPage": page.has_more, "endCursor": ids.last()},
        "edges": edges,
    }}}))
    .unwrap()
}

/// [`dashboard_page`] by `o.concurrency` workers for `o.seconds`, as the request workers do.
async fn dashboard_floor(db: &Db, principal: &api::auth::Principal, o: &Options) -> Outcome {
    let shared = Arc::new((db.clone(), principal.clone()));
    drive(o, move |_, _| {
        let shared = shared.clone();
        async move {
            std::hint::black_box(dashboard_page(&shared.0, &shared.1).await);
            true
        }
    })
    .await
}

/// Runs `o.concurrency` workers for `o.seconds`; each calls `once(worker, n)` over and over (`n` a per-worker
/// pseudo-random number) and counts a call that returns `true` with its latency, one that returns `false` as
/// an error.
async fn drive<F, Fut>(o: &Options, once: F) -> Outcome
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let once = Arc::new(once);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..o.concurrency)
        .map(|w| {
            let (once, stop) = (once.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors, mut n) = (Vec::new(), 0, w);
                while !stop.load(Ordering::Relaxed) {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let t = Instant::now();
                    if once(w, n).await {
                        latencies.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Outcome {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

#[derive(Default)]
struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn run(
    scenario: Scenario,
    base: &str,
    keys: &[String],
    ids: Arc<Vec<String>>,
    o: &Options,
) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .build()
        .unwrap();
    let (base, keys) = (base.to_owned(), keys.to_vec());
    drive(o, move |w, n| {
        let key = &keys[w % keys.len()];
        let request = match scenario {
            // Measured by `webhook_throughput`, not by request workers.
            Scenario::Baseline | Scenario::Webhooks | Scenario::Fanout | Scenario::DashboardFloor => client.get(format!("{base}/healthz")),
            Scenario::Dashboard => client.post(format!("{base}/graphql")).bearer_auth(key).json(&json!({
                "query": DASHBOARD_QUERY
            })),
            Scenario::Typename => client.post(format!("{base}/graphql")).bearer_auth(key).json(&json!({
                "query": "{ __typename }"
            })),
            Scenario::RestList => client.get(format!("{base}/api/v1/conversations?limit=50")).bearer_auth(key),
            Scenario::CreateMessage => {
                let cid = &ids[(n >> 33) % ids.len()];
                client
                    .post(format!("{base}/api/v1/conversations/{cid}/messages"))
                    .bearer_auth(key)
                    .json(&json!({"author": "agent", "body": "Thanks, a colleague will follow up shortly."}))
            }
        };
        async move {
            match request.send().await {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 409 => {
                    let _ = r.bytes().await;
                    true
                }
                _ => false,
            }
        }
    })
    .await
}

/// Events the webhook scenario delivers.
const WEBHOOK_EVENTS: usize = 5_000;
/// Events it then posts one at a time, timing each from the post to its delivery.
const WEBHOOK_LATENCY_EVENTS: usize = 100;

/// Queues `n` message events to a new endpoint at once (a replay) and times until a loopback receiver has
/// answered all of them and every attempt is recorded (the rate); then posts events one at a time and times
/// each from the post to its delivery (the latencies). An error is a delivery lost or sent twice.
async fn webhook_throughput(
    state: &api::state::AppState,
    owner: &api::auth::Principal,
    assistant: &str,
    n: usize,
) -> Outcome {
    use api::events::{deliveries, webhooks};
    use api::service::conversations::messages;
    // Enough message.created events to replay, in an open conversation of their own.
    let since = Utc::now() - chrono::Duration::seconds(1);
    let open = api::service::conversations::posting::start_conversation(
        &state.db,
        &state.engine,
        owner,
        api::service::conversations::posting::CreateConversation {
            assistant_id: Some(assistant.to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .conversation
    .id;
    // An agent's message in that conversation: one `message.created` event.
    let post = |body: String| {
        let open = open.clone();
        async move {
            let input = api::service::conversations::posting::CreateMessage {
                author: messages::Author::Agent,
                body,
                source_entry_id: None,
                confidence: None,
                attachment_ids: Vec::new(),
            };
            api::service::conversations::posting::post_message(
                &state.db,
                &state.engine,
                owner,
                &open,
                input,
                None,
            )
            .await
            .unwrap();
        }
    };
    for i in 0..n {
        post(format!("webhook bench {i}")).await;
    }
    let until = Utc::now() + chrono::Duration::seconds(1);
    // Each request's webhook-id, to tell a lost delivery from one sent twice.
    let received = Arc::new(std::sync::Mutex::new(Vec::<String>::with_capacity(n)));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (ids, ring) = (received.clone(), arrived.clone());
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let (ids, ring) = (ids.clone(), ring.clone());
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                ids.lock().unwrap().push(id);
                ring.notify_one();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move { axum::serve(listener, router).await });
    let input = webhooks::CreateWebhook {
        url,
        events: vec!["message.created".to_owned()],
        ..Default::default()
    };
    let egress = state.settings.egress_allow.as_deref();
    let (hook, _) = webhooks::create(&state.db, &state.sealer, owner, egress, input)
        .await
        .unwrap();
    let started = Instant::now();
    let queued = deliveries::replay(&state.db, owner, &hook.model.id, since, until)
        .await
        .unwrap() as usize;
    let count = || received.lock().unwrap().len();
    while count() < queued && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Done when every attempt is also recorded: the bookkeeping is part of a delivery.
    let recorded = || async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entities::webhook_delivery::Entity::find()
            .filter(entities::webhook_delivery::Column::WebhookId.eq(&hook.model.id))
            .filter(entities::webhook_delivery::Column::Status.eq("succeeded"))
            .count(state.db.conn())
            .await
            .unwrap() as usize
    };
    while recorded().await < queued && started.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    // Then one event at a time: from the post (its commit included) to the receiver's answer.
    let mut latencies = Vec::with_capacity(WEBHOOK_LATENCY_EVENTS);
    for i in 0..WEBHOOK_LATENCY_EVENTS {
        let before = count();
        let posted = Instant::now();
        post(format!("webhook latency {i}")).await;
        while count() == before && posted.elapsed() < Duration::from_secs(10) {
            let _ = tokio::time::timeout(Duration::from_secs(1), arrived.notified()).await;
        }
        latencies.push(posted.elapsed());
    }
    latencies.sort();
    // Time for a late duplicate to show itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.abort();
    let replayed = queued;
    let queued = queued + WEBHOOK_LATENCY_EVENTS;
    let all = received.lock().unwrap().clone();
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    let (lost, twice) = (
        queued - distinct.len().min(queued),
        all.len() - distinct.len(),
    );
    if lost + twice > 0 {
        println!("webhooks: {lost} lost, {twice} sent twice");
    }
    Outcome {
        // The rate is the replay's; the errors count both parts.
        requests: replayed,
        errors: lost + twice,
        elapsed,
        latencies,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn bench_backend(backend: &str, o: &Options) {
    let data_dir = std::env::temp_dir().join(format!("concierge-bench-{}", ulid::Ulid::new()));
    let mut settings = Settings::for_data_dir(data_dir.clone());
    // Each worker has its own premium key (6,000 requests a minute); with limits on, the run measures the
    // limiter's overhead, and any refusal shows up in the errors column.
    settings.rate_limits = o.rate_limits == RateLimitMode::On;
    let pg_name = format!(
        "concierge_bench_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let admin = if backend == "postgres" {
        let mut admin_settings = Settings::for_data_dir(data_dir.clone());
        admin_settings.database_url = Some(SecretString::from(o.postgres_url.clone()));
        let admin = Db::connect(&admin_settings)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{pg_name}\""))
            .await
            .unwrap();
        let (prefix, _) = o.postgres_url.rsplit_once('/').unwrap();
        settings.database_url = Some(SecretString::from(format!("{prefix}/{pg_name}")));
        Some(admin)
    } else {
        None
    };
    let limited_settings = Settings {
        rate_limits: true,
        ..settings.clone()
    };
    // The webhook scenario delivers to a receiver on loopback.
    settings.egress_allow = Some("127.0.0.1/32".to_owned());
    let fanout_settings = settings.clone();
    let application = Application::build(settings).await.unwrap();
    let state = application.state().clone();
    let db = application.state().db.clone();
    let authz = application.state().authz.clone();
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until(std::future::pending()));
    let limited = if o.rate_limits == RateLimitMode::Both {
        let application = Application::build_with_db(limited_settings, db.clone())
            .await
            .unwrap();
        let base = format!("http://127.0.0.1:{}", application.port());
        Some((
            base,
            tokio::spawn(application.run_until(std::future::pending())),
        ))
    } else {
        None
    };
    let org = api::service::identity::bootstrap::bootstrap(
        &db,
        "Bench",
        Plan::Premium,
        "bench@example.test",
    )
    .await
    .unwrap();
    let seeding = Instant::now();
    let ids = Arc::new(seed(&db, &org.organization.id, &org.assistant.id, o).await);
    println!(
        "\n## {backend}: seeded {} conversations, {} messages, {} knowledge-base entries in {:.1} s",
        o.conversations,
        o.messages,
        o.entries,
        seeding.elapsed().as_secs_f64()
    );
    let owner = api::service::identity::api_keys::authenticate(
        &db,
        &authz,
        &org.secret,
        Default::default(),
    )
    .await
    .unwrap();
    let mut keys = Vec::new();
    for w in 0..o.concurrency {
        let input = api::service::identity::api_keys::CreateApiKey {
            name: format!("bench worker {w}"),
            ..Default::default()
        };
        keys.push(
            api::service::identity::api_keys::create(&db, &owner, input)
                .await
                .unwrap()
                .1,
        );
    }
    println!(
        "concurrency {} (one key each), {} s per scenario, rate limits {}\n",
        o.concurrency,
        o.seconds,
        match o.rate_limits {
            RateLimitMode::On => "on",
            RateLimitMode::Off => "off",
            RateLimitMode::Both => "off and on (alternating, same database)",
        }
    );
    println!("| scenario | requests | errors | req/s | ratio to baseline | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut baseline = 0.0;
    let (mut dashboard, mut floor) = (0.0, 0.0);
    let mut overheads = Vec::new();
    for scenario in o.scenarios.iter().copied() {
        if scenario == Scenario::Fanout {
            let conversation = api::service::conversations::posting::start_conversation(
                &db,
                &state.engine,
                &owner,
                api::service::conversations::posting::CreateConversation {
                    assistant_id: Some(org.assistant.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .conversation
            .id;
            fanout::run(&fanout_settings, &org.secret, &conversation, &o.subscribers).await;
            continue;
        }
        if let Some((limited_base, _)) = &limited
            && !matches!(
                scenario,
                Scenario::Baseline | Scenario::Webhooks | Scenario::DashboardFloor
            )
        {
            let [off, on] = alternate(scenario, [&base, limited_base], &keys, &ids, o).await;
            for (label, outcome) in [("limits off", &off), ("limits on", &on)] {
                print_row(&format!("{} ({label})", scenario.name()), outcome, baseline);
            }
            overheads.push((scenario.name(), rate(&on) / rate(&off)));
            continue;
        }
        let outcome = match scenario {
            Scenario::Webhooks => {
                webhook_throughput(&state, &owner, &org.assistant.id, WEBHOOK_EVENTS).await
            }
            Scenario::DashboardFloor => dashboard_floor(&db, &owner, o).await,
            _ => run(scenario, &base, &keys, ids.clone(), o).await,
        };
        match scenario {
            Scenario::Baseline => baseline = rate(&outcome),
            Scenario::Dashboard => dashboard = rate(&outcome),
            Scenario::DashboardFloor => floor = rate(&outcome),
            _ => {}
        }
        print_row(scenario.name(), &outcome, baseline);
    }
    if dashboard > 0.0 && floor > 0.0 {
        println!(
            "\ndashboard query: GraphQL throughput / the floor's = {:.3} (the target: at least 0.5)",
            dashboard / floor
        );
    }
    for (name, ratio) in overheads {
        println!("\nrate limiter: {name}: throughput with limits / without = {ratio:.3}");
    }
    if let Some((_, limited_server)) = limited {
        limited_server.abort();
    }
    server.abort();
    drop(db);
    if let Some(admin) = admin {
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{pg_name}\" WITH (FORCE)"
            ))
            .await;
    }
    let _ = std::fs::remove_dir_all(data_dir);
}

fn rate(outcome: &Outcome) -> f64 {
    outcome.requests as f64 / outcome.elapsed.as_secs_f64()
}

/// Runs `scenario` against two servers in four alternating parts (A B B A), so drift hits both alike.
async fn alternate(
    scenario: Scenario,
    bases: [&str; 2],
    keys: &[String],
    ids: &Arc<Vec<String>>,
    o: &Options,
) -> [Outcome; 2] {
    let half = Options {
        seconds: o.seconds.div_ceil(2),
        backends: Vec::new(),
        scenarios: Vec::new(),
        postgres_url: String::new(),
        subscribers: Vec::new(),
        ..*o
    };
    let mut merged = [Outcome::default(), Outcome::default()];
    for which in [0, 1, 1, 0] {
        let outcome = run(scenario, bases[which], keys, ids.clone(), &half).await;
        let into = &mut merged[which];
        into.requests += outcome.requests;
        into.errors += outcome.errors;
        into.elapsed += outcome.elapsed;
        into.latencies.extend(outcome.latencies);
    }
    for outcome in &mut merged {
        outcome.latencies.sort();
    }
    merged
}

fn print_row(name: &str, outcome: &Outcome, baseline: f64) {
    let rps = rate(outcome);
    println!(
        "| {} | {} | {} | {:.0} | {:.3} | {:.2} | {:.2} |",
        name,
        outcome.requests,
        outcome.errors,
        rps,
        if baseline > 0.0 {
            rps / baseline
        } else {
            f64::NAN
        },
        percentile(&outcome.latencies, 0.50),
        percentile(&outcome.latencies, 0.99),
    );
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Concierge load benchmark, {} on {} cores",
            Utc::now().format("%Y-%m-%d"),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        for backend in &o.backends {
            bench_backend(backend, &o).await;
        }
    });
}
