//! Queries and mutations of the caller, their organization, assistants, visitors and analytics.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::assistant::settings::{EngineSettings, ProviderSettings};
use crate::graphql::enums::{EmbedPlatform, Granularity, WidgetPosition, WidgetTheme};
use crate::graphql::members::Me;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::{BigInt, Timestamp};
use crate::graphql::types::{Assistant, Conn, Organization, Visitor, connection, wants_total};
use crate::graphql::{caller, found, sealer};
use crate::ids::Kind;
use crate::service::assistants::{self, CreateAssistant, UpdateAssistant, WidgetSettings};
use crate::service::conversations::{answer, visitors};
use crate::service::embed;
use crate::service::identity::organizations;
use crate::service::{PageRequest, analytics};

#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// The caller: organization, role and plan.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let (_, principal) = caller(ctx)?;
        Ok(Me(principal.clone()))
    }

    /// The caller's own organization.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        let (db, principal) = caller(ctx)?;
        Ok(Organization(organizations::get_own(db, principal).await?))
    }

    /// Each plan tier, cheapest first, with the features it includes: what an upgrade would add.
    async fn plans(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::members::PlanDescription>> {
        let (_, principal) = caller(ctx)?;
        crate::authz::authorize(
            principal,
            crate::authz::Resource::Plan,
            crate::authz::Action::Read,
        )
        .await?;
        Ok(crate::graphql::members::plan_descriptions(principal))
    }

    /// The organization's assistants.
    async fn assistants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Assistant>> {
        let (db, principal) = caller(ctx)?;
        Ok(assistants::list(db, principal)
            .await?
            .into_iter()
            .map(Assistant)
            .collect())
    }

    /// One assistant by id; null when the organization has none with this id.
    async fn assistant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assistant's id.")] id: ID,
    ) -> async_graphql::Result<Option<Assistant>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, assistants::get(db, principal, &id).await)?.map(Assistant))
    }

    /// The code that puts an assistant on a website, for a platform, with this server's address and the
    /// assistant's widget settings filled in; null when the organization has no such assistant. Wix and
    /// Squarespace need the standard plan or above.
    async fn embed_snippet(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assistant to embed.")] assistant_id: ID,
        #[graphql(
            desc = "The website or site builder the code is for.",
            default_with = "EmbedPlatform::Html"
        )]
        platform: EmbedPlatform,
    ) -> async_graphql::Result<Option<EmbedSnippet>> {
        let (db, principal) = caller(ctx)?;
        let base = crate::graphql::shared::<crate::config::PublicUrl>(ctx)?;
        let result = embed::snippet(db, principal, &assistant_id, platform.into(), &base.0).await;
        Ok(found(ctx, result)?.map(EmbedSnippet::from))
    }

    /// The organization's visitors, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn visitors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many visitors to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the visitors after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<Visitor>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Visitor)?;
        let total = if wants_total(ctx) {
            visitors::count(db, principal).await?
        } else {
            0
        };
        let rows = visitors::list(db, principal, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |v| &v.id,
            Visitor,
        ))
    }

    /// One visitor by id; null when the organization has none with this id.
    async fn visitor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The visitor's id.")] id: ID,
    ) -> async_graphql::Result<Option<Visitor>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, visitors::get(db, principal, &id).await)?.map(Visitor))
    }

    /// Conversation and knowledge-base counts.
    async fn analytics(&self) -> Analytics {
        Analytics
    }
}

/// Analytics of the caller's organization.
pub struct Analytics;

