//! Typed settings, read once at start-up from the environment and an optional TOML file (`CONCIERGE_CONFIG`).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Everything the server reads from its environment.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// SQLite file, generated master key and search index live here.
    pub data_dir: PathBuf,
    /// `postgres://…` switches to PostgreSQL; unset means SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Shared fan-out and rate limits across instances.
    pub redis_url: Option<SecretString>,
    /// Base64 of 32 bytes; encrypts secrets at rest.
    pub master_key: Option<SecretString>,
    /// Base URL used in SSO metadata, redirects and the embed snippet.
    pub public_url: Option<String>,
    /// Outbound allow-list that overrides the SSRF guard.
    pub egress_allow: Option<String>,
    /// Load balancers whose `X-Forwarded-For` gives the client address (comma-separated networks).
    pub trusted_proxies: Option<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest pool of database connections.
    pub db_max_connections: u32,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Deepest GraphQL query accepted.
    pub graphql_max_depth: usize,
    /// Most complex GraphQL query accepted.
    pub graphql_max_complexity: usize,
    /// Per-key rate limits by plan tier; an operator behind its own gateway may turn them off.
    pub rate_limits: bool,
    /// Seconds between webhook delivery attempts after the first, comma-separated; its length is the retry count.
    pub webhook_retry_schedule: String,
    /// Failed attempts in a row after which an endpoint is disabled.
    pub webhook_disable_after: u32,
    /// Seconds one delivery attempt may take.
    pub webhook_timeout_secs: u64,
    /// Seconds a claimed delivery stays with one instance; if it dies, another sends it after this.
    pub webhook_lease_secs: u64,
    /// Days events stay readable (and replayable) before they are pruned.
    pub event_retention_days: u32,
    /// Seconds after which an open subscription authenticates its credential again (changes to keys, roles and
    /// plans made through the API reach open subscriptions at once; this bounds expiry and out-of-band changes).
    pub subscription_recheck_secs: u64,
    /// Largest message body, in bytes of UTF-8.
    pub message_max_bytes: usize,
    /// Organizations whose knowledge-base index one instance keeps in memory (least recently used dropped).
    pub retrieval_max_indexes: usize,
    /// Widget sessions one client address may start per minute (the embed widget's public endpoint).
    pub widget_sessions_per_minute: u32,
    /// Widget requests one client address may make per minute, sessions aside.
    pub widget_requests_per_minute: u32,
    /// Days a widget session lasts without being used.
    pub widget_session_idle_days: u32,
    /// Minutes without a request after which a member's session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a member's session ends, used or not.
    pub session_absolute_hours: u32,
}

/// The defaults of DESIGN.md's configuration table.
#[derive(Serialize)]
struct Defaults {
    bind: &'static str,
    data_dir: &'static str,
    body_limit_bytes: usize,
    db_max_connections: u32,
    log_format: &'static str,
    graphql_max_depth: usize,
    graphql_max_complexity: usize,
    rate_limits: bool,
    webhook_retry_schedule: &'static str,
    webhook_disable_after: u32,
    webhook_timeout_secs: u64,
    webhook_lease_secs: u64,
    event_retention_days: u32,
    subscription_recheck_secs: u64,
    message_max_bytes: usize,
    retrieval_max_indexes: usize,
    widget_sessions_per_minute: u32,
    widget_requests_per_minute: u32,
    widget_session_idle_days: u32,
    session_idle_minutes: u32,
    session_absolute_hours: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080",
            data_dir: "./data",
            body_limit_bytes: 1024 * 1024,
            db_max_connections: 16,
            log_format: "pretty",
            graphql_max_depth: 15,
            graphql_max_complexity: 5_000,
            rate_limits: true,
            // About three and a half days: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h, 24 h.
            webhook_retry_schedule: "5,300,1800,7200,18000,36000,36000,50400,72000,86400",
            webhook_disable_after: 50,
            webhook_timeout_secs: 10,
            webhook_lease_secs: 30,
            event_retention_days: 30,
            subscription_recheck_secs: 60,
            message_max_bytes: 8 * 1024,
            retrieval_max_indexes: 1_000,
            widget_sessions_per_minute: 10,
            widget_requests_per_minute: 120,
            widget_session_idle_days: 30,
            session_idle_minutes: 12 * 60,
            session_absolute_hours: 7 * 24,
        }
    }
}

impl Settings {
    /// Reads the defaults, then the TOML file named by `CONCIERGE_CONFIG`, then the environment.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Ok(path) = std::env::var("CONCIERGE_CONFIG") {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("CONCIERGE_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .extract()
            .map_err(Box::new)
    }

    /// Settings for tests and tools: the defaults with the given data dir and an unset database URL.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        let defaults = Defaults::default();
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url: None,
            redis_url: None,
            master_key: None,
            public_url: None,
            egress_allow: None,
            trusted_proxies: None,
            body_limit_bytes: defaults.body_limit_bytes,
            db_max_connections: defaults.db_max_connections,
            log_format: defaults.log_format.to_owned(),
            graphql_max_depth: defaults.graphql_max_depth,
            graphql_max_complexity: defaults.graphql_max_complexity,
            rate_limits: defaults.rate_limits,
            webhook_retry_schedule: defaults.webhook_retry_schedule.to_owned(),
            webhook_disable_after: defaults.webhook_disable_after,
            webhook_timeout_secs: defaults.webhook_timeout_secs,
            webhook_lease_secs: defaults.webhook_lease_secs,
            event_retention_days: defaults.event_retention_days,
            subscription_recheck_secs: defaults.subscription_recheck_secs,
            message_max_bytes: defaults.message_max_bytes,
            retrieval_max_indexes: defaults.retrieval_max_indexes,
            widget_sessions_per_minute: defaults.widget_sessions_per_minute,
            widget_requests_per_minute: defaults.widget_requests_per_minute,
            widget_session_idle_days: defaults.widget_session_idle_days,
            session_idle_minutes: defaults.session_idle_minutes,
            session_absolute_hours: defaults.session_absolute_hours,
        }
    }

    /// Whether the public URL is https, so that session cookies are marked `Secure`.
    pub fn public_url_is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.to_ascii_lowercase().starts_with("https://"))
    }

    /// How often an open subscription authenticates again (at least once a second).
    pub fn subscription_recheck(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.subscription_recheck_secs.max(1))
    }

    /// The database to connect to: `DATABASE_URL`, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.expose_secret().is_empty() => url.expose_secret().to_owned(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("concierge.db").display()
            ),
        }
    }
}
