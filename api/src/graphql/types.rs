//! GraphQL object types, built from service results (entities are never exposed directly).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{
    Context, ID, InputValueError, InputValueResult, Object, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, SecondsFormat, Utc};
use entities::{
    api_key, assistant, conversation, knowledge_base_entry, message, organization, visitor,
};

use crate::graphql::caller;
use crate::graphql::enums::{Author, Plan, Role, Scope, Status, WidgetPosition, WidgetTheme};
use crate::graphql::loaders::{AssistantKey, LatestMessagesKey, RequestLoader, VisitorKey};
use crate::ids::Kind;
use crate::service::assistants::WidgetSettings;
use crate::service::conversations;
use crate::service::conversations::messages::{self, Direction};
use crate::service::{Page, PageRequest, encode_cursor, knowledge_base};

/// An instant in UTC as RFC 3339 with a `Z`, exactly as REST v1 writes it: `2026-11-25T13:55:09.470772Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|at| Timestamp(at.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// Fields every connection carries beside its edges.
#[derive(SimpleObject, Debug, Default)]
pub struct ConnectionFields {
    /// How many nodes match, across all pages (computed only when asked for).
    pub total_count: u64,
}

/// A Relay connection with `totalCount`.
pub type Conn<T> = Connection<String, T, ConnectionFields>;

/// Builds a connection from a service page; `total` is asked for only when the query selects `totalCount`.
pub fn connection<M, T>(
    page: Page<M>,
    has_previous: bool,
    total_count: u64,
    id: impl Fn(&M) -> &str,
    node: impl Fn(M) -> T,
) -> Conn<T>
where
    T: async_graphql::OutputType,
{
    let mut conn = Connection::with_additional_fields(
        has_previous,
        page.has_more,
        ConnectionFields { total_count },
    );
    conn.edges = page
        .items
        .into_iter()
        .map(|m| Edge::new(encode_cursor(id(&m)), node(m)))
        .collect();
    conn
}

/// Whether the current field's selection asks for `totalCount`.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// A count under a label.
#[derive(async_graphql::SimpleObject)]
pub struct LabelledCount {
    pub label: String,
    pub count: u64,
}

/// A map's entries as labelled counts, in key order.
pub fn labelled(map: &std::collections::BTreeMap<String, u64>) -> Vec<LabelledCount> {
    map.iter()
        .map(|(label, count)| LabelledCount {
            label: label.clone(),
            count: *count,
        })
        .collect()
}

/// The caller's organization.
pub struct Organization(pub organization::Model);

