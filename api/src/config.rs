//! Typed settings, read once at start-up from the environment and an optional TOML file (`CONCIERGE_CONFIG`).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The base URL browsers reach this server at (`CONCIERGE_PUBLIC_URL`, else the bound address), as the server
/// writes it into links and embed snippets.
pub struct PublicUrl(pub std::sync::Arc<str>);

/// Variables read without the `CONCIERGE_` prefix, as other tools spell them.
pub const UNPREFIXED: [&str; 2] = ["DATABASE_URL", "REDIS_URL"];

/// Everything the server reads from its environment. The doc comment of each field is its entry in the
/// configuration reference (docs/reference/configuration.md, generated from this type's JSON Schema), so it
/// speaks to the operator.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
#[schemars(title = "Concierge configuration")]
pub struct Settings {
    /// The address and port the server listens on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where the SQLite database (`concierge.db`) and the generated master key (`master.key`, mode 0600) live.
    pub data_dir: PathBuf,
    /// The database: `postgres://user:password@host:5432/name` for PostgreSQL; unset, SQLite in the data
    /// directory (WAL mode).
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub database_url: Option<SecretString>,
    /// Redis (`redis://host:6379`), needed when several instances share a database: rate limits, live
    /// events (subscriptions, the widget's stream, knowledge-base index updates) and the pace of each
    /// integration's vendor calls go through it. Unset, each instance works alone in its own memory.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub redis_url: Option<SecretString>,
    /// Milliseconds any request, notice or vendor call waits for Redis. Past it, or while Redis is down, each
    /// does without: rate limits let requests through, live events are read from the database, vendor calls
    /// are paced per instance, and `/readyz` says `degraded` until Redis answers again.
    pub redis_timeout_ms: u64,
    /// Refuse to start when Redis cannot be reached, instead of starting degraded.
    pub redis_required: bool,
    /// Base64 of 32 random bytes that seals stored secrets (SSO client secrets, webhook signing secrets, AI
    /// provider keys) with AES-256-GCM. Unset, one is generated into the data directory on first start. Every
    /// instance that shares a database needs the same value. Back it up, but apart from the database backups
    /// it protects: without it the secrets in a backup cannot be opened.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub master_key: Option<SecretString>,
    /// The address browsers reach this server at (`https://support.example.com`): SSO redirect and metadata
    /// URLs are built from it, session cookies are `Secure` when it is https, and its origin counts as this
    /// server's for cookie-authenticated writes.
    pub public_url: Option<String>,
    /// Comma-separated networks (CIDRs) or host names that outbound calls (webhooks, identity providers, AI
    /// providers) may reach although the SSRF guard refuses them otherwise: private, loopback, link-local and
    /// CGNAT addresses and `localhost`. `127.0.0.1/32` lets a receiver on this machine get webhooks.
    pub egress_allow: Option<String>,
    /// Comma-separated origins (`https://partner.example`) whose browser pages may call `/api/v1` and
    /// `/graphql` with an API key in the `Authorization` header and read the answers. Unset, no page of another
    /// origin may. Cookies never count cross-origin: no origin, listed or not, gets
    /// `Access-Control-Allow-Credentials`. The widget's routes are not affected (each assistant lists the sites
    /// it may be embedded on).
    pub cors_origins: Option<String>,
    /// Comma-separated networks of the load balancers in front of the server. From them, the client address
    /// is the nearest untrusted address in `X-Forwarded-For` (what clients write further left is ignored); it
    /// is what per-address limits, the sign-in throttle, API keys' allowed networks and the audit log see.
    /// Unset, the connection's peer is the client.
    pub trusted_proxies: Option<String>,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// The size of the database connection pool of each instance.
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a database connection: while the database is restarting or every
    /// connection is busy for longer, the request answers 503 `UNAVAILABLE` with `Retry-After` instead of
    /// waiting, and nothing of it is applied. The pool reconnects by itself.
    pub db_acquire_timeout_ms: u64,
    /// The log format: `pretty` for people, `json` for log collectors (`RUST_LOG` filters either).
    pub log_format: String,
    /// The deepest GraphQL query accepted.
    pub graphql_max_depth: usize,
    /// The most points one GraphQL request may cost: each field counts one, a list counts its selection once
    /// per item it may return (`first`), and each alias counts. A request over it is refused before it runs.
    pub graphql_max_complexity: usize,
    /// GraphQL points each API key or member may spend per minute (`rateLimit` and the `X-RateLimit-*`
    /// headers show what is left; over it, 429 with `Retry-After`).
    pub graphql_points_per_minute: u32,
    /// Per-key request limits by plan (basic 60, standard 600, premium 6,000 a minute) and the GraphQL points
    /// budget; an operator whose own gateway limits requests may turn them off.
    pub rate_limits: bool,
    /// Seconds to wait before each retry of a failed webhook delivery, comma-separated; the list's length is
    /// the number of retries (the default spans about three and a half days). Each wait varies by ±10 %.
    pub webhook_retry_schedule: String,
    /// Failed delivery attempts in a row after which a webhook endpoint is disabled.
    pub webhook_disable_after: u32,
    /// Seconds one webhook delivery attempt may take.
    pub webhook_timeout_secs: u64,
    /// Seconds a claimed webhook delivery stays with one instance; if that instance dies, another sends it
    /// after this (at least twice the attempt timeout plus one second).
    pub webhook_lease_secs: u64,
    /// Seconds between looks at the webhook queue when nothing announced work. Deliveries queued on this
    /// instance, or on another through Redis, wake the sender at once, and so does a retry it scheduled; the
    /// poll finds the rest (a stopped instance's leases, retries scheduled before a restart).
    pub webhook_poll_secs: u64,
    /// Days events stay readable and replayable (`events`, subscriptions' `after`, webhook replays) before
    /// they are pruned.
    pub event_retention_days: u32,
    /// Seconds after which an open subscription authenticates its credential again. Changes made through the
    /// API (a revoked key, an ended session, a new role or plan) reach open subscriptions at once; this bounds
    /// expiry and changes made elsewhere.
    pub subscription_recheck_secs: u64,
    /// Events a shared subscription keeps for a subscriber that has not taken them yet (a connection whose
    /// client reads slowly). One further behind continues on a stream of its own, read back from the table:
    /// it misses nothing, but costs what an unshared subscription costs.
    pub subscription_backlog: usize,
    /// The largest message body, in bytes of UTF-8.
    pub message_max_bytes: usize,
    /// Where message attachments (screenshots) are kept: unset, the `attachments` folder of the data
    /// directory; `s3://bucket/prefix` for S3 or S3-compatible storage (with the `s3_*` settings).
    pub attachment_store: Option<String>,
    /// The S3-compatible endpoint (`https://s3.eu-central-1.amazonaws.com`, a MinIO or Ceph address); unset,
    /// AWS's for the region. `http://` is accepted only for it.
    pub s3_endpoint: Option<String>,
    /// The S3 region the bucket is in (any value for most S3-compatible servers).
    pub s3_region: String,
    /// The access key id for the S3 bucket; unset, the instance role of the machine (EC2 metadata) is used.
    pub s3_access_key_id: Option<String>,
    /// The secret access key that goes with `s3_access_key_id`.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub s3_secret_access_key: Option<SecretString>,
    /// The largest attachment (a screenshot), in bytes; larger uploads answer 413.
    pub attachment_max_bytes: usize,
    /// How many attachments one message may carry at most.
    pub attachment_max_count: usize,
    /// Seconds a signed attachment URL works (the console and the widget get a new one with each read).
    pub attachment_url_secs: u64,
    /// Organizations whose knowledge-base search index one instance keeps in memory; the least recently used
    /// is dropped and rebuilt from the database when it is asked again.
    pub retrieval_max_indexes: usize,
    /// The sentence-embedding model's folder (`config.json`, `tokenizer.json`, `model.safetensors` of a BERT-class
    /// model such as all-MiniLM-L6-v2, which `make` puts in `models/`). Without it, or when it cannot be read,
    /// the assistant ranks lexically only and `/readyz` says why.
    pub embedding_model: PathBuf,
    /// Widget sessions one client address may start per minute.
    pub widget_sessions_per_minute: u32,
    /// Other widget requests one client address may make per minute.
    pub widget_requests_per_minute: u32,
    /// Days a visitor's widget session lasts without being used.
    pub widget_session_idle_days: u32,
    /// Minutes without a request after which a member's session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a member's session ends, used or not.
    pub session_absolute_hours: u32,
    /// `vendor=origin,…` (`hubspot=http://127.0.0.1:9101`): every URL of that vendor (authorization, token and
    /// API calls) is sent to the given origin instead, path kept. For tests, staging and egress proxies;
    /// outbound calls still pass the SSRF guard.
    pub provider_base_urls: Option<String>,
    /// Seconds to wait before each retry of a failed integration job, comma-separated (about three days by
    /// default); a vendor's `Retry-After` is honoured when longer. Each wait varies by ±10 %.
    pub integration_retry_schedule: String,
    /// Seconds one call to a vendor may take.
    pub integration_timeout_secs: u64,
    /// Seconds a claimed integration job stays with one instance; if that instance dies, another runs it after
    /// this (at least a few times the call timeout, as a job makes several calls).
    pub integration_lease_secs: u64,
    /// The client id of the operator's HubSpot OAuth app; without it HubSpot is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_hubspot_client_id: Option<String>,
    /// The client secret of the operator's HubSpot OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_hubspot_client_secret: Option<SecretString>,
    /// The client id of the operator's Salesforce OAuth app; without it Salesforce is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_salesforce_client_id: Option<String>,
    /// The client secret of the operator's Salesforce OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_salesforce_client_secret: Option<SecretString>,
    /// The client id of the operator's Zoho CRM OAuth app; without it Zoho CRM is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_zoho_client_id: Option<String>,
    /// The client secret of the operator's Zoho CRM OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_zoho_client_secret: Option<SecretString>,
    /// The client id of the operator's Zendesk OAuth app; without it Zendesk is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_zendesk_client_id: Option<String>,
    /// The client secret of the operator's Zendesk OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_zendesk_client_secret: Option<SecretString>,
    /// The client id of the operator's Intercom OAuth app; without it Intercom is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_intercom_client_id: Option<String>,
    /// The client secret of the operator's Intercom OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_intercom_client_secret: Option<SecretString>,
    /// The client id of the operator's Mailchimp OAuth app; without it Mailchimp is listed as not configured. Register
    /// the redirect URI that `integrations` shows for it.
    pub oauth_mailchimp_client_id: Option<String>,
    /// The client secret of the operator's Mailchimp OAuth app.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub oauth_mailchimp_client_secret: Option<SecretString>,
}

