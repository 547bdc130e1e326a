//! A loopback stand-in for an OpenAI-compatible API (chat completions in JSON and SSE, and embeddings, as documented
//! by OpenAI): it answers from the knowledge-base entries in the system prompt, citing the first; it embeds texts
//! by the meanings of their words, with OpenAI's rate-limit and key errors on demand; it records each request.

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

/// How the embeddings endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embeddings {
    Answer,
    /// The next this many requests get 429 with `retry-after: 1` and OpenAI's rate-limit headers.
    RateLimited(u32),
    /// Every request gets 401 `invalid_api_key`.
    WrongKey,
    /// Every request gets 503, as during an outage.
    Down,
}

/// Words the fake's embedding model reads as one meaning each; the last word of each is one no other model
/// knows, so a question made of it can only be understood through this fake.
pub const MEANINGS: &[&[&str]] = &[
    &[
        "return",
        "returns",
        "refund",
        "back",
        "unworn",
        "flibbertigibbet",
    ],
    &[
        "shipping",
        "ship",
        "delivery",
        "days",
        "business",
        "quokkaroo",
    ],
];
/// Components of the fake's vectors.
const DIMENSIONS: usize = 32;

/// The fake's vector of `text`: a count per meaning of its words, and for other words one of the remaining
/// components by a hash, at unit length.
pub fn meaning_vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; DIMENSIONS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let component = MEANINGS
            .iter()
            .position(|words| words.contains(&word.as_str()))
            .unwrap_or_else(|| {
                let hash = word.bytes().fold(2_166_136_261u32, |h, b| {
                    (h ^ u32::from(b)).wrapping_mul(16_777_619)
                });
                MEANINGS.len() + hash as usize % (DIMENSIONS - MEANINGS.len())
            });
        vector[component] += 1.0;
    }
    if vector.iter().all(|x| *x == 0.0) {
        vector[DIMENSIONS - 1] = 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.into_iter().map(|x| x / norm).collect()
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
    embeddings: Arc<Mutex<Embeddings>>,
    /// The embeddings requests, with the status each was answered with.
    embedded: Arc<Mutex<Vec<(Seen, u16)>>>,
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
            embeddings: Arc::new(Mutex::new(Embeddings::Answer)),
            embedded: Arc::default(),
            base_url: format!("http://{}/v1", listener.local_addr().unwrap()),
        };
        let router = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/v1/embeddings", post(embed))
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

    pub fn set_embeddings(&self, mode: Embeddings) {
        *self.embeddings.lock().unwrap() = mode;
    }

    /// The embeddings requests so far, each with the status it got.
    pub fn embedded(&self) -> Vec<(Seen, u16)> {
        self.embedded.lock().unwrap().clone()
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

/// A request as the fake records it: its `Authorization` header and its JSON body (null when it is not JSON).
fn seen(headers: &HeaderMap, body: &str) -> Seen {
    Seen {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

async fn complete(State(fake): State<FakeOpenAi>, headers: HeaderMap, body: String) -> Response {
    let seen = seen(&headers, &body);
    let body = seen.body.clone();
    fake.seen.lock().unwrap().push(seen);
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

/// `POST /v1/embeddings`: `{"model", "input": string | [string]}` → `{"object": "list", "data": [{"object":
/// "embedding", "index", "embedding"}], "model", "usage"}`, or OpenAI's error bodies.
async fn embed(State(fake): State<FakeOpenAi>, headers: HeaderMap, body: String) -> Response {
    let seen = seen(&headers, &body);
    let body = seen.body.clone();
    let error = |status: StatusCode, message: &str, kind: &str, code: &str| {
        let body =
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
        (status, axum::Json(body)).into_response()
    };
    let response = {
        let mut mode = fake.embeddings.lock().unwrap();
        match *mode {
            Embeddings::RateLimited(left) if left > 0 => {
                *mode = if left == 1 {
                    Embeddings::Answer
                } else {
                    Embeddings::RateLimited(left - 1)
                };
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Rate limit reached for text-embedding-3-small on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
                    "requests",
                    "rate_limit_exceeded",
                );
                for (name, value) in [
                    ("retry-after", "1"),
                    ("x-ratelimit-limit-requests", "3"),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", "1s"),
                ] {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                Some(response)
            }
            Embeddings::WrongKey => Some(error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )),
            Embeddings::Down => Some(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The engine is currently overloaded, please try again later.",
                "server_error",
                "service_unavailable",
            )),
            Embeddings::Answer | Embeddings::RateLimited(_) => None,
        }
    };
    let inputs: Option<Vec<String>> = match &body["input"] {
        Value::String(text) => Some(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    };
    let response = response.unwrap_or_else(|| match (body["model"].as_str(), inputs) {
        (Some(model), Some(inputs)) if !inputs.is_empty() && inputs.len() <= 2048 => {
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": meaning_vector(text)}))
                .collect();
            let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
            axum::Json(json!({"object": "list", "data": data, "model": model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
            .into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "'input' must be a string or an array of 1 to 2048 strings, with a 'model'.",
            "invalid_request_error",
            "invalid_value",
        ),
    });
    fake.embedded
        .lock()
        .unwrap()
        .push((seen, response.status().as_u16()));
    response
}
