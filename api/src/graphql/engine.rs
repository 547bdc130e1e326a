//! An assistant's engine settings as GraphQL objects and inputs: answering, hand-off triggers, intents, the AI
//! provider.

use async_graphql::{ComplexObject, Context, Enum, InputObject, SimpleObject};

use crate::assistant::remote::{self, RemoteStatus};
use crate::error::ApiError;

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
#[graphql(complex)]
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
    /// The embeddings model: when set, this assistant's questions and the organization's entries are embedded at
    /// the provider's `/embeddings` endpoint instead of by the built-in model.
    pub embedding_model: Option<String>,
    /// The organization and the name its vectors under the embeddings model are stored under.
    #[graphql(skip)]
    embedding: Option<(String, String)>,
}

/// How far embedding the organization's entries with the provider's model has come.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum EmbeddingState {
    /// Nothing has started it on this instance yet (it starts when the settings are saved or at a question).
    NotStarted,
    /// A pass is reading stored vectors or asking the provider for the missing ones.
    Computing,
    /// Every entry had its vector when the last pass ended: questions rank with the provider's model.
    Ready,
    /// The last pass gave up (see `error`): questions rank with the built-in model until a change or a question
    /// starts another.
    Failed,
}

/// Where this instance stands in embedding the organization's entries with the provider's embeddings model.
#[derive(SimpleObject)]
pub struct EmbeddingStatus {
    /// Not started, computing, ready or failed.
    pub state: EmbeddingState,
    /// What the provider answered, when the last pass failed.
    pub error: Option<String>,
}

#[ComplexObject]
impl AiProvider {
    /// How far this instance has come in embedding the organization's entries with `embeddingModel`; null without
    /// one.
    async fn embedding_status(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<EmbeddingStatus>, ApiError> {
        let Some((organization_id, model_id)) = &self.embedding else {
            return Ok(None);
        };
        let status = crate::graphql::engine(ctx)?
            .retriever()
            .remote_status(organization_id, model_id);
        let (state, error) = match status {
            None => (EmbeddingState::NotStarted, None),
            Some(RemoteStatus::Computing) => (EmbeddingState::Computing, None),
            Some(RemoteStatus::Ready) => (EmbeddingState::Ready, None),
            Some(RemoteStatus::Failed(why)) => (EmbeddingState::Failed, Some(why)),
        };
        Ok(Some(EmbeddingStatus { state, error }))
    }
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
            embedding: None,
            embedding_model: provider.embedding_model,
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

impl AssistantEngine {
    /// The settings of an assistant of the organization.
    pub fn of(engine: EngineSettings, organization_id: &str) -> Self {
        let mut this = Self::from(engine);
        if let Some(provider) = &mut this.provider {
            provider.embedding = provider.embedding_model.as_ref().map(|model| {
                (
                    organization_id.to_owned(),
                    remote::model_id(&provider.base_url, model),
                )
            });
        }
        this
    }
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
