//! A loopback stand-in for HubSpot, following its documented wire format: the OAuth authorize page and token
//! endpoint (`/oauth/v1/token`, 30-minute access tokens, `BAD_REFRESH_TOKEN`), refresh-token revocation, the
//! account-info call, CRM v3 contacts (search, create with 409 on a taken email, batch upsert by email or a unique property, read,
//! update), tickets with
//! their associations, contact properties, and its error bodies (`{"status":"error","message","category"}`):
//! 401 for an expired token, 429 with `X-HubSpot-RateLimit-*` headers, 400 `VALIDATION_ERROR`, 503 outages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};

pub const CLIENT_ID: &str = "hubspot-client-id";
pub const CLIENT_SECRET: &str = "hubspot-client-secret";
pub const PORTAL_ID: i64 = 62_515;

/// What the fake's authorization page does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// Sends the browser back with a code, as a person who clicks "Connect app" would.
    Grant,
    /// Sends it back with `error=access_denied`.
    Deny,
}

#[derive(Debug, Default)]
struct Inner {
    consent: Option<Consent>,
    /// code → redirect_uri it was issued for
    codes: HashMap<String, String>,
    /// access token → still valid
    access: HashMap<String, bool>,
    /// refresh tokens that work
    refresh: Vec<String>,
    revoked: Vec<String>,
    /// Answer 429 to this many API calls first.
    throttle: u32,
    counter: u64,
    /// Every request: method and path.
    seen: Vec<(String, String)>,
    /// The query of the last authorization request.
    last_authorize: HashMap<String, String>,
    contacts: Vec<Record>,
    tickets: Vec<Record>,
    /// Contact properties defined beyond HubSpot's own.
    properties: Vec<String>,
    /// The custom properties among them with `hasUniqueValue` (batch upserts may be keyed by them).
    unique_properties: Vec<String>,
    /// Answer 503 to this many API calls first.
    outage: u32,
    next_id: u64,
}

/// A contact or a ticket.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub properties: Map<String, Value>,
    /// Contact ids a ticket is associated with.
    pub associations: Vec<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone)]
pub struct FakeHubSpot {
    inner: Arc<Mutex<Inner>>,
    /// How long each answer takes.
    delay: Arc<Mutex<std::time::Duration>>,
    /// `http://127.0.0.1:port`
    pub base_url: String,
}

impl FakeHubSpot {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeHubSpot {
            inner: Arc::new(Mutex::new(Inner {
                consent: Some(Consent::Grant),
                ..Inner::default()
            })),
            delay: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/v1/token", post(token))
            .route("/oauth/v1/refresh-tokens/{token}", delete(revoke))
            .route("/account-info/v3/details", get(account_details))
            .route("/crm/v3/objects/contacts/search", post(search_contacts))
            .route("/crm/v3/objects/contacts", post(create_contact))
            .route(
                "/crm/v3/objects/contacts/batch/upsert",
                post(upsert_contacts),
            )
            .route(
                "/crm/v3/objects/contacts/{id}",
                get(read_contact).patch(update_contact),
            )
            .route("/crm/v3/objects/tickets", post(create_ticket))
            .route(
                "/crm/v3/objects/tickets/{id}",
                axum::routing::patch(update_ticket),
            )
            .route("/crm/v3/properties/contacts", post(create_property))
            .route("/crm/v3/properties/contacts/{name}", get(read_property))
            .layer(axum::middleware::from_fn_with_state(fake.clone(), slow))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    /// `hubspot=<origin>` for `CONCIERGE_PROVIDER_BASE_URLS`.
    pub fn base_urls(&self) -> String {
        format!("hubspot={}", self.base_url)
    }

