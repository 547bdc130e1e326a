//! A loopback stand-in for Mailchimp, following its documented wire format: the OAuth pages
//! (`/oauth2/authorize` approves at once; `/oauth2/token` answers a token that never expires, `expires_in: 0`),
//! the metadata endpoint (`Authorization: OAuth <token>`, naming the data centre and API endpoint), the
//! Marketing API 3.0 (lists, members upserted by the MD5 of the lower-cased email with `status_if_new`, status
//! changes, tags), and its problem+json errors: `API Key Invalid` (401), `Resource Not Found` (404),
//! `Member Exists`, `Forgotten Email Not Subscribed` and `Invalid Resource` naming the merge field (400), and
//! `Too Many Requests` (429, no rate-limit headers), plus outages (503).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use md5::{Digest, Md5};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "concierge_mailchimp";
pub const CLIENT_SECRET: &str = "mailchimp-client-secret";
/// The account's audiences: the shop's newsletter, and one with a required COMPANY merge field.
pub const NEWSLETTER: &str = "a1b2c3d4e5";
pub const PARTNERS: &str = "f6a7b8c9d0";

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, String>,
    tokens: Vec<String>,
    /// Members by list id, then subscriber hash.
    members: HashMap<String, HashMap<String, Value>>,
    /// Addresses permanently deleted (GDPR): they cannot be added again through the API.
    forgotten: Vec<String>,
    seen: Vec<String>,
    authorizations: Vec<String>,
    next: u64,
    limited: u32,
    down: u32,
}

#[derive(Clone)]
pub struct FakeMailchimp {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

/// The id Mailchimp gives a member: the MD5 of the lower-cased address.
pub fn subscriber_hash(email: &str) -> String {
    Md5::digest(email.trim().to_lowercase().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FakeMailchimp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/oauth2/authorize", get(authorize))
            .route("/oauth2/token", post(token))
            .route("/oauth2/metadata", get(metadata))
            .route("/3.0/lists", get(lists))
            .route("/3.0/lists/{list}/members", post(create_member))
            .route(
                "/3.0/lists/{list}/members/{hash}",
                put(upsert_member).patch(update_member).get(show_member),
            )
            .route("/3.0/lists/{list}/members/{hash}/tags", post(tag_member))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("mailchimp={}", self.base_url)
    }

    /// The members of a list, by address.
    pub fn members(&self, list: &str) -> HashMap<String, Value> {
        self.inner
            .lock()
            .unwrap()
            .members
            .get(list)
            .map(|m| {
                m.values()
                    .map(|v| (v["email_address"].as_str().unwrap().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// The `Authorization` header of each call, by path.
    pub fn authorizations(&self) -> Vec<String> {
        self.inner.lock().unwrap().authorizations.clone()
    }

    /// An address someone had permanently deleted from the account.
    pub fn forget(&self, email: &str) {
        self.inner
            .lock()
            .unwrap()
            .forgotten
            .push(email.to_lowercase());
    }

    /// A member who unsubscribed through Mailchimp (a link in a campaign).
    pub fn unsubscribe(&self, list: &str, email: &str) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(member) = inner
            .members
            .get_mut(list)
            .and_then(|m| m.get_mut(&subscriber_hash(email)))
        {
            member["status"] = json!("unsubscribed");
        }
    }

    pub fn limit_next(&self, calls: u32) {
        self.inner.lock().unwrap().limited = calls;
    }

    pub fn fail_next(&self, calls: u32) {
        self.inner.lock().unwrap().down = calls;
    }
}

/// Mailchimp's problem+json error.
fn problem(status: StatusCode, title: &str, detail: &str, errors: Value) -> Response {
    let mut body = json!({
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": "995c5cb0-3280-4a6e-808b-3b096d0bb219",
    });
    if !errors.is_null() {
        body["errors"] = errors;
    }
    (
        status,
        [("content-type", "application/problem+json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Checks the token of an API call (Bearer or OAuth), the throttle and the outage; the refusal if any.
fn admit(fake: &FakeMailchimp, headers: &HeaderMap, what: &str) -> Option<Response> {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push(what.to_owned());
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    inner.authorizations.push(format!("{what}: {header}"));
    if inner.down > 0 {
        inner.down -= 1;
        return Some((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response());
    }
    if inner.limited > 0 {
        inner.limited -= 1;
        return Some(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
            Value::Null,
        ));
    }
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("OAuth "))
        .unwrap_or_default();
    (!inner.tokens.iter().any(|t| t == token)).then(|| {
        problem(
            StatusCode::UNAUTHORIZED,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            Value::Null,
        )
    })
}

/// `GET /oauth2/authorize`: the account owner allows the app at once; back to `redirect_uri` with a code.
async fn authorize(
    State(fake): State<FakeMailchimp>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push("GET /oauth2/authorize".to_owned());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || query.get("response_type").map(String::as_str) != Some("code")
    {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    inner.next += 1;
    let code = format!("mc-code-{}", inner.next);
    inner.codes.insert(code.clone(), redirect.clone());
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", query.get("state").map_or("", String::as_str));
    axum::response::Redirect::to(back.as_str()).into_response()
}

/// `POST /oauth2/token`: a code (with the same redirect URI) for a token that never expires.
async fn token(
    State(fake): State<FakeMailchimp>,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push("POST /oauth2/token".to_owned());
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Invalid client"})),
        )
            .into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let redirect = form.get("redirect_uri").cloned().unwrap_or_default();
    if form.get("grant_type").map(String::as_str) != Some("authorization_code")
        || inner.codes.remove(&code).is_none_or(|r| r != redirect)
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "Invalid authorization code"})),
        )
            .into_response();
    }
    inner.next += 1;
    let token = format!("mc-token-{}", inner.next);
    inner.tokens.push(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 0, "scope": null})).into_response()
}

/// `GET /oauth2/metadata`: only `Authorization: OAuth <token>` is accepted here.
async fn metadata(State(fake): State<FakeMailchimp>, headers: HeaderMap) -> Response {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !header.starts_with("OAuth ") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "invalid_token", "error_description": "Use the OAuth scheme"}),
            ),
        )
            .into_response();
    }
    if let Some(refused) = admit(&fake, &headers, "GET /oauth2/metadata") {
        return refused;
    }
    axum::Json(json!({
        "dc": "us6",
        "role": "owner",
        "accountname": "Acme Shop",
        "user_id": 12_345_678,
        "login": {"email": "ada@acme.test", "avatar": null, "login_id": 87_654_321, "login_name": "ada", "login_email": "ada@acme.test"},
        "login_url": "https://login.mailchimp.com",
        "api_endpoint": fake.base_url,
    }))
    .into_response()
}

