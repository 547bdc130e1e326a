//! The one HTTP executor of every vendor call: it injects credentials, has tokens refreshed (`tokens.rs`) ahead of
//! expiry and once on 401, paces each connection, reads the vendor's rate-limit answers, and records every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use entities::{integration, integration_call};
use reqwest::Method;
use reqwest::header::HeaderMap;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;

use crate::config::Settings;
use crate::db::Db;
use crate::egress;
use crate::error::ApiError;
use crate::ids::{Kind, new_id};
use crate::secrets::Sealer;
use crate::service::integrations::credentials::Connection;
use crate::service::integrations::endpoints::Endpoints;
use crate::service::integrations::pacing::Pacer;
use crate::service::integrations::providers::{self, KeyScheme, Provider, TokenHeader};
use crate::service::now;

/// The most of a vendor's answer kept with a call.
pub const EXCERPT_CHARS: usize = 1000;
/// A token this close to its expiry is refreshed before it is used.
const REFRESH_AHEAD: i64 = 300;
/// A `Retry-After` this short is waited out in place, once.
const WAIT_IN_PLACE: StdDuration = StdDuration::from_secs(1);

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
    /// A body sent as it is, with its content type (an upload).
    pub bytes: Option<(String, Vec<u8>)>,
    /// What the call log shows instead of the path, when the path carries a secret.
    pub shown_as: Option<String>,
    /// Headers the vendor asks for beyond authorization (Intercom's `Intercom-Version`).
    pub headers: Vec<(&'static str, String)>,
}

impl Call {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            query: Vec::new(),
            json: None,
            bytes: None,
            shown_as: None,
            headers: Vec::new(),
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

    /// Sends `body` as it is, as `content_type`.
    pub fn bytes(mut self, content_type: impl Into<String>, body: Vec<u8>) -> Self {
        self.bytes = Some((content_type.into(), body));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
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
    // Mailchimp's problem+json: {"type", "title", "status", "detail", "errors": [{"field", "message"}]}.
    if let (Some(title), Some(detail)) = (
        first.get("title").and_then(Value::as_str),
        first.get("detail").and_then(Value::as_str),
    ) {
        let fields = field_errors(first);
        return if fields.is_empty() {
            format!("{title}: {detail}")
        } else {
            format!("{title}: {detail} ({})", fields.join("; "))
        };
    }
    // Zendesk: {"error": "RecordInvalid", "description", "details": {"field": [{"description"}]}}.
    if let Some(details) = first.get("details").and_then(Value::as_object) {
        let said: Vec<String> = details
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|d| d.get("description").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        if !said.is_empty() {
            return said.join("; ");
        }
    }
    // Freshdesk and SendGrid: {"description"?, "errors": [{"field", "message"}]}.
    let said = field_errors(first);
    if !said.is_empty() {
        return said.join("; ");
    }
    let message = first
        .get("message")
        .or_else(|| first.get("error_description"))
        .or_else(|| data.and_then(|d| d.get("message")))
        .or_else(|| first.get("description"))
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

/// The `errors: [{field, message}]` of an error body, each as `field: message`.
fn field_errors(body: &Value) -> Vec<String> {
    body.get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let message = e.get("message").and_then(Value::as_str)?;
            Some(match e.get("field").and_then(Value::as_str) {
                Some(field) if !field.is_empty() => format!("{field}: {message}"),
                _ => message.to_owned(),
            })
        })
        .collect()
}

fn excerpt(text: &str) -> String {
    let mut cut = text.trim().to_owned();
    if cut.chars().count() > EXCERPT_CHARS {
        cut = cut.chars().take(EXCERPT_CHARS).collect::<String>() + "…";
    }
    cut
}

