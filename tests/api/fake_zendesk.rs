//! A loopback stand-in for Zendesk Support, following its documented wire format: API-token authentication
//! (HTTP Basic with `{email}/token` and the token; 401 `{"error":"Couldn't authenticate you"}` otherwise),
//! `users/me`, tickets (create with requester, comment, uploads, priority, type, tags and `external_id`; list
//! by `external_id`), uploads (`POST /api/v2/uploads.json?filename=[&token=]` with the raw file), its error bodies
//! (`422 {"error":"RecordInvalid","description","details"}`), 429 with `Retry-After`, and 503 outages; and the
//! way back: webhooks with their signing secret, triggers with a `notification_webhook` action, ticket comments,
//! and the signed requests (`X-Zendesk-Webhook-Signature`: base64 of HMAC-SHA256 over timestamp + body) that
//! the triggers send when an agent comments or solves a ticket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

pub const AGENT_EMAIL: &str = "agent@acme.test";
pub const API_TOKEN: &str = "zd-api-token";

/// An uploaded file.
#[derive(Clone, Debug)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub content: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Inner {
    tickets: Vec<Value>,
    /// Token → the files uploaded under it (later uploads name the first's token to join it).
    uploads: HashMap<String, Vec<Upload>>,
    next: u64,
    /// Answer 503 to this many API calls first.
    outage: u32,
    /// Answer 429 to this many API calls first.
    throttle: u32,
    seen: Vec<String>,
    webhooks: Vec<Value>,
    triggers: Vec<Value>,
    /// Ticket id → its comments (the description first).
    comments: HashMap<u64, Vec<Value>>,
    /// Requester email → user id.
    users: HashMap<String, u64>,
    /// OAuth: code → redirect URI; access tokens that work; refresh tokens that work.
    codes: HashMap<String, String>,
    access_tokens: Vec<String>,
    refresh_tokens: Vec<String>,
    refreshes: usize,
    revoked: usize,
    /// How long ticket creation waits, after making the ticket, before answering.
    ticket_answer_delay: std::time::Duration,
}

/// The id of the agent the API token belongs to; another agent replies in tests.
pub const AGENT_ID: u64 = 901;

#[derive(Clone)]
pub struct FakeZendesk {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeZendesk {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/oauth/authorizations/new", get(authorize))
            .route("/oauth/tokens", post(tokens))
            .route(
                "/api/v2/oauth/tokens/current.json",
                axum::routing::delete(revoke_current),
            )
            .route("/api/v2/users/me.json", get(me))
            .route(
                "/api/v2/tickets.json",
                get(list_tickets).post(create_ticket),
            )
            .route("/api/v2/uploads.json", post(upload))
            .route("/api/v2/tickets/{id}", get(show_ticket))
            .route("/api/v2/tickets/{id}/comments.json", get(list_comments))
            .route("/api/v2/webhooks", post(create_webhook))
            .route(
                "/api/v2/webhooks/{id}",
                axum::routing::delete(delete_webhook),
            )
            .route("/api/v2/webhooks/{id}/signing_secret", get(signing_secret))
            .route("/api/v2/triggers", post(create_trigger))
            .route(
                "/api/v2/triggers/{id}",
                axum::routing::delete(delete_trigger),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("zendesk={}", self.base_url)
    }

    /// Every access token handed out so far stops working (they expire).
    pub fn expire_access_tokens(&self) {
        self.inner.lock().unwrap().access_tokens.clear();
    }

    /// Refresh grants answered.
    pub fn refreshes(&self) -> usize {
        self.inner.lock().unwrap().refreshes
    }

    /// Ticket creation makes the ticket at once and answers only after `delay`.
    pub fn answer_tickets_after(&self, delay: std::time::Duration) {
        self.inner.lock().unwrap().ticket_answer_delay = delay;
    }

    pub fn outage(&self, n: u32) {
        self.inner.lock().unwrap().outage = n;
    }

    pub fn throttle(&self, n: u32) {
        self.inner.lock().unwrap().throttle = n;
    }

    pub fn tickets(&self) -> Vec<Value> {
        self.inner.lock().unwrap().tickets.clone()
    }

    pub fn upload(&self, token: &str) -> Option<Upload> {
        self.uploads(token).into_iter().next()
    }

