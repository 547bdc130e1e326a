//! The state shared by every request: database, GraphQL schema and settings.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::graphql::AppSchema;
use crate::ratelimit::RateLimits;
use crate::service::identity::key_usage::Usage;

/// Cloned into every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// The Casbin enforcer every principal is judged by.
    pub authz: Arc<crate::authz::Authz>,
    /// Seals and opens secrets at rest under the master key.
    pub sealer: Arc<crate::secrets::Sealer>,
    /// Failed sign-ins per client address.
    pub login_throttle: Arc<crate::service::identity::signin::LoginThrottle>,
    pub schema: AppSchema,
    pub settings: Arc<Settings>,
    pub rate_limits: Arc<RateLimits>,
    /// The link to Redis, when `REDIS_URL` is set (`/readyz` reports its outages).
    pub redis: Option<crate::redis_link::RedisLink>,
    pub usage: Arc<Usage>,
    /// The assistant engine: this instance's knowledge-base indexes, message analysis and the AI provider
    /// client.
    pub engine: crate::assistant::Engine,
    /// The HTTP client for identity providers (SSRF-guarded, no redirects).
    pub idp: Arc<crate::service::identity::sso::idp::IdpClient>,
    /// Integrations' vendor calls: the guarded HTTP client, the OAuth apps, the configured origins.
    pub vendors: Arc<crate::service::integrations::executor::Vendors>,
    /// Message attachments: their store, limits and signed URLs.
    pub attachments: Arc<crate::service::attachments::Attachments>,
    /// Load balancers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::auth::proxies::TrustedProxies,
    /// The shared executions of live subscriptions (`graphql::fanout`).
    pub fanout: Arc<crate::graphql::fanout::Hub>,
    /// The base URL browsers reach this server at (`CONCIERGE_PUBLIC_URL`, else the bound address).
    pub public_url: Arc<str>,
}
