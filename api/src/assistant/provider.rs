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

    async fn exchange(
        &self,
        request: Request<'_>,
        deltas: Option<&mpsc::Sender<String>>,
    ) -> Result<Completion, Failure> {
        let url = format!(
            "{}/chat/completions",
            request.base_url.trim_end_matches('/')
        );
        let parsed = url::Url::parse(&url).map_err(|e| Failure::Error(format!("bad URL: {e}")))?;
        if let Some(host) = parsed.host()
            && let Some(reason) = egress::refusal(&host, self.egress_allow.as_deref())
        {
            return Err(Failure::Error(format!(
                "refused by the SSRF guard: {reason}"
            )));
        }
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
            let excerpt: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
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
