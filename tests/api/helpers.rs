//! The test harness: a real server on 127.0.0.1:0 over a fresh database (SQLite, or PostgreSQL when
//! `CONCIERGE_TEST_DATABASE=postgres`), seeded through the real services, with typed request helpers.

use std::path::PathBuf;

use api::auth::Plan;
use api::config::Settings;
use api::db::Db;
use api::service::identity::bootstrap::{Bootstrapped, bootstrap};
use api::startup::Application;
use api::state::AppState;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Which database engine this test run targets.
pub fn backend() -> String {
    std::env::var("CONCIERGE_TEST_DATABASE").unwrap_or_else(|_| "sqlite".to_owned())
}

/// The administrative PostgreSQL URL used to create and drop per-test databases.
fn postgres_admin_url() -> String {
    std::env::var("CONCIERGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Removes the per-test database (and data dir) when the test ends, pass or fail.
pub struct Cleanup {
    data_dir: PathBuf,
    postgres_db: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.postgres_db.take() {
            // Drop runs inside the test's runtime: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let admin = admin_db().await;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .unwrap();
                });
            })
            .join();
        }
    }
}

/// Drops test databases over an hour old (their ULID says when), left behind by killed test processes.
async fn sweep_stale_databases(admin: &Db) {
    use sea_orm::{ConnectionTrait, Statement};
    let Ok(rows) = admin
        .conn()
        .query_all_raw(Statement::from_string(
            admin.backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'concierge\\_test\\_%'".to_owned(),
        ))
        .await
    else {
        return;
    };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let stale = name
            .strip_prefix("concierge_test_")
            .and_then(|id| ulid::Ulid::from_string(&id.to_uppercase()).ok())
            .is_some_and(|id| id.datetime() < hour_ago);
        if stale {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

/// The sentence-embedding model `make model` puts in the checkout.
pub fn model_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/all-MiniLM-L6-v2"
    ))
}

async fn admin_db() -> Db {
    let mut settings = Settings::for_data_dir(std::env::temp_dir());
    settings.database_url = Some(SecretString::from(postgres_admin_url()));
    settings.db_max_connections = 1;
    Db::connect(&settings).await.unwrap_or_else(|err| {
        panic!(
            "PostgreSQL is required for CONCIERGE_TEST_DATABASE=postgres but {} is not reachable: {err}",
            postgres_admin_url()
        )
    })
}

/// A running server and the organization it was seeded with.
pub struct TestApp {
    pub address: String,
    pub db: Db,
    /// The server's shared state (usage counters, rate limits).
    pub state: api::state::AppState,
    /// The settings the server was built with (a second instance can share its database).
    pub settings: Settings,
    pub client: reqwest::Client,
    /// The owner key of the seeded organization.
    pub key: String,
    pub org: Bootstrapped,
    /// Stops the server when the test ends.
    _server: Server,
    _cleanup: Cleanup,
}

/// Settings for a fresh database of the selected backend.
pub async fn fresh_settings() -> (Settings, Cleanup) {
    fresh_settings_on(&backend()).await
}

/// A fresh database migrated up to migration `n` only, with the organization bootstrap makes ("Shop", premium),
/// for tests of what a later migration does to existing rows.
pub async fn bootstrapped_at_migration(n: u32) -> (Db, Bootstrapped, Cleanup) {
    use migration::MigratorTrait;
    let (settings, cleanup) = fresh_settings().await;
    let db = Db::connect(&settings).await.unwrap();
    // Bootstrapped by today's code on today's schema, then taken back down to migration `n`: what the later
    // migrations added goes, the rows stay.
    migration::Migrator::up(db.conn(), None).await.unwrap();
    let org = bootstrap(&db, "Shop", api::auth::Plan::Premium, "owner@shop.test")
        .await
        .unwrap();
    let applied = migration::Migrator::get_applied_migrations(db.conn())
        .await
        .unwrap()
        .len() as u32;
    migration::Migrator::down(db.conn(), Some(applied - n))
        .await
        .unwrap();
    (db, org, cleanup)
}

