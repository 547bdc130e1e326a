//! An OpenAI-compatible chat-completions client: one JSON call or an SSE stream, with usage, under a timeout.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use crate::egress;

/// One message of the prompt.
#[derive(Clone, Debug, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

/// What to ask for.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub base_url: &'a str,
    pub api_key: Option<&'a SecretString>,
    pub model: &'a str,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub timeout: Duration,
}

/// A finished completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why no completion came back; recorded on the reply as its fallback reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing complete within the timeout.
    Timeout,
    /// The provider could not be reached or answered with an error status.
    Error(String),
    /// The provider answered something that is not a completion.
    Malformed(String),
}

impl Failure {
    /// The short reason stored on the message: `provider_timeout`, `provider_error` or `provider_malformed`.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Timeout => "provider_timeout",
            Failure::Error(_) => "provider_error",
            Failure::Malformed(_) => "provider_malformed",
        }
    }

    /// What happened, for the log.
    pub fn detail(&self) -> String {
        match self {
            Failure::Timeout => "the provider did not answer in time".to_owned(),
            Failure::Error(e) | Failure::Malformed(e) => e.clone(),
        }
    }
}

/// The provider client: redirects off, the SSRF guard on the addresses actually connected to.
#[derive(Clone, Debug)]
pub struct Provider {
    client: reqwest::Client,
    egress_allow: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
    #[serde(default)]
    delta: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// Texts to turn into vectors at an OpenAI-compatible `/embeddings` endpoint.
#[derive(Clone, Debug)]
pub struct EmbeddingRequest<'a> {
    pub base_url: &'a str,
    pub api_key: Option<&'a SecretString>,
    pub model: &'a str,
    pub inputs: &'a [String],
    pub timeout: Duration,
}

/// Why no vectors came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbeddingFailure {
    /// Rate-limited or briefly unavailable (429, 503): try again after this long (`Retry-After`, or OpenAI's
    /// `x-ratelimit-reset-requests`, or a second).
    Busy(Duration),
    /// The key was refused (401, 403): nothing will work until it is changed.
    Refused(String),
    /// Unreachable, too slow, another error status, or an answer that is not one vector per text.
    Failed(String),
}

impl std::fmt::Display for EmbeddingFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbeddingFailure::Busy(wait) => write!(f, "busy, retry in {} ms", wait.as_millis()),
            EmbeddingFailure::Refused(why) | EmbeddingFailure::Failed(why) => f.write_str(why),
        }
    }
}

#[derive(Deserialize)]
struct EmbeddingBody {
    data: Vec<EmbeddingDatum>,
}

#[derive(Deserialize)]
struct EmbeddingDatum {
    index: usize,
    embedding: Vec<f32>,
}

/// How long a 429 or 503 asks to wait: `Retry-After` (seconds), else OpenAI's `x-ratelimit-reset-requests` (a
/// Go duration such as `1s`, `6m0s` or `20ms`), else a second; at most a minute.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let wait = header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .or_else(|| header("x-ratelimit-reset-requests").and_then(go_duration))
        .unwrap_or(Duration::from_secs(1));
    wait.min(Duration::from_secs(60))
}

/// A Go duration (`1h2m3.5s`, `20ms`): numbers each followed by `h`, `m`, `s` or `ms`.
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return None;
        };
        total += value * unit;
        rest = &rest[len..];
    }
    Some(Duration::from_secs_f64(total))
}

/// Tokens of a text when the provider reports none: about four characters per token.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

impl Provider {
    pub fn new(egress_allow: Option<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Concierge/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(egress::guarded_resolver(egress_allow.clone()))
            .build()?;
        Ok(Self {
            client,
            egress_allow,
        })
    }