    /// Every file uploaded under `token`.
    pub fn uploads(&self, token: &str) -> Vec<Upload> {
        self.inner
            .lock()
            .unwrap()
            .uploads
            .get(token)
            .cloned()
            .unwrap_or_default()
    }

    /// The webhooks registered (with their endpoint), and the triggers.
    pub fn webhooks(&self) -> Vec<Value> {
        self.inner.lock().unwrap().webhooks.clone()
    }

    pub fn triggers(&self) -> Vec<Value> {
        self.inner.lock().unwrap().triggers.clone()
    }

    /// An agent (or, with `by_requester`, the requester) adds a public comment, and Zendesk runs the triggers.
    pub async fn comment(
        &self,
        ticket_id: u64,
        body: &str,
        by_requester: bool,
    ) -> Vec<reqwest::StatusCode> {
        {
            let mut inner = self.inner.lock().unwrap();
            inner.next += 1;
            let id = inner.next;
            let requester = inner
                .tickets
                .iter()
                .find(|t| t["id"] == json!(ticket_id))
                .map(|t| t["requester_id"].clone())
                .unwrap_or(Value::Null);
            let author = if by_requester {
                requester
            } else {
                json!(AGENT_ID + 1)
            };
            inner.comments.entry(ticket_id).or_default().push(json!({
                "id": id, "type": "Comment", "author_id": author, "public": true,
                "body": body, "plain_body": body, "html_body": format!("<p>{body}</p>"),
                "created_at": chrono::Utc::now().to_rfc3339(),
            }));
        }
        self.fire(ticket_id).await
    }

    /// The ticket is solved, and Zendesk runs the triggers.
    pub async fn solve(&self, ticket_id: u64) -> Vec<reqwest::StatusCode> {
        {
            let mut inner = self.inner.lock().unwrap();
            if let Some(ticket) = inner
                .tickets
                .iter_mut()
                .find(|t| t["id"] == json!(ticket_id))
            {
                ticket["status"] = json!("solved");
            }
        }
        self.fire(ticket_id).await
    }

    /// Runs the triggers on a ticket tagged as theirs: each posts its rendered body to its webhook, signed as
    /// Zendesk signs. Answers the statuses the endpoints gave.
    pub async fn fire(&self, ticket_id: u64) -> Vec<reqwest::StatusCode> {
        let calls: Vec<(String, String, String)> = {
            let inner = self.inner.lock().unwrap();
            let Some(ticket) = inner.tickets.iter().find(|t| t["id"] == json!(ticket_id)) else {
                return Vec::new();
            };
            let tagged = |tag: &str| {
                ticket["tags"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(tag)))
            };
            inner
                .triggers
                .iter()
                .filter(|trigger| {
                    trigger["conditions"]["all"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|c| {
                            c["field"] != "current_tags"
                                || tagged(c["value"].as_str().unwrap_or_default())
                        })
                })
                .filter_map(|trigger| {
                    let action = trigger["actions"]
                        .as_array()?
                        .iter()
                        .find(|a| a["field"] == "notification_webhook")?;
                    let webhook_id = action["value"][0].as_str()?;
                    let template = action["value"][1].as_str()?;
                    let webhook = inner
                        .webhooks
                        .iter()
                        .find(|w| w["id"] == json!(webhook_id))?;
                    let body = template
                        .replace("{{ticket.id}}", &ticket_id.to_string())
                        .replace(
                            "{{ticket.external_id}}",
                            ticket["external_id"].as_str().unwrap_or_default(),
                        )
                        .replace(
                            "{{ticket.status}}",
                            ticket["status"].as_str().unwrap_or_default(),
                        );
                    Some((
                        webhook["endpoint"].as_str()?.to_owned(),
                        webhook["secret"].as_str()?.to_owned(),
                        body,
                    ))
                })
                .collect()
        };
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for (endpoint, secret, body) in calls {
            let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let response = client
                .post(&endpoint)
                .header("content-type", "application/json")
                .header(
                    "x-zendesk-webhook-signature",
                    sign(&secret, &timestamp, body.as_bytes()),
                )
                .header("x-zendesk-webhook-signature-timestamp", &timestamp)
                .header("x-zendesk-webhook-id", "01HZFAKEWEBHOOK")
                .body(body)
                .send()
                .await
                .unwrap();
            statuses.push(response.status());
        }
        statuses
    }

