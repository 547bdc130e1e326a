//! A loopback stand-in for an OpenAI-compatible chat-completions API (JSON and SSE, as documented by OpenAI):
//! it answers from the knowledge-base entries in the system prompt, citing the first, and records each request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// How the fake answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Answer,
    /// Waits this long before answering.
    Slow(Duration),
    /// HTTP 500 with an OpenAI error body.
    Fail,
    /// Streams each piece of the answer this long after the one before, as a model writes.
    Paced(Duration),
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `http://127.0.0.1:port/v1`
    pub base_url: String,
}

/// The usage the fake reports for every answer.
pub const PROMPT_TOKENS: u64 = 120;
pub const COMPLETION_TOKENS: u64 = 30;

impl FakeOpenAi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeOpenAi {
            mode: Arc::new(Mutex::new(Mode::Answer)),
            seen: Arc::default(),
            base_url: format!("http://{}/v1", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The answer: a sentence quoting the first entry of the system prompt and citing it as `[kb_…]`.
fn answer_for(body: &Value) -> (String, String) {
    let system = body["messages"][0]["content"].as_str().unwrap_or("");
    let entries = system.split_once("Knowledge base:").map_or("", |(_, e)| e);
    let cited = entries
        .split('[')
        .skip(1)
        .filter_map(|s| s.split(']').next())
        .find(|id| id.starts_with("kb_"))
        .unwrap_or("none")
        .to_owned();
    (
        format!("According to our help centre, here is the answer [{cited}]. Anything else?"),
        cited,
    )
}

async fn complete(State(fake): State<FakeOpenAi>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    fake.seen.lock().unwrap().push(Seen {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Fail => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"message": "The server had an error", "type": "server_error"}})),
            )
                .into_response();
        }
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Answer | Mode::Paced(_) => {}
    }
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let (text, _) = answer_for(&body);
    if body["stream"] == true {
        let mut events = String::new();
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_764_000_000,
                   "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        events.push_str(&format!(
            "data: {}\n\n",
            chunk(json!({"role": "assistant", "content": ""}), Value::Null)
        ));
        for piece in text.split_inclusive(' ') {
            events.push_str(&format!(
                "data: {}\n\n",
                chunk(json!({"content": piece}), Value::Null)
            ));
        }
        events.push_str(&format!("data: {}\n\n", chunk(json!({}), json!("stop"))));
        events.push_str(&format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_764_000_000,
                   "model": model, "choices": [],
                   "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                             "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}})
        ));
        events.push_str("data: [DONE]\n\n");
        if let Mode::Paced(gap) = mode {
            let frames: Vec<String> = events.split_inclusive("\n\n").map(str::to_owned).collect();
            let paced = futures_util::stream::iter(frames).then(move |frame| async move {
                tokio::time::sleep(gap).await;
                Ok::<_, std::io::Error>(frame)
            });
            return (
                [("content-type", "text/event-stream")],
                axum::body::Body::from_stream(paced),
            )
                .into_response();
        }
        return ([("content-type", "text/event-stream")], events).into_response();
    }
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                  "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
    }))
    .into_response()
}