    /// Asks for a completion; with `deltas`, streams it (SSE) and sends each piece of text as it arrives.
    ///
    /// The whole exchange, streamed or not, must finish within `request.timeout`.
    pub async fn complete(
        &self,
        request: Request<'_>,
        deltas: Option<&mpsc::Sender<String>>,
    ) -> Result<Completion, Failure> {
        let prompt_estimate: u64 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        let timeout = request.timeout;
        match tokio::time::timeout(timeout, self.exchange(request, deltas)).await {
            Ok(Ok(mut completion)) => {
                if completion.prompt_tokens == 0 && completion.completion_tokens == 0 {
                    completion.prompt_tokens = prompt_estimate;
                    completion.completion_tokens = estimate_tokens(&completion.text);
                }
                Ok(completion)
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// One vector per input, in order, within `request.timeout`.
    pub async fn embed(
        &self,
        request: EmbeddingRequest<'_>,
    ) -> Result<Vec<Vec<f32>>, EmbeddingFailure> {
        match tokio::time::timeout(request.timeout, self.embed_exchange(&request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(EmbeddingFailure::Failed(
                "the provider did not answer in time".to_owned(),
            )),
        }
    }

    async fn embed_exchange(
        &self,
        request: &EmbeddingRequest<'_>,
    ) -> Result<Vec<Vec<f32>>, EmbeddingFailure> {
        let url = format!("{}/embeddings", request.base_url.trim_end_matches('/'));
        let parsed = self.guarded(&url).map_err(EmbeddingFailure::Failed)?;
        let body = json!({
            "model": request.model,
            "input": request.inputs,
            "encoding_format": "float",
        });
        let mut call = self.client.post(parsed).json(&body);
        if let Some(key) = request.api_key {
            call = call.bearer_auth(key.expose_secret());
        }
        let response = call
            .send()
            .await
            .map_err(|e| EmbeddingFailure::Failed(format!("request failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let wait = retry_after(response.headers());
            let excerpt = excerpt(response).await;
            return Err(match status.as_u16() {
                429 | 503 => EmbeddingFailure::Busy(wait),
                401 | 403 => EmbeddingFailure::Refused(format!("HTTP {status}: {excerpt}")),
                _ => EmbeddingFailure::Failed(format!("HTTP {status}: {excerpt}")),
            });
        }
        let body: EmbeddingBody = response
            .json()
            .await
            .map_err(|e| EmbeddingFailure::Failed(format!("not an embeddings list: {e}")))?;
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; request.inputs.len()];
        for datum in body.data {
            let usable =
                !datum.embedding.is_empty() && datum.embedding.iter().all(|x| x.is_finite());
            if let Some(slot) = vectors.get_mut(datum.index)
                && usable
            {
                *slot = Some(datum.embedding);
            }
        }
        let vectors: Option<Vec<Vec<f32>>> = vectors.into_iter().collect();
        let vectors = vectors.ok_or_else(|| {
            EmbeddingFailure::Failed("the answer lacks a usable vector for some input".to_owned())
        })?;
        if vectors.windows(2).any(|w| w[0].len() != w[1].len()) {
            return Err(EmbeddingFailure::Failed(
                "the vectors differ in length".to_owned(),
            ));
        }
        Ok(vectors)
    }

    /// The URL, parsed and checked against the SSRF guard.
    fn guarded(&self, url: &str) -> Result<url::Url, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
        if let Some(host) = parsed.host()
            && let Some(reason) = egress::refusal(&host, self.egress_allow.as_deref())
        {
            return Err(format!("refused by the SSRF guard: {reason}"));
        }
        Ok(parsed)
    }

    async fn exchange(
        &self,
        request: Request<'_>,
        deltas: Option<&mpsc::Sender<String>>,
    ) -> Result<Completion, Failure> {
        let url = format!(
            "{}/chat/completions",
            request.base_url.trim_end_matches('/')
        );
        let parsed = self.guarded(&url).map_err(Failure::Error)?;
        let stream = deltas.is_some();
        let mut body = json!({
            "model": request.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": 0.2,
            "stream": stream,
        });
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        let mut call = self.client.post(parsed).json(&body);
        if let Some(key) = request.api_key {
            call = call.bearer_auth(key.expose_secret());
        }
        let mut response = call
            .send()
            .await
            .map_err(|e| Failure::Error(format!("request failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let excerpt = excerpt(response).await;
            return Err(Failure::Error(format!("HTTP {status}: {excerpt}")));
        }
        let Some(deltas) = deltas else {
            let body: Body = response
                .json()
                .await
                .map_err(|e| Failure::Malformed(format!("not a chat completion: {e}")))?;
            let text = body
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message)
                .and_then(|m| m.content)
                .ok_or_else(|| Failure::Malformed("no choices[0].message.content".to_owned()))?;
            let usage = body.usage.unwrap_or(Usage {
                prompt_tokens: 0,
                completion_tokens: 0,
            });
            return Ok(Completion {
                text,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            });
        };
        // Server-sent events: `data: {chunk}` lines, blank-line separated, ending with `data: [DONE]`.
        let mut buffer: Vec<u8> = Vec::new();
        let mut text = String::new();
        let mut usage = (0, 0);
        let mut done = false;
        while !done {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| Failure::Error(format!("stream broke: {e}")))?;
            let Some(chunk) = chunk else { break };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim_end().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                let event: Body = serde_json::from_str(data)
                    .map_err(|e| Failure::Malformed(format!("a stream chunk is not JSON: {e}")))?;
                if let Some(u) = event.usage {
                    usage = (u.prompt_tokens, u.completion_tokens);
                }
                if let Some(piece) = event
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.delta)
                    .and_then(|d| d.content)
                    && !piece.is_empty()
                {
                    text.push_str(&piece);
                    // A widget that went away does not stop the answer from being stored.
                    let _ = deltas.send(piece).await;
                }
            }
        }
        if !done {
            return Err(Failure::Malformed(
                "the stream ended without data: [DONE]".to_owned(),
            ));
        }
        Ok(Completion {
            text,
            prompt_tokens: usage.0,
            completion_tokens: usage.1,
        })
    }
}

/// The first 300 characters of an error response's body, for the log.
async fn excerpt(response: reqwest::Response) -> String {
    response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_read_from_retry_after_or_openai_reset_headers() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = reqwest::header::HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, reqwest::header::HeaderValue::from_static(value));
            }
            map
        };
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset-requests", "1.5s")])),
            Duration::from_millis(1_500)
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset-requests", "20ms")])),
            Duration::from_millis(20)
        );
        // Nothing usable: a second; too long: a minute.
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon")])),
            Duration::from_secs(1)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3600")])),
            Duration::from_secs(60)
        );
        assert_eq!(go_duration("1m30.5s"), Some(Duration::from_millis(90_500)));
        assert_eq!(go_duration("5x"), None);
        assert_eq!(go_duration(""), None);
    }
}
