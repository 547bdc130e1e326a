//! GraphQL object types, built from service results (entities are never exposed directly).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, SimpleObject};
use entities::{api_key, assistant, conversation, knowledge_base_entry, organization, visitor};

use crate::graphql::caller;
use crate::graphql::enums::{
    HandoffReason, Plan, Role, Scope, Status, WidgetPosition, WidgetTheme,
};
use crate::graphql::loaders::{
    AssistantKey, LatestMessagesKey, MessageCountKey, RequestLoader, VisitorKey,
};
use crate::graphql::messages::Message;
use crate::graphql::node::Node;
use crate::graphql::scalars::{BigInt, Timestamp};
use crate::ids::Kind;
use crate::service::assistants::WidgetSettings;
use crate::service::conversations;
use crate::service::conversations::messages::{self, Direction};
use crate::service::{Page, PageRequest, encode_cursor, knowledge_base};

/// Fields every connection carries beside its edges.
#[derive(SimpleObject, Debug, Default)]
pub struct ConnectionFields {
    /// How many nodes match, across all pages (computed only when asked for).
    #[graphql(complexity = "crate::graphql::cost::TOTAL_COUNT")]
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
    /// What is counted, such as a status or a category.
    pub label: String,
    /// How many there are.
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

/// The caller's organization: the company that runs Concierge for its website.
#[Object]
impl Organization {
    /// The organization's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The organization's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The plan tier, which decides the features the organization has.
    async fn plan(&self) -> async_graphql::Result<Plan> {
        Ok(crate::auth::Plan::stored(&self.0.plan)?.into())
    }
    /// Members sign in only through SSO (API keys keep working).
    async fn sso_enforced(&self) -> bool {
        self.0.sso_enforced
    }
    /// When the organization was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the organization last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// The embed widget's settings.
pub struct Widget(pub WidgetSettings);

/// How the chat widget looks and behaves on the website that embeds an assistant.
#[Object]
impl Widget {
    /// Whether websites show the widget; when off, visitors' sessions are refused and the widget hides itself.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// The corner of the page where the widget's launcher sits; bottom right by default.
    async fn position(&self) -> WidgetPosition {
        self.0.position.into()
    }
    /// The main colour, as `#rrggbb`; `#0071e3` by default.
    async fn primary_color(&self) -> &str {
        &self.0.primary_color
    }
    /// The colour scheme; light by default.
    async fn theme(&self) -> WidgetTheme {
        self.0.theme.into()
    }
    /// The greeting shown when the widget opens, up to 1,000 characters.
    async fn welcome_message(&self) -> &str {
        &self.0.welcome_message
    }
    /// Whether the widget opens by itself when the page loads; false by default.
    async fn auto_open(&self) -> bool {
        self.0.auto_open
    }
    /// How long to wait before opening by itself, in milliseconds (0 to 600,000; 0 by default).
    async fn auto_open_delay_ms(&self) -> u32 {
        self.0.auto_open_delay_ms
    }
    /// Whether the assistant's avatar is shown; true by default.
    async fn show_avatar(&self) -> bool {
        self.0.show_avatar
    }
    /// The address of the avatar image; null when none is set.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Whether the widget stays hidden on mobile devices; false by default.
    async fn hide_on_mobile(&self) -> bool {
        self.0.hide_on_mobile
    }
    /// The CSS stacking order of the widget on the page; 2147483000 by default.
    async fn z_index(&self) -> i32 {
        self.0.z_index
    }
    /// The open widget's width in pixels, 200 to 1,200; 380 by default.
    async fn width(&self) -> u32 {
        self.0.width
    }
    /// The open widget's height in pixels, 300 to 1,600; 600 by default.
    async fn height(&self) -> u32 {
        self.0.height
    }
    /// Page paths (each starting with `/`) where the widget stays hidden; up to 100.
    async fn hide_on_paths(&self) -> &[String] {
        &self.0.hide_on_paths
    }
    /// Page paths (each starting with `/`) where the widget shows; empty shows it everywhere. Up to 100.
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

/// An assistant: what a website embeds to answer its visitors, with its widget and engine settings.
#[Object]
impl Assistant {
    /// The assistant's public id, which the website's embed code names.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The assistant's name, up to 200 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// How the chat widget looks and behaves.
    async fn widget(&self) -> Widget {
        Widget(crate::service::assistants::widget(&self.0))
    }
    /// How the assistant answers and hands off, its intents and its AI provider.
    async fn engine(&self) -> crate::graphql::engine::AssistantEngine {
        crate::graphql::engine::AssistantEngine::of(
            crate::service::assistants::engine(&self.0),
            &self.0.organization_id,
        )
    }
    /// Whether an AI provider API key is stored (the key itself is never shown).
    async fn provider_key_set(&self) -> bool {
        self.0.provider_key.is_some()
    }
    /// When the assistant was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the assistant's name or settings last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A website visitor.
pub struct Visitor(pub visitor::Model);

/// A person who talked to an assistant on the website.
#[Object]
impl Visitor {
    /// The visitor's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The visitor's conversations, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many conversations to return: 1 to 100, 20 when omitted.")]
        first: Option<i32>,
        #[graphql(
            desc = "Returns the conversations after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<Conversation>> {
        let filter = conversations::ConversationFilter {
            visitor_id: Some(self.0.id.clone()),
            ..Default::default()
        };
        crate::graphql::conversations::page(ctx, &filter, first, after.as_deref()).await
    }
    /// The visitor's name, when given.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The visitor's email address, when given.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The visitor's phone number, when given.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Whether the visitor agreed to marketing email: only then is the visitor added to a mailing list
    /// (Mailchimp).
    async fn marketing_consent(&self) -> bool {
        self.0.marketing_consent
    }
    /// When the marketing consent was last given or withdrawn; null when never.
    async fn marketing_consent_at(&self) -> Option<Timestamp> {
        self.0.marketing_consent_at.map(Timestamp)
    }
    /// When the visitor unsubscribed from the organization's emails (transcripts, follow-ups, surveys); null
    /// while subscribed.
    async fn unsubscribed_at(&self) -> Option<Timestamp> {
        self.0.unsubscribed_at.map(Timestamp)
    }
    /// When the visitor first appeared.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the visitor's contact details last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A conversation between a visitor and an assistant.
pub struct Conversation(pub conversation::Model);

/// A conversation between a website visitor and an assistant, which a person of the team may take over.
#[Object]
impl Conversation {
    /// The conversation's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The id of the assistant the visitor talks to.
    async fn assistant_id(&self) -> ID {
        ID(self.0.assistant_id.clone())
    }
    /// The id of the visitor.
    async fn visitor_id(&self) -> ID {
        ID(self.0.visitor_id.clone())
    }
    /// The assistant the visitor talks to.
    async fn assistant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Assistant>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(loader
            .load_one(AssistantKey(self.0.assistant_id.clone()))
            .await?
            .map(Assistant))
    }
    /// The visitor who started the conversation.
    async fn visitor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Visitor>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(loader
            .load_one(VisitorKey(self.0.visitor_id.clone()))
            .await?
            .map(Visitor))
    }
    /// Where the conversation stands: open, handed off, resolved or closed.
    async fn status(&self) -> async_graphql::Result<Status> {
        Ok(conversations::status(&self.0)?.into())
    }
    /// What the conversation is about, up to 300 characters.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// The address of the page the conversation started on.
    async fn source_url(&self) -> Option<&str> {
        self.0.source_url.as_deref()
    }
    /// Text of the page the conversation started on, which helps the assistant answer (up to 10,000 characters).
    async fn page_context(&self) -> Option<&str> {
        self.0.page_context.as_deref()
    }
    /// The title of the page the conversation started on.
    async fn page_title(&self) -> Option<&str> {
        self.0.page_title.as_deref()
    }
    /// The visitor's browser, as reported when the conversation started.
    async fn browser(&self) -> Option<&str> {
        self.0.browser.as_deref()
    }
    /// The visitor's device, as reported when the conversation started.
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
    /// Why the conversation was last handed to a person.
    async fn handoff_reason(&self) -> async_graphql::Result<Option<HandoffReason>> {
        Ok(self
            .0
            .handoff_reason
            .as_deref()
            .map(HandoffReason::stored)
            .transpose()?)
    }
    /// When the conversation was last handed to a person; null if never.
    async fn handed_off_at(&self) -> Option<Timestamp> {
        self.0.handed_off_at.map(Timestamp)
    }
    /// When the conversation was last marked resolved; null if never.
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
    /// When the conversation started.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the conversation last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    /// The conversation's messages, oldest first. `last: n` alone and `totalCount` are batched across
    /// conversations.
    #[graphql(complexity = "crate::graphql::cost::list(first, last, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many messages to return from the oldest on: 1 to 100, 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Returns the messages after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
        #[graphql(
            desc = "How many of the newest messages to return, 1 to 100; do not combine with `first` or `after`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "With `last`, returns the messages before this cursor: the `startCursor` of the page after."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Conn<Message>> {
        let (db, principal) = caller(ctx)?;
        let total = if wants_total(ctx) {
            ctx.data::<RequestLoader>()?
                .load_one(MessageCountKey(self.0.id.clone()))
                .await?
                .unwrap_or(0)
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

/// A knowledge-base entry.
pub struct KnowledgeBaseEntry(pub knowledge_base_entry::Model);

/// An article of the knowledge base, from which the assistant answers visitors.
#[Object]
impl KnowledgeBaseEntry {
    /// The entry's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The question or topic it answers, up to 300 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The answer, up to 100,000 characters.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// A grouping of the organization's choice, such as `Billing`; null when uncategorized.
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// Free labels, up to 30.
    async fn tags(&self) -> Vec<String> {
        knowledge_base::tags(&self.0)
    }
    /// Whether the assistant answers from it.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When the entry was added.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the entry last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// An API key (never its secret).
pub struct ApiKey(pub api_key::Model);

/// An API key with which servers and scripts call the API; its secret is never shown here.
#[Object]
impl ApiKey {
    /// The key's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// A name to recognise the key by, up to 100 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the secret, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// The role whose permissions the key has, unless `scopes` narrows them.
    async fn role(&self) -> async_graphql::Result<Role> {
        Ok(crate::auth::Role::stored(&self.0.role)?.into())
    }
    /// The id of the member or API key that created it; null when unknown.
    async fn created_by_id(&self) -> Option<ID> {
        self.0.created_by.clone().map(ID)
    }
    /// The member or API key that created it; null when unknown or gone.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Node>> {
        match &self.0.created_by {
            Some(id) => crate::graphql::node::reference(ctx, id).await,
            None => Ok(None),
        }
    }
    /// When the key stops working; null if it never expires.
    async fn expires_at(&self) -> Option<Timestamp> {
        self.0.expires_at.map(Timestamp)
    }
    /// When the key was revoked; null while it works.
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.0.revoked_at.map(Timestamp)
    }
    /// When the key was last used (updated every few seconds); null if never used.
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
    async fn request_count(&self) -> BigInt {
        BigInt(u64::try_from(self.0.request_count).unwrap_or_default())
    }
    /// Until when the secret before the last rotation still works.
    async fn previous_secret_expires_at(&self) -> Option<Timestamp> {
        self.0.previous_expires_at.map(Timestamp)
    }
    /// When the key was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}
