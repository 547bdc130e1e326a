//! The one HTTP executor of every vendor call: it injects credentials, refreshes tokens ahead of expiry and once on
//! 401, paces each connection, reads the vendor's rate-limit answers, and records every call.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use entities::{integration, integration_call};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest::Method;
use reqwest::header::HeaderMap;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::db::Db;
use crate::egress;
use crate::error::{ApiError, ApiResult};
use crate::events::{names, outbox};
use crate::ids::{Kind, new_id};
use crate::secrets::Sealer;
use crate::service::integrations::IntegrationStatus;
use crate::service::integrations::endpoints::Endpoints;
use crate::service::integrations::providers::{self, Provider, TokenHeader};
use crate::service::now;

/// The most of a vendor's answer kept with a call.
pub const EXCERPT_CHARS: usize = 1000;
/// A token this close to its expiry is refreshed before it is used.
const REFRESH_AHEAD: i64 = 300;
/// How long one instance may hold a connection's refresh before another may take it over.
const REFRESH_LEASE: i64 = 30;
/// A `Retry-After` this short is waited out in place, once.
const WAIT_IN_PLACE: StdDuration = StdDuration::from_secs(1);

/// A connection's secrets, sealed as JSON at rest; never returned through the API.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .finish()
    }
}

fn sealing_context(id: &str) -> String {
    format!("integration-credentials:{id}")
}

impl Credentials {
    pub fn seal(&self, sealer: &Sealer, integration_id: &str) -> ApiResult<String> {
        let plain = serde_json::to_string(self).map_err(ApiError::internal)?;
        sealer.seal(&plain, &sealing_context(integration_id))
    }

    pub fn open(sealer: &Sealer, model: &integration::Model) -> ApiResult<Self> {
        let Some(sealed) = &model.credentials else {
            return Ok(Self::default());
        };
        let plain = sealer.open(sealed, &sealing_context(&model.id))?;
        serde_json::from_str(plain.expose_secret()).map_err(ApiError::internal)
    }
}

/// A connection ready to call its vendor: the row, its provider and its open credentials.
#[derive(Debug)]
pub struct Connection {
    pub model: integration::Model,
    pub provider: &'static Provider,
    pub credentials: Credentials,
}

impl Connection {
    pub fn open(sealer: &Sealer, model: integration::Model) -> ApiResult<Self> {
        let provider = providers::provider(&model.provider).ok_or_else(|| {
            ApiError::internal_msg(format!("stored integration provider {:?}", model.provider))
        })?;
        let credentials = Credentials::open(sealer, &model)?;
        Ok(Self {
            model,
            provider,
            credentials,
        })
    }
}

/// Why a vendor call did not give an answer to work with, classed the way the customer reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The vendor is limiting us; try again after this long if it said.
    RateLimited {
        retry_after: Option<StdDuration>,
        message: String,
    },
    /// The vendor refused the authorization for good: the customer must reconnect.
    Authorization(String),
    /// The vendor refused what was sent (a missing required field, a bad value).
    Validation(String),
    /// Several records match where one was expected.
    MultipleMatches(String),
    /// The vendor failed (5xx) or answered something unexpected.
    Vendor(String),
    /// The vendor could not be reached or did not answer in time.
    Network(String),
    /// The connection or the server is not set up for this call.
    Configuration(String),
}

impl Failure {
    /// The class stored with a call or a run.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::RateLimited { .. } => "rate_limited",
            Failure::Authorization(_) => "authorization",
            Failure::Validation(_) => "validation",
            Failure::MultipleMatches(_) => "multiple_matches",
            Failure::Vendor(_) => "vendor_error",
            Failure::Network(_) => "network",
            Failure::Configuration(_) => "configuration",
        }
    }

    /// The reason, in words.
    pub fn message(&self) -> &str {
        match self {
            Failure::RateLimited { message, .. }
            | Failure::Authorization(message)
            | Failure::Validation(message)
            | Failure::MultipleMatches(message)
            | Failure::Vendor(message)
            | Failure::Network(message)
            | Failure::Configuration(message) => message,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Failure::RateLimited { .. } | Failure::Vendor(_) | Failure::Network(_)
        )
    }
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        tracing::warn!(error = ?err, "integration bookkeeping failed");
        Failure::Vendor("the server could not record the call; it will be tried again".to_owned())
    }
}

