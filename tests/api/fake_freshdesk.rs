//! A loopback stand-in for Freshdesk's API v2, following its documented wire format: HTTP Basic with the API
//! key as user name and `X` as password (401 `{"code":"invalid_credentials"}` otherwise), `agents/me`, ticket
//! search (`query="tag:'…'"` and `query="agent_id:N AND (status:2 OR status:3)"`, the quotes required), tickets
//! created as `multipart/form-data` with `tags[]` and `attachments[]`, its validation errors
//! (`400 {"description":"Validation failed","errors":[{"field","message","code"}]}`), 429 with `Retry-After`,
//! failures after a ticket was made, tickets read back with their conversation entries (paged), and the
//! webhook an admin's automation rule calls when an agent replies or a ticket is resolved.

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

pub const API_KEY: &str = "fd-api-key";
/// The agents of the account: Ada (the key's), Bo and Cy.
pub const AGENTS: [u64; 3] = [101, 102, 103];

/// One part of a multipart form.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    /// A file's `Content-Type` (empty for a plain field).
    pub content_type: String,
    pub value: String,
}

#[derive(Debug, Default)]
struct Inner {
    tickets: Vec<Value>,
    /// The parts each ticket was created with.
    forms: Vec<Vec<Part>>,
    /// Open tickets each agent has beyond those made here.
    open: HashMap<u64, u64>,
    /// Answer 502 after making this many tickets (the ticket exists; the answer is lost).
    lose_answers: u32,
    next: u64,
    seen: Vec<String>,
    /// Each ticket's conversation entries (replies, notes, the requester's mails).
    conversations: HashMap<u64, Vec<Value>>,
    next_entry: u64,
    /// The URL an admin's automation rule calls when a ticket gets an agent's reply or is resolved.
    automation_url: Option<String>,
}

#[derive(Clone)]
pub struct FakeFreshdesk {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeFreshdesk {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/api/v2/agents/me", get(me))
            .route("/api/v2/search/tickets", get(search))
            .route("/api/v2/tickets", post(create))
            .route("/api/v2/tickets/{id}", get(show))
            .route("/api/v2/tickets/{id}/conversations", get(conversations))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("freshdesk={}", self.base_url)
    }

    /// The agent already has `n` open tickets.
    pub fn set_open_tickets(&self, agent: u64, n: u64) {
        self.inner.lock().unwrap().open.insert(agent, n);
    }

    /// The next `n` ticket creations make the ticket and then answer 502.
    pub fn lose_answers(&self, n: u32) {
        self.inner.lock().unwrap().lose_answers = n;
    }

    pub fn tickets(&self) -> Vec<Value> {
        self.inner.lock().unwrap().tickets.clone()
    }

    pub fn forms(&self) -> Vec<Vec<Part>> {
        self.inner.lock().unwrap().forms.clone()
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// What an admin does in Freshdesk: an automation rule ("Ticket updates": an agent replies, or the status
    /// becomes Resolved) whose action triggers a webhook to `url` with the simple JSON body.
    pub fn set_automation(&self, url: &str) {
        self.inner.lock().unwrap().automation_url = Some(url.to_owned());
    }

    /// A conversation entry on the ticket: an agent's reply (`incoming` false) or a requester's mail (`incoming`
    /// true), public or a private note. The automation rule fires for an agent's public reply; its answer's
    /// status is returned.
    pub async fn converse(
        &self,
        ticket: u64,
        body: &str,
        private: bool,
        incoming: bool,
    ) -> Option<u16> {
        let fire = {
            let mut inner = self.inner.lock().unwrap();
            inner.next_entry += 1;
            let entry = json!({"id": 5000 + inner.next_entry, "body": format!("<div>{body}</div>"),
                "body_text": body, "private": private, "incoming": incoming,
                "user_id": if incoming { 900 } else { AGENTS[0] }, "ticket_id": ticket,
                "created_at": "2026-12-06T10:00:00Z"});
            inner.conversations.entry(ticket).or_default().push(entry);
            !private && !incoming
        };
        if fire { self.fire(ticket).await } else { None }
    }

    /// The ticket becomes Resolved (status 4); the automation rule fires.
    pub async fn resolve(&self, ticket: u64) -> Option<u16> {
        {
            let mut inner = self.inner.lock().unwrap();
            if let Some(t) = inner.tickets.iter_mut().find(|t| t["id"] == ticket) {
                t["status"] = json!(4);
            }
        }
        self.fire(ticket).await
    }

    /// Runs the automation rule's webhook action for `ticket`, if an admin made the rule.
    pub async fn fire(&self, ticket: u64) -> Option<u16> {
        let url = self.inner.lock().unwrap().automation_url.clone()?;
        let answer = reqwest::Client::new()
            .post(url)
            .json(&json!({"freshdesk_webhook": {"ticket_id": ticket,
                "ticket_status": "Open", "ticket_url": format!("https://acme.freshdesk.com/a/tickets/{ticket}")}}))
            .send()
            .await
            .ok()?;
        Some(answer.status().as_u16())
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"code": "access_denied", "message": "The requested resource could not be found"})),
    )
        .into_response()
}

