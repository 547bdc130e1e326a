//! A loopback stand-in for Zoho CRM, following its documented wire format: the accounts server's OAuth flow
//! (`/oauth/v2/auth` sending back `location` and `accounts-server`, `/oauth/v2/token` answering `api_domain`,
//! `{"error":"invalid_code"}` with a 200, `/oauth/v2/token/revoke`), the v2 API's organization, contact search
//! (204 when none), upsert with `duplicate_check_fields`, records and cases, `Authorization: Zoho-oauthtoken`,
//! and its error bodies (`{"code","details","message","status":"error"}`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub const CLIENT_ID: &str = "1000.ZOHOCLIENT";
pub const CLIENT_SECRET: &str = "zoho-client-secret";

#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub fields: Map<String, Value>,
    pub modified_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, String>,
    access: HashMap<String, bool>,
    refresh: Vec<String>,
    revoked: Vec<String>,
    /// What the token endpoint answers as `api_domain`; the fake's own origin when unset.
    api_domain: Option<String>,
    /// The data centre the authorization page says it is in.
    location: String,
    contacts: Vec<Record>,
    cases: Vec<Record>,
    /// Every upsert's `duplicate_check_fields`.
    duplicate_checks: Vec<Value>,
    next: u64,
    seen: Vec<String>,
}

#[derive(Clone)]
pub struct FakeZoho {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeZoho {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::new(Mutex::new(Inner {
                location: "eu".to_owned(),
                ..Inner::default()
            })),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/oauth/v2/auth", get(authorize))
            .route("/oauth/v2/token", post(token))
            .route("/oauth/v2/token/revoke", post(revoke))
            .route("/crm/v2/org", get(org))
            .route("/crm/v2/Contacts/search", get(search))
            .route("/crm/v2/Contacts/upsert", post(upsert))
            .route("/crm/v2/{module}", post(insert))
            .route("/crm/v2/{module}/{id}", get(read).put(update))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("zoho={}", self.base_url)
    }

    pub fn hand_back_api_domain(&self, url: &str) {
        self.inner.lock().unwrap().api_domain = Some(url.to_owned());
    }

    pub fn add_contact(&self, fields: Value, modified_at: chrono::DateTime<chrono::Utc>) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let id = format!("{}", 4_150_868_000_000_000_000u64 + inner.next);
        inner.contacts.push(Record {
            id: id.clone(),
            fields: fields.as_object().cloned().unwrap_or_default(),
            modified_at,
        });
        id
    }

    pub fn contacts(&self) -> Vec<Record> {
        self.inner.lock().unwrap().contacts.clone()
    }

    pub fn cases(&self) -> Vec<Record> {
        self.inner.lock().unwrap().cases.clone()
    }

    pub fn duplicate_checks(&self) -> Vec<Value> {
        self.inner.lock().unwrap().duplicate_checks.clone()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.inner.lock().unwrap().revoked.clone()
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    fn note(&self, what: String) {
        self.inner.lock().unwrap().seen.push(what);
    }
}

fn zoho_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "details": {}, "message": message, "status": "error"})),
    )
        .into_response()
}

async fn authorize(
    State(fake): State<FakeZoho>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    fake.note("GET /oauth/v2/auth".to_owned());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || query.get("access_type").map(String::as_str) != Some("offline")
    {
        return (StatusCode::BAD_REQUEST, "Invalid Client").into_response();
    }
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    inner.next += 1;
    let code = format!("1000.{}.code", inner.next);
    inner.codes.insert(code.clone(), redirect.clone());
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("state", query.get("state").map_or("", String::as_str))
        .append_pair("code", &code)
        .append_pair("location", &inner.location)
        .append_pair("accounts-server", &fake.base_url);
    Redirect::to(back.as_str()).into_response()
}

