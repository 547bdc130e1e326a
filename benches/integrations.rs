//! Integrations benchmark: what a connected CRM costs the request that posts a message (as a ratio to the same
//! request with none, in the same run), and how many CRM jobs per second the worker completes against a loopback
//! HubSpot.
//!
//! `make integrations-bench` (or `cargo bench --bench integrations -- --help`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;
#[path = "../tests/api/fake_hubspot.rs"]
#[allow(dead_code)]
mod fake_hubspot;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use api::auth::{Actor, Plan, Principal, Role};
use api::authz::Tenant;
use api::config::Settings;
use api::db::Db;
use api::service::conversations::posting::{CreateConversation, start_conversation};
use api::service::integrations::connect::{self, Callback, ConnectIntegration};
use api::startup::Application;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::json;

/// The same allocator as the `concierge` binary, so the in-process server is measured as shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    backends: Vec<String>,
    seconds: u64,
    concurrency: usize,
    connections: usize,
    visitors: usize,
    postgres_url: String,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite".into(), "postgres".into()],
        seconds: 8,
        concurrency: 16,
        connections: 8,
        visitors: 25,
        postgres_url: std::env::var("CONCIERGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let usage = "cargo bench --bench integrations -- [--backend sqlite,postgres] [--seconds 8] [--concurrency 16] [--connections 8] [--visitors 25]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--backend" => o.backends = value.split(',').map(str::to_owned).collect(),
            "--seconds" => o.seconds = value.parse().unwrap(),
            "--concurrency" => o.concurrency = value.parse().unwrap(),
            "--connections" => o.connections = value.parse().unwrap(),
            "--visitors" => o.visitors = value.parse().unwrap(),
            other => panic!("unknown flag {other}\n{usage}"),
        }
    }
    o
}

/// An owner signed in, as the service sees a member of the console.
fn member(
    org: &api::service::identity::bootstrap::Bootstrapped,
    state: &api::state::AppState,
) -> Principal {
    Principal {
        organization: Tenant::new(org.organization.id.clone()),
        plan: Plan::Premium,
        role: Role::Owner,
        actor: Actor::User {
            id: org.owner.id.clone(),
            session_id: "ses_bench".to_owned(),
            method: "password".to_owned(),
        },
        origin: Default::default(),
        scopes: None,
        authz: state.authz.clone(),
    }
}

