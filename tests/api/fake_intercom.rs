//! A loopback stand-in for Intercom (REST API 2.11), following its documented wire format: the OAuth pages
//! (`/oauth` approves at once; `/auth/eagle/token` answers a token that never expires, with no refresh token),
//! `GET /me`, contact search and creation (`409 conflict` for an email it has), conversation search (the
//! `contact_ids` and `source.body ~` filters), conversations made from a contact (answered as a `user_message`
//! naming its `conversation_id`), notes and admin replies, errors as `{"type":"error.list","errors":[…]}`, 429
//! with `X-RateLimit-Reset`, and the app's webhooks signed with `X-Hub-Signature` (HMAC-SHA1 with the client
//! secret).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "concierge_intercom";
pub const CLIENT_SECRET: &str = "intercom-client-secret";
pub const APP_ID: &str = "acme4app";
pub const ADMIN_ID: &str = "991267";

#[derive(Debug, Default)]
struct Inner {
    codes: HashMap<String, String>,
    tokens: Vec<String>,
    contacts: Vec<Value>,
    conversations: Vec<Value>,
    next: u64,
    seen: Vec<String>,
    versions: Vec<String>,
    /// Answer 429 to the next this many API calls.
    limited: u32,
    /// Fail the next note with 502 after keeping it.
    lose_note_answer: bool,
    /// The app's webhook URL, set in its Developer Hub.
    webhook_url: Option<String>,
    /// What fetching each `attachment_urls` entry of a reply gave: status, content type, size.
    fetched: Vec<(u16, String, usize)>,
}

#[derive(Clone)]
pub struct FakeIntercom {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeIntercom {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/oauth", get(authorize))
            .route("/auth/eagle/token", post(token))
            .route("/me", get(me))
            .route("/contacts", post(create_contact))
            .route("/contacts/search", post(search_contacts))
            .route("/conversations", post(create_conversation))
            .route("/conversations/search", post(search_conversations))
            .route("/conversations/{id}", get(show_conversation))
            .route("/conversations/{id}/reply", post(reply))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("intercom={}", self.base_url)
    }

    /// What the app's settings in the Developer Hub say: the webhook URL.
    pub fn set_webhook_url(&self, url: &str) {
        self.inner.lock().unwrap().webhook_url = Some(url.to_owned());
    }

    pub fn contacts(&self) -> Vec<Value> {
        self.inner.lock().unwrap().contacts.clone()
    }

    pub fn conversations(&self) -> Vec<Value> {
        self.inner.lock().unwrap().conversations.clone()
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// The `Intercom-Version` header of each API call.
    pub fn versions(&self) -> Vec<String> {
        self.inner.lock().unwrap().versions.clone()
    }

    /// A contact that exists before anything is transferred (a customer known by email).
    pub fn add_contact(&self, email: &str, name: &str) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let id = format!("6{:011}", inner.next);
        inner
            .contacts
            .push(json!({"type": "contact", "id": id, "role": "user",
            "email": email, "name": name, "external_id": null}));
        id
    }

    /// What fetching the files of replies' `attachment_urls` gave: status, content type, size.
    pub fn fetched(&self) -> Vec<(u16, String, usize)> {
        self.inner.lock().unwrap().fetched.clone()
    }

    pub fn limit_next(&self, calls: u32) {
        self.inner.lock().unwrap().limited = calls;
    }

    pub fn lose_next_note_answer(&self) {
        self.inner.lock().unwrap().lose_note_answer = true;
    }

    /// An admin (Bo) writes in the conversation (`comment`) or a note (`note`), or closes it with a message
    /// (`close`); Intercom then posts the app's webhook, signed. The webhook's answer status, if one was sent.
    pub async fn admin_part(&self, conversation: &str, part_type: &str, body: &str) -> Option<u16> {
        let topic = {
            let mut inner = self.inner.lock().unwrap();
            inner.next += 1;
            let id = format!("{}", 800_000 + inner.next);
            let c = inner
                .conversations
                .iter_mut()
                .find(|c| c["id"] == conversation)?;
            c["conversation_parts"]["conversation_parts"]
                .as_array_mut()
                .unwrap()
                .push(
                    json!({"type": "conversation_part", "id": id, "part_type": part_type,
                    "body": body, "author": {"type": "admin", "id": "814860", "name": "Bo"}}),
                );
            if part_type == "close" {
                c["state"] = json!("closed");
            }
            match part_type {
                "comment" => "conversation.admin.replied",
                "close" => "conversation.admin.closed",
                _ => "conversation.admin.noted",
            }
        };
        self.notify(topic, conversation).await
    }

