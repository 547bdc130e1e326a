//! Email and help-desk benchmark: team notification emails per second to a loopback SMTP server (aiosmtpd),
//! and the time from a handoff to its ticket existing at a loopback Zendesk, as a ratio to the delivery of the
//! same event to a webhook in the same run.
//!
//! `make email-bench` (or `cargo bench --bench email -- --help`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/args.rs"]
mod args;
#[path = "../tests/api/fake_zendesk.rs"]
#[allow(dead_code)]
mod fake_zendesk;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use api::startup::Application;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};

/// The same allocator as the `concierge` binary, so the in-process server is measured as shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    backends: Vec<String>,
    notifications: usize,
    handoffs: usize,
    postgres_url: String,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite".into(), "postgres".into()],
        notifications: 300,
        handoffs: 30,
        postgres_url: std::env::var("CONCIERGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let usage = "cargo bench --bench email -- [--backend sqlite,postgres] [--notifications 300] [--handoffs 30]";
    for (flag, value) in args::pairs(usage) {
        match flag.as_str() {
            "--backend" => o.backends = value.split(',').map(str::to_owned).collect(),
            "--notifications" => o.notifications = value.parse().unwrap(),
            "--handoffs" => o.handoffs = value.parse().unwrap(),
            other => panic!("unknown flag {other}\n{usage}"),
        }
    }
    o
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// aiosmtpd on loopback (plain SMTP, no AUTH), writing each message it accepts into `out`.
struct SmtpPeer {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl SmtpPeer {
    async fn start(dir: &Path) -> Self {
        let out = dir.join("mail");
        std::fs::create_dir_all(&out).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(root().join("tests/peers/.venv/bin/python"))
            .arg(root().join("tests/peers/smtp_server.py"))
            .args(["--port", &port.to_string(), "--mode", "plain", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd is installed by `make python-peers`");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port, out }
    }

    fn received(&self) -> usize {
        std::fs::read_dir(&self.out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback webhook receiver: when each delivery arrived, by conversation.
#[derive(Clone, Default)]
struct Receiver {
    arrived: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let me = self.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let me = me.clone();
                async move {
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let conversation = event["data"]["conversation_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    me.arrived
                        .lock()
                        .unwrap()
                        .push((conversation, Instant::now()));
                    axum::http::StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn at(&self, conversation: &str) -> Option<Instant> {
        self.arrived
            .lock()
            .unwrap()
            .iter()
            .find(|(c, _)| c == conversation)
            .map(|(_, at)| *at)
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let reply = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let body = self
            .send(
                reqwest::Method::POST,
                "/graphql",
                json!({"query": query, "variables": variables}),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    async fn conversation(&self, email: &str) -> String {
        let body = self
            .send(
                reqwest::Method::POST,
                "/api/v1/conversations",
                json!({"visitor": {"name": "Bench Visitor", "email": email},
                    "source_url": "https://shop.example/pricing"}),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[at]
}

async fn bench_backend(backend: &str, o: &Options) {
    let zendesk = fake_zendesk::FakeZendesk::start().await;
    let data_dir = std::env::temp_dir().join(format!("concierge-bench-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let smtp = SmtpPeer::start(&data_dir).await;
    let mut settings = Settings::for_data_dir(data_dir.clone());
    settings.rate_limits = false;
    settings.egress_allow = Some("127.0.0.1/32".to_owned());
    settings.provider_base_urls = Some(zendesk.base_urls());
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
    let db = application.state().db.clone();
    let base = format!("http://127.0.0.1:{}", application.port());
    let server = tokio::spawn(application.run_until(std::future::pending()));
    println!("\n## {backend}");

    // 1. Notification emails per second: one rule emails the admins about every new conversation, through
    //    the organization's SMTP server; `notifications` conversations are started at once.
    let org = api::service::identity::bootstrap::bootstrap(
        &db,
        "Bench",
        Plan::Premium,
        "bench@example.test",
    )
    .await
    .unwrap();
    let api = Api {
        client: reqwest::Client::new(),
        base: base.clone(),
        key: org.secret.clone(),
    };
    let connected = api
        .graphql(
            "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
                integration { status } userErrors { message } } }",
            json!({"input": {"provider": "SMTP", "smtp": {"host": "127.0.0.1", "port": smtp.port,
                "security": "NONE", "fromAddress": "support@bench.test", "fromName": "Bench"}}}),
        )
        .await;
    assert_eq!(
        connected["connectIntegration"]["integration"]["status"], "CONNECTED",
        "{connected}"
    );
    api.send(
        reqwest::Method::POST,
        "/api/v1/notification-rules",
        json!({"name": "Everything", "events": ["new_conversation"], "recipients": "admins"}),
    )
    .await;
    let before = smtp.received();
    let started = Instant::now();
    let mut starting = Vec::new();
    for n in 0..o.notifications {
        let api = Api {
            client: api.client.clone(),
            base: api.base.clone(),
            key: api.key.clone(),
        };
        starting.push(tokio::spawn(async move {
            api.conversation(&format!("n{n}@example.test")).await
        }));
    }
    for start in starting {
        start.await.unwrap();
    }
    let created = started.elapsed().as_secs_f64();
    while smtp.received() - before < o.notifications && started.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = smtp.received() - before;
    println!(
        "Team notifications: {sent} emails to the loopback SMTP server in {elapsed:.2} s = {:.1} emails/s \
         ({} conversations started in {created:.2} s)",
        sent as f64 / elapsed,
        o.notifications
    );

    // 2. A handoff's ticket against its webhook: Zendesk opens a ticket on handoff, a webhook takes
    //    `handoff.requested`; one handoff at a time, each timed from the request to the ticket at the fake and
    //    to the delivery at the receiver.
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    api.send(
        reqwest::Method::POST,
        "/api/v1/webhooks",
        json!({"url": hook, "events": ["handoff.requested"]}),
    )
    .await;
    let zd = api
        .graphql(
            "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
                integration { status } userErrors { message } } }",
            json!({"input": {"provider": "ZENDESK", "account": {"subdomain": "acme"},
                "credentials": {"email": fake_zendesk::AGENT_EMAIL, "apiKey": fake_zendesk::API_TOKEN}}}),
        )
        .await;
    assert_eq!(
        zd["connectIntegration"]["integration"]["status"], "CONNECTED",
        "{zd}"
    );
    let (mut tickets, mut webhooks) = (Vec::new(), Vec::new());
    for n in 0..o.handoffs {
        let conversation = api.conversation(&format!("h{n}@example.test")).await;
        let had = zendesk.tickets().len();
        let t0 = Instant::now();
        api.send(
            reqwest::Method::PUT,
            &format!("/api/v1/conversations/{conversation}"),
            json!({"status": "handed_off"}),
        )
        .await;
        let (mut ticket, mut webhook) = (None, None);
        while (ticket.is_none() || webhook.is_none()) && t0.elapsed() < Duration::from_secs(60) {
            if ticket.is_none() && zendesk.tickets().len() > had {
                ticket = Some(t0.elapsed());
            }
            if webhook.is_none() {
                webhook = receiver.at(&conversation).map(|at| at - t0);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tickets.push(ticket.expect("the ticket").as_secs_f64() * 1000.0);
        webhooks.push(webhook.expect("the webhook").as_secs_f64() * 1000.0);
    }
    let ratios: Vec<f64> = tickets.iter().zip(&webhooks).map(|(t, w)| t / w).collect();
    let (t50, w50) = (median(&mut tickets.clone()), median(&mut webhooks.clone()));
    println!(
        "\n| {} handoffs, one at a time | median ms | p90 ms |",
        o.handoffs
    );
    println!("|---|---:|---:|");
    println!(
        "| handoff → ticket at the loopback Zendesk | {t50:.1} | {:.1} |",
        percentile(&mut tickets, 0.9)
    );
    println!(
        "| handoff → webhook delivery of handoff.requested | {w50:.1} | {:.1} |",
        percentile(&mut webhooks, 0.9)
    );
    println!(
        "\nticket / webhook, median of the per-handoff ratios = {:.2} (ratio of medians {:.2})",
        median(&mut ratios.clone()),
        t50 / w50
    );
    server.abort();
    drop(db);
    drop(smtp);
    if let Some(admin) = admin {
        let _ = admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{pg_name}\" WITH (FORCE)"
            ))
            .await;
    }
    let _ = std::fs::remove_dir_all(data_dir);
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# Concierge email and help-desk benchmark, {} on {} cores",
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