/// The defaults: what the file and the environment leave out keeps these.
impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_timeout_ms: 100,
            redis_required: false,
            cors_origins: None,
            master_key: None,
            public_url: None,
            egress_allow: None,
            trusted_proxies: None,
            body_limit_bytes: 1024 * 1024,
            db_max_connections: 16,
            db_acquire_timeout_ms: 600,
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
            webhook_poll_secs: 1,
            event_retention_days: 30,
            subscription_recheck_secs: 60,
            subscription_backlog: 256,
            message_max_bytes: 8 * 1024,
            attachment_store: None,
            s3_endpoint: None,
            s3_region: "us-east-1".to_owned(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            attachment_max_bytes: 5 * 1024 * 1024,
            attachment_max_count: 4,
            attachment_url_secs: 300,
            retrieval_max_indexes: 1_000,
            embedding_model: PathBuf::from("models/all-MiniLM-L6-v2"),
            widget_sessions_per_minute: 10,
            widget_requests_per_minute: 120,
            widget_session_idle_days: 30,
            session_idle_minutes: 12 * 60,
            session_absolute_hours: 7 * 24,
            provider_base_urls: None,
            // About three days: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h, 24 h.
            integration_retry_schedule: "10,60,300,1800,7200,21600,43200,86400,86400".to_owned(),
            integration_timeout_secs: 15,
            integration_lease_secs: 120,
            oauth_hubspot_client_id: None,
            oauth_hubspot_client_secret: None,
            oauth_salesforce_client_id: None,
            oauth_salesforce_client_secret: None,
            oauth_zoho_client_id: None,
            oauth_zoho_client_secret: None,
            oauth_zendesk_client_id: None,
            oauth_zendesk_client_secret: None,
            oauth_intercom_client_id: None,
            oauth_intercom_client_secret: None,
            oauth_mailchimp_client_id: None,
            oauth_mailchimp_client_secret: None,
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
            .merge(Env::raw().only(&UNPREFIXED))
            .extract()
            .map_err(Box::new)
    }

    /// The environment variable of a setting (`bind` is `CONCIERGE_BIND`, `database_url` is `DATABASE_URL`).
    pub fn env_var(key: &str) -> String {
        let upper = key.to_ascii_uppercase();
        if UNPREFIXED.contains(&upper.as_str()) {
            upper
        } else {
            format!("CONCIERGE_{upper}")
        }
    }

    /// The JSON Schema of the configuration file and the environment: every setting with its type, default
    /// and description.
    pub fn json_schema() -> serde_json::Value {
        schemars::schema_for!(Settings).to_value()
    }

    /// Settings for tests and tools: the defaults with the given data dir and an unset database URL.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            ..Self::default()
        }
    }

    /// The operator's OAuth app for `provider` (`hubspot`…): its client id and secret, when both are set.
    pub fn oauth_app(&self, provider: &str) -> Option<(&str, &SecretString)> {
        let (id, secret) = match provider {
            "hubspot" => (
                &self.oauth_hubspot_client_id,
                &self.oauth_hubspot_client_secret,
            ),
            "salesforce" => (
                &self.oauth_salesforce_client_id,
                &self.oauth_salesforce_client_secret,
            ),
            "zoho" => (&self.oauth_zoho_client_id, &self.oauth_zoho_client_secret),
            "zendesk" => (
                &self.oauth_zendesk_client_id,
                &self.oauth_zendesk_client_secret,
            ),
            "intercom" => (
                &self.oauth_intercom_client_id,
                &self.oauth_intercom_client_secret,
            ),
            "mailchimp" => (
                &self.oauth_mailchimp_client_id,
                &self.oauth_mailchimp_client_secret,
            ),
            _ => return None,
        };
        match (id.as_deref(), secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.expose_secret().is_empty() => {
                Some((id, secret))
            }
            _ => None,
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