    /// The requests received, as `METHOD /path`.
    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The API-token check, then the outages and limits the test asked for.
fn admit(fake: &FakeZendesk, headers: &HeaderMap, what: &str) -> Option<Response> {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push(what.to_owned());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{AGENT_EMAIL}/token:{API_TOKEN}"))
    );
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bearer = given
        .strip_prefix("Bearer ")
        .is_some_and(|token| inner.access_tokens.iter().any(|t| t == token));
    if given != expected && !bearer {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Couldn't authenticate you"}),
        ));
    }
    if inner.outage > 0 {
        inner.outage -= 1;
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "ServiceUnavailable", "description": "Zendesk is down for maintenance"}),
        ));
    }
    if inner.throttle > 0 {
        inner.throttle -= 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "TooManyRequests", "description": "Rate limit exceeded"}),
        );
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return Some(response);
    }
    None
}

async fn me(State(fake): State<FakeZendesk>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/users/me.json") {
        return refusal;
    }
    axum::Json(json!({"user": {
        "id": 901, "name": "Ada Agent", "email": AGENT_EMAIL, "role": "admin", "active": true
    }}))
    .into_response()
}

async fn list_tickets(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/tickets.json") {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    let tickets: Vec<&Value> = inner
        .tickets
        .iter()
        .filter(|t| {
            query
                .get("external_id")
                .is_none_or(|id| t["external_id"] == json!(id))
        })
        .collect();
    axum::Json(json!({"tickets": tickets, "count": tickets.len(), "next_page": null}))
        .into_response()
}

async fn upload(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /api/v2/uploads.json") {
        return refusal;
    }
    let Some(file_name) = query.get("filename").filter(|f| !f.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": "InvalidValue", "description": "filename is required"}),
        );
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/binary")
        .to_owned();
    let mut inner = fake.inner.lock().unwrap();
    let file = Upload {
        file_name: file_name.clone(),
        content_type: content_type.clone(),
        content: String::from_utf8_lossy(&body).into_owned(),
        bytes: body.to_vec(),
    };
    // `token` adds the file to an earlier upload, so that one comment carries several.
    let token = match query.get("token") {
        Some(token) => {
            let Some(files) = inner.uploads.get_mut(token) else {
                return invalid("token", "Token is invalid");
            };
            files.push(file);
            token.clone()
        }
        None => {
            inner.next += 1;
            let token = format!("upload-token-{}", inner.next);
            inner.uploads.insert(token.clone(), vec![file]);
            token
        }
    };
    (
        StatusCode::CREATED,
        axum::Json(json!({"upload": {"token": token, "attachment": {
            "file_name": file_name, "content_type": content_type, "size": body.len()
        }}})),
    )
        .into_response()
}

fn invalid(field: &str, description: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": "RecordInvalid", "description": "Record validation errors",
            "details": {field: [{"description": description, "error": "InvalidValue"}]}}),
    )
}

async fn create_ticket(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /api/v2/tickets.json") {
        return refusal;
    }
    let ticket = &body["ticket"];
    if ticket["comment"]["body"].as_str().is_none_or(str::is_empty) {
        return invalid("description", "Description: cannot be blank");
    }
    if !matches!(
        ticket["priority"].as_str(),
        None | Some("low" | "normal" | "high" | "urgent")
    ) {
        return invalid("priority", "Priority: is not valid");
    }
    if !matches!(
        ticket["type"].as_str(),
        None | Some("question" | "problem" | "incident" | "task")
    ) {
        return invalid("type", "Type: is not valid");
    }
    if let Some(email) = ticket["requester"]["email"].as_str()
        && !email.contains('@')
    {
        return invalid("requester", "Requester: Email is invalid");
    }
    let (stored, delay) = match open_ticket(&fake, ticket) {
        Ok(made) => made,
        Err(refusal) => return *refusal,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (StatusCode::CREATED, axum::Json(json!({"ticket": stored}))).into_response()
}

