//! What an assistant's engine is configured with: answering, hand-off triggers, intents and the AI provider.

use serde::{Deserialize, Serialize};

/// One intent: a name stored on the visitor messages that match one of its keywords or patterns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// `refund`, `shipping`, `cancel`…: lower-case letters, digits, `_` and `-`.
    pub name: String,
    /// Whole words or phrases, case-insensitive; plural and verb endings match too.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Regular expressions (Rust `regex` syntax), case-insensitive.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// An OpenAI-compatible chat-completions provider (the key is stored apart, sealed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Base URL of the API, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// The model for ordinary questions.
    pub standard_model: String,
    /// The model for complex ones (long, several questions, or nothing confident found in the knowledge base).
    pub complex_model: String,
    /// Seconds before the provider is given up and the knowledge-base answer is sent.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u32,
    /// Most completion tokens per answer.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Tokens the organization may use per calendar month (UTC) before answers fall back to the knowledge base;
    /// unset means no limit.
    #[serde(default)]
    pub monthly_token_limit: Option<u64>,
    /// The provider's embeddings model (`text-embedding-3-small`…): when set, this assistant's questions and the
    /// organization's entries are embedded at `/embeddings` instead of by the built-in model.
    #[serde(default)]
    pub embedding_model: Option<String>,
}

fn default_timeout_secs() -> u32 {
    10
}

fn default_max_tokens() -> u32 {
    400
}

/// How the assistant answers, when it hands off, which intents it knows and its optional AI provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// Whether the assistant answers visitor messages at all.
    pub auto_reply: bool,
    /// Below this confidence (the calibrated probability that the best entry is the right one) the fallback
    /// message is sent and the query counts as failed.
    pub confidence_threshold: f64,
    pub fallback_message: String,
    /// Sent when the conversation is handed off to a person.
    pub handoff_message: String,
    /// Phrases that ask for a person, on top of the built-in ones ("talk to a person", "agent", "human"…).
    pub handoff_phrases: Vec<String>,
    /// Failed responses in a row that hand the conversation off; 0 turns this trigger off.
    pub max_failed_responses: u32,
    /// A visitor message scoring below this (VADER compound, -1..1) hands off; unset turns this trigger off.
    pub negative_sentiment_threshold: Option<f64>,
    pub intents: Vec<Intent>,
    pub provider: Option<ProviderSettings>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            auto_reply: true,
            confidence_threshold: 0.8,
            fallback_message:
                "I'm not sure I have the answer to that. Could you rephrase it, or ask to talk to \
                               a person?"
                    .to_owned(),
            handoff_message:
                "I'm connecting you with a member of our team. They will reply here shortly."
                    .to_owned(),
            handoff_phrases: Vec::new(),
            max_failed_responses: 2,
            negative_sentiment_threshold: Some(-0.5),
            intents: Vec::new(),
            provider: None,
        }
    }
}