/// The organization's analytics: conversation and knowledge-base figures over a time range.
#[Object]
impl Analytics {
    /// Conversation figures of the conversations created in `[from, to)` (default: the last 30 days).
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start of the range (inclusive); 30 days before `to` when omitted.")]
        from: Option<Timestamp>,
        #[graphql(desc = "The end of the range (exclusive); now when omitted.")] to: Option<
            Timestamp,
        >,
        #[graphql(
            desc = "The width of the series' buckets: day when omitted; the range may hold at most 2,000 buckets."
        )]
        granularity: Option<Granularity>,
        #[graphql(
            desc = "Counts only the conversations of this assistant; all assistants when omitted."
        )]
        assistant_id: Option<ID>,
    ) -> async_graphql::Result<crate::graphql::analytics::ConversationStats> {
        let (db, principal) = caller(ctx)?;
        let range = range(from, to, granularity, assistant_id);
        Ok(analytics::conversations::stats(db, principal, &range)
            .await?
            .into())
    }

    /// Knowledge-base figures of `[from, to)` (default: the last 30 days).
    async fn knowledge_base(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start of the range (inclusive); 30 days before `to` when omitted.")]
        from: Option<Timestamp>,
        #[graphql(desc = "The end of the range (exclusive); now when omitted.")] to: Option<
            Timestamp,
        >,
        #[graphql(
            desc = "The width of the series' buckets: day when omitted; the range may hold at most 2,000 buckets."
        )]
        granularity: Option<Granularity>,
        #[graphql(
            desc = "Limits the figures to this assistant's questions and ratings; all assistants when omitted."
        )]
        assistant_id: Option<ID>,
    ) -> async_graphql::Result<crate::graphql::analytics::KnowledgeBaseStats> {
        let (db, principal) = caller(ctx)?;
        let range = range(from, to, granularity, assistant_id);
        Ok(analytics::knowledge_base::stats(db, principal, &range)
            .await?
            .into())
    }
}

fn range(
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    granularity: Option<Granularity>,
    assistant_id: Option<ID>,
) -> analytics::Range {
    analytics::Range {
        from: from.map(|t| t.0),
        to: to.map(|t| t.0),
        granularity: granularity.map(Into::into).unwrap_or_default(),
        assistant_id: assistant_id.map(|id| id.0),
    }
}

/// Widget settings to set: a field left out keeps its current value (on a new assistant, its default), and
/// `null` clears the avatar.
#[derive(InputObject, Default)]
pub struct WidgetInput {
    /// Whether websites show the widget; on by default. Off, visitors' sessions are refused and the widget hides
    /// itself on every site.
    pub enabled: Option<bool>,
    /// The corner of the page where the launcher sits; bottom right by default.
    pub position: Option<WidgetPosition>,
    /// The main colour, as `#rrggbb`; `#0071e3` by default.
    pub primary_color: Option<String>,
    /// The colour scheme; light by default.
    pub theme: Option<WidgetTheme>,
    /// The greeting shown when the widget opens, up to 1,000 characters.
    pub welcome_message: Option<String>,
    /// Whether the widget opens by itself when the page loads; false by default.
    pub auto_open: Option<bool>,
    /// How long to wait before opening by itself, in milliseconds: 0 to 600,000 (0 by default).
    pub auto_open_delay_ms: Option<u32>,
    /// Whether the assistant's avatar is shown; true by default.
    pub show_avatar: Option<bool>,
    /// The address of the avatar image: an absolute http or https URL of up to 2,048 characters; `null`
    /// removes it.
    pub avatar_url: MaybeUndefined<String>,
    /// Whether the widget stays hidden on mobile devices; false by default.
    pub hide_on_mobile: Option<bool>,
    /// The CSS stacking order of the widget on the page; 2147483000 by default.
    pub z_index: Option<i32>,
    /// The open widget's width in pixels, 200 to 1,200; 380 by default.
    pub width: Option<u32>,
    /// The open widget's height in pixels, 300 to 1,600; 600 by default.
    pub height: Option<u32>,
    /// Page paths where the widget stays hidden: up to 100, each starting with `/` and up to 500 characters.
    pub hide_on_paths: Option<Vec<String>>,
    /// Page paths where the widget shows (empty: everywhere): up to 100, each starting with `/` and up to 500
    /// characters.
    pub show_on_paths: Option<Vec<String>>,
    /// Website origins whose pages may run the widget (`https://shop.example.com`, `https://*.example.com`);
    /// empty allows every origin.
    pub allowed_origins: Option<Vec<String>>,
}