/// Zoho takes the token request's parameters in the form (or the query) and answers errors with a 200.
async fn token(
    State(fake): State<FakeZoho>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    fake.note("POST /oauth/v2/token".to_owned());
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return axum::Json(json!({"error": "invalid_client"})).into_response();
    }
    let mut inner = fake.inner.lock().unwrap();
    let refresh = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            match inner.codes.remove(&code) {
                Some(redirect) if Some(&redirect) == form.get("redirect_uri") => {}
                _ => return axum::Json(json!({"error": "invalid_code"})).into_response(),
            }
            inner.next += 1;
            let token = format!("1000.{}.refresh", inner.next);
            inner.refresh.push(token.clone());
            Some(token)
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            if !inner.refresh.contains(&token) {
                return axum::Json(json!({"error": "invalid_code"})).into_response();
            }
            None
        }
        _ => return axum::Json(json!({"error": "unsupported_grant_type"})).into_response(),
    };
    inner.next += 1;
    let access = format!("1000.{}.access", inner.next);
    inner.access.insert(access.clone(), true);
    let api_domain = inner
        .api_domain
        .clone()
        .unwrap_or_else(|| fake.base_url.clone());
    let mut body = json!({
        "access_token": access,
        "api_domain": api_domain,
        "token_type": "Bearer",
        "expires_in": 3600,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    axum::Json(body).into_response()
}

async fn revoke(
    State(fake): State<FakeZoho>,
    Query(query): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    fake.note("POST /oauth/v2/token/revoke".to_owned());
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let token = query
        .get("token")
        .or_else(|| form.get("token"))
        .cloned()
        .unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    if let Some(index) = inner.refresh.iter().position(|t| *t == token) {
        let token = inner.refresh.remove(index);
        inner.revoked.push(token);
    }
    axum::Json(json!({"status": "success"})).into_response()
}

fn authenticate(fake: &FakeZoho, headers: &HeaderMap) -> Option<Response> {
    let inner = fake.inner.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
        .unwrap_or_default();
    (inner.access.get(token) != Some(&true)).then(|| {
        zoho_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "invalid oauth token",
        )
    })
}

async fn org(State(fake): State<FakeZoho>, headers: HeaderMap) -> Response {
    fake.note("GET /crm/v2/org".to_owned());
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    axum::Json(
        json!({"org": [{"company_name": "Acme GmbH", "id": "20071239", "country": "Germany"}]}),
    )
    .into_response()
}

fn record_json(record: &Record) -> Value {
    let mut value = json!({
        "id": record.id,
        "Modified_Time": record.modified_at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    });
    if let Some(fields) = value.as_object_mut() {
        fields.extend(record.fields.clone());
    }
    value
}

async fn search(
    State(fake): State<FakeZoho>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    fake.note("GET /crm/v2/Contacts/search".to_owned());
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let (field, value) = match (query.get("email"), query.get("phone")) {
        (Some(email), _) => ("Email", email.clone()),
        (None, Some(phone)) => ("Phone", phone.clone()),
        _ => {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
            );
        }
    };
    let inner = fake.inner.lock().unwrap();
    let found: Vec<Value> = inner
        .contacts
        .iter()
        .filter(|c| {
            c.fields
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(&value))
        })
        .map(record_json)
        .collect();
    if found.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    axum::Json(json!({"data": found, "info": {"per_page": 200, "count": found.len(), "page": 1, "more_records": false}}))
        .into_response()
}

fn mandatory(module: &str, fields: &Map<String, Value>) -> Option<Value> {
    let required = match module {
        "Contacts" => "Last_Name",
        "Cases" => "Subject",
        _ => return None,
    };
    (!fields.contains_key(required)).then(|| {
        json!({"code": "MANDATORY_NOT_FOUND", "details": {"api_name": required}, "message": "required field not found", "status": "error"})
    })
}

fn success(action: &str, record: &Record, duplicate: Option<&str>) -> Value {
    json!({
        "code": "SUCCESS",
        "duplicate_field": duplicate,
        "action": action,
        "details": {"Modified_Time": record.modified_at.to_rfc3339(), "id": record.id, "Created_Time": record.modified_at.to_rfc3339()},
        "message": if action == "insert" { "record added" } else { "record updated" },
        "status": "success",
    })
}

