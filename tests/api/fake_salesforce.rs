//! A loopback stand-in for Salesforce, following its documented wire format: the web-server OAuth flow with PKCE
//! (`/services/oauth2/authorize`, `/token` answering `instance_url` and no `expires_in`, `/revoke`), the REST API's
//! limits, a SOQL query over contacts, sObject create, read and update of contacts and cases, the upsert of a
//! contact by an External ID field (`300 Multiple Choices` with the matching records when several carry the
//! value), and its error bodies (`[{"message","errorCode","fields"}]`): `INVALID_SESSION_ID` for an expired
//! session, `REQUIRED_FIELD_MISSING`, `REQUEST_LIMIT_EXCEEDED` and 503 outages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "salesforce-consumer-key";
pub const CLIENT_SECRET: &str = "salesforce-consumer-secret";
const VERSION: &str = "v60.0";

/// A contact or a case.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub fields: Map<String, Value>,
    pub modified_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    /// code → (redirect_uri, code_challenge)
    codes: HashMap<String, (String, Option<String>)>,
    access: HashMap<String, bool>,
    refresh: Vec<String>,
    revoked: Vec<String>,
    /// What the token endpoint answers as `instance_url`; the fake's own origin when unset.
    instance_url: Option<String>,
    contacts: Vec<Record>,
    cases: Vec<Record>,
    /// Answer REQUEST_LIMIT_EXCEEDED to this many API calls.
    limit_exceeded: u32,
    outage: u32,
    next: u64,
    seen: Vec<String>,
    /// Whether the last code exchange carried a verifier that matched its challenge.
    pkce_verified: Option<bool>,
    /// Each refresh answers a new refresh token and the old one stops working (the connected app's rotation).
    rotate: bool,
    /// Refresh grants answered.
    refreshes: usize,
    /// The Contact fields marked External ID (upserts are keyed by them).
    external_ids: Vec<String>,
}

#[derive(Clone)]
pub struct FakeSalesforce {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeSalesforce {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let data = format!("/services/data/{VERSION}");
        let router = Router::new()
            .route("/services/oauth2/authorize", get(authorize))
            .route("/services/oauth2/token", post(token))
            .route("/services/oauth2/revoke", post(revoke))
            .route(&format!("{data}/limits"), get(limits))
            .route(&format!("{data}/query"), get(query))
            .route(&format!("{data}/sobjects/{{object}}"), post(create))
            .route(
                &format!("{data}/sobjects/{{object}}/{{id}}"),
                get(read).patch(update),
            )
            .route(
                &format!("{data}/sobjects/{{object}}/{{field}}/{{value}}"),
                axum::routing::patch(upsert),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("salesforce={}", self.base_url)
    }

    /// The token endpoint answers this `instance_url` from now on.
    pub fn hand_back_instance_url(&self, url: &str) {
        self.inner.lock().unwrap().instance_url = Some(url.to_owned());
    }

    pub fn expire_sessions(&self) {
        for valid in self.inner.lock().unwrap().access.values_mut() {
            *valid = false;
        }
    }

    pub fn exceed_limit(&self, n: u32) {
        self.inner.lock().unwrap().limit_exceeded = n;
    }

    pub fn outage(&self, n: u32) {
        self.inner.lock().unwrap().outage = n;
    }

    pub fn add_contact(&self, fields: Value, modified_at: chrono::DateTime<chrono::Utc>) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let id = format!("003{:015}", inner.next);
        inner.contacts.push(Record {
            id: id.clone(),
            fields: fields.as_object().cloned().unwrap_or_default(),
            modified_at,
        });
        id
    }

    /// Marks a Contact field External ID, as an admin does in Setup.
    pub fn add_external_id_field(&self, field: &str) {
        self.inner
            .lock()
            .unwrap()
            .external_ids
            .push(field.to_owned());
    }

    pub fn contacts(&self) -> Vec<Record> {
        self.inner.lock().unwrap().contacts.clone()
    }

    pub fn cases(&self) -> Vec<Record> {
        self.inner.lock().unwrap().cases.clone()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.inner.lock().unwrap().revoked.clone()
    }

    /// From now on, each refresh rotates the refresh token.
    pub fn rotate_refresh_tokens(&self) {
        self.inner.lock().unwrap().rotate = true;
    }

    pub fn refreshes(&self) -> usize {
        self.inner.lock().unwrap().refreshes
    }

    pub fn pkce_verified(&self) -> Option<bool> {
        self.inner.lock().unwrap().pkce_verified
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    fn note(&self, what: String) {
        self.inner.lock().unwrap().seen.push(what);
    }
}

fn errors(status: StatusCode, code: &str, message: &str, fields: &[&str]) -> Response {
    (
        status,
        axum::Json(json!([{"message": message, "errorCode": code, "fields": fields}])),
    )
        .into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(
    State(fake): State<FakeSalesforce>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    fake.note("GET /services/oauth2/authorize".to_owned());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "error=invalid_client_id").into_response();
    }
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    inner.next += 1;
    let code = format!("aPrx{}", inner.next);
    inner.codes.insert(
        code.clone(),
        (redirect.clone(), query.get("code_challenge").cloned()),
    );
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", query.get("state").map_or("", String::as_str));
    Redirect::to(back.as_str()).into_response()
}