/// One call to make: the URL is a template over the connection's account (`{api_base}` is the provider's API
/// origin), moved onto the configured origin.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub json: Option<Value>,
    /// What the call log shows instead of the path, when the path carries a secret.
    pub shown_as: Option<String>,
}

impl Call {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            query: Vec::new(),
            json: None,
            shown_as: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn post(url: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, url).json(body)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.json = Some(body);
        self
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }
}

/// What the vendor answered (any status the caller must judge: 2xx, 3xx and 4xx other than 401 and 429).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON, or `null` when it was empty or not JSON.
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer when it is a success; a validation failure with the vendor's own words otherwise.
    pub fn success(self, provider: &Provider) -> Result<Self, Failure> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(Failure::Validation(format!(
                "{} answered {}: {}",
                provider.name,
                self.status,
                vendor_message(&self.body, &self.text)
            )))
        }
    }
}

/// The message in a vendor's error body: HubSpot's `message`, Salesforce's `[{message, errorCode}]`, Zoho's
/// `{code, message}` or `data[0].message`, OAuth's `error_description`; else the start of the text.
pub fn vendor_message(body: &Value, text: &str) -> String {
    let first = body.as_array().and_then(|a| a.first()).unwrap_or(body);
    let data = first
        .get("data")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let message = first
        .get("message")
        .or_else(|| first.get("error_description"))
        .or_else(|| data.and_then(|d| d.get("message")))
        .or_else(|| first.get("error"))
        .and_then(Value::as_str);
    let code = first
        .get("errorCode")
        .or_else(|| first.get("code"))
        .or_else(|| data.and_then(|d| d.get("code")))
        .and_then(Value::as_str);
    match (message, code) {
        (Some(message), Some(code)) => format!("{message} ({code})"),
        (Some(message), None) => message.to_owned(),
        _ => excerpt(text),
    }
}

fn excerpt(text: &str) -> String {
    let mut cut = text.trim().to_owned();
    if cut.chars().count() > EXCERPT_CHARS {
        cut = cut.chars().take(EXCERPT_CHARS).collect::<String>() + "…";
    }
    cut
}

/// What a token endpoint answered.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    /// The provider's `token_metadata` fields found in the answer.
    pub metadata: Map<String, Value>,
}

/// Everything integrations share: the HTTP client behind the SSRF guard, the operator's OAuth apps, the
/// configured origins, the pacing of each connection and the refreshes under way in this instance.
pub struct Vendors {
    pub db: Db,
    pub sealer: Arc<Sealer>,
    pub settings: Arc<Settings>,
    pub endpoints: Endpoints,
    client: reqwest::Client,
    limiters: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where browsers reach this server: redirect URIs are built on it.
    pub public_url: Arc<str>,
}