    /// The environment a `concierge serve` process needs to reach this fake with the test's OAuth app.
    pub fn serve_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CONCIERGE_PROVIDER_BASE_URLS", self.base_urls()),
            ("CONCIERGE_OAUTH_HUBSPOT_CLIENT_ID", CLIENT_ID.to_owned()),
            (
                "CONCIERGE_OAUTH_HUBSPOT_CLIENT_SECRET",
                CLIENT_SECRET.to_owned(),
            ),
        ]
    }

    pub fn set_consent(&self, consent: Consent) {
        self.inner.lock().unwrap().consent = Some(consent);
    }

    /// Every access token issued so far stops working, as 30 minutes passing would do.
    pub fn expire_access_tokens(&self) {
        for valid in self.inner.lock().unwrap().access.values_mut() {
            *valid = false;
        }
    }

    /// The customer removed the app in HubSpot: refresh tokens stop working.
    pub fn revoke_all(&self) {
        let mut inner = self.inner.lock().unwrap();
        let tokens = std::mem::take(&mut inner.refresh);
        inner.revoked.extend(tokens);
        for valid in inner.access.values_mut() {
            *valid = false;
        }
    }

    /// The next `n` API calls answer 429.
    pub fn throttle(&self, n: u32) {
        self.inner.lock().unwrap().throttle = n;
    }

    /// Every answer takes `delay` from now on.
    pub fn delay(&self, delay: std::time::Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// The next `n` API calls answer 503, as an outage would.
    pub fn outage(&self, n: u32) {
        self.inner.lock().unwrap().outage = n;
    }

    /// A contact already in the CRM, last changed at `updated_at`.
    pub fn add_contact(
        &self,
        properties: Value,
        updated_at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        let id = format!("{}", 1000 + inner.next_id);
        inner.contacts.push(Record {
            id: id.clone(),
            properties: properties.as_object().cloned().unwrap_or_default(),
            associations: Vec::new(),
            updated_at,
        });
        id
    }

    pub fn contacts(&self) -> Vec<Record> {
        self.inner.lock().unwrap().contacts.clone()
    }

    pub fn tickets(&self) -> Vec<Record> {
        self.inner.lock().unwrap().tickets.clone()
    }

    /// Defines a custom contact property with unique values, as a customer does in HubSpot's settings.
    pub fn add_unique_property(&self, name: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.properties.push(name.to_owned());
        inner.unique_properties.push(name.to_owned());
    }

    pub fn properties(&self) -> Vec<String> {
        self.inner.lock().unwrap().properties.clone()
    }

    /// The requests received, as `METHOD /path`.
    pub fn seen(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.inner.lock().unwrap().revoked.clone()
    }

    pub fn last_authorize(&self) -> HashMap<String, String> {
        self.inner.lock().unwrap().last_authorize.clone()
    }

    fn note(&self, method: &str, path: &str) {
        self.inner
            .lock()
            .unwrap()
            .seen
            .push((method.to_owned(), path.to_owned()));
    }
}

/// Waits the configured delay before answering.
async fn slow(
    State(fake): State<FakeHubSpot>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let delay = *fake.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

fn hubspot_error(status: StatusCode, category: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "status": "error",
            "message": message,
            "correlationId": "c0ffee00-0000-4000-8000-000000000000",
            "category": category,
        })),
    )
        .into_response()
}

/// The consent page: it redirects straight back, as the person's click would.
async fn authorize(
    State(fake): State<FakeHubSpot>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    fake.note("GET", "/oauth/authorize");
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    let state = query.get("state").cloned().unwrap_or_default();
    let consent = {
        let mut inner = fake.inner.lock().unwrap();
        inner.last_authorize = query.clone();
        inner.consent.unwrap_or(Consent::Grant)
    };
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    match consent {
        Consent::Grant => {
            let code = format!("code-{}", uuid_like(&fake));
            fake.inner
                .lock()
                .unwrap()
                .codes
                .insert(code.clone(), redirect_uri.clone());
            back.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &state);
        }
        Consent::Deny => {
            back.query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("error_description", "The user declined to connect the app")
                .append_pair("state", &state);
        }
    }
    Redirect::to(back.as_str()).into_response()
}

fn uuid_like(fake: &FakeHubSpot) -> String {
    let mut inner = fake.inner.lock().unwrap();
    inner.counter += 1;
    format!("{:08x}{:08x}", inner.counter, rand_part())
}

