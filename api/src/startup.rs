//! Builds the application: connects and migrates the database, builds the router, binds the listener.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::auth;
use crate::config::Settings;
use crate::db::Db;
use crate::error::ApiError;
use crate::graphql::{self, build_schema};
use crate::ratelimit::RateLimits;
use crate::rest;
use crate::service::identity::key_usage::Usage;
use crate::state::AppState;
use crate::workers::Workers;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    deliverer: crate::workers::deliveries::Deliverer,
    jobs: crate::workers::integrations::JobRunner,
}

impl Application {
    /// Connects to and migrates the database, then binds `settings.bind` (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&settings).await?;
        db.migrate().await?;
        Self::build_with_db(settings, db).await
    }

    /// Builds on an already connected and migrated database.
    pub async fn build_with_db(settings: Settings, mut db: Db) -> anyhow::Result<Self> {
        let widget_quotas = crate::ratelimit::WidgetQuotas::new(
            settings.widget_sessions_per_minute,
            settings.widget_requests_per_minute,
        );
        let redis = redis_link(&settings).await?;
        let rate_limits = match &redis {
            Some(link) => {
                // Live events fan out to every instance's subscribers through Redis pub/sub.
                db.share_events(crate::events::bus::Bus::with_redis(link.clone()));
                RateLimits::with_redis(
                    link.clone(),
                    settings.rate_limits,
                    widget_quotas,
                    settings.graphql_points_per_minute,
                )
            }
            None => RateLimits::new(
                settings.rate_limits,
                widget_quotas,
                settings.graphql_points_per_minute,
            ),
        };
        let authz = crate::authz::Authz::load(&db).await?;
        let model = crate::assistant::embedding::Model::load_in_background(
            settings.embedding_model.clone(),
        );
        let retriever =
            crate::service::knowledge_base::retriever(&db, settings.retrieval_max_indexes, model);
        let sealer = Arc::new(crate::secrets::Sealer::from_settings(&settings)?);
        let engine = crate::assistant::Engine::new(retriever, sealer.clone(), &settings)?;
        let idp = Arc::new(crate::service::identity::sso::idp::IdpClient::new(
            settings.egress_allow.clone(),
        )?);
        let listener = TcpListener::bind(settings.bind).await.map_err(|err| {
            anyhow::anyhow!("cannot listen on {} (CONCIERGE_BIND): {err}", settings.bind)
        })?;
        // Where browsers reach us: SSO redirects and callbacks are built on it.
        let public_url = match &settings.public_url {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
            _ => format!("http://{}", listener.local_addr()?),
        };
        let trusted_proxies =
            crate::auth::proxies::TrustedProxies::parse(settings.trusted_proxies.as_deref())?;
        let public_url: Arc<str> = public_url.into();
        let settings = Arc::new(settings);
        let attachments = Arc::new(crate::service::attachments::Attachments::from_settings(
            &settings,
            sealer.clone(),
            public_url.clone(),
        )?);
        let vendors = Arc::new(crate::service::integrations::executor::Vendors::new(
            db.clone(),
            sealer.clone(),
            settings.clone(),
            public_url.clone(),
            // Vendor calls are paced per connection across instances when Redis is shared.
            redis.clone(),
            attachments.clone(),
        )?);
        let state = AppState {
            attachments,
            trusted_proxies,
            idp,
            vendors,
            public_url,
            schema: build_schema(&settings),
            db,
            authz,
            sealer,
            engine,
            login_throttle: Arc::default(),
            fanout: Arc::new(crate::graphql::fanout::Hub::new(
                settings.subscription_backlog,
            )),
            rate_limits: Arc::new(rate_limits),
            redis,
            usage: Arc::new(Usage::default()),
            settings,
        };
        let deliverer = crate::workers::deliveries::Deliverer::new(
            state.db.clone(),
            state.sealer.clone(),
            state.authz.clone(),
            &state.settings,
        )?;
        let jobs = crate::workers::integrations::JobRunner::new(
            state.vendors.clone(),
            state.authz.clone(),
        )?;
        let router = router(state.clone())?;
        Ok(Self {
            listener,
            router,
            state,
            deliverer,
            jobs,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state (tests read the statement counter through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, finishing in-flight requests first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, finishing in-flight requests first, then stops the background work.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "listening");
        let service = self
            .router
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let workers = Workers::start(&self.state, self.deliverer, self.jobs);
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(signal)
            .await;
        workers.stop().await;
        served
    }
}

/// The link to `REDIS_URL`, if set. Redis down at start: the server starts degraded (it says so, and connects
/// when Redis answers), or refuses to start when `CONCIERGE_REDIS_REQUIRED` is set.
async fn redis_link(settings: &Settings) -> anyhow::Result<Option<crate::redis_link::RedisLink>> {
    let Some(url) = settings
        .redis_url
        .as_ref()
        .filter(|url| !url.expose_secret().is_empty())
    else {
        return Ok(None);
    };
    let link = crate::redis_link::RedisLink::open(
        url.expose_secret(),
        Duration::from_millis(settings.redis_timeout_ms.max(1)),
    )?;
    if let Err(reason) = link.establish().await {
        if settings.redis_required {
            anyhow::bail!(
                "cannot reach Redis at {} ({reason}); check REDIS_URL, or unset CONCIERGE_REDIS_REQUIRED to start without it",
                link.address()
            );
        }
        tracing::warn!(
            address = link.address(),
            reason,
            "cannot reach Redis (REDIS_URL): starting degraded, connecting when it answers"
        );
    }
    Ok(Some(link))
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The whole HTTP surface with its middleware; refuses a `CONCIERGE_CORS_ORIGINS` entry that is no origin.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let body_limit = state.settings.body_limit_bytes;
    let trusted_proxies = state.trusted_proxies.clone();
    // Everything behind the API key: authenticated and rate-limited once, before the handlers.
    let rest = rest::api(state.settings.attachment_max_bytes);
    let authenticated = Router::new()
        .route(
            "/graphql",
            get(graphql::http::get).post(graphql::http::post),
        )
        .nest("/api/v1", rest.authenticated)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::layer::authenticate,
        ));
    let cors = crate::cors::layer(state.settings.cors_origins.as_deref())?;
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/graphql/ws", get(graphql::ws::handler))
        .nest("/api/v1", rest.public)
        .nest("/widget/v1", rest::widget::router(state.clone()))
        .merge(rest::sso::router())
        .merge(rest::integration_callback::router())
        .merge(crate::downloads::router())
        .merge(crate::email_pages::router())
        .merge(crate::web::router())
        .merge(authenticated)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    // Around everything (authentication and the method routing), so that a preflight, which carries no key
    // and whose method no route has, is answered.
    let router = match cors {
        Some(cors) => router.layer(middleware::from_fn_with_state(cors, crate::cors::apply)),
        None => router,
    };
    Ok(router
        .layer(axum::Extension(trusted_proxies))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal_msg("handler panicked").into_response()
        }))
        .layer(middleware::map_response(harden))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid)))
}