    /// A reply by the contact (through email or Intercom's messenger): `conversation.user.replied`.
    pub async fn user_reply(&self, conversation: &str, body: &str) -> Option<u16> {
        {
            let mut inner = self.inner.lock().unwrap();
            let c = inner
                .conversations
                .iter_mut()
                .find(|c| c["id"] == conversation)?;
            c["conversation_parts"]["conversation_parts"]
                .as_array_mut()
                .unwrap()
                .push(
                    json!({"type": "conversation_part", "id": "user-part", "part_type": "comment",
                    "body": body, "author": {"type": "user", "id": "x"}}),
                );
        }
        self.notify("conversation.user.replied", conversation).await
    }

    /// Posts a notification to the app's webhook URL as Intercom does.
    pub async fn notify(&self, topic: &str, conversation: &str) -> Option<u16> {
        let (url, item) = {
            let inner = self.inner.lock().unwrap();
            let item = inner
                .conversations
                .iter()
                .find(|c| c["id"] == conversation)
                .cloned()
                .unwrap_or_else(|| json!({"type": "conversation", "id": conversation}));
            (inner.webhook_url.clone()?, item)
        };
        let body = json!({"type": "notification_event", "app_id": APP_ID, "topic": topic,
            "id": "notif_1", "delivery_attempts": 1, "created_at": 1_765_000_000,
            "data": {"type": "notification_event_data", "item": item}})
        .to_string();
        let answer = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature", sign(CLIENT_SECRET, body.as_bytes()))
            .body(body)
            .send()
            .await
            .ok()?;
        Some(answer.status().as_u16())
    }
}

/// `sha1=<hex HMAC-SHA1(secret, body)>`, Intercom's `X-Hub-Signature`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha1={hex}")
}

fn errors(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"type": "error.list", "request_id": "req-1",
            "errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

/// Checks the bearer token (and counts the version); the refusal to answer if any.
fn admit(fake: &FakeIntercom, headers: &HeaderMap, what: &str) -> Option<Response> {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push(what.to_owned());
    inner.versions.push(
        headers
            .get("intercom-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned(),
    );
    if inner.limited > 0 {
        inner.limited -= 1;
        let reset = chrono::Utc::now().timestamp() + 1;
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("x-ratelimit-limit", "166".to_owned()),
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset", reset.to_string()),
                ],
                axum::Json(json!({"type": "error.list",
                    "errors": [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 166 in 10_seconds"}]})),
            )
                .into_response(),
        );
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    (!inner.tokens.iter().any(|t| t == token)).then(|| {
        errors(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Access Token Invalid",
        )
    })
}

/// `GET /oauth`: the admin installs the app at once; back to `redirect_uri` with a code.
async fn authorize(
    State(fake): State<FakeIntercom>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push("GET /oauth".to_owned());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "Unknown app").into_response();
    }
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    inner.next += 1;
    let code = format!("ic-code-{}", inner.next);
    inner.codes.insert(code.clone(), redirect.clone());
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", query.get("state").map_or("", String::as_str));
    axum::response::Redirect::to(back.as_str()).into_response()
}

/// `POST /auth/eagle/token`: a code for a token that never expires (no refresh token, no `expires_in`).
async fn token(
    State(fake): State<FakeIntercom>,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push("POST /auth/eagle/token".to_owned());
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return errors(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid client");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    if inner.codes.remove(&code).is_none() {
        return errors(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid code");
    }
    inner.next += 1;
    let token = format!("ic-token-{}", inner.next);
    inner.tokens.push(token.clone());
    axum::Json(json!({"token_type": "Bearer", "token": token, "access_token": token}))
        .into_response()
}

async fn me(State(fake): State<FakeIntercom>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /me") {
        return refusal;
    }
    axum::Json(json!({"type": "admin", "id": ADMIN_ID, "email": "ada@acme.test", "name": "Ada Admin",
        "email_verified": true,
        "app": {"type": "app", "id_code": APP_ID, "name": "Acme", "region": "US", "timezone": "Europe/Vienna"}}))
    .into_response()
}

/// `POST /contacts/search` with one `{field, operator: "=", value}` (email or external_id).
async fn search_contacts(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /contacts/search") {
        return refusal;
    }
    let field = body
        .pointer("/query/field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(field, "email" | "external_id" | "id")
        || body.pointer("/query/operator") != Some(&json!("="))
    {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "Invalid query",
        );
    }
    let value = body.pointer("/query/value").cloned().unwrap_or(Value::Null);
    let inner = fake.inner.lock().unwrap();
    let data: Vec<Value> = inner
        .contacts
        .iter()
        .filter(|c| c[field] == value)
        .cloned()
        .collect();
    axum::Json(
        json!({"type": "list", "data": data, "total_count": data.len(),
        "pages": {"type": "pages", "page": 1, "per_page": 50, "total_pages": 1}}),
    )
    .into_response()
}

/// `POST /contacts`: `role` user or lead; a user needs an email or external_id; an email it has is a 409.
async fn create_contact(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /contacts") {
        return refusal;
    }
    let role = body["role"].as_str().unwrap_or_default();
    if !matches!(role, "user" | "lead") {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "role must be user or lead",
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    if let Some(existing) = inner
        .contacts
        .iter()
        .find(|c| body["email"].is_string() && c["email"] == body["email"])
    {
        let message = format!(
            "A contact matching those details already exists with id={}",
            existing["id"].as_str().unwrap()
        );
        return errors(StatusCode::CONFLICT, "conflict", &message);
    }
    inner.next += 1;
    let id = format!("6{:011}", inner.next);
    let contact = json!({"type": "contact", "id": id, "role": role, "email": body["email"],
        "name": body["name"], "phone": body["phone"], "external_id": body["external_id"]});
    inner.contacts.push(contact.clone());
    axum::Json(contact).into_response()
}

/// `POST /conversations/search`: `AND` of `contact_ids =` and `source.body ~` (contains).
async fn search_conversations(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /conversations/search") {
        return refusal;
    }
    let filters = body
        .pointer("/query/value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let inner = fake.inner.lock().unwrap();
    let found: Vec<Value> = inner
        .conversations
        .iter()
        .filter(|c| {
            filters.iter().all(|f| {
                let value = f["value"].as_str().unwrap_or_default();
                match (f["field"].as_str(), f["operator"].as_str()) {
                    (Some("contact_ids"), Some("=")) => c["contacts"]["contacts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["id"] == value),
                    (Some("source.body"), Some("~")) => c["source"]["body"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(value),
                    _ => false,
                }
            })
        })
        .cloned()
        .collect();
    axum::Json(json!({"type": "conversation.list", "conversations": found,
        "total_count": found.len()}))
    .into_response()
}

/// `POST /conversations` from a contact: answered as the message, naming the new conversation.
async fn create_conversation(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /conversations") {
        return refusal;
    }
    let from = body["from"]["id"].as_str().unwrap_or_default().to_owned();
    let text = body["body"].as_str().unwrap_or_default().to_owned();
    if text.is_empty() {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_not_found",
            "body is required",
        );
    }
    let mut inner = fake.inner.lock().unwrap();
    if !inner.contacts.iter().any(|c| c["id"] == from.as_str()) {
        return errors(StatusCode::NOT_FOUND, "not_found", "User Not Found");
    }
    inner.next += 1;
    let id = format!("{}", 147_000 + inner.next);
    inner.conversations.push(json!({"type": "conversation", "id": id, "state": "open",
        "source": {"type": "conversation", "delivered_as": "customer_initiated", "body": text,
            "author": {"type": body["from"]["type"], "id": from}},
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": from}]},
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0}}));
    axum::Json(
        json!({"type": "user_message", "id": format!("4039{}", inner.next),
        "body": text, "message_type": "inapp", "conversation_id": id}),
    )
    .into_response()
}

