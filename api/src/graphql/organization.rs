//! Queries and mutations of the caller, their organization, assistants, visitors and analytics.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use crate::assistant::settings::{EngineSettings, ProviderSettings};
use crate::graphql::enums::{Granularity, WidgetPosition, WidgetTheme};
use crate::graphql::members::Me;
use crate::graphql::types::{
    Assistant, Conn, Organization, Timestamp, Visitor, connection, wants_total,
};
use crate::graphql::{caller, sealer};
use crate::ids::Kind;
use crate::service::assistants::{self, CreateAssistant, UpdateAssistant, WidgetSettings};
use crate::service::conversations::visitors;
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

    /// The organization's assistants.
    async fn assistants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Assistant>> {
        let (db, principal) = caller(ctx)?;
        Ok(assistants::list(db, principal)
            .await?
            .into_iter()
            .map(Assistant)
            .collect())
    }

    /// One assistant by id.
    async fn assistant(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Assistant> {
        let (db, principal) = caller(ctx)?;
        Ok(Assistant(assistants::get(db, principal, &id).await?))
    }

    /// The organization's visitors, newest first.
    async fn visitors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
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

    /// One visitor by id.
    async fn visitor(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Visitor> {
        let (db, principal) = caller(ctx)?;
        Ok(Visitor(visitors::get(db, principal, &id).await?))
    }

    /// Conversation and knowledge-base counts.
    async fn analytics(&self) -> Analytics {
        Analytics
    }
}

/// Analytics of the caller's organization.
pub struct Analytics;

#[Object]
impl Analytics {
    /// Conversation figures of the conversations created in `[from, to)` (default: the last 30 days).
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        granularity: Option<Granularity>,
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
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        granularity: Option<Granularity>,
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

/// Widget settings to set; absent fields take their defaults.
#[derive(InputObject, Default)]
pub struct WidgetInput {
    pub position: Option<WidgetPosition>,
    pub primary_color: Option<String>,
    pub theme: Option<WidgetTheme>,
    pub welcome_message: Option<String>,
    pub auto_open: Option<bool>,
    pub auto_open_delay_ms: Option<u32>,
    pub show_avatar: Option<bool>,
    pub avatar_url: Option<String>,
    pub hide_on_mobile: Option<bool>,
    pub z_index: Option<i32>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub hide_on_paths: Option<Vec<String>>,
    pub show_on_paths: Option<Vec<String>>,
    /// Website origins whose pages may run the widget (`https://shop.example.com`, `https://*.example.com`);
    /// empty allows every origin.
    pub allowed_origins: Option<Vec<String>>,
}

impl WidgetInput {
    /// Applies the given fields on top of `base`.
    fn apply(self, base: WidgetSettings) -> WidgetSettings {
        WidgetSettings {
            position: self.position.map_or(base.position, Into::into),
            primary_color: self.primary_color.unwrap_or(base.primary_color),
            theme: self.theme.map_or(base.theme, Into::into),
            welcome_message: self.welcome_message.unwrap_or(base.welcome_message),
            auto_open: self.auto_open.unwrap_or(base.auto_open),
            auto_open_delay_ms: self.auto_open_delay_ms.unwrap_or(base.auto_open_delay_ms),
            show_avatar: self.show_avatar.unwrap_or(base.show_avatar),
            avatar_url: self.avatar_url.or(base.avatar_url),
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
    pub standard_model: String,
    /// Defaults to the standard model.
    pub complex_model: Option<String>,
    #[graphql(default = 10)]
    pub timeout_secs: u32,
    #[graphql(default = 400)]
    pub max_tokens: u32,
    /// Tokens per calendar month for the whole organization; unset means no limit.
    pub monthly_token_limit: Option<u64>,
}

/// Assistant engine settings to change; absent fields keep their value.
#[derive(InputObject, Default)]
pub struct EngineInput {
    pub auto_reply: Option<bool>,
    /// 0 to 1; below it the fallback message is sent (default 0.35).
    pub confidence_threshold: Option<f64>,
    pub fallback_message: Option<String>,
    pub handoff_message: Option<String>,
    /// Phrases that ask for a person, on top of the built-in ones.
    pub handoff_phrases: Option<Vec<String>>,
    /// Failed responses in a row that hand off (default 2; 0 turns the trigger off).
    pub max_failed_responses: Option<u32>,
    /// VADER compound score below which a visitor message hands off (default -0.5); `null` turns it off.
    pub negative_sentiment_threshold: MaybeUndefined<f64>,
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
                    monthly_token_limit: p.monthly_token_limit,
                }),
            },
        }
    }
}

#[derive(InputObject)]
pub struct CreateAssistantInput {
    pub name: String,
    pub widget: Option<WidgetInput>,
    pub engine: Option<EngineInput>,
    /// The AI provider's API key: write-only, stored encrypted.
    pub provider_api_key: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateAssistantInput {
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
    pub name: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Changes a visitor's contact details (emits `visitor.updated`).
    async fn update_visitor(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateVisitorInput,
    ) -> async_graphql::Result<Visitor> {
        let (db, principal) = caller(ctx)?;
        let input = visitors::UpdateVisitor {
            name: input.name.into(),
            email: input.email.into(),
            phone: input.phone.into(),
        };
        Ok(Visitor(visitors::update(db, principal, &id, input).await?))
    }

    /// Creates an assistant with its widget settings.
    async fn create_assistant(
        &self,
        ctx: &Context<'_>,
        input: CreateAssistantInput,
    ) -> async_graphql::Result<Assistant> {
        let (db, principal) = caller(ctx)?;
        let widget = input.widget.map(|w| w.apply(WidgetSettings::default()));
        let engine = input.engine.map(|e| e.apply(EngineSettings::default()));
        Ok(Assistant(
            assistants::create(
                db,
                sealer(ctx)?,
                principal,
                CreateAssistant {
                    name: input.name,
                    widget,
                    engine,
                    provider_api_key: input.provider_api_key,
                },
            )
            .await?,
        ))
    }

    /// Renames an assistant or changes its widget settings.
    async fn update_assistant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAssistantInput,
    ) -> async_graphql::Result<Assistant> {
        let (db, principal) = caller(ctx)?;
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
        Ok(Assistant(
            assistants::update(
                db,
                sealer(ctx)?,
                principal,
                &id,
                UpdateAssistant {
                    name: input.name,
                    widget,
                    engine,
                    provider_api_key: input.provider_api_key.into(),
                },
            )
            .await?,
        ))
    }
}