impl WidgetInput {
    /// Applies the given fields on top of `base`.
    fn apply(self, base: WidgetSettings) -> WidgetSettings {
        WidgetSettings {
            enabled: self.enabled.unwrap_or(base.enabled),
            position: self.position.map_or(base.position, Into::into),
            primary_color: self.primary_color.unwrap_or(base.primary_color),
            theme: self.theme.map_or(base.theme, Into::into),
            welcome_message: self.welcome_message.unwrap_or(base.welcome_message),
            auto_open: self.auto_open.unwrap_or(base.auto_open),
            auto_open_delay_ms: self.auto_open_delay_ms.unwrap_or(base.auto_open_delay_ms),
            show_avatar: self.show_avatar.unwrap_or(base.show_avatar),
            avatar_url: match self.avatar_url {
                MaybeUndefined::Undefined => base.avatar_url,
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(url) => Some(url),
            },
            hide_on_mobile: self.hide_on_mobile.unwrap_or(base.hide_on_mobile),
            z_index: self.z_index.unwrap_or(base.z_index),
            width: self.width.unwrap_or(base.width),
            height: self.height.unwrap_or(base.height),
            hide_on_paths: self.hide_on_paths.unwrap_or(base.hide_on_paths),
            show_on_paths: self.show_on_paths.unwrap_or(base.show_on_paths),
            allowed_origins: self.allowed_origins.unwrap_or(base.allowed_origins),
        }
    }
}

/// An OpenAI-compatible chat-completions provider.
#[derive(InputObject)]
pub struct AiProviderInput {
    /// Base URL of the API (http or https), e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The model for ordinary questions, as the provider names it (up to 200 characters).
    pub standard_model: String,
    /// Defaults to the standard model.
    pub complex_model: Option<String>,
    /// Seconds to wait for the provider before the knowledge-base answer is sent: 1 to 120, 10 by default.
    #[graphql(default = 10)]
    pub timeout_secs: u32,
    /// Most completion tokens per answer: 16 to 8,192, 400 by default.
    #[graphql(default = 400)]
    pub max_tokens: u32,
    /// Tokens per calendar month for the whole organization; unset means no limit.
    pub monthly_token_limit: Option<BigInt>,
    /// An embeddings model of the provider (`text-embedding-3-small`…, up to 200 characters): questions and
    /// entries are then embedded at its `/embeddings` endpoint instead of by the built-in model. Unset keeps the
    /// built-in model.
    pub embedding_model: Option<String>,
}

/// Assistant engine settings to change; absent fields keep their value.
#[derive(InputObject, Default)]
pub struct EngineInput {
    /// Whether the assistant answers visitor messages at all (true by default).
    pub auto_reply: Option<bool>,
    /// 0 to 1, the calibrated probability that the best entry is right; below it the fallback message is sent
    /// (default 0.8).
    pub confidence_threshold: Option<f64>,
    /// Sent when nothing answers the question well enough; 1 to 2,000 characters.
    pub fallback_message: Option<String>,
    /// Sent when the conversation is handed to a person; 1 to 2,000 characters.
    pub handoff_message: Option<String>,
    /// Phrases that ask for a person, on top of the built-in ones.
    pub handoff_phrases: Option<Vec<String>>,
    /// Failed responses in a row that hand off (default 2; 0 turns the trigger off).
    pub max_failed_responses: Option<u32>,
    /// VADER compound score below which a visitor message hands off (default -0.5); `null` turns it off.
    pub negative_sentiment_threshold: MaybeUndefined<f64>,
    /// The intents to recognise in visitor messages, up to 50 with distinct names; they replace the current ones.
    pub intents: Option<Vec<crate::graphql::engine::Intent>>,
    /// `null` removes the provider: answers come from the knowledge base alone.
    pub provider: MaybeUndefined<AiProviderInput>,
}