async fn show_conversation(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, &format!("GET /conversations/{id}")) {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    match inner.conversations.iter().find(|c| c["id"] == id.as_str()) {
        Some(c) => axum::Json(c.clone()).into_response(),
        None => errors(StatusCode::NOT_FOUND, "not_found", "Resource Not Found"),
    }
}

/// `POST /conversations/{id}/reply` as an admin: a `note` (private) or a `comment`.
async fn reply(
    State(fake): State<FakeIntercom>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, &format!("POST /conversations/{id}/reply")) {
        return refusal;
    }
    if body["type"] != "admin" || body["admin_id"] != ADMIN_ID {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "admin_id is not an admin of this app",
        );
    }
    let kind = body["message_type"].as_str().unwrap_or_default().to_owned();
    if !matches!(kind.as_str(), "note" | "comment") {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "message_type must be comment or note",
        );
    }
    // Intercom fetches each attachment URL (ten at most) and keeps the file.
    let urls: Vec<String> = body["attachment_urls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    if urls.len() > 10 {
        return errors(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "attachment_urls: at most 10",
        );
    }
    let mut fetched = Vec::new();
    for url in urls {
        let got = reqwest::get(&url).await.unwrap();
        let status = got.status().as_u16();
        let content_type = got
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let size = got.bytes().await.unwrap().len();
        fetched.push((status, content_type, size));
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.fetched.extend(fetched);
    inner.next += 1;
    let part_id = format!("{}", 700_000 + inner.next);
    let lose = std::mem::take(&mut inner.lose_note_answer);
    let Some(c) = inner
        .conversations
        .iter_mut()
        .find(|c| c["id"] == id.as_str())
    else {
        return errors(StatusCode::NOT_FOUND, "not_found", "Resource Not Found");
    };
    c["conversation_parts"]["conversation_parts"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"type": "conversation_part", "id": part_id, "part_type": kind,
            "body": body["body"], "author": {"type": "admin", "id": ADMIN_ID}}),
        );
    if lose {
        return (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
    }
    axum::Json(c.clone()).into_response()
}