async fn lists(State(fake): State<FakeMailchimp>, headers: HeaderMap) -> Response {
    if let Some(refused) = admit(&fake, &headers, "GET /3.0/lists") {
        return refused;
    }
    let inner = fake.inner.lock().unwrap();
    let count = |list: &str| inner.members.get(list).map_or(0, HashMap::len);
    axum::Json(json!({
        "lists": [
            {"id": NEWSLETTER, "name": "Acme newsletter", "double_optin": true, "stats": {"member_count": count(NEWSLETTER)}},
            {"id": PARTNERS, "name": "Partners", "double_optin": false, "stats": {"member_count": count(PARTNERS)}},
        ],
        "total_items": 2,
    }))
    .into_response()
}

fn known_list(list: &str) -> bool {
    list == NEWSLETTER || list == PARTNERS
}

fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Resource Not Found",
        "The requested resource could not be found.",
        Value::Null,
    )
}

/// Checks a member's body as Mailchimp does: the address, its status, the list's required merge fields.
fn invalid(list: &str, body: &Value, forgotten: &[String]) -> Option<Response> {
    let email = body["email_address"].as_str().unwrap_or_default();
    if !email.contains('@') {
        return Some(problem(
            StatusCode::BAD_REQUEST,
            "Invalid Resource",
            &format!("{email} looks fake or invalid, please enter a real email address."),
            Value::Null,
        ));
    }
    if forgotten.contains(&email.to_lowercase()) {
        return Some(problem(
            StatusCode::BAD_REQUEST,
            "Forgotten Email Not Subscribed",
            &format!(
                "{email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list."
            ),
            Value::Null,
        ));
    }
    for field in ["status", "status_if_new"] {
        if let Some(status) = body.get(field).and_then(Value::as_str)
            && ![
                "subscribed",
                "unsubscribed",
                "cleaned",
                "pending",
                "transactional",
            ]
            .contains(&status)
        {
            return Some(problem(
                StatusCode::BAD_REQUEST,
                "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
                json!([{"field": field, "message": "Data presented is not one of the accepted values: subscribed, unsubscribed, cleaned, pending, transactional."}]),
            ));
        }
    }
    if list == PARTNERS
        && body["merge_fields"]["COMPANY"]
            .as_str()
            .is_none_or(|c| c.trim().is_empty())
    {
        return Some(problem(
            StatusCode::BAD_REQUEST,
            "Invalid Resource",
            "Your merge fields were invalid.",
            json!([{"field": "COMPANY", "message": "Please enter a value"}]),
        ));
    }
    None
}