async fn show(
    State(fake): State<FakeFreshdesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, &format!("GET /api/v2/tickets/{id}")) {
        return refusal;
    }
    let inner = fake.inner.lock().unwrap();
    match inner.tickets.iter().find(|t| t["id"] == id) {
        Some(ticket) => axum::Json(ticket.clone()).into_response(),
        None => not_found(),
    }
}

/// `GET /api/v2/tickets/{id}/conversations?page=&per_page=`: oldest first, 30 a page unless asked (100 at most).
async fn conversations(
    State(fake): State<FakeFreshdesk>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<u64>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = admit(
        &fake,
        &headers,
        &format!("GET /api/v2/tickets/{id}/conversations"),
    ) {
        return refusal;
    }
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: usize = query
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    if per_page > 100 || page == 0 {
        return invalid(
            "per_page",
            "Has to be less than or equal to 100",
            "invalid_value",
        );
    }
    let inner = fake.inner.lock().unwrap();
    if !inner.tickets.iter().any(|t| t["id"] == id) {
        return not_found();
    }
    let entries: Vec<Value> = inner
        .conversations
        .get(&id)
        .into_iter()
        .flatten()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    axum::Json(entries).into_response()
}

fn admit(fake: &FakeFreshdesk, headers: &HeaderMap, what: &str) -> Option<Response> {
    fake.inner.lock().unwrap().seen.push(what.to_owned());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:X"))
    );
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    (given != expected).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "invalid_credentials",
                "message": "You have to be logged in to perform this action."})),
        )
            .into_response()
    })
}

fn invalid(field: &str, message: &str, code: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"description": "Validation failed",
            "errors": [{"field": field, "message": message, "code": code}]})),
    )
        .into_response()
}

async fn me(State(fake): State<FakeFreshdesk>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/agents/me") {
        return refusal;
    }
    axum::Json(json!({"id": 101, "available": true,
        "contact": {"name": "Ada Agent", "email": "ada@acme.test"}}))
    .into_response()
}