/// Headers every response carries unless its handler set its own: no content sniffing, and an HTML page
/// (the REST reference, the sign-in and connection results) framed by no site and leaking no referrer. Pages
/// with their own policy (the console, GraphiQL, the email pages) keep it.
async fn harden(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if html {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
        headers
            .entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("no-referrer"));
    }
    response
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when the database answers; `embedding_model` says whether answers rank semantically too (`ready`,
/// `loading`, or `unavailable: why`: the server then ranks lexically, and is still ready). With Redis configured
/// and unreachable the status is `degraded` (still 200: the API serves) and `redis` says why and since when.
async fn readyz(State(state): State<AppState>) -> Response {
    let model = state.engine.retriever().model().status();
    let (status, mut body) = match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            json!({"status": "ready", "database": "ok", "embedding_model": model}),
        ),
        Err(err) => {
            tracing::warn!(%err, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable", "database": "unreachable", "embedding_model": model}),
            )
        }
    };
    if let Some(link) = &state.redis {
        body["redis"] = match link.outage() {
            None => json!({"status": "ok", "address": link.address()}),
            Some(outage) => {
                if status == StatusCode::OK {
                    body["status"] = json!("degraded");
                }
                json!({
                    "status": "unreachable",
                    "address": link.address(),
                    "reason": outage.reason,
                    "since": outage.since,
                    "requests_not_rate_limited": state.rate_limits.let_through(),
                })
            }
        };
    }
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("method not allowed on this route".to_owned())
}
