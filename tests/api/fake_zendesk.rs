//! A loopback stand-in for Zendesk Support, following its documented wire format: API-token authentication
//! (HTTP Basic with `{email}/token` and the token; 401 `{"error":"Couldn't authenticate you"}` otherwise),
//! `users/me`, tickets (create with requester, comment, uploads, priority, type, tags and `external_id`; list
//! by `external_id`), uploads (`POST /api/v2/uploads.json?filename=` with the raw file), its error bodies
//! (`422 {"error":"RecordInvalid","description","details"}`), 429 with `Retry-After`, and 503 outages.

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
}

#[derive(Debug, Default)]
struct Inner {
    tickets: Vec<Value>,
    uploads: HashMap<String, Upload>,
    next: u64,
    /// Answer 503 to this many API calls first.
    outage: u32,
    /// Answer 429 to this many API calls first.
    throttle: u32,
    seen: Vec<String>,
}

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
            .route("/api/v2/users/me.json", get(me))
            .route(
                "/api/v2/tickets.json",
                get(list_tickets).post(create_ticket),
            )
            .route("/api/v2/uploads.json", post(upload))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("zendesk={}", self.base_url)
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
        self.inner.lock().unwrap().uploads.get(token).cloned()
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
    if given != expected {
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
    inner.next += 1;
    let token = format!("upload-token-{}", inner.next);
    inner.uploads.insert(
        token.clone(),
        Upload {
            file_name: file_name.clone(),
            content_type: content_type.clone(),
            content: String::from_utf8_lossy(&body).into_owned(),
        },
    );
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
    let mut inner = fake.inner.lock().unwrap();
    for token in ticket["comment"]["uploads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !inner.uploads.contains_key(token) {
            return invalid("uploads", "Uploads: token is invalid");
        }
    }
    inner.next += 1;
    let mut stored = ticket.clone();
    stored["id"] = json!(inner.next);
    stored["status"] = json!("new");
    stored["description"] = ticket["comment"]["body"].clone();
    inner.tickets.push(stored.clone());
    (StatusCode::CREATED, axum::Json(json!({"ticket": stored}))).into_response()
}
