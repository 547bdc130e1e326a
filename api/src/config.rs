//! Typed settings, read once at start-up from the environment and an optional TOML file (`CONCIERGE_CONFIG`).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything the server reads from its environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
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
    /// The most points one GraphQL request may cost: each field counts one, and a list counts its selection once
    /// per item it may return.
    pub graphql_max_complexity: usize,
    /// GraphQL points each API key or member may spend per minute (with `rate_limits` on).
    pub graphql_points_per_minute: u32,
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

/// The defaults of DESIGN.md's configuration table; what the file and the environment leave out keeps these.
impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            master_key: None,
            public_url: None,
            egress_allow: None,
            trusted_proxies: None,
            body_limit_bytes: 1024 * 1024,
            db_max_connections: 16,
            log_format: "pretty".to_owned(),
            graphql_max_depth: 15,
            graphql_max_complexity: 25_000,
            graphql_points_per_minute: crate::ratelimit::DEFAULT_POINTS_PER_MINUTE,
            rate_limits: true,
            // About three and a half days: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h, 24 h.
            webhook_retry_schedule: "5,300,1800,7200,18000,36000,36000,50400,72000,86400"
                .to_owned(),
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
        let mut figment = Figment::new();
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
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            ..Self::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_environment_leaves_out_keeps_the_documented_defaults() {
        // The suite sets only CONCIERGE_TEST_* variables, which are not settings.
        let settings = Settings::load().unwrap();
        assert_eq!(settings.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(settings.data_dir, PathBuf::from("./data"));
        assert_eq!(settings.body_limit_bytes, 1_048_576);
        assert_eq!(settings.log_format, "pretty");
        assert_eq!(
            settings.webhook_retry_schedule,
            "5,300,1800,7200,18000,36000,36000,50400,72000,86400"
        );
        assert_eq!(settings.event_retention_days, 30);
        assert_eq!(settings.session_idle_minutes, 720);
        assert_eq!(settings.session_absolute_hours, 168);
        assert!(settings.rate_limits);
        let test = Settings::for_data_dir(PathBuf::from("/tmp/x"));
        assert_eq!(test.bind.port(), 0);
        assert_eq!(test.message_max_bytes, settings.message_max_bytes);
    }
}