impl std::fmt::Debug for Vendors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vendors")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Vendors {
    pub fn new(
        db: Db,
        sealer: Arc<Sealer>,
        settings: Arc<Settings>,
        public_url: Arc<str>,
    ) -> anyhow::Result<Self> {
        let endpoints = Endpoints::parse(settings.provider_base_urls.as_deref())?;
        let timeout = StdDuration::from_secs(settings.integration_timeout_secs.max(1));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Concierge/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(egress::guarded_resolver(settings.egress_allow.clone()))
            .build()?;
        let limiters = providers::PROVIDERS
            .iter()
            .map(|p| {
                let rate = NonZeroU32::new(p.requests_per_second).unwrap_or(NonZeroU32::MIN);
                (p.key, RateLimiter::keyed(Quota::per_second(rate)))
            })
            .collect();
        Ok(Self {
            db,
            sealer,
            settings,
            endpoints,
            client,
            limiters,
            refreshing: Mutex::default(),
            public_url,
        })
    }

    /// The redirect URI of `provider`, which the operator registers with the vendor's OAuth app.
    pub fn redirect_uri(&self, provider: &Provider) -> String {
        format!(
            "{}/integrations/{}/callback",
            self.public_url.trim_end_matches('/'),
            provider.key
        )
    }

    /// Whether the operator configured the OAuth app of `provider` (API-key providers need none).
    pub fn is_configured(&self, provider: &Provider) -> bool {
        !provider.is_oauth() || self.settings.oauth_app(provider.key).is_some()
    }

    /// The URL of a template over `account` (`{api_base}` first), on the configured origin.
    fn resolve(
        &self,
        provider: &Provider,
        account: &Value,
        template: &str,
    ) -> Result<url::Url, Failure> {
        let template = template.replace("{api_base}", provider.api_base);
        self.endpoints
            .url(provider, &template, account)
            .map_err(Failure::Configuration)
    }

    /// Makes one call for `connection`, refreshing its token ahead of expiry and once on 401, and records it
    /// (with `job_id` when it is made for a job).
    pub async fn call(
        &self,
        connection: &mut Connection,
        job_id: Option<&str>,
        call: &Call,
    ) -> Result<Answer, Failure> {
        if connection.provider.is_oauth() && self.expires_soon(&connection.model) {
            self.refresh(connection, false).await?;
        }
        let mut refreshed = false;
        let mut waited = false;
        loop {
            let answer = self.send(connection, job_id, call).await?;
            match answer.status {
                401 if connection.provider.is_oauth() && !refreshed => {
                    refreshed = true;
                    self.refresh(connection, true).await?;
                }
                401 | 403 if is_refused_authorization(&answer) => {
                    return Err(Failure::Authorization(format!(
                        "{} refused the authorization: {}",
                        connection.provider.name,
                        vendor_message(&answer.body, &answer.text)
                    )));
                }
                429 => {
                    let retry_after = retry_after(&answer.headers, connection.provider);
                    match retry_after {
                        Some(wait) if wait <= WAIT_IN_PLACE && !waited => {
                            waited = true;
                            tokio::time::sleep(wait).await;
                        }
                        _ => {
                            return Err(Failure::RateLimited {
                                retry_after,
                                message: format!(
                                    "{} is limiting requests (429){}",
                                    connection.provider.name,
                                    retry_after
                                        .map(|w| format!("; it asked to wait {} s", w.as_secs()))
                                        .unwrap_or_default()
                                ),
                            });
                        }
                    }
                }
                403 if answer.text.contains("REQUEST_LIMIT_EXCEEDED") => {
                    return Err(Failure::RateLimited {
                        retry_after: None,
                        message: format!(
                            "{} says the organization's daily API request limit is used up \
                             (REQUEST_LIMIT_EXCEEDED)",
                            connection.provider.name
                        ),
                    });
                }
                status if status >= 500 => {
                    return Err(Failure::Vendor(format!(
                        "{} failed ({status}): {}",
                        connection.provider.name,
                        vendor_message(&answer.body, &answer.text)
                    )));
                }
                _ => return Ok(answer),
            }
        }
    }

    fn expires_soon(&self, model: &integration::Model) -> bool {
        model
            .token_expires_at
            .is_some_and(|at| at - Duration::seconds(REFRESH_AHEAD) <= now())
    }

    /// One request with the connection's credentials, paced and recorded.
    async fn send(
        &self,
        connection: &Connection,
        job_id: Option<&str>,
        call: &Call,
    ) -> Result<Answer, Failure> {
        let provider = connection.provider;
        let mut url = self.resolve(provider, &connection.model.account, &call.url)?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        if let Some(limiter) = self.limiters.get(provider.key) {
            limiter.until_key_ready(&connection.model.id).await;
        }
        let mut request = self.client.request(call.method.clone(), url.clone());
        request = request.header("accept", "application/json");
        let credentials = &connection.credentials;
        if let Some(token) = &credentials.access_token {
            request = match provider.token_header {
                TokenHeader::Bearer => request.bearer_auth(token),
                TokenHeader::ZohoOauthtoken => {
                    request.header("authorization", format!("Zoho-oauthtoken {token}"))
                }
            };
        } else if let Some(key) = &credentials.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = &call.json {
            request = request.json(body);
        }
        let shown = call.shown_as.clone().unwrap_or_else(|| shown_path(&url));
        self.exchange(connection, job_id, &call.method, &url, shown, request)
            .await
    }

    /// Sends a request and records it; a failure to connect is a `Network` failure.
    async fn exchange(
        &self,
        connection: &Connection,
        job_id: Option<&str>,
        method: &Method,
        url: &url::Url,
        shown: String,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let guard = url
            .host()
            .and_then(|host| egress::refusal(&host, self.settings.egress_allow.as_deref()));
        let outcome = match guard {
            Some(reason) => Err(Failure::Configuration(format!(
                "refused by the SSRF guard: {reason}"
            ))),
            None => match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                    Ok(Answer {
                        status,
                        headers,
                        body,
                        text,
                    })
                }
                Err(err) => Err(Failure::Network(format!(
                    "{} could not be reached: {}",
                    connection.provider.name,
                    describe(&err)
                ))),
            },
        };
        let (status_code, class, text) = match &outcome {
            Ok(answer) => (
                Some(i32::from(answer.status)),
                classify(answer),
                excerpt(&answer.text),
            ),
            Err(failure) => (None, Some(failure.class()), failure.message().to_owned()),
        };
        let row = integration_call::ActiveModel {
            id: Set(new_id(Kind::IntegrationCall)),
            organization_id: Set(connection.model.organization_id.clone()),
            integration_id: Set(connection.model.id.clone()),
            job_id: Set(job_id.map(str::to_owned)),
            method: Set(method.as_str().to_owned()),
            path: Set(shown),
            status_code: Set(status_code),
            duration_ms: Set(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)),
            error_class: Set(class.map(str::to_owned)),
            excerpt: Set((!text.is_empty()).then_some(text)),
            created_at: Set(now()),
        };
        let txn = self.db.begin_write().await.map_err(ApiError::from)?;
        row.insert(&*txn).await.map_err(ApiError::from)?;
        txn.commit().await.map_err(ApiError::from)?;
        outcome
    }

    /// Exchanges an authorization code (with its PKCE verifier) at the token endpoint.
    pub async fn exchange_code(
        &self,
        connection: &Connection,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, Failure> {
        let redirect_uri = self.redirect_uri(connection.provider);
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier.to_owned()));
        }
        self.token_request(connection, form).await
    }

    /// A form POST to the provider's token endpoint with the operator's client credentials.
    async fn token_request(
        &self,
        connection: &Connection,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<Tokens, Failure> {
        let provider = connection.provider;
        let (client_id, client_secret) = self.settings.oauth_app(provider.key).ok_or_else(|| {
            Failure::Configuration(format!(
                "the server has no {} OAuth app configured (CONCIERGE_OAUTH_{}_CLIENT_ID and _CLIENT_SECRET)",
                provider.name,
                provider.key.to_ascii_uppercase()
            ))
        })?;
        form.push(("client_id", client_id.to_owned()));
        form.push(("client_secret", client_secret.expose_secret().to_owned()));
        let url = self.resolve(provider, &connection.model.account, provider.token_url)?;
        let request = self
            .client
            .post(url.clone())
            .header("accept", "application/json")
            .form(&form);
        let shown = shown_path(&url);
        let answer = self
            .exchange(connection, None, &Method::POST, &url, shown, request)
            .await?;
        if !answer.is_success() {
            let message = vendor_message(&answer.body, &answer.text);
            return Err(if answer.status >= 500 {
                Failure::Vendor(format!(
                    "{}'s token endpoint failed ({}): {message}",
                    provider.name, answer.status
                ))
            } else if answer.status == 429 {
                Failure::RateLimited {
                    retry_after: retry_after(&answer.headers, provider),
                    message: format!("{}'s token endpoint is limiting requests", provider.name),
                }
            } else if answer.status != 408 {
                // invalid_grant, invalid_client, HubSpot's BAD_REFRESH_TOKEN…: the grant or the client is
                // refused, and asking again will not change that.
                Failure::Authorization(format!(
                    "{} refused the authorization: {message}",
                    provider.name
                ))
            } else {
                Failure::Vendor(format!(
                    "{}'s token endpoint answered {}: {message}",
                    provider.name, answer.status
                ))
            });
        }
        // Zoho answers 200 with {"error": "invalid_code"} when a code is refused.
        if let Some(error) = answer.body.get("error").and_then(Value::as_str) {
            return Err(Failure::Authorization(format!(
                "{} refused the authorization: {error}",
                provider.name
            )));
        }
        let access_token = answer
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::Vendor(format!(
                    "{}'s token endpoint answered without an access token",
                    provider.name
                ))
            })?
            .to_owned();
        let mut metadata = Map::new();
        for field in provider.token_metadata {
            if let Some(value) = answer.body.get(*field).and_then(Value::as_str) {
                let origin = self
                    .endpoints
                    .vendor_origin(provider, value)
                    .map_err(Failure::Configuration)?;
                metadata.insert((*field).to_owned(), Value::String(origin));
            }
        }
        Ok(Tokens {
            access_token,
            refresh_token: answer
                .body
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            expires_in: answer.body.get("expires_in").and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
            metadata,
        })
    }

    /// Refreshes the connection's access token, once across instances: a task of this instance waits for the
    /// one refreshing; another instance's refresh is noticed through the row (its lease, then its new token).
    /// `force` refreshes even a token that is not about to expire (after a 401), unless someone already did.
    pub async fn refresh(&self, connection: &mut Connection, force: bool) -> Result<(), Failure> {
        let lock = {
            let mut refreshing = self
                .refreshing
                .lock()
                .map_err(|_| Failure::Vendor("a refresh lock was poisoned".to_owned()))?;
            refreshing
                .entry(connection.model.id.clone())
                .or_default()
                .clone()
        };
        let _held = lock.lock().await;
        let used_token = connection.credentials.access_token.clone();
        for _ in 0..40 {
            let current = self.reload(connection).await?;
            if current.status != IntegrationStatus::Connected.as_str() {
                return Err(Failure::Authorization(format!(
                    "the {} connection needs to be authorized again",
                    connection.provider.name
                )));
            }
            let renewed = connection.credentials.access_token != used_token;
            if renewed || (!force && !self.expires_soon(&connection.model)) {
                return Ok(());
            }
            if self
                .take_refresh_lease(&connection.model.id, connection.model.updated_at)
                .await?
            {
                return self.refresh_now(connection).await;
            }
            // Another instance is refreshing: its token shows up in the row.
            tokio::time::sleep(StdDuration::from_millis(250)).await;
        }
        Err(Failure::Vendor(format!(
            "the {} token refresh of another instance did not finish",
            connection.provider.name
        )))
    }

    /// Reads the connection's row and credentials again.
    async fn reload(&self, connection: &mut Connection) -> Result<integration::Model, Failure> {
        let model = integration::Entity::find_by_id(connection.model.id.clone())
            .one(self.db.conn())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| Failure::Configuration("the integration was deleted".to_owned()))?;
        connection.credentials = Credentials::open(&self.sealer, &model)?;
        connection.model = model.clone();
        Ok(model)
    }

    /// Takes the connection's refresh lease, if it is free and the row is still as read at `seen` (a refresh
    /// that another instance finished meanwhile changed it: then the new token is read instead).
    async fn take_refresh_lease(
        &self,
        id: &str,
        seen: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, Failure> {
        let at = now();
        let txn = self.db.begin_write().await.map_err(ApiError::from)?;
        let taken = integration::Entity::update_many()
            .col_expr(
                integration::Column::RefreshLeaseUntil,
                Expr::value(at + Duration::seconds(REFRESH_LEASE)),
            )
            .filter(integration::Column::Id.eq(id))
            .filter(integration::Column::UpdatedAt.eq(seen))
            .filter(
                Condition::any()
                    .add(integration::Column::RefreshLeaseUntil.is_null())
                    .add(integration::Column::RefreshLeaseUntil.lt(at)),
            )
            .exec(&*txn)
            .await
            .map_err(ApiError::from)?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(taken.rows_affected == 1)
    }

    /// Calls the token endpoint with the refresh token (holding the lease) and stores the outcome at once: the
    /// new tokens (a rotated refresh token included), or for a refusal the state that stops the connection's jobs.
    async fn refresh_now(&self, connection: &mut Connection) -> Result<(), Failure> {
        let Some(refresh_token) = connection.credentials.refresh_token.clone() else {
            let failure = Failure::Authorization(format!(
                "{} gave no refresh token and the access token expired",
                connection.provider.name
            ));
            self.refresh_refused(connection, &failure).await?;
            return Err(failure);
        };
        let outcome = self
            .token_request(
                connection,
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh_token.clone()),
                ],
            )
            .await;
        match outcome {
            Ok(tokens) => {
                let mut credentials = connection.credentials.clone();
                credentials.access_token = Some(tokens.access_token);
                if let Some(rotated) = tokens.refresh_token {
                    credentials.refresh_token = Some(rotated);
                }
                let mut account = connection.model.account.clone();
                if let Some(object) = account.as_object_mut() {
                    object.extend(tokens.metadata);
                }
                let at = now();
                let mut row = integration::ActiveModel::from(connection.model.clone());
                row.credentials = Set(Some(credentials.seal(&self.sealer, &connection.model.id)?));
                row.account = Set(account);
                row.token_expires_at = Set(tokens.expires_in.map(|s| at + Duration::seconds(s)));
                row.refresh_lease_until = Set(None);
                row.last_refreshed_at = Set(Some(at));
                row.refresh_failures = Set(0);
                row.updated_at = Set(at);
                let txn = self.db.begin_write().await.map_err(ApiError::from)?;
                let model = row.update(&*txn).await.map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                connection.model = model;
                connection.credentials = credentials;
                Ok(())
            }
            Err(failure @ Failure::Authorization(_)) => {
                self.refresh_refused(connection, &failure).await?;
                Err(failure)
            }
            Err(failure) => {
                let mut row = integration::ActiveModel::from(connection.model.clone());
                row.refresh_lease_until = Set(None);
                row.refresh_failures = Set(connection.model.refresh_failures + 1);
                row.last_error = Set(Some(failure.message().to_owned()));
                row.updated_at = Set(now());
                let txn = self.db.begin_write().await.map_err(ApiError::from)?;
                connection.model = row.update(&*txn).await.map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                Err(failure)
            }
        }
    }

    /// The vendor refused the grant for good: the connection waits for the customer to reconnect, its jobs are
    /// held, and `integration.auth_failed` says so.
    async fn refresh_refused(
        &self,
        connection: &mut Connection,
        failure: &Failure,
    ) -> Result<(), Failure> {
        let mut row = integration::ActiveModel::from(connection.model.clone());
        row.status = Set(IntegrationStatus::ReauthorizationRequired
            .as_str()
            .to_owned());
        row.refresh_lease_until = Set(None);
        row.refresh_failures = Set(connection.model.refresh_failures + 1);
        row.last_error = Set(Some(failure.message().to_owned()));
        row.updated_at = Set(now());
        let txn = self.db.begin_write().await.map_err(ApiError::from)?;
        connection.model = row.update(&*txn).await.map_err(ApiError::from)?;
        outbox::record(
            &txn,
            &connection.model.organization_id,
            names::INTEGRATION_AUTH_FAILED,
            None,
            json!({
                "integration_id": connection.model.id,
                "provider": connection.provider.key,
                "reason": failure.message(),
            }),
        )
        .await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(())
    }

    /// Gives up the grant at the vendor where it has a call for it; what the vendor answered, in words.
    pub async fn revoke(&self, connection: &Connection) -> Result<String, Failure> {
        use crate::service::integrations::providers::Revocation;
        let provider = connection.provider;
        let Some(token) = connection
            .credentials
            .refresh_token
            .clone()
            .or_else(|| connection.credentials.access_token.clone())
        else {
            return Ok("there was no token to revoke".to_owned());
        };
        let account = &connection.model.account;
        let (request, url, shown) = match provider.revocation {
            Revocation::None => {
                return Ok(format!(
                    "{} has no revocation call: remove the app in {} too",
                    provider.name, provider.name
                ));
            }
            Revocation::PostToken(template) => {
                let url = self.resolve(provider, account, template)?;
                let shown = shown_path(&url);
                (
                    self.client.post(url.clone()).form(&[("token", token)]),
                    url,
                    shown,
                )
            }
            Revocation::DeleteRefreshToken(template) => {
                let base = self.resolve(provider, account, template)?;
                let shown = format!("{}/…", base.path());
                let mut url = base;
                url.path_segments_mut()
                    .map_err(|()| Failure::Configuration("revocation URL".to_owned()))?
                    .push(&token);
                (self.client.delete(url.clone()), url, shown)
            }
        };
        let answer = self
            .exchange(
                connection,
                None,
                &request_method(&request),
                &url,
                shown,
                request,
            )
            .await?;
        if answer.is_success() {
            Ok(format!("{} revoked the authorization", provider.name))
        } else {
            Err(Failure::Vendor(format!(
                "{} did not revoke the authorization ({}): {}",
                provider.name,
                answer.status,
                vendor_message(&answer.body, &answer.text)
            )))
        }
    }
}