impl EngineInput {
    /// Applies the given fields on top of `base`.
    fn apply(self, base: EngineSettings) -> EngineSettings {
        EngineSettings {
            auto_reply: self.auto_reply.unwrap_or(base.auto_reply),
            confidence_threshold: self
                .confidence_threshold
                .unwrap_or(base.confidence_threshold),
            fallback_message: self.fallback_message.unwrap_or(base.fallback_message),
            handoff_message: self.handoff_message.unwrap_or(base.handoff_message),
            handoff_phrases: self.handoff_phrases.unwrap_or(base.handoff_phrases),
            max_failed_responses: self
                .max_failed_responses
                .unwrap_or(base.max_failed_responses),
            negative_sentiment_threshold: match self.negative_sentiment_threshold {
                MaybeUndefined::Undefined => base.negative_sentiment_threshold,
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(v) => Some(v),
            },
            intents: self.intents.map_or(base.intents, |intents| {
                intents.into_iter().map(Into::into).collect()
            }),
            provider: match self.provider {
                MaybeUndefined::Undefined => base.provider,
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(p) => Some(ProviderSettings {
                    complex_model: p.complex_model.unwrap_or_else(|| p.standard_model.clone()),
                    base_url: p.base_url,
                    standard_model: p.standard_model,
                    timeout_secs: p.timeout_secs,
                    max_tokens: p.max_tokens,
                    monthly_token_limit: p.monthly_token_limit.map(|limit| limit.0),
                    embedding_model: p.embedding_model,
                }),
            },
        }
    }
}

/// A new assistant; settings left out take their defaults.
#[derive(InputObject)]
pub struct CreateAssistantInput {
    /// The assistant's name, 1 to 200 characters.
    pub name: String,
    /// How the chat widget looks and behaves; defaults when omitted.
    pub widget: Option<WidgetInput>,
    /// How the assistant answers and hands off; defaults when omitted.
    pub engine: Option<EngineInput>,
    /// The AI provider's API key: write-only, stored encrypted.
    pub provider_api_key: Option<String>,
}

/// Changes to an assistant: absent fields keep their value.
#[derive(InputObject)]
pub struct UpdateAssistantInput {
    /// The assistant's new name, 1 to 200 characters.
    pub name: Option<String>,
    /// Fields given here change; the others keep their value.
    pub widget: Option<WidgetInput>,
    /// Fields given here change; the others keep their value.
    pub engine: Option<EngineInput>,
    /// Sets the AI provider's API key (write-only, stored encrypted); `null` removes it.
    pub provider_api_key: MaybeUndefined<String>,
}

/// Input of `updateVisitor`: absent fields keep their value, `null` clears.
#[derive(InputObject, Default)]
pub struct UpdateVisitorInput {
    /// The visitor's name, up to 200 characters; `null` clears it.
    pub name: MaybeUndefined<String>,
    /// The visitor's email address, up to 254 characters; `null` clears it.
    pub email: MaybeUndefined<String>,
    /// The visitor's phone number: up to 40 digits, spaces and `+ - ( ) .`; `null` clears it.
    pub phone: MaybeUndefined<String>,
    /// Marketing consent given (`true`) or withdrawn (`false`); omitted keeps it. Record only what the visitor
    /// agreed to.
    pub marketing_consent: Option<bool>,
}

payload_type! {
    /// The result of `updateVisitor`.
    VisitorPayload {
        /// The visitor as changed.
        visitor: Option<Visitor>,
    }
}

payload_type! {
    /// The result of `createAssistant` and `updateAssistant`.
    AssistantPayload {
        /// The assistant as stored.
        assistant: Option<Assistant>,
    }
}

