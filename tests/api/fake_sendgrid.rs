//! A loopback stand-in for SendGrid's v3 API, following its documented wire format: Bearer API keys (401
//! `{"errors":[{"field":null,"message":"authorization required"}]}`), `GET /v3/scopes`, `POST /v3/mail/send`
//! answered 202 with `X-Message-Id`, its validation errors (400 with `errors[]` naming the field), the 403 of
//! a sender that is not verified, and 429 with `X-RateLimit-Reset`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const API_KEY: &str = "SG.test-key";
/// A key that may read but not send.
pub const READ_ONLY_KEY: &str = "SG.read-only";
pub const SENDER: &str = "support@acme.test";

#[derive(Debug, Default)]
struct Inner {
    sent: Vec<Value>,
    next: u64,
    limited: u32,
}

#[derive(Clone)]
pub struct FakeSendGrid {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakeSendGrid {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            inner: Arc::default(),
            base_url: format!("http://{}", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/v3/scopes", get(scopes))
            .route("/v3/mail/send", post(send))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn base_urls(&self) -> String {
        format!("sendgrid={}", self.base_url)
    }

    pub fn sent(&self) -> Vec<Value> {
        self.inner.lock().unwrap().sent.clone()
    }

    pub fn limit_next(&self, n: u32) {
        self.inner.lock().unwrap().limited = n;
    }
}

fn errors(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"field": field, "message": message, "help": null}]})),
    )
        .into_response()
}

fn key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

async fn scopes(headers: HeaderMap) -> Response {
    match key(&headers) {
        Some(API_KEY) => {
            axum::Json(json!({"scopes": ["mail.send", "scopes.read", "user.profile.read"]}))
                .into_response()
        }
        Some(READ_ONLY_KEY) => axum::Json(json!({"scopes": ["scopes.read"]})).into_response(),
        _ => errors(StatusCode::UNAUTHORIZED, None, "authorization required"),
    }
}

async fn send(
    State(fake): State<FakeSendGrid>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if key(&headers) != Some(API_KEY) {
        return errors(StatusCode::UNAUTHORIZED, None, "authorization required");
    }
    let mut inner = fake.inner.lock().unwrap();
    if inner.limited > 0 {
        inner.limited -= 1;
        let reset = chrono::Utc::now().timestamp() + 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-ratelimit-limit", "600".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", reset.to_string()),
            ],
            axum::Json(json!({"errors": [{"field": null, "message": "too many requests"}]})),
        )
            .into_response();
    }
    let from = body["from"]["email"].as_str().unwrap_or_default();
    if !from.contains('@') {
        return errors(
            StatusCode::BAD_REQUEST,
            Some("from.email"),
            "The from email does not contain a valid address.",
        );
    }
    if from != SENDER {
        return errors(
            StatusCode::FORBIDDEN,
            Some("from"),
            "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.",
        );
    }
    let to = body["personalizations"][0]["to"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if to.is_empty() {
        return errors(
            StatusCode::BAD_REQUEST,
            Some("personalizations.0.to"),
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
        );
    }
    if body["template_id"].is_null()
        && (body["subject"].as_str().unwrap_or_default().is_empty()
            || body["content"].as_array().is_none_or(Vec::is_empty))
    {
        return errors(
            StatusCode::BAD_REQUEST,
            Some("content"),
            "Unless a valid template_id is provided, the content parameter is required.",
        );
    }
    inner.next += 1;
    let id = format!("sg-message-{}", inner.next);
    inner.sent.push(body);
    (StatusCode::ACCEPTED, [("x-message-id", id)]).into_response()
}