fn request_method(request: &reqwest::RequestBuilder) -> Method {
    request
        .try_clone()
        .and_then(|r| r.build().ok())
        .map_or(Method::POST, |r| r.method().clone())
}

/// The path and query of a URL, as the call log shows it.
fn shown_path(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The class of an answer, for the call log.
fn classify(answer: &Answer) -> Option<&'static str> {
    match answer.status {
        // A record that is not there is an answer the caller reads (a contact deleted meanwhile).
        200..=299 | 404 => None,
        300 => Some("multiple_matches"),
        401 => Some("authorization"),
        429 => Some("rate_limited"),
        403 if answer.text.contains("REQUEST_LIMIT_EXCEEDED") => Some("rate_limited"),
        400..=499 => Some("validation"),
        _ => Some("vendor_error"),
    }
}

/// Whether a 401 or 403 means the grant itself is refused (not a missing permission on one record).
fn is_refused_authorization(answer: &Answer) -> bool {
    answer.status == 401
        || answer.text.contains("INVALID_SESSION_ID")
        || answer.text.contains("INVALID_TOKEN")
}

/// How long the vendor asked to wait: `Retry-After` in seconds, else HubSpot's window length.
fn retry_after(headers: &HeaderMap, provider: &Provider) -> Option<StdDuration> {
    let seconds = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(StdDuration::from_secs);
    seconds.or_else(|| {
        let header = provider.rate_limit.interval_ms?;
        let remaining = provider
            .rate_limit
            .remaining
            .and_then(|name| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        (remaining == Some(0))
            .then(|| {
                headers
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(StdDuration::from_millis)
            })
            .flatten()
    })
}

/// A readable reason for a failed request, with the causes reqwest wraps.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut message = kind.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vendor_messages_are_read_from_each_vendors_error_shape() {
        assert_eq!(
            vendor_message(
                &json!([{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}]),
                ""
            ),
            "Session expired (INVALID_SESSION_ID)"
        );
        assert_eq!(
            vendor_message(
                &json!({"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"}),
                ""
            ),
            "Property values were not valid"
        );
        assert_eq!(
            vendor_message(
                &json!({"data": [{"code": "MANDATORY_NOT_FOUND", "message": "required field not found"}]}),
                ""
            ),
            "required field not found (MANDATORY_NOT_FOUND)"
        );
        assert_eq!(
            vendor_message(
                &json!({"error": "invalid_grant", "error_description": "expired"}),
                ""
            ),
            "expired"
        );
        assert_eq!(
            vendor_message(&Value::Null, "  Bad Gateway "),
            "Bad Gateway"
        );
    }

    #[test]
    fn hubspot_says_how_long_to_wait_through_its_window() {
        let hubspot = providers::provider("hubspot").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-hubspot-ratelimit-remaining", "0".parse().unwrap());
        headers.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            "10000".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers, hubspot),
            Some(StdDuration::from_secs(10))
        );
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            retry_after(&headers, hubspot),
            Some(StdDuration::from_secs(3))
        );
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let credentials = Credentials {
            access_token: Some("at-secret".to_owned()),
            refresh_token: Some("rt-secret".to_owned()),
            api_key: None,
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