/// Connects HubSpot for the organization through the whole grant: the authorization page answers with a
/// redirect to the callback, whose code and state finish it.
async fn connect_hubspot(state: &api::state::AppState, principal: &Principal) -> String {
    let started = connect::connect(
        &state.vendors,
        principal,
        ConnectIntegration {
            provider: "hubspot".to_owned(),
            return_to: Some("/console/settings/integrations".to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = client
        .get(started.authorize_url.unwrap())
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    let landed = connect::finish(
        &state.vendors,
        Some(principal),
        "hubspot",
        Callback {
            code: query.get("code").cloned(),
            state: query.get("state").cloned(),
            ..Default::default()
        },
        started.state.as_deref(),
    )
    .await
    .unwrap();
    assert!(landed.contains("outcome=connected"), "{landed}");
    started.integration.model.id
}

async fn set_status(db: &Db, integration: &str, status: &str) {
    use sea_orm::ActiveModelTrait;
    let row = entities::integration::Entity::find_by_id(integration.to_owned())
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    let mut row: entities::integration::ActiveModel = row.into();
    row.status = sea_orm::Set(status.to_owned());
    row.update(db.conn()).await.unwrap();
}

/// Agents' replies posted for `seconds` by `concurrency` workers, round-robin over the conversations.
async fn post_messages(
    base: &str,
    key: &str,
    conversations: &Arc<Vec<String>>,
    o: &Options,
    seconds: f64,
) -> (usize, usize, Duration) {
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..o.concurrency {
        let (client, stop, base, key, conversations, stride) = (
            client.clone(),
            stop.clone(),
            base.to_owned(),
            key.to_owned(),
            conversations.clone(),
            o.concurrency,
        );
        workers.push(tokio::spawn(async move {
            let (mut done, mut errors, mut n) = (0, 0, w);
            while !stop.load(Ordering::Relaxed) {
                n += stride;
                let id = &conversations[n % conversations.len()];
                let sent = client
                    .post(format!("{base}/api/v1/conversations/{id}/messages"))
                    .bearer_auth(&key)
                    .json(&json!({"author": "agent", "body": "Thanks, a colleague will follow up shortly."}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => done += 1,
                    _ => errors += 1,
                }
            }
            (done, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut done, mut errors) = (0, 0);
    for worker in workers {
        let (d, e) = worker.await.unwrap();
        done += d;
        errors += e;
    }
    (done, errors, started.elapsed())
}

async fn bench_backend(backend: &str, o: &Options) {
    let hubspot = fake_hubspot::FakeHubSpot::start().await;
    let data_dir = std::env::temp_dir().join(format!("concierge-bench-{}", ulid::Ulid::new()));
    let mut settings = Settings::for_data_dir(data_dir.clone());
    settings.rate_limits = false;
    settings.egress_allow = Some("127.0.0.1/32".to_owned());
    settings.provider_base_urls = Some(hubspot.base_urls());
    settings.oauth_hubspot_client_id = Some(fake_hubspot::CLIENT_ID.to_owned());
    settings.oauth_hubspot_client_secret = Some(fake_hubspot::CLIENT_SECRET.to_owned().into());
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
    let application = Application::build(settings).await.unwrap();
    let state = application.state().clone();
    let db = state.db.clone();
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until(std::future::pending()));
    println!("\n## {backend}");

    // 1. The cost on POST /conversations/{id}/messages: the same conversations with the CRM connected and
    //    disconnected, in alternating parts (A B B A), so drift hits both alike.
    let org = api::service::identity::bootstrap::bootstrap(
        &db,
        "Bench",
        Plan::Premium,
        "bench@example.test",
    )
    .await
    .unwrap();
    let owner = member(&org, &state);
    let integration = connect_hubspot(&state, &owner).await;
    let mut conversations = Vec::new();
    for _ in 0..200 {
        let created = start_conversation(&db, &state.engine, &owner, CreateConversation::default())
            .await
            .unwrap();
        conversations.push(created.conversation.id);
    }
    let conversations = Arc::new(conversations);
    let half = o.seconds as f64 / 2.0;
    let mut totals = [(0usize, 0usize, Duration::ZERO); 2];
    for (which, status) in [
        (1, "connected"),
        (0, "disconnected"),
        (0, "disconnected"),
        (1, "connected"),
    ] {
        set_status(&db, &integration, status).await;
        let (done, errors, elapsed) =
            post_messages(&base, &org.secret, &conversations, o, half).await;
        totals[which].0 += done;
        totals[which].1 += errors;
        totals[which].2 += elapsed;
    }
    set_status(&db, &integration, "connected").await;
    let rate = |t: &(usize, usize, Duration)| t.0 as f64 / t.2.as_secs_f64();
    println!("| POST /api/v1/conversations/{{id}}/messages | requests | errors | req/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| no CRM connected | {} | {} | {:.0} |",
        totals[0].0,
        totals[0].1,
        rate(&totals[0])
    );
    println!(
        "| HubSpot connected | {} | {} | {:.0} |",
        totals[1].0,
        totals[1].1,
        rate(&totals[1])
    );
    println!(
        "\ncost of a connected CRM on posting a message: time per request with / without = {:.3}",
        rate(&totals[0]) / rate(&totals[1])
    );

    // 2. Sync throughput: `connections` organizations, each with HubSpot connected (each connection paced at
    //    HubSpot's documented 100 requests per 10 s), and `visitors` new conversations each, all at once.
    let mut orgs = Vec::new();
    for n in 0..o.connections {
        let boot = api::service::identity::bootstrap::bootstrap(
            &db,
            &format!("Sync {n}"),
            Plan::Premium,
            &format!("owner{n}@sync.test"),
        )
        .await
        .unwrap();
        let principal = member(&boot, &state);
        connect_hubspot(&state, &principal).await;
        orgs.push(principal);
    }
    let jobs_before = count_done(&db).await;
    let started = Instant::now();
    for (n, principal) in orgs.iter().enumerate() {
        for v in 0..o.visitors {
            start_conversation(
                &db,
                &state.engine,
                principal,
                CreateConversation {
                    visitor: Some(api::service::conversations::visitors::NewVisitor {
                        email: Some(format!("v{v}.o{n}@example.test")),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
    }
    let expected = (o.connections * o.visitors) as u64;
    while count_done(&db).await - jobs_before < expected
        && started.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = count_done(&db).await - jobs_before;
    let contacts = hubspot.contacts().len();
    println!(
        "\nCRM sync: {done} contact jobs ({} connections x {} visitors) in {elapsed:.1} s = {:.1} jobs/s; {contacts} contacts at the fake (one per visitor); each connection paced at {} requests/s",
        o.connections,
        o.visitors,
        done as f64 / elapsed,
        api::service::integrations::providers::provider("hubspot")
            .unwrap()
            .requests_per_second
    );
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

/// Integration jobs that finished (succeeded or failed).
async fn count_done(db: &Db) -> u64 {
    entities::integration_job::Entity::find()
        .filter(entities::integration_job::Column::Status.is_in(["succeeded", "failed"]))
        .filter(entities::integration_job::Column::Kind.ne("test"))
        .count(db.conn())
        .await
        .unwrap()
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Concierge integrations benchmark, {} on {} cores",
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