/// Everything integrations share: the HTTP client behind the SSRF guard, the operator's OAuth apps, the
/// configured origins, the pacing of each connection and the refreshes under way in this instance.
pub struct Vendors {
    pub db: Db,
    pub sealer: Arc<Sealer>,
    pub settings: Arc<Settings>,
    pub endpoints: Endpoints,
    pub(super) client: reqwest::Client,
    pacer: Pacer,
    pub(super) refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where browsers reach this server: redirect URIs are built on it.
    pub public_url: Arc<str>,
    /// The conversations' screenshots, forwarded to help desks.
    pub attachments: Arc<crate::service::attachments::Attachments>,
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
        redis: Option<crate::redis_link::RedisLink>,
        attachments: Arc<crate::service::attachments::Attachments>,
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
        let pacer = Pacer::new(providers::PROVIDERS, redis);
        Ok(Self {
            db,
            sealer,
            settings,
            endpoints,
            client,
            pacer,
            refreshing: Mutex::default(),
            public_url,
            attachments,
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
    pub(super) fn resolve(
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
        if connection.uses_oauth() && self.expires_soon(&connection.model) {
            self.refresh(connection, false).await?;
        }
        let mut refreshed = false;
        let mut waited = false;
        loop {
            let answer = self.send(connection, job_id, call).await?;
            match answer.status {
                401 if connection.uses_oauth() && !refreshed => {
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

    pub(super) fn expires_soon(&self, model: &integration::Model) -> bool {
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
        self.pacer.until_ready(provider, &connection.model.id).await;
        let mut request = self.client.request(call.method.clone(), url);
        request = request.header("accept", "application/json");
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let credentials = &connection.credentials;
        // A call that carries its own authorization (Mailchimp's metadata endpoint wants `OAuth <token>`).
        let authorized = call
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if authorized {
            // Sent as the call's headers say.
        } else if let Some(token) = &credentials.access_token {
            request = match provider.token_header {
                TokenHeader::Bearer => request.bearer_auth(token),
                TokenHeader::ZohoOauthtoken => {
                    request.header("authorization", format!("Zoho-oauthtoken {token}"))
                }
            };
        } else if let Some(key) = &credentials.api_key {
            request = match provider.key_scheme() {
                Some(KeyScheme::EmailToken) => request.basic_auth(
                    format!("{}/token", credentials.email.as_deref().unwrap_or_default()),
                    Some(key),
                ),
                Some(KeyScheme::KeyAsUser) => request.basic_auth(key, Some("X")),
                Some(KeyScheme::Bearer) | None => request.bearer_auth(key),
            };
        }
        if let Some(body) = &call.json {
            request = request.json(body);
        } else if let Some((content_type, body)) = &call.bytes {
            request = request
                .header("content-type", content_type.as_str())
                .body(body.clone());
        }
        self.exchange(connection, job_id, request, call.shown_as.clone())
            .await
    }

    /// Sends a request and records it (its path and query, or `shown` where they carry a secret); a failure to
    /// connect is a `Network` failure.
    pub(super) async fn exchange(
        &self,
        connection: &Connection,
        job_id: Option<&str>,
        request: reqwest::RequestBuilder,
        shown: Option<String>,
    ) -> Result<Answer, Failure> {
        let request = request
            .build()
            .map_err(|e| Failure::Configuration(format!("the request could not be built: {e}")))?;
        let method = request.method().clone();
        let shown = shown.unwrap_or_else(|| shown_path(request.url()));
        let started = Instant::now();
        let guard = request
            .url()
            .host()
            .and_then(|host| egress::refusal(&host, self.settings.egress_allow.as_deref()));
        let outcome = match guard {
            Some(reason) => Err(Failure::Configuration(format!(
                "refused by the SSRF guard: {reason}"
            ))),
            None => match self.client.execute(request).await {
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
                    egress::describe(&err)
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
pub(super) fn retry_after(headers: &HeaderMap, provider: &Provider) -> Option<StdDuration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let until_reset = || {
        let reset = header(provider.rate_limit.reset_epoch?)?;
        let wait = reset - chrono::Utc::now().timestamp();
        Some(StdDuration::from_secs(
            wait.clamp(0, 3600).unsigned_abs().max(1),
        ))
    };
    egress::retry_after(headers)
        .or_else(until_reset)
        .or_else(|| {
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
            vendor_message(
                &json!({"type": "https://mailchimp.com/developer/marketing/docs/errors/",
                    "title": "Invalid Resource", "status": 400,
                    "detail": "Your merge fields were invalid.",
                    "errors": [{"field": "COMPANY", "message": "Please enter a value"}]}),
                ""
            ),
            "Invalid Resource: Your merge fields were invalid. (COMPANY: Please enter a value)"
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
}