fn rand_part() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// `POST /oauth/v1/token`, form-encoded, as HubSpot takes it.
async fn token(
    State(fake): State<FakeHubSpot>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.note("POST", "/oauth/v1/token");
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}),
            ),
        )
            .into_response();
    }
    let mut inner = fake.inner.lock().unwrap();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            match inner.codes.remove(&code) {
                Some(redirect) if Some(&redirect) == form.get("redirect_uri") => {}
                Some(_) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"status": "BAD_REDIRECT_URI", "message": "redirect_uri does not match"})),
                    )
                        .into_response();
                }
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"status": "BAD_AUTH_CODE", "message": "missing or unknown auth code"})),
                    )
                        .into_response();
                }
            }
        }
        Some("refresh_token") => {
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            if !inner.refresh.contains(&refresh) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"})),
                )
                    .into_response();
            }
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"status": "BAD_GRANT_TYPE", "message": "unknown grant_type"})),
            )
                .into_response();
        }
    }
    inner.counter += 1;
    let access = format!("hs-access-{}-{}", inner.counter, rand_part());
    inner.access.insert(access.clone(), true);
    // HubSpot keeps the refresh token across refreshes.
    let refresh = match form.get("refresh_token") {
        Some(existing) => existing.clone(),
        None => {
            let token = format!("hs-refresh-{}-{}", inner.counter, rand_part());
            inner.refresh.push(token.clone());
            token
        }
    };
    axum::Json(json!({
        "token_type": "bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 1800,
    }))
    .into_response()
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`: 204, and the token is gone.
async fn revoke(State(fake): State<FakeHubSpot>, Path(token): Path<String>) -> Response {
    fake.note("DELETE", "/oauth/v1/refresh-tokens/{token}");
    let mut inner = fake.inner.lock().unwrap();
    if let Some(index) = inner.refresh.iter().position(|t| *t == token) {
        let token = inner.refresh.remove(index);
        inner.revoked.push(token);
        StatusCode::NO_CONTENT.into_response()
    } else {
        hubspot_error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "refresh token not found",
        )
    }
}

/// Checks the bearer token of an API call; the error response when it does not pass (or the call is throttled).
fn authenticate(fake: &FakeHubSpot, headers: &HeaderMap) -> Option<Response> {
    let mut inner = fake.inner.lock().unwrap();
    if inner.outage > 0 {
        inner.outage -= 1;
        return Some(hubspot_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "HubSpot is temporarily unavailable.",
        ));
    }
    if inner.throttle > 0 {
        inner.throttle -= 1;
        let mut response = hubspot_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITS",
            "You have reached your secondly limit.",
        );
        let headers = response.headers_mut();
        headers.insert("x-hubspot-ratelimit-max", "100".parse().unwrap());
        headers.insert("x-hubspot-ratelimit-remaining", "0".parse().unwrap());
        headers.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            "10000".parse().unwrap(),
        );
        return Some(response);
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match inner.access.get(token) {
        Some(true) => None,
        Some(false) => Some(hubspot_error(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 0 second(s) ago.",
        )),
        None => Some(hubspot_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        )),
    }
}

/// `GET /account-info/v3/details`.
async fn account_details(State(fake): State<FakeHubSpot>, headers: HeaderMap) -> Response {
    fake.note("GET", "/account-info/v3/details");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    axum::Json(json!({
        "portalId": PORTAL_ID,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18_000_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response()
}

fn record_json(record: &Record) -> Value {
    json!({
        "id": record.id,
        "properties": record.properties,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": record.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "archived": false,
    })
}

/// HubSpot refuses properties it does not know (`VALIDATION_ERROR`).
fn unknown_property(
    inner: &Inner,
    properties: &Map<String, Value>,
    known: &[&str],
) -> Option<Response> {
    let unknown: Vec<&String> = properties
        .keys()
        .filter(|k| !known.contains(&k.as_str()) && !inner.properties.contains(k))
        .collect();
    unknown.first().map(|name| {
        hubspot_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("Property values were not valid: [{{\"isValid\":false,\"message\":\"Property \\\"{name}\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"{name}\"}}]"),
        )
    })
}

const CONTACT_PROPERTIES: [&str; 6] = [
    "firstname",
    "lastname",
    "email",
    "phone",
    "website",
    "lifecyclestage",
];
const TICKET_PROPERTIES: [&str; 6] = [
    "subject",
    "content",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "source_type",
];

async fn search_contacts(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST", "/crm/v3/objects/contacts/search");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let filter = &body["filterGroups"][0]["filters"][0];
    let (name, value) = (
        filter["propertyName"].as_str().unwrap_or_default(),
        filter["value"].as_str().unwrap_or_default(),
    );
    let inner = fake.inner.lock().unwrap();
    let results: Vec<Value> = inner
        .contacts
        .iter()
        .filter(|c| {
            c.properties
                .get(name)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
        .map(record_json)
        .collect();
    axum::Json(json!({"total": results.len(), "results": results})).into_response()
}

async fn create_contact(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST", "/crm/v3/objects/contacts");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    if let Some(refusal) = unknown_property(&inner, &properties, &CONTACT_PROPERTIES) {
        return refusal;
    }
    if let Some(email) = properties.get("email").and_then(Value::as_str)
        && let Some(existing) = inner
            .contacts
            .iter()
            .find(|c| c.properties.get("email").and_then(Value::as_str) == Some(email))
    {
        return hubspot_error(
            StatusCode::CONFLICT,
            "CONFLICT",
            &format!("Contact already exists. Existing ID: {}", existing.id),
        );
    }
    inner.next_id += 1;
    let record = Record {
        id: format!("{}", 1000 + inner.next_id),
        properties,
        associations: Vec::new(),
        updated_at: chrono::Utc::now(),
    };
    inner.contacts.push(record.clone());
    (StatusCode::CREATED, axum::Json(record_json(&record))).into_response()
}

async fn read_contact(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    fake.note("GET", "/crm/v3/objects/contacts/{id}");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    match inner.contacts.iter().find(|c| c.id == id) {
        Some(record) => axum::Json(record_json(record)).into_response(),
        None => hubspot_error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        ),
    }
}

async fn update_contact(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("PATCH", "/crm/v3/objects/contacts/{id}");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    if let Some(refusal) = unknown_property(&inner, &properties, &CONTACT_PROPERTIES) {
        return refusal;
    }
    match inner.contacts.iter_mut().find(|c| c.id == id) {
        Some(record) => {
            record.properties.extend(properties);
            record.updated_at = chrono::Utc::now();
            axum::Json(record_json(record)).into_response()
        }
        None => hubspot_error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        ),
    }
}

async fn create_ticket(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST", "/crm/v3/objects/tickets");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    if let Some(refusal) = unknown_property(&inner, &properties, &TICKET_PROPERTIES) {
        return refusal;
    }
    for required in ["subject", "hs_pipeline_stage"] {
        if !properties.contains_key(required) {
            return hubspot_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                &format!("Property values were not valid: {required} is required"),
            );
        }
    }
    let mut associations = Vec::new();
    for association in body["associations"].as_array().cloned().unwrap_or_default() {
        let to = association["to"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if association["types"][0]["associationTypeId"] != 16
            || !inner.contacts.iter().any(|c| c.id == to)
        {
            return hubspot_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "invalid association",
            );
        }
        associations.push(to);
    }
    inner.next_id += 1;
    let record = Record {
        id: format!("{}", 5000 + inner.next_id),
        properties,
        associations,
        updated_at: chrono::Utc::now(),
    };
    inner.tickets.push(record.clone());
    (StatusCode::CREATED, axum::Json(record_json(&record))).into_response()
}

async fn update_ticket(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("PATCH", "/crm/v3/objects/tickets/{id}");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    match inner.tickets.iter_mut().find(|t| t.id == id) {
        Some(record) => {
            record.properties.extend(properties);
            record.updated_at = chrono::Utc::now();
            axum::Json(record_json(record)).into_response()
        }
        None => hubspot_error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "resource not found",
        ),
    }
}

async fn read_property(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    fake.note("GET", "/crm/v3/properties/contacts/{name}");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    if inner.properties.contains(&name) || CONTACT_PROPERTIES.contains(&name.as_str()) {
        axum::Json(json!({"name": name, "type": "datetime"})).into_response()
    } else {
        hubspot_error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to find property {name}"),
        )
    }
}

async fn create_property(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST", "/crm/v3/properties/contacts");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let mut inner = fake.inner.lock().unwrap();
    if inner.properties.contains(&name) {
        return hubspot_error(
            StatusCode::CONFLICT,
            "OBJECT_ALREADY_EXISTS",
            "A property with that name already exists",
        );
    }
    if body["type"] != "datetime"
        || body["groupName"].as_str().is_none()
        || body["label"].as_str().is_none()
    {
        return hubspot_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "label, type and groupName are required",
        );
    }
    inner.properties.push(name);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// `POST /crm/v3/objects/contacts/batch/upsert` with `idProperty` email or a unique-value custom property: each
/// input updates the contact with that value or creates one; `new` says which.
async fn upsert_contacts(
    State(fake): State<FakeHubSpot>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST", "/crm/v3/objects/contacts/batch/upsert");
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    let mut results = Vec::new();
    for input in body["inputs"].as_array().cloned().unwrap_or_default() {
        let key = input["idProperty"].as_str().unwrap_or_default().to_owned();
        if key != "email" && !inner.unique_properties.contains(&key) {
            return hubspot_error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                &format!("{key} is not a unique identifier property"),
            );
        }
        let id = input["id"].as_str().unwrap_or_default().to_owned();
        let properties = input["properties"].as_object().cloned().unwrap_or_default();
        if let Some(refusal) = unknown_property(&inner, &properties, &CONTACT_PROPERTIES) {
            return refusal;
        }
        let existing = inner.contacts.iter().position(|c| {
            c.properties
                .get(&key)
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(&id))
        });
        let (record, new) = match existing {
            Some(index) => {
                let record = &mut inner.contacts[index];
                record.properties.extend(properties);
                record.updated_at = chrono::Utc::now();
                (record.clone(), false)
            }
            None => {
                inner.next_id += 1;
                let mut properties = properties;
                properties.insert(key.clone(), Value::String(id.clone()));
                let record = Record {
                    id: format!("{}", 1000 + inner.next_id),
                    properties,
                    associations: Vec::new(),
                    updated_at: chrono::Utc::now(),
                };
                inner.contacts.push(record.clone());
                (record, true)
            }
        };
        let mut result = record_json(&record);
        result["new"] = json!(new);
        results.push(result);
    }
    axum::Json(json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": "2026-01-01T00:00:00.000Z",
        "completedAt": "2026-01-01T00:00:00.100Z",
    }))
    .into_response()
}