/// Stores the ticket (and its first comment); its stored form, and how long to wait before answering.
fn open_ticket(
    fake: &FakeZendesk,
    ticket: &Value,
) -> Result<(Value, std::time::Duration), Box<Response>> {
    let mut inner = fake.inner.lock().unwrap();
    for token in ticket["comment"]["uploads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !inner.uploads.contains_key(token) {
            return Err(Box::new(invalid("uploads", "Uploads: token is invalid")));
        }
    }
    let requester_key = ticket["requester"]["email"]
        .as_str()
        .or(ticket["requester"]["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    let next_user = 5000 + inner.users.len() as u64;
    let requester_id = *inner.users.entry(requester_key).or_insert(next_user);
    inner.next += 1;
    let id = inner.next;
    let mut stored = ticket.clone();
    stored["id"] = json!(id);
    stored["status"] = json!("new");
    stored["requester_id"] = json!(requester_id);
    stored["description"] = ticket["comment"]["body"].clone();
    inner.tickets.push(stored.clone());
    inner.next += 1;
    let comment_id = inner.next;
    inner.comments.entry(id).or_default().push(json!({
        "id": comment_id, "type": "Comment", "author_id": AGENT_ID,
        "public": ticket["comment"]["public"].as_bool().unwrap_or(true),
        "body": ticket["comment"]["body"], "plain_body": ticket["comment"]["body"],
    }));
    Ok((stored, inner.ticket_answer_delay))
}

/// base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk signs webhook requests.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(timestamp.as_bytes());
    context.update(body);
    base64::engine::general_purpose::STANDARD.encode(context.sign().as_ref())
}

/// `GET /api/v2/tickets/{id}.json`.
async fn show_ticket(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/tickets/{id}.json") {
        return refusal;
    }
    let id = file.trim_end_matches(".json");
    let inner = fake.inner.lock().unwrap();
    match inner
        .tickets
        .iter()
        .find(|t| t["id"].as_u64().is_some_and(|n| n.to_string() == id))
    {
        Some(ticket) => axum::Json(json!({"ticket": ticket})).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            json!({"error": "RecordNotFound", "description": "Not found"}),
        ),
    }
}

/// `GET /api/v2/tickets/{id}/comments.json`: the description first, then every comment.
async fn list_comments(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/tickets/{id}/comments.json") {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    let comments = inner.comments.get(&id).cloned().unwrap_or_default();
    axum::Json(json!({"comments": comments, "count": comments.len(), "next_page": null}))
        .into_response()
}

async fn create_webhook(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /api/v2/webhooks") {
        return refusal;
    }
    let webhook = &body["webhook"];
    let endpoint = webhook["endpoint"].as_str().unwrap_or_default();
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        return invalid("endpoint", "Endpoint: must be a URL");
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.next += 1;
    let mut stored = webhook.clone();
    stored["id"] = json!(format!("01HZWEBHOOK{:06}", inner.next));
    stored["secret"] = json!(format!("signing-secret-{}", inner.next));
    inner.webhooks.push(stored.clone());
    stored.as_object_mut().unwrap().remove("secret");
    (StatusCode::CREATED, axum::Json(json!({"webhook": stored}))).into_response()
}

async fn signing_secret(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/webhooks/{id}/signing_secret") {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    match inner.webhooks.iter().find(|w| w["id"] == json!(id)) {
        Some(webhook) => axum::Json(json!({"signing_secret": {
            "algorithm": "SHA256", "secret": webhook["secret"]
        }}))
        .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            json!({"errors": [{"code": "WebhookNotFound", "title": "Webhook not found"}]}),
        ),
    }
}