async fn token(
    State(fake): State<FakeSalesforce>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.note("POST /services/oauth2/token".to_owned());
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    let mut inner = fake.inner.lock().unwrap();
    let refresh = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some((redirect, challenge)) = inner.codes.remove(&code) else {
                return oauth_error("invalid_grant", "invalid authorization code");
            };
            if Some(&redirect) != form.get("redirect_uri") {
                return oauth_error(
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                );
            }
            if let Some(challenge) = challenge {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()));
                inner.pkce_verified = Some(digest == challenge);
                if digest != challenge {
                    return oauth_error("invalid_grant", "invalid code verifier");
                }
            }
            inner.next += 1;
            let token = format!("5Aep{}", inner.next);
            inner.refresh.push(token.clone());
            Some(token)
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            if !inner.refresh.contains(&token) {
                return oauth_error("invalid_grant", "expired access/refresh token");
            }
            inner.refreshes += 1;
            if inner.rotate {
                inner.refresh.retain(|t| *t != token);
                inner.next += 1;
                let rotated = format!("5Aep{}", inner.next);
                inner.refresh.push(rotated.clone());
                Some(rotated)
            } else {
                None
            }
        }
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    inner.next += 1;
    let access = format!("00Dxx!{}", inner.next);
    inner.access.insert(access.clone(), true);
    let instance = inner
        .instance_url
        .clone()
        .unwrap_or_else(|| fake.base_url.clone());
    let mut body = json!({
        "access_token": access,
        "instance_url": instance,
        "id": format!("{}/id/00Dxx0000001gPL/005xx000001Sv6e", fake.base_url),
        "token_type": "Bearer",
        "issued_at": "1796550000000",
        "signature": "c2lnbmF0dXJl",
        "scope": "api refresh_token",
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    axum::Json(body).into_response()
}

async fn revoke(
    State(fake): State<FakeSalesforce>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.note("POST /services/oauth2/revoke".to_owned());
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    match inner.refresh.iter().position(|t| *t == token) {
        Some(index) => {
            let token = inner.refresh.remove(index);
            inner.revoked.push(token);
            StatusCode::OK.into_response()
        }
        None => oauth_error("unsupported_token_type", "this token type is not supported"),
    }
}

/// The session check of every REST call, and the org's limits.
fn authenticate(fake: &FakeSalesforce, headers: &HeaderMap) -> Option<Response> {
    let mut inner = fake.inner.lock().unwrap();
    if inner.outage > 0 {
        inner.outage -= 1;
        return Some(errors(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable",
            &[],
        ));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if inner.access.get(token) != Some(&true) {
        return Some(errors(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
            &[],
        ));
    }
    if inner.limit_exceeded > 0 {
        inner.limit_exceeded -= 1;
        return Some(errors(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
            &[],
        ));
    }
    None
}

async fn limits(State(fake): State<FakeSalesforce>, headers: HeaderMap) -> Response {
    fake.note("GET limits".to_owned());
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    axum::Json(json!({
        "DailyApiRequests": {"Max": 15000, "Remaining": 14990},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
    }))
    .into_response()
}

fn record_json(object: &str, record: &Record, base: &str) -> Value {
    let mut value = json!({
        "attributes": {"type": object, "url": format!("/services/data/{VERSION}/sobjects/{object}/{}", record.id)},
        "Id": record.id,
        "LastModifiedDate": record.modified_at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
    });
    if let Some(fields) = value.as_object_mut() {
        fields.extend(record.fields.clone());
    }
    let _ = base;
    value
}

/// A SOQL query of the one shape the product sends: `SELECT … FROM Contact WHERE Email|Phone = '…' LIMIT n`.
async fn query(
    State(fake): State<FakeSalesforce>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let soql = params.get("q").cloned().unwrap_or_default();
    fake.note(format!("GET query {soql}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let Some((_, rest)) = soql.split_once(" FROM Contact WHERE ") else {
        return errors(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "unexpected query",
            &[],
        );
    };
    let Some((column, literal)) = rest.split_once(" = '") else {
        return errors(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "unexpected condition",
            &[],
        );
    };
    // The literal up to its closing quote, with \' and \\ unescaped.
    let mut value = String::new();
    let mut chars = literal.chars();
    loop {
        match chars.next() {
            Some('\\') => value.extend(chars.next()),
            Some('\'') => break,
            Some(c) => value.push(c),
            None => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_QUERY",
                    "unterminated string",
                    &[],
                );
            }
        }
    }
    let tail: String = chars.collect();
    if !tail.trim_start().starts_with("LIMIT ") {
        return errors(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "unexpected token after the string",
            &[],
        );
    }
    let inner = fake.inner.lock().unwrap();
    let records: Vec<Value> = inner
        .contacts
        .iter()
        .filter(|c| {
            c.fields
                .get(column)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(&value))
        })
        .map(|c| record_json("Contact", c, &fake.base_url))
        .collect();
    axum::Json(json!({"totalSize": records.len(), "done": true, "records": records}))
        .into_response()
}