/// `POST /crm/v2/Contacts/upsert`: updates the record whose `duplicate_check_fields` match, or inserts one.
async fn upsert(
    State(fake): State<FakeZoho>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note("POST /crm/v2/Contacts/upsert".to_owned());
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    inner
        .duplicate_checks
        .push(body["duplicate_check_fields"].clone());
    let checks: Vec<String> = body["duplicate_check_fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let fields = body["data"][0].as_object().cloned().unwrap_or_default();
    let existing = inner.contacts.iter().position(|c| {
        checks.iter().any(|k| {
            fields.get(k).and_then(Value::as_str).is_some_and(|v| {
                c.fields
                    .get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|w| w.eq_ignore_ascii_case(v))
            })
        })
    });
    let result = match existing {
        Some(index) => {
            let record = &mut inner.contacts[index];
            record.fields.extend(fields);
            record.modified_at = chrono::Utc::now();
            let duplicate = checks.first().map(String::as_str);
            success("update", record, duplicate)
        }
        None => {
            if let Some(error) = mandatory("Contacts", &fields) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"data": [error]})),
                )
                    .into_response();
            }
            inner.next += 1;
            let record = Record {
                id: format!("{}", 4_150_868_000_000_000_000u64 + inner.next),
                fields,
                modified_at: chrono::Utc::now(),
            };
            let result = success("insert", &record, None);
            inner.contacts.push(record);
            result
        }
    };
    axum::Json(json!({"data": [result]})).into_response()
}

fn table<'a>(inner: &'a mut Inner, module: &str) -> Option<&'a mut Vec<Record>> {
    match module {
        "Contacts" => Some(&mut inner.contacts),
        "Cases" => Some(&mut inner.cases),
        _ => None,
    }
}

async fn insert(
    State(fake): State<FakeZoho>,
    headers: HeaderMap,
    Path(module): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note(format!("POST /crm/v2/{module}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let fields = body["data"][0].as_object().cloned().unwrap_or_default();
    if let Some(error) = mandatory(&module, &fields) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": [error]})),
        )
            .into_response();
    }
    let mut inner = fake.inner.lock().unwrap();
    if let Some(contact) = fields.get("Related_To").and_then(|r| r["id"].as_str())
        && !inner.contacts.iter().any(|c| c.id == contact)
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": [{"code": "INVALID_DATA", "details": {"api_name": "Related_To"}, "message": "invalid data", "status": "error"}]})),
        )
            .into_response();
    }
    inner.next += 1;
    let record = Record {
        id: format!("{}", 4_150_868_000_000_500_000u64 + inner.next),
        fields,
        modified_at: chrono::Utc::now(),
    };
    let result = success("insert", &record, None);
    match table(&mut inner, &module) {
        Some(rows) => rows.push(record),
        None => {
            return zoho_error(
                StatusCode::BAD_REQUEST,
                "INVALID_MODULE",
                "the module name given seems to be invalid",
            );
        }
    }
    (StatusCode::CREATED, axum::Json(json!({"data": [result]}))).into_response()
}

async fn read(
    State(fake): State<FakeZoho>,
    headers: HeaderMap,
    Path((module, id)): Path<(String, String)>,
) -> Response {
    fake.note(format!("GET /crm/v2/{module}/{{id}}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    match table(&mut inner, &module).and_then(|rows| rows.iter().find(|r| r.id == id)) {
        Some(record) => axum::Json(json!({"data": [record_json(record)]})).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn update(
    State(fake): State<FakeZoho>,
    headers: HeaderMap,
    Path((module, id)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    fake.note(format!("PUT /crm/v2/{module}/{{id}}"));
    if let Some(refusal) = authenticate(&fake, &headers) {
        return refusal;
    }
    let fields = body["data"][0].as_object().cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    match table(&mut inner, &module).and_then(|rows| rows.iter_mut().find(|r| r.id == id)) {
        Some(record) => {
            record.fields.extend(fields);
            record.modified_at = chrono::Utc::now();
            let result = success("update", record, None);
            axum::Json(json!({"data": [result]})).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": [{"code": "INVALID_DATA", "details": {"api_name": "id"}, "message": "the related id given seems to be invalid", "status": "error"}]})),
        )
            .into_response(),
    }
}