/// Settings for a fresh database of `backend` (`sqlite` or `postgres`), whatever this run targets.
pub async fn fresh_settings_on(backend: &str) -> (Settings, Cleanup) {
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let data_dir = std::env::temp_dir().join(format!("concierge-test-{id}"));
    let mut settings = Settings::for_data_dir(data_dir.clone());
    settings.db_max_connections = 5;
    settings.embedding_model = model_dir();
    let mut postgres_db = None;
    if backend == "postgres" {
        let name = format!("concierge_test_{id}");
        let admin = admin_db().await;
        sweep_stale_databases(&admin).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = postgres_admin_url();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        settings.database_url = Some(SecretString::from(format!("{prefix}/{name}")));
        postgres_db = Some(name);
    }
    (
        settings,
        Cleanup {
            data_dir,
            postgres_db,
        },
    )
}

/// A server of this crate on 127.0.0.1:0, built and run as `concierge serve` does: the one way tests start one.
/// It stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub port: u16,
    /// The server's shared state.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Builds the application on `settings` (connecting and migrating its database) and serves it.
    pub async fn start(settings: Settings) -> Self {
        let application = Application::build(settings).await.expect("server builds");
        let port = application.port();
        let state = application.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(application.run_until(async move {
            let _ = stopped.await;
        }));
        Server {
            address: format!("http://127.0.0.1:{port}"),
            port,
            state,
            stop: Some(stop),
            task,
        }
    }

    /// Asks the server to stop: it finishes the requests in flight and its background work first.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the server has stopped (after [`Server::stop`]) and answers how serving ended.
    pub async fn finished(&mut self) -> std::io::Result<()> {
        (&mut self.task).await.expect("the server task ends")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on a fresh database and bootstraps the "Acme" organization on the premium plan.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to adjust the settings first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(&backend(), adjust).await
}

/// Like [`spawn_app_with`], on the given backend whatever this run targets.
pub async fn spawn_app_on(backend: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (mut settings, cleanup) = fresh_settings_on(backend).await;
    adjust(&mut settings);
    let server = Server::start(settings.clone()).await;
    let state = server.state.clone();
    let db = state.db.clone();
    let org = bootstrap(&db, "Acme", Plan::Premium, "owner@acme.test")
        .await
        .expect("bootstrap");
    TestApp {
        address: server.address.clone(),
        db,
        state,
        settings,
        client: reqwest::Client::new(),
        key: org.secret.clone(),
        org,
        _server: server,
        _cleanup: cleanup,
    }
}