/// `PUT /3.0/lists/{list}/members/{hash}`: adds (with `status_if_new`) or updates (with `status` when given).
async fn upsert_member(
    State(fake): State<FakeMailchimp>,
    headers: HeaderMap,
    Path((list, hash)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, "PUT /3.0/lists/{list}/members/{hash}") {
        return refused;
    }
    if !known_list(&list) {
        return not_found();
    }
    let mut inner = fake.inner.lock().unwrap();
    let email = body["email_address"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(error) = invalid(&list, &body, &inner.forgotten) {
        return error;
    }
    let members = inner.members.entry(list.clone()).or_default();
    if subscriber_hash(&email) != hash && members.contains_key(&subscriber_hash(&email)) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Member Exists",
            &format!("{email} is already a list member. Use PUT to insert or update list members."),
            Value::Null,
        );
    }
    let member = members.entry(hash.clone()).or_insert_with(|| {
        json!({"id": hash, "email_address": email, "status": body["status_if_new"].as_str().unwrap_or("subscribed"),
            "merge_fields": {}, "tags": [], "list_id": list})
    });
    if let Some(status) = body.get("status").and_then(Value::as_str) {
        member["status"] = json!(status);
    }
    if let Some(fields) = body.get("merge_fields").and_then(Value::as_object) {
        for (k, v) in fields {
            member["merge_fields"][k] = v.clone();
        }
    }
    axum::Json(member.clone()).into_response()
}

/// `POST /3.0/lists/{list}/members`: adds a member; `Member Exists` when the address is there already.
async fn create_member(
    State(fake): State<FakeMailchimp>,
    headers: HeaderMap,
    Path(list): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, "POST /3.0/lists/{list}/members") {
        return refused;
    }
    if !known_list(&list) {
        return not_found();
    }
    let mut inner = fake.inner.lock().unwrap();
    if let Some(error) = invalid(&list, &body, &inner.forgotten) {
        return error;
    }
    let email = body["email_address"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hash = subscriber_hash(&email);
    let members = inner.members.entry(list.clone()).or_default();
    if members.contains_key(&hash) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Member Exists",
            &format!("{email} is already a list member. Use PUT to insert or update list members."),
            Value::Null,
        );
    }
    let member = json!({"id": hash, "email_address": email, "status": body["status"],
        "merge_fields": body.get("merge_fields").cloned().unwrap_or(json!({})), "tags": [], "list_id": list});
    members.insert(hash, member.clone());
    axum::Json(member).into_response()
}

async fn show_member(
    State(fake): State<FakeMailchimp>,
    headers: HeaderMap,
    Path((list, hash)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, "GET /3.0/lists/{list}/members/{hash}") {
        return refused;
    }
    let inner = fake.inner.lock().unwrap();
    match inner.members.get(&list).and_then(|m| m.get(&hash)) {
        Some(member) => axum::Json(member.clone()).into_response(),
        None => not_found(),
    }
}

/// `PATCH /3.0/lists/{list}/members/{hash}`: changes a member (its status).
async fn update_member(
    State(fake): State<FakeMailchimp>,
    headers: HeaderMap,
    Path((list, hash)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = admit(&fake, &headers, "PATCH /3.0/lists/{list}/members/{hash}") {
        return refused;
    }
    let mut inner = fake.inner.lock().unwrap();
    let Some(member) = inner.members.get_mut(&list).and_then(|m| m.get_mut(&hash)) else {
        return not_found();
    };
    if let Some(status) = body.get("status").and_then(Value::as_str) {
        member["status"] = json!(status);
    }
    axum::Json(member.clone()).into_response()
}

/// `POST /3.0/lists/{list}/members/{hash}/tags`: adds (`active`) or removes (`inactive`) tags; 204.
async fn tag_member(
    State(fake): State<FakeMailchimp>,
    headers: HeaderMap,
    Path((list, hash)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = admit(
        &fake,
        &headers,
        "POST /3.0/lists/{list}/members/{hash}/tags",
    ) {
        return refused;
    }
    let mut inner = fake.inner.lock().unwrap();
    let Some(member) = inner.members.get_mut(&list).and_then(|m| m.get_mut(&hash)) else {
        return not_found();
    };
    for tag in body["tags"].as_array().cloned().unwrap_or_default() {
        let name = tag["name"].as_str().unwrap_or_default().to_owned();
        let tags = member["tags"].as_array_mut().unwrap();
        tags.retain(|t| t["name"] != name.as_str());
        if tag["status"] == "active" {
            tags.push(json!({"id": tags.len() + 1, "name": name}));
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