async fn search(
    State(fake): State<FakeFreshdesk>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "GET /api/v2/search/tickets") {
        return refusal;
    }
    let Some(quoted) = query
        .get("query")
        .and_then(|q| q.strip_prefix('"'))
        .and_then(|q| q.strip_suffix('"'))
    else {
        return invalid(
            "query",
            "It should be a string enclosed in double quotes",
            "invalid_value",
        );
    };
    let inner = fake.inner.lock().unwrap();
    let results: Vec<Value> = if let Some(tag) = quoted
        .strip_prefix("tag:'")
        .and_then(|t| t.strip_suffix('\''))
    {
        inner
            .tickets
            .iter()
            .filter(|t| {
                t["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.contains(&json!(tag)))
            })
            .cloned()
            .collect()
    } else if let Some(agent) = quoted
        .strip_prefix("agent_id:")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse::<u64>().ok())
    {
        if !quoted.ends_with("AND (status:2 OR status:3)") {
            return invalid("query", "unsupported query", "invalid_value");
        }
        let made: Vec<Value> = inner
            .tickets
            .iter()
            .filter(|t| t["responder_id"] == json!(agent))
            .cloned()
            .collect();
        let extra = inner.open.get(&agent).copied().unwrap_or(0);
        let total = made.len() as u64 + extra;
        return axum::Json(json!({"results": made, "total": total})).into_response();
    } else {
        return invalid("query", "unsupported query", "invalid_value");
    };
    let total = results.len();
    axum::Json(json!({"results": results, "total": total})).into_response()
}

/// The parts of a `multipart/form-data` body.
fn parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let body = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for chunk in body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n")?;
        let (head, value) = chunk.split_once("\r\n\r\n")?;
        let value = value.strip_suffix("\r\n")?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
        let field = |key: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                .and_then(|p| p.strip_suffix('"'))
                .map(str::to_owned)
        };
        let content_type = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default();
        out.push(Part {
            name: field("name")?,
            file_name: field("filename"),
            content_type,
            value: value.to_owned(),
        });
    }
    Some(out)
}

async fn create(State(fake): State<FakeFreshdesk>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = admit(&fake, &headers, "POST /api/v2/tickets") {
        return refusal;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("multipart/form-data") {
        return invalid(
            "attachments",
            "It should be a multipart form to carry attachments",
            "invalid_value",
        );
    }
    let Some(form) = parts(content_type, &body) else {
        return invalid(
            "body",
            "The multipart body could not be read",
            "invalid_value",
        );
    };
    let one = |name: &str| {
        form.iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    for required in ["subject", "description", "email"] {
        if one(required).is_none_or(|v| v.is_empty()) {
            return invalid(required, "It should not be blank", "missing_field");
        }
    }
    let priority: u64 = one("priority").and_then(|p| p.parse().ok()).unwrap_or(0);
    if !(1..=4).contains(&priority) {
        return invalid(
            "priority",
            "It should be one of these values: '1,2,3,4'",
            "invalid_value",
        );
    }
    if !matches!(
        one("type").as_deref(),
        Some("Question" | "Incident" | "Problem" | "Feature Request" | "Task")
    ) {
        return invalid(
            "type",
            "It should be one of the ticket types",
            "invalid_value",
        );
    }
    let responder = one("responder_id").map(|r| r.parse::<u64>().unwrap_or(0));
    if let Some(agent) = responder
        && !AGENTS.contains(&agent)
    {
        return invalid(
            "responder_id",
            "There is no agent matching the given responder_id",
            "invalid_value",
        );
    }
    let tags: Vec<String> = form
        .iter()
        .filter(|p| p.name == "tags[]")
        .map(|p| p.value.clone())
        .collect();
    let mut inner = fake.inner.lock().unwrap();
    inner.next += 1;
    let ticket = json!({
        "id": inner.next,
        "subject": one("subject"),
        "description": one("description"),
        "email": one("email"),
        "name": one("name"),
        "priority": priority,
        "status": one("status").and_then(|s| s.parse::<u64>().ok()),
        "source": one("source").and_then(|s| s.parse::<u64>().ok()),
        "type": one("type"),
        "tags": tags,
        "group_id": one("group_id").and_then(|g| g.parse::<u64>().ok()),
        "responder_id": responder,
        "attachments": form.iter().filter_map(|p| p.file_name.clone()).collect::<Vec<_>>(),
    });
    inner.tickets.push(ticket.clone());
    inner.forms.push(form);
    if inner.lose_answers > 0 {
        inner.lose_answers -= 1;
        return (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
    }
    (StatusCode::CREATED, axum::Json(ticket)).into_response()
}
