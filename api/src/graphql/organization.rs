//! Queries and mutations of the caller, their organization, assistants, visitors and analytics.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::caller;
use crate::graphql::types::{Assistant, Conn, Me, Organization, Visitor, connection, wants_total};
use crate::ids::Kind;
use crate::service::assistants::{
    self, CreateAssistant, UpdateAssistant, WidgetPosition, WidgetSettings, WidgetTheme,
};
use crate::service::{PageRequest, analytics, organizations, visitors};

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

/// A count under a label.
#[derive(SimpleObject)]
pub struct LabelledCount {
    pub label: String,
    pub count: u64,
}

/// Conversation counts.
#[derive(SimpleObject)]
pub struct ConversationAnalytics {
    pub total: u64,
    pub by_status: Vec<LabelledCount>,
    pub messages: u64,
    pub average_messages_per_conversation: f64,
}

/// Knowledge-base counts.
#[derive(SimpleObject)]
pub struct KnowledgeBaseAnalytics {
    pub total: u64,
    pub active: u64,
    pub inactive: u64,
    /// Uncategorized entries count under the empty label.
    pub by_category: Vec<LabelledCount>,
}

fn labelled(map: std::collections::BTreeMap<String, u64>) -> Vec<LabelledCount> {
    map.into_iter()
        .map(|(label, count)| LabelledCount { label, count })
        .collect()
}

#[Object]
impl Analytics {
    async fn conversations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ConversationAnalytics> {
        let (db, principal) = caller(ctx)?;
        let stats = analytics::conversations(db, principal).await?;
        Ok(ConversationAnalytics {
            total: stats.total,
            by_status: labelled(stats.by_status),
            messages: stats.messages,
            average_messages_per_conversation: stats.average_messages_per_conversation,
        })
    }

    async fn knowledge_base(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<KnowledgeBaseAnalytics> {
        let (db, principal) = caller(ctx)?;
        let stats = analytics::knowledge_base(db, principal).await?;
        Ok(KnowledgeBaseAnalytics {
            total: stats.total,
            active: stats.active,
            inactive: stats.inactive,
            by_category: labelled(stats.by_category),
        })
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
}

impl WidgetInput {
    /// Applies the given fields on top of `base`.
    fn apply(self, base: WidgetSettings) -> WidgetSettings {
        WidgetSettings {
            position: self.position.unwrap_or(base.position),
            primary_color: self.primary_color.unwrap_or(base.primary_color),
            theme: self.theme.unwrap_or(base.theme),
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
        }
    }
}

#[derive(InputObject)]
pub struct CreateAssistantInput {
    pub name: String,
    pub widget: Option<WidgetInput>,
}

#[derive(InputObject)]
pub struct UpdateAssistantInput {
    pub name: Option<String>,
    /// Fields given here change; the others keep their value.
    pub widget: Option<WidgetInput>,
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
        Ok(Assistant(
            assistants::create(
                db,
                principal,
                CreateAssistant {
                    name: input.name,
                    widget,
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
        let widget = match input.widget {
            Some(w) => {
                let current = assistants::get(db, principal, &id).await?;
                Some(w.apply(assistants::widget(&current)))
            }
            None => None,
        };
        Ok(Assistant(
            assistants::update(
                db,
                principal,
                &id,
                UpdateAssistant {
                    name: input.name,
                    widget,
                },
            )
            .await?,
        ))
    }
}
