//! An assistant's engine settings as GraphQL objects and inputs: answering, hand-off triggers, intents, the AI
//! provider.

use async_graphql::{InputObject, SimpleObject};

use crate::assistant::settings::{EngineSettings, Intent as IntentSettings, ProviderSettings};
use crate::graphql::scalars::BigInt;

/// One intent: a name stored on the visitor messages that match one of its keywords or patterns.
#[derive(SimpleObject, InputObject)]
#[graphql(name = "AssistantIntent", input_name = "AssistantIntentInput")]
pub struct Intent {
    /// `refund`, `shipping`, `cancel`…: lower-case letters, digits, `_` and `-`.
    pub name: String,
    /// Whole words or phrases, case-insensitive; plural and verb endings match too.
    #[graphql(default)]
    pub keywords: Vec<String>,
    /// Regular expressions, case-insensitive, each up to 500 characters.
    #[graphql(default)]
    pub patterns: Vec<String>,
}

impl From<IntentSettings> for Intent {
    fn from(intent: IntentSettings) -> Self {
        Self {
            name: intent.name,
            keywords: intent.keywords,
            patterns: intent.patterns,
        }
    }
}

impl From<Intent> for IntentSettings {
    fn from(intent: Intent) -> Self {
        Self {
            name: intent.name,
            keywords: intent.keywords,
            patterns: intent.patterns,
        }
    }
}

/// An OpenAI-compatible chat-completions provider (the key is stored apart, sealed).
#[derive(SimpleObject)]
pub struct AiProvider {
    /// Base URL of the API, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// The model for ordinary questions.
    pub standard_model: String,
    /// The model for complex ones (long, several questions, or nothing confident found in the knowledge base).
    pub complex_model: String,
    /// Seconds before the provider is given up and the knowledge-base answer is sent.
    pub timeout_secs: u32,
    /// Most completion tokens per answer.
    pub max_tokens: u32,
    /// Tokens the organization may use per calendar month (UTC) before answers fall back to the knowledge base;
    /// null means no limit.
    pub monthly_token_limit: Option<BigInt>,
}

impl From<ProviderSettings> for AiProvider {
    fn from(provider: ProviderSettings) -> Self {
        Self {
            base_url: provider.base_url,
            standard_model: provider.standard_model,
            complex_model: provider.complex_model,
            timeout_secs: provider.timeout_secs,
            max_tokens: provider.max_tokens,
            monthly_token_limit: provider.monthly_token_limit.map(BigInt),
        }
    }
}

/// How the assistant answers, when it hands off, which intents it knows and its optional AI provider.
#[derive(SimpleObject)]
pub struct AssistantEngine {
    /// Whether the assistant answers visitor messages at all.
    pub auto_reply: bool,
    /// Below this confidence the fallback message is sent and the query counts as failed.
    pub confidence_threshold: f64,
    /// Sent when nothing answers the visitor's question well enough.
    pub fallback_message: String,
    /// Sent when the conversation is handed off to a person.
    pub handoff_message: String,
    /// Phrases that ask for a person, on top of the built-in ones ("talk to a person", "agent", "human"…).
    pub handoff_phrases: Vec<String>,
    /// Failed responses in a row that hand the conversation off; 0 turns this trigger off.
    pub max_failed_responses: u32,
    /// A visitor message scoring below this (VADER compound, -1..1) hands off; null turns this trigger off.
    pub negative_sentiment_threshold: Option<f64>,
    /// The intents recognised in visitor messages.
    pub intents: Vec<Intent>,
    /// The AI provider that writes answers from the knowledge base; null when answers come from the knowledge base
    /// alone.
    pub provider: Option<AiProvider>,
}

impl From<EngineSettings> for AssistantEngine {
    fn from(engine: EngineSettings) -> Self {
        Self {
            auto_reply: engine.auto_reply,
            confidence_threshold: engine.confidence_threshold,
            fallback_message: engine.fallback_message,
            handoff_message: engine.handoff_message,
            handoff_phrases: engine.handoff_phrases,
            max_failed_responses: engine.max_failed_responses,
            negative_sentiment_threshold: engine.negative_sentiment_threshold,
            intents: engine.intents.into_iter().map(Intent::from).collect(),
            provider: engine.provider.map(AiProvider::from),
        }
    }
}