#[Object]
impl Organization {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn plan(&self) -> async_graphql::Result<Plan> {
        Ok(crate::auth::Plan::stored(&self.0.plan)?.into())
    }
    /// Members sign in only through SSO (API keys keep working).
    async fn sso_enforced(&self) -> bool {
        self.0.sso_enforced
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// The embed widget's settings.
pub struct Widget(pub WidgetSettings);

#[Object]
impl Widget {
    async fn position(&self) -> WidgetPosition {
        self.0.position.into()
    }
    async fn primary_color(&self) -> &str {
        &self.0.primary_color
    }
    async fn theme(&self) -> WidgetTheme {
        self.0.theme.into()
    }
    async fn welcome_message(&self) -> &str {
        &self.0.welcome_message
    }
    async fn auto_open(&self) -> bool {
        self.0.auto_open
    }
    async fn auto_open_delay_ms(&self) -> u32 {
        self.0.auto_open_delay_ms
    }
    async fn show_avatar(&self) -> bool {
        self.0.show_avatar
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    async fn hide_on_mobile(&self) -> bool {
        self.0.hide_on_mobile
    }
    async fn z_index(&self) -> i32 {
        self.0.z_index
    }
    async fn width(&self) -> u32 {
        self.0.width
    }
    async fn height(&self) -> u32 {
        self.0.height
    }
    async fn hide_on_paths(&self) -> &[String] {
        &self.0.hide_on_paths
    }
    async fn show_on_paths(&self) -> &[String] {
        &self.0.show_on_paths
    }
    /// Website origins whose pages may run the widget; empty allows every origin.
    async fn allowed_origins(&self) -> &[String] {
        &self.0.allowed_origins
    }
}

/// An assistant: the public id a website embeds, with its widget settings.
pub struct Assistant(pub assistant::Model);

#[Object]
impl Assistant {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn widget(&self) -> Widget {
        Widget(crate::service::assistants::widget(&self.0))
    }
    /// How the assistant answers and hands off, its intents and its AI provider.
    async fn engine(&self) -> crate::graphql::engine::AssistantEngine {
        crate::service::assistants::engine(&self.0).into()
    }
    /// Whether an AI provider API key is stored (the key itself is never shown).
    async fn provider_key_set(&self) -> bool {
        self.0.provider_key.is_some()
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A website visitor.
pub struct Visitor(pub visitor::Model);

#[Object]
impl Visitor {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A conversation between a visitor and an assistant.
pub struct Conversation(pub conversation::Model);

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn assistant_id(&self) -> ID {
        ID(self.0.assistant_id.clone())
    }
    async fn visitor_id(&self) -> ID {
        ID(self.0.visitor_id.clone())
    }
    async fn assistant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Assistant>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(loader
            .load_one(AssistantKey(self.0.assistant_id.clone()))
            .await?
            .map(Assistant))
    }
    async fn visitor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Visitor>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(loader
            .load_one(VisitorKey(self.0.visitor_id.clone()))
            .await?
            .map(Visitor))
    }
    async fn status(&self) -> async_graphql::Result<Status> {
        Ok(conversations::status(&self.0)?.into())
    }
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    async fn source_url(&self) -> Option<&str> {
        self.0.source_url.as_deref()
    }
    async fn page_context(&self) -> Option<&str> {
        self.0.page_context.as_deref()
    }
    async fn page_title(&self) -> Option<&str> {
        self.0.page_title.as_deref()
    }
    async fn browser(&self) -> Option<&str> {
        self.0.browser.as_deref()
    }
    async fn device(&self) -> Option<&str> {
        self.0.device.as_deref()
    }
    /// -1 (negative) to 1 (positive): the mean of the visitor messages' scores, or as last set through the API.
    async fn sentiment(&self) -> Option<f64> {
        self.0.sentiment
    }
    /// Failed assistant responses in a row (the handoff trigger counts these).
    async fn failed_responses(&self) -> i32 {
        self.0.failed_responses
    }
    /// Failed assistant responses in all.
    async fn failed_responses_total(&self) -> i32 {
        self.0.failed_total
    }
    /// Why the conversation was last handed off: `visitor_request`, `failed_responses`, `negative_sentiment` or
    /// `requested` (an agent or API call).
    async fn handoff_reason(&self) -> Option<&str> {
        self.0.handoff_reason.as_deref()
    }
    async fn handed_off_at(&self) -> Option<Timestamp> {
        self.0.handed_off_at.map(Timestamp)
    }
    async fn resolved_at(&self) -> Option<Timestamp> {
        self.0.resolved_at.map(Timestamp)
    }
    /// When the assistant or an agent first answered.
    async fn first_response_at(&self) -> Option<Timestamp> {
        self.0.first_response_at.map(Timestamp)
    }
    /// Whether a person took part (a handoff or an agent message).
    async fn human_involved(&self) -> bool {
        self.0.human_involved
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    /// The conversation's messages, oldest first. `last: n` alone is batched across conversations.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Message>> {
        let (db, principal) = caller(ctx)?;
        let total = if wants_total(ctx) {
            messages::count_in(db, principal, &self.0.id).await?
        } else {
            0
        };
        match (first, after, last, before) {
            (None, None, Some(n), None) => {
                let request = PageRequest::new(Some(n.into()), None, Kind::Message)?;
                let loader = ctx.data::<RequestLoader>()?;
                let rows = loader
                    .load_one(LatestMessagesKey {
                        conversation_id: self.0.id.clone(),
                        n: request.limit,
                    })
                    .await?
                    .unwrap_or_default();
                let has_previous =
                    rows.len() as u64 == request.limit && (total == 0 || total > request.limit);
                let page = Page {
                    items: rows,
                    has_more: false,
                };
                Ok(connection(
                    page,
                    has_previous,
                    total,
                    |m| &m.id,
                    Message::from,
                ))
            }
            (first, after, None, None) => {
                let request =
                    PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Message)?;
                let has_previous = request.after.is_some();
                let page =
                    messages::list(db, principal, &self.0.id, &request, Direction::Forward).await?;
                Ok(connection(
                    page,
                    has_previous,
                    total,
                    |m| &m.id,
                    Message::from,
                ))
            }
            (None, None, last, before) => {
                let request =
                    PageRequest::new(last.map(i64::from), before.as_deref(), Kind::Message)?;
                let page = messages::list(db, principal, &self.0.id, &request, Direction::Backward)
                    .await?;
                let has_previous = page.has_more;
                let has_next = request.after.is_some();
                let mut conn = connection(page, has_previous, total, |m| &m.id, Message::from);
                conn.has_next_page = has_next;
                Ok(conn)
            }
            _ => Err(crate::error::ApiError::BadRequest(
                "messages: use first/after or last/before, not both".to_owned(),
            )
            .into()),
        }
    }
}

/// One message of a conversation, with the assistant's replies when the mutation that posted it already has them.
pub struct Message(pub message::Model, Option<Vec<message::Model>>);

impl From<message::Model> for Message {
    fn from(row: message::Model) -> Self {
        Self(row, None)
    }
}

impl Message {
    /// A message just posted, with the replies the assistant gave in the same step (so `replies` costs no query).
    pub fn answered(row: message::Model, replies: Vec<message::Model>) -> Self {
        Self(row, Some(replies))
    }
}

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.clone())
    }
    async fn author(&self) -> async_graphql::Result<Author> {
        Ok(messages::author(&self.0)?.into())
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The knowledge-base entry an assistant reply came from.
    async fn source_entry_id(&self) -> Option<ID> {
        self.0.source_entry_id.clone().map(ID)
    }
    /// The assistant's confidence in its reply, 0 to 1.
    async fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }
    /// Visitor messages: the VADER compound score, -1 to 1.
    async fn sentiment(&self) -> Option<f64> {
        self.0.sentiment
    }
    /// Visitor messages: the assistant's intent that matched.
    async fn intent(&self) -> Option<&str> {
        self.0.intent.as_deref()
    }
    /// Assistant replies: the visitor message answered.
    async fn reply_to_id(&self) -> Option<ID> {
        self.0.reply_to_id.clone().map(ID)
    }
    /// Assistant replies: `knowledge_base`, `ai`, `fallback` or `handoff`.
    async fn reply_source(&self) -> Option<&str> {
        self.0.reply_source.as_deref()
    }
    /// Assistant replies: why the AI provider's answer was not used (`low_confidence`, `token_limit`,
    /// `provider_timeout`, `provider_error`…).
    async fn fallback_reason(&self) -> Option<&str> {
        self.0.fallback_reason.as_deref()
    }
    /// Assistant replies from the AI provider: the knowledge-base entries cited.
    async fn citations(&self) -> Vec<ID> {
        messages::citations(&self.0).into_iter().map(ID).collect()
    }
    /// The assistant's replies to this visitor message, oldest first.
    async fn replies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Message>> {
        if let Some(replies) = &self.1 {
            return Ok(replies.iter().cloned().map(Message::from).collect());
        }
        if self.0.author != "visitor" {
            return Ok(Vec::new());
        }
        let (db, principal) = caller(ctx)?;
        Ok(messages::replies_to(db, principal, &self.0)
            .await?
            .into_iter()
            .map(Message::from)
            .collect())
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}