async fn delete_webhook(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "DELETE /api/v2/webhooks/{id}") {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    let before = inner.webhooks.len();
    inner.webhooks.retain(|w| w["id"] != json!(id));
    if inner.webhooks.len() == before {
        return StatusCode::NOT_FOUND.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn create_trigger(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /api/v2/triggers") {
        return refusal;
    }
    let trigger = &body["trigger"];
    if trigger["title"].as_str().is_none_or(str::is_empty) {
        return invalid("title", "Title: cannot be blank");
    }
    if trigger["actions"].as_array().is_none_or(Vec::is_empty) {
        return invalid("actions", "Actions: cannot be blank");
    }
    let mut inner = fake.inner.lock().unwrap();
    let webhook_known = trigger["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["field"] == "notification_webhook")
        .all(|a| inner.webhooks.iter().any(|w| w["id"] == a["value"][0]));
    if !webhook_known {
        return invalid("actions", "Actions: the webhook does not exist");
    }
    inner.next += 1;
    let mut stored = trigger.clone();
    stored["id"] = json!(inner.next);
    inner.triggers.push(stored.clone());
    (StatusCode::CREATED, axum::Json(json!({"trigger": stored}))).into_response()
}

async fn delete_trigger(
    State(fake): State<FakeZendesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "DELETE /api/v2/triggers/{id}") {
        return refusal;
    }
    let mut inner = fake.inner.lock().unwrap();
    let before = inner.triggers.len();
    inner.triggers.retain(|t| t["id"] != json!(id));
    if inner.triggers.len() == before {
        return StatusCode::NOT_FOUND.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

pub const CLIENT_ID: &str = "concierge_zendesk";
pub const CLIENT_SECRET: &str = "zendesk-client-secret";

/// `GET /oauth/authorizations/new`: the agent approves at once; back to `redirect_uri` with a code.
async fn authorize(
    State(fake): State<FakeZendesk>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    fake.inner
        .lock()
        .unwrap()
        .seen
        .push("GET /oauth/authorizations/new".to_owned());
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return error(StatusCode::BAD_REQUEST, json!({"error": "invalid_client"}));
    }
    if query.get("scope").map(String::as_str) != Some("read write") {
        return error(StatusCode::BAD_REQUEST, json!({"error": "invalid_scope"}));
    }
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    let mut inner = fake.inner.lock().unwrap();
    inner.next += 1;
    let code = format!("zd-code-{}", inner.next);
    inner.codes.insert(code.clone(), redirect.clone());
    let mut back = url::Url::parse(&redirect).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", query.get("state").map_or("", String::as_str));
    axum::response::Redirect::to(back.as_str()).into_response()
}

/// `POST /oauth/tokens`: codes and refresh tokens for a pair (30-minute access token, refresh token) when the
/// client asks for expiring tokens (`expires_in`); each refresh rotates both and the old refresh token dies.
async fn tokens(
    State(fake): State<FakeZendesk>,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.seen.push("POST /oauth/tokens".to_owned());
    let oauth_error = |error: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error("invalid_client", "Client authentication failed.");
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(redirect) = inner.codes.remove(&code) else {
                return oauth_error(
                    "invalid_grant",
                    "The provided authorization grant is invalid.",
                );
            };
            if Some(&redirect) != form.get("redirect_uri") {
                return oauth_error("invalid_grant", "The redirect URI does not match.");
            }
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            if !inner.refresh_tokens.contains(&token) {
                return oauth_error(
                    "invalid_grant",
                    "The provided authorization grant is invalid, expired, or revoked.",
                );
            }
            inner.refresh_tokens.retain(|t| *t != token);
            inner.refreshes += 1;
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "The authorization grant type is not supported.",
            );
        }
    }
    let expiring = form.contains_key("expires_in");
    inner.next += 1;
    let access = format!("zd-access-{}", inner.next);
    inner.access_tokens.push(access.clone());
    let mut body = json!({"access_token": access, "token_type": "bearer", "scope": "read write"});
    if expiring {
        inner.next += 1;
        let refresh = format!("zd-refresh-{}", inner.next);
        inner.refresh_tokens.push(refresh.clone());
        body["refresh_token"] = json!(refresh);
        body["expires_in"] = json!(1800);
        body["refresh_token_expires_in"] = json!(2_592_000);
    }
    axum::Json(body).into_response()
}

/// `DELETE /api/v2/oauth/tokens/current.json`: the bearer's token is revoked.
async fn revoke_current(State(fake): State<FakeZendesk>, headers: HeaderMap) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner
        .seen
        .push("DELETE /api/v2/oauth/tokens/current.json".to_owned());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if !inner.access_tokens.contains(&token) {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."}),
        );
    }
    inner.access_tokens.retain(|t| *t != token);
    inner.revoked += 1;
    StatusCode::NO_CONTENT.into_response()
}