#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Changes a visitor's contact details (emits `visitor.updated`).
    async fn update_visitor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The visitor to change.")] id: ID,
        #[graphql(desc = "The contact details to change.")] input: UpdateVisitorInput,
    ) -> async_graphql::Result<Option<VisitorPayload>> {
        let (db, principal) = caller(ctx)?;
        let input = visitors::UpdateVisitor {
            name: input.name.into(),
            email: input.email.into(),
            phone: input.phone.into(),
            marketing_consent: input.marketing_consent,
        };
        let result = visitors::update(db, principal, &id, input).await;
        payload(ctx, result, Args::Input, |v| VisitorPayload {
            visitor: Some(Visitor(v)),
            ..Default::default()
        })
    }

    /// Creates an assistant with its widget and engine settings.
    async fn create_assistant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new assistant's name and settings.")] input: CreateAssistantInput,
    ) -> async_graphql::Result<Option<AssistantPayload>> {
        let (db, principal) = caller(ctx)?;
        let widget = input.widget.map(|w| w.apply(WidgetSettings::default()));
        let engine = input.engine.map(|e| e.apply(EngineSettings::default()));
        let create = CreateAssistant {
            name: input.name,
            widget,
            engine,
            provider_api_key: input.provider_api_key,
        };
        let result = match assistants::create(db, sealer(ctx)?, principal, create).await {
            Ok(created) => start_embedding(ctx, &created).map(|()| created),
            Err(err) => Err(err),
        };
        payload(ctx, result, Args::Input, |a| AssistantPayload {
            assistant: Some(Assistant(a)),
            ..Default::default()
        })
    }

    /// Renames an assistant or changes its widget or engine settings.
    async fn update_assistant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The assistant to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateAssistantInput,
    ) -> async_graphql::Result<Option<AssistantPayload>> {
        let (db, principal) = caller(ctx)?;
        let sealer = sealer(ctx)?;
        let result = async {
            let current = match (&input.widget, &input.engine) {
                (None, None) => None,
                _ => Some(assistants::get(db, principal, &id).await?),
            };
            let widget = input
                .widget
                .zip(current.as_ref())
                .map(|(w, current)| w.apply(assistants::widget(current)));
            let engine = input
                .engine
                .zip(current.as_ref())
                .map(|(e, current)| e.apply(assistants::engine(current)));
            let update = UpdateAssistant {
                name: input.name,
                widget,
                engine,
                provider_api_key: input.provider_api_key.into(),
            };
            let updated = assistants::update(db, sealer, principal, &id, update).await?;
            start_embedding(ctx, &updated)?;
            Ok(updated)
        }
        .await;
        payload(ctx, result, Args::Input, |a| AssistantPayload {
            assistant: Some(Assistant(a)),
            ..Default::default()
        })
    }
}

/// Starts embedding the organization's entries with the assistant's provider embeddings model, if it has one,
/// now rather than at its first question.
fn start_embedding(
    ctx: &Context<'_>,
    assistant: &entities::assistant::Model,
) -> Result<(), crate::error::ApiError> {
    let engine = crate::graphql::engine(ctx)?;
    let settings = assistants::engine(assistant);
    if let Some(remote) = answer::remote_model(engine, assistant, &settings) {
        engine
            .retriever()
            .sync_remote(&assistant.organization_id, &remote);
    }
    Ok(())
}

/// The embed code of an assistant and how to install it.
#[derive(SimpleObject)]
pub struct EmbedSnippet {
    /// The platform the code is for.
    pub platform: EmbedPlatform,
    /// What to paste: the script tag with this server's address and the assistant's settings as attributes
    /// (for WordPress, the shortcode).
    pub snippet: String,
    /// The steps that put it on the site, in order.
    pub instructions: Vec<String>,
}

impl From<embed::Snippet> for EmbedSnippet {
    fn from(s: embed::Snippet) -> Self {
        Self {
            platform: s.platform.into(),
            snippet: s.snippet,
            instructions: s.instructions,
        }
    }
}