fn table<'a>(inner: &'a mut Inner, object: &str) -> Option<&'a mut Vec<Record>> {
    match object {
        "Contact" => Some(&mut inner.contacts),
        "Case" => Some(&mut inner.cases),
        _ => None,
    }
}

async fn create(
    State(fake): State<FakeSalesforce>,
    headers: HeaderMap,
    Path(object): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note(format!("POST {object}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let fields = body.as_object().cloned().unwrap_or_default();
    if object == "Contact" && !fields.contains_key("LastName") {
        return errors(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            &["LastName"],
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    if let Some(contact) = fields.get("ContactId").and_then(Value::as_str)
        && !inner.contacts.iter().any(|c| c.id == contact)
    {
        return errors(
            StatusCode::BAD_REQUEST,
            "FIELD_INTEGRITY_EXCEPTION",
            "Contact ID: id value of incorrect type",
            &["ContactId"],
        );
    }
    inner.next += 1;
    let prefix = if object == "Case" { "500" } else { "003" };
    let record = Record {
        id: format!("{prefix}{:015}", inner.next),
        fields,
        modified_at: chrono::Utc::now(),
    };
    let id = record.id.clone();
    match table(&mut inner, &object) {
        Some(rows) => rows.push(record),
        None => {
            return errors(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            );
        }
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "success": true, "errors": []})),
    )
        .into_response()
}

async fn read(
    State(fake): State<FakeSalesforce>,
    headers: HeaderMap,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    fake.note(format!("GET {object}/{{id}}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    let base = fake.base_url.clone();
    match table(&mut inner, &object).and_then(|rows| rows.iter().find(|r| r.id == id)) {
        Some(record) => axum::Json(record_json(&object, record, &base)).into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        ),
    }
}

async fn update(
    State(fake): State<FakeSalesforce>,
    headers: HeaderMap,
    Path((object, id)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note(format!("PATCH {object}/{{id}}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let fields = body.as_object().cloned().unwrap_or_default();
    if object == "Case" && fields.keys().any(|k| k.starts_with("Supplied")) {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: SuppliedEmail",
            &["SuppliedEmail"],
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    match table(&mut inner, &object).and_then(|rows| rows.iter_mut().find(|r| r.id == id)) {
        Some(record) => {
            record.fields.extend(fields);
            record.modified_at = chrono::Utc::now();
            StatusCode::NO_CONTENT.into_response()
        }
        None => errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        ),
    }
}

/// `PATCH /sobjects/Contact/{externalIdField}/{value}`: updates the one contact carrying the value (200,
/// `created: false`), creates one when none does (201, `created: true`), and changes nothing when several do
/// (300 with the matching records' URLs). An unknown field is a 404; the field or `Id` in the body a 400.
async fn upsert(
    State(fake): State<FakeSalesforce>,
    headers: HeaderMap,
    Path((object, field, value)): Path<(String, String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note(format!("PATCH {object}/{field}/{{value}}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let mut fields = body.as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    if object != "Contact" || !inner.external_ids.contains(&field) {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Provided external ID field does not exist or is not accessible: {field}"),
            &[],
        );
    }
    if fields.contains_key("Id") || fields.contains_key(&field) {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!("Unable to create/update fields: {field}. The external ID belongs in the URL"),
            &[field.as_str()],
        );
    }
    let matching: Vec<usize> = inner
        .contacts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.fields.get(&field).and_then(Value::as_str) == Some(value.as_str()))
        .map(|(i, _)| i)
        .collect();
    match matching.as_slice() {
        [] => {
            if !fields.contains_key("LastName") {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]",
                    &["LastName"],
                );
            }
            inner.next += 1;
            let id = format!("003{:015}", inner.next);
            fields.insert(field, Value::String(value));
            inner.contacts.push(Record {
                id: id.clone(),
                fields,
                modified_at: chrono::Utc::now(),
            });
            (
                StatusCode::CREATED,
                axum::Json(json!({"id": id, "success": true, "errors": [], "created": true})),
            )
                .into_response()
        }
        [one] => {
            let record = &mut inner.contacts[*one];
            record.fields.extend(fields);
            record.modified_at = chrono::Utc::now();
            axum::Json(json!({"id": record.id, "success": true, "errors": [], "created": false}))
                .into_response()
        }
        several => {
            let urls: Vec<String> = several
                .iter()
                .map(|i| {
                    format!(
                        "/services/data/{VERSION}/sobjects/Contact/{}",
                        inner.contacts[*i].id
                    )
                })
                .collect();
            (StatusCode::MULTIPLE_CHOICES, axum::Json(json!(urls))).into_response()
        }
    }
}