/// A response read whole: status, headers and JSON body (or `Value::Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Reads a response whole.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    /// The `error.code` of a REST error body.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `extensions.code` of a GraphQL response's first top-level error.
    pub fn graphql_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    /// The payload `data[field]` of a GraphQL mutation that ran: no top-level errors, and `userErrors` selected
    /// and empty.
    pub fn payload(&self, field: &str) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.text
        );
        let payload = &self.body["data"][field];
        assert!(payload.is_object(), "no {field} payload: {}", self.text);
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "unexpected userErrors (or none selected): {}",
            self.text
        );
        payload.clone()
    }

    /// The `userErrors` of a GraphQL mutation that did not run: no top-level errors, at least one user error,
    /// and every other field of the payload `data[field]` null (or an empty list).
    pub fn user_errors(&self, field: &str) -> Vec<Value> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert!(
            self.body.get("errors").is_none(),
            "expected userErrors, not top-level errors: {}",
            self.text
        );
        let payload = self.body["data"][field]
            .as_object()
            .unwrap_or_else(|| panic!("no {field} payload: {}", self.text));
        for (name, value) in payload {
            if name != "userErrors" {
                assert!(
                    value.is_null() || *value == json!([]),
                    "{field}.{name} is set although the mutation did not run: {}",
                    self.text
                );
            }
        }
        let errors = payload
            .get("userErrors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert!(!errors.is_empty(), "expected userErrors: {}", self.text);
        errors
    }

    /// The one user error of a GraphQL mutation that did not run (see [`Reply::user_errors`]).
    pub fn user_error(&self, field: &str) -> Value {
        let mut errors = self.user_errors(field);
        assert_eq!(errors.len(), 1, "one user error: {}", self.text);
        errors.remove(0)
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with the given key (or none) and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    /// Sends raw bytes with a content type, as the owner.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Reply::read(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Some(&self.key), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&self.key), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(&self.key), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, Some(&self.key), None).await
    }

    /// Runs a GraphQL operation with the given key.
    pub async fn graphql_as(&self, key: &str, query: &str, variables: Value) -> Reply {
        self.send(
            Method::POST,
            "/graphql",
            Some(key),
            Some(json!({"query": query, "variables": variables})),
        )
        .await
    }

    /// Runs a GraphQL operation as the owner.
    pub async fn graphql(&self, query: &str, variables: Value) -> Reply {
        self.graphql_as(&self.key, query, variables).await
    }

    /// Runs a GraphQL operation that must succeed and returns its `data`.
    pub async fn graphql_ok(&self, query: &str, variables: Value) -> Value {
        let reply = self.graphql(query, variables).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(
            reply.body.get("errors").is_none(),
            "unexpected errors: {}",
            reply.text
        );
        reply.body["data"].clone()
    }

    /// Runs a mutation that must succeed, as the owner: no top-level errors and an empty `userErrors` (which the
    /// selection must include). Returns the payload, `data[field]`.
    pub async fn mutate(&self, query: &str, variables: Value, field: &str) -> Value {
        self.mutate_as(&self.key, query, variables, field).await
    }

    /// [`TestApp::mutate`] with the given key.
    pub async fn mutate_as(&self, key: &str, query: &str, variables: Value, field: &str) -> Value {
        self.graphql_as(key, query, variables).await.payload(field)
    }

    /// Runs a mutation that must be refused for a mistake in its input, as the owner, and returns its one user
    /// error (no top-level errors; the payload's other fields null; see [`Reply::user_errors`]).
    pub async fn user_error(&self, query: &str, variables: Value, field: &str) -> Value {
        self.graphql(query, variables).await.user_error(field)
    }

    /// [`TestApp::user_error`] with the given key.
    pub async fn user_error_as(
        &self,
        key: &str,
        query: &str,
        variables: Value,
        field: &str,
    ) -> Value {
        self.graphql_as(key, query, variables)
            .await
            .user_error(field)
    }

    /// Adds a knowledge-base entry through REST and answers it.
    pub async fn create_entry(&self, title: &str, body: &str) -> Value {
        let reply = self
            .post(
                "/api/v1/knowledge-base",
                json!({"title": title, "body": body}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body
    }

    /// Waits until the embedding model has loaded (or failed to) and every queued entry vector is computed, so
    /// that answers rank by meaning as well as by words from here on.
    pub async fn vectors_settled(&self) {
        let retriever = self.state.engine.retriever();
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            retriever.model().settled_model().await;
            retriever.embedded().await;
        })
        .await
        .expect("entry vectors computed within 30 s");
    }

    /// Creates a conversation through REST and returns its JSON.
    pub async fn create_conversation(&self, message: &str) -> Value {
        let reply = self
            .post(
                "/api/v1/conversations",
                json!({"visitor": {"name": "Ann", "email": "ann@example.test"}, "initial_message": message}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body
    }

    /// Bootstraps another organization and returns its owner key.
    pub async fn other_organization(&self, name: &str) -> Bootstrapped {
        bootstrap(&self.db, name, Plan::Premium, "owner@other.test")
            .await
            .expect("bootstrap")
    }

    /// Creates a key of the given role through the API and returns its secret.
    pub async fn key_with_role(&self, role: &str) -> String {
        self.new_key(role).await.1
    }

    /// Creates a key of the given role through the API and returns its id and secret.
    pub async fn new_key(&self, role: &str) -> (String, String) {
        let reply = self
            .post(
                "/api/v1/api-keys",
                json!({"name": format!("{role} key"), "role": role}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        (
            reply.body["id"].as_str().unwrap().to_owned(),
            reply.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// The number of rows of a table, read straight from the database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let row = self
            .db
            .conn()
            .query_one_raw(Statement::from_string(
                self.db.backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

/// A link to the Redis at `url` as a server makes it (100 ms timeout), connected.
pub async fn redis_link(url: &str) -> api::redis_link::RedisLink {
    let link =
        api::redis_link::RedisLink::open(url, std::time::Duration::from_millis(100)).unwrap();
    link.establish().await.unwrap();
    link
}

/// The `p` quantile (0 to 1) of `latencies`, by rank (sorts them).
pub fn percentile(latencies: &mut [std::time::Duration], p: f64) -> std::time::Duration {
    latencies.sort();
    let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1));
    latencies.get(rank - 1).copied().unwrap_or_default()
}

/// The Redis used by tests that run several instances.
pub fn redis_url() -> String {
    std::env::var("CONCIERGE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Starts a conversation through REST on the server at `base` with `key` and returns its id.
pub async fn new_conversation(base: &str, key: &str, initial_message: Option<&str>) -> String {
    let created = reqwest::Client::new()
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(key)
        .json(&json!({"visitor": {"name": "Ann"}, "initial_message": initial_message}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Bootstraps a premium organization with `concierge bootstrap` and returns its owner key.
pub fn bootstrap_with_cli(settings: &Settings, name: &str) -> String {
    let boot = concierge_command(settings)
        .args([
            "bootstrap",
            "--org",
            name,
            "--plan",
            "premium",
            "--email",
            "owner@cli.test",
        ])
        .output()
        .unwrap();
    assert!(
        boot.status.success(),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );
    String::from_utf8_lossy(&boot.stdout)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ck_"))
        .unwrap()
        .to_owned()
}

/// The `concierge` binary, pointed at the same database as `settings`.
pub fn concierge_command(settings: &Settings) -> std::process::Command {
    use secrecy::ExposeSecret;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"));
    command
        .env("CONCIERGE_DATA_DIR", &settings.data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL");
    if let Some(url) = &settings.database_url {
        command.env("DATABASE_URL", url.expose_secret());
    }
    command.env_remove("REDIS_URL");
    if let Some(url) = &settings.redis_url {
        command.env("REDIS_URL", url.expose_secret());
    }
    command
}

/// `concierge serve` as a child process on a fixed port, for what only a process shows (a crash, a restart).
pub struct ServeProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServeProcess {
    pub async fn start(settings: &api::config::Settings, port: u16) -> Self {
        Self::start_with(settings, port, &[]).await
    }

    /// Like [`ServeProcess::start`], with more environment.
    pub async fn start_with(
        settings: &api::config::Settings,
        port: u16,
        env: &[(&str, String)],
    ) -> Self {
        let mut command = concierge_command(settings);
        command
            .arg("serve")
            .env("CONCIERGE_BIND", format!("127.0.0.1:{port}"))
            .env("CONCIERGE_EGRESS_ALLOW", "127.0.0.1/32")
            .env("CONCIERGE_WEBHOOK_RETRY_SCHEDULE", "1,1,1,1,1")
            .env("CONCIERGE_WEBHOOK_TIMEOUT_SECS", "1")
            .env("CONCIERGE_WEBHOOK_LEASE_SECS", "2")
            .env("CONCIERGE_RATE_LIMITS", "false");
        // After the defaults above, so that a test may change them.
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so that Drop kills and waits for it whatever happens below.
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client.get(format!("{}/readyz", server.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("concierge serve did not become ready on {}", server.base);
    }

    /// SIGKILL: no graceful shutdown, no flush, leases left behind.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where browser tests leave their screenshots for a person to look at: `target/widget-screenshots/`.
pub fn screenshots() -> PathBuf {
    let dir = root().join("target/widget-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The seconds of a response's `Retry-After`.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers["retry-after"].to_str().unwrap().parse().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `(event, data)` pairs of a server-sent event stream whose data is JSON.
pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (event, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

/// Runs `tests/peers/<script>` with node, from that folder (where its `node_modules` is), with `job` as JSON on
/// stdin, and answers how it ended. It runs on a blocking thread, so that servers on the test's runtime keep
/// answering it.
pub async fn node_peer(script: &str, job: &Value) -> std::process::Output {
    let peers = root().join("tests/peers");
    let script = peers.join(script);
    let input = job.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("node")
            .arg(script)
            .current_dir(peers)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("node runs");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .expect("the peer reads its job");
        child.wait_with_output().expect("the peer ends")
    })
    .await
    .expect("the peer's thread ends")
}