/// A knowledge-base entry.
pub struct KnowledgeBaseEntry(pub knowledge_base_entry::Model);

#[Object]
impl KnowledgeBaseEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    async fn tags(&self) -> Vec<String> {
        knowledge_base::tags(&self.0)
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// An API key (never its secret).
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the secret, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn role(&self) -> async_graphql::Result<Role> {
        Ok(crate::auth::Role::stored(&self.0.role)?.into())
    }
    async fn created_by(&self) -> Option<ID> {
        self.0.created_by.clone().map(ID)
    }
    async fn expires_at(&self) -> Option<Timestamp> {
        self.0.expires_at.map(Timestamp)
    }
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.0.revoked_at.map(Timestamp)
    }
    async fn last_used_at(&self) -> Option<Timestamp> {
        self.0.last_used_at.map(Timestamp)
    }
    /// The scopes the key is narrowed to; null means its role decides.
    async fn scopes(&self) -> Option<Vec<Scope>> {
        crate::service::identity::api_keys::scopes(&self.0)
            .map(|scopes| scopes.into_iter().map(Into::into).collect())
    }
    /// Networks the key may be used from; null means anywhere.
    async fn allowed_cidrs(&self) -> Option<Vec<String>> {
        self.0
            .allowed_cidrs
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
    /// Requests made with the key (updated every few seconds).
    async fn request_count(&self) -> i64 {
        self.0.request_count
    }
    /// Until when the secret before the last rotation still works.
    async fn previous_secret_expires_at(&self) -> Option<Timestamp> {
        self.0.previous_expires_at.map(Timestamp)
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}
