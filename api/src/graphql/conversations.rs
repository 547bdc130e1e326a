//! Conversation and message queries and mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use crate::graphql::enums::{Author, CreatedAtOrder, Status};
use crate::graphql::loaders::{
    ConversationKey, EntryKey, MessageKey, load, load_opt, prefetch_for_conversations,
};
use crate::graphql::messages::Message;
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, Conversation, KnowledgeBaseEntry, connection, wants_total};
use crate::graphql::{caller, engine, found};
use crate::ids::Kind;
use crate::service::conversations::feedback;
use crate::service::conversations::posting::{self, CreateConversation, CreateMessage};
use crate::service::conversations::visitors::NewVisitor;
use crate::service::conversations::{self, ConversationFilter, UpdateConversation};
use crate::service::{Created, PageRequest};

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The organization's conversations, newest first unless `orderBy` says otherwise.
    // Each GraphQL argument is a parameter of its resolver.
    #[allow(clippy::too_many_arguments)]
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
        #[graphql(desc = "Only conversations with this status.")] status: Option<Status>,
        #[graphql(desc = "Only the conversations of this assistant.")] assistant_id: Option<ID>,
        #[graphql(desc = "Only the conversations of this visitor.")] visitor_id: Option<ID>,
        #[graphql(desc = "Only conversations started at or after this time.")]
        created_after: Option<Timestamp>,
        #[graphql(desc = "Only conversations started before this time.")] created_before: Option<
            Timestamp,
        >,
        #[graphql(desc = "The order of the list: newest first when omitted.")] order_by: Option<
            CreatedAtOrder,
        >,
    ) -> async_graphql::Result<Conn<Conversation>> {
        let filter = ConversationFilter {
            status: status.map(Into::into),
            assistant_id: assistant_id.map(|id| id.0),
            visitor_id: visitor_id.map(|id| id.0),
            created: Created {
                from: created_after.map(|t| t.0),
                until: created_before.map(|t| t.0),
            },
            order: order_by.map(Into::into).unwrap_or_default(),
        };
        page(ctx, &filter, first, after.as_deref()).await
    }

    /// One conversation by id; null when the organization has none with this id.
    async fn conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's id.")] id: ID,
    ) -> async_graphql::Result<Option<Conversation>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, conversations::get(db, principal, &id).await)?.map(Conversation))
    }
}

/// A page of the conversations `filter` selects, with what the selection asks of each prefetched.
pub(crate) async fn page(
    ctx: &Context<'_>,
    filter: &ConversationFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> async_graphql::Result<Conn<Conversation>> {
    let (db, principal) = caller(ctx)?;
    let page = PageRequest::new(first.map(i64::from), after, Kind::Conversation)?;
    let total = if wants_total(ctx) {
        conversations::count(db, principal, filter).await?
    } else {
        0
    };
    let rows = conversations::list(db, principal, filter, &page).await?;
    prefetch_for_conversations(ctx, &rows.items).await?;
    Ok(connection(
        rows,
        page.after.is_some(),
        total,
        |c| &c.id,
        Conversation,
    ))
}

/// A new visitor's contact details.
#[derive(InputObject, Default)]
pub struct VisitorInput {
    /// The visitor's name, up to 200 characters.
    pub name: Option<String>,
    /// The visitor's email address, up to 254 characters.
    pub email: Option<String>,
    /// The visitor's phone number: up to 40 digits, spaces and `+ - ( ) .`.
    pub phone: Option<String>,
}

/// A new conversation: its assistant, its visitor (existing or new) and, optionally, its first message and the page it
/// starts on.
#[derive(InputObject, Default)]
pub struct CreateConversationInput {
    /// Optional where the organization has exactly one assistant.
    pub assistant_id: Option<ID>,
    /// An existing visitor, or…
    pub visitor_id: Option<ID>,
    /// …a new one.
    pub visitor: Option<VisitorInput>,
    /// The visitor's first message, answered by the assistant; within the server's message size limit (8 KiB unless
    /// configured).
    pub initial_message: Option<String>,
    /// What the conversation is about, up to 300 characters.
    pub subject: Option<String>,
    /// The address of the page it starts on: an absolute http or https URL of up to 2,048 characters.
    pub source_url: Option<String>,
    /// Text of the page it starts on, which helps the assistant answer; up to 10,000 characters.
    pub page_context: Option<String>,
    /// The title of the page it starts on, up to 500 characters.
    pub page_title: Option<String>,
    /// The visitor's browser, up to 200 characters.
    pub browser: Option<String>,
    /// The visitor's device, up to 200 characters.
    pub device: Option<String>,
}

/// Changes to a conversation: absent fields keep their value, `null` clears.
#[derive(InputObject, Default)]
pub struct UpdateConversationInput {
    /// What the conversation is about, up to 300 characters; `null` clears it.
    pub subject: MaybeUndefined<String>,
    /// How the visitor feels, from -1 (negative) to 1 (positive); `null` clears it.
    pub sentiment: MaybeUndefined<f64>,
}

/// A message to add to a conversation.
#[derive(InputObject)]
pub struct SendMessageInput {
    /// The conversation to add it to.
    pub conversation_id: ID,
    /// Who writes it: a visitor's message is answered by the assistant.
    pub author: Author,
    /// The text: not blank (unless the message carries attachments), and within the server's message size
    /// limit (8 KiB unless configured).
    pub body: String,
    /// The knowledge-base entry an answer comes from.
    pub source_entry_id: Option<ID>,
    /// How sure the answer is, from 0 to 1.
    pub confidence: Option<f64>,
    /// Images uploaded to the conversation (REST `POST /api/v1/conversations/{id}/attachments`) that the
    /// message carries.
    #[graphql(default)]
    pub attachment_ids: Vec<ID>,
}

/// A rating of one assistant answer.
#[derive(InputObject)]
pub struct RateAnswerInput {
    /// The assistant's answer being rated.
    pub message_id: ID,
    /// Whether the answer helped.
    pub helpful: bool,
    /// What the visitor said about it, up to 2,000 characters.
    pub comment: Option<String>,
}

/// A rating of a whole conversation (CSAT).
#[derive(InputObject)]
pub struct RateConversationInput {
    /// The conversation being rated.
    pub conversation_id: ID,
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub rating: i32,
    /// What the visitor said about it, up to 2,000 characters.
    pub comment: Option<String>,
}

payload_type! {
    /// The result of `createConversation`.
    CreateConversationPayload {
        /// The new conversation.
        conversation: Option<Conversation>,
        /// The message that opened it, when one was given.
        initial_message: Option<Message>,
        /// The assistant's answer to the initial message.
        replies: Vec<Message>,
    }
}

payload_type! {
    /// The result of a mutation that changes one conversation.
    ConversationPayload {
        /// The conversation as changed.
        conversation: Option<Conversation>,
    }
}

payload_type! {
    /// The result of `sendMessage`.
    SendMessagePayload {
        /// The message added.
        message: Option<Message>,
        /// The assistant's answer to a visitor's message (a hand-off notice when it handed off).
        replies: Vec<Message>,
    }
}

payload_type! {
    /// The result of `rateAnswer` and `rateConversation`.
    FeedbackPayload {
        /// The rating as stored.
        feedback: Option<Feedback>,
    }
}

#[derive(Default)]
pub struct ConversationMutation;

impl ConversationMutation {
    /// Moves a conversation to `status`, one intent each.
    async fn set_status(
        ctx: &Context<'_>,
        id: &ID,
        status: conversations::Status,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        let (db, principal) = caller(ctx)?;
        let update = UpdateConversation {
            status: Some(status),
            ..UpdateConversation::default()
        };
        let result = conversations::update(db, principal, id, update).await;
        payload(ctx, result, Args::Top, |c| ConversationPayload {
            conversation: Some(Conversation(c)),
            ..Default::default()
        })
    }
}

#[Object]
impl ConversationMutation {
    /// Starts a conversation (emits `conversation.created`); an initial visitor message is answered by the
    /// assistant before this returns.
    async fn create_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to start.")] input: CreateConversationInput,
    ) -> async_graphql::Result<Option<CreateConversationPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = posting::start_conversation(
            db,
            engine(ctx)?,
            principal,
            CreateConversation {
                assistant_id: input.assistant_id.map(|id| id.0),
                visitor_id: input.visitor_id.map(|id| id.0),
                visitor: input.visitor.map(|v| NewVisitor {
                    name: v.name,
                    email: v.email,
                    phone: v.phone,
                }),
                initial_message: input.initial_message,
                subject: input.subject,
                source_url: input.source_url,
                page_context: input.page_context,
                page_title: input.page_title,
                browser: input.browser,
                device: input.device,
            },
        )
        .await;
        payload(ctx, result, Args::Input, |created| {
            CreateConversationPayload {
                conversation: Some(Conversation(created.conversation)),
                initial_message: created
                    .initial_message
                    .map(|message| Message::answered(message, created.replies.clone())),
                replies: created.replies.into_iter().map(Message::from).collect(),
                ..Default::default()
            }
        })
    }

    /// Changes a conversation's subject or sentiment (emits `conversation.updated`).
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateConversationInput,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        let (db, principal) = caller(ctx)?;
        let update = UpdateConversation {
            status: None,
            subject: input.subject.into(),
            sentiment: input.sentiment.into(),
        };
        let result = conversations::update(db, principal, &id, update).await;
        payload(ctx, result, Args::Input, |c| ConversationPayload {
            conversation: Some(Conversation(c)),
            ..Default::default()
        })
    }

    /// Hands a conversation to a person: the assistant stops answering it (emits `conversation.updated`).
    async fn hand_off_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to hand off.")] id: ID,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        Self::set_status(ctx, &id, conversations::Status::HandedOff).await
    }

    /// Marks a conversation resolved: the visitor's question was answered (emits `conversation.updated`).
    async fn resolve_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to resolve.")] id: ID,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        Self::set_status(ctx, &id, conversations::Status::Resolved).await
    }

    /// Opens a handed-off, resolved or closed conversation again: the assistant answers it again (emits
    /// `conversation.updated`).
    async fn reopen_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to reopen.")] id: ID,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        Self::set_status(ctx, &id, conversations::Status::Open).await
    }

    /// Closes a conversation without a resolution, such as spam or a visitor who left (emits
    /// `conversation.updated`).
    async fn close_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to close.")] id: ID,
    ) -> async_graphql::Result<Option<ConversationPayload>> {
        Self::set_status(ctx, &id, conversations::Status::Closed).await
    }

    /// Adds a message to a conversation (emits `message.created`). A visitor's message is answered by the
    /// assistant before this returns.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The message to add.")] input: SendMessageInput,
    ) -> async_graphql::Result<Option<SendMessagePayload>> {
        let (db, principal) = caller(ctx)?;
        let result = posting::post_message(
            db,
            engine(ctx)?,
            principal,
            &input.conversation_id,
            CreateMessage {
                author: input.author.into(),
                body: input.body,
                source_entry_id: input.source_entry_id.map(|id| id.0),
                confidence: input.confidence,
                attachment_ids: input.attachment_ids.into_iter().map(|id| id.0).collect(),
            },
            None,
        )
        .await;
        payload(ctx, result, Args::Input, |posted| SendMessagePayload {
            replies: posted.replies.iter().cloned().map(Message::from).collect(),
            message: Some(Message::answered(posted.message, posted.replies)),
            ..Default::default()
        })
    }

    /// Rates an assistant answer helpful or not (emits `feedback.received`); a new rating replaces the last.
    async fn rate_answer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The answer and its rating.")] input: RateAnswerInput,
    ) -> async_graphql::Result<Option<FeedbackPayload>> {
        let (db, principal) = caller(ctx)?;
        let rating = feedback::RateAnswer {
            helpful: input.helpful,
            comment: input.comment,
        };
        let result = feedback::rate_answer(db, principal, &input.message_id, rating).await;
        payload(ctx, result, Args::Input, |f| FeedbackPayload {
            feedback: Some(f.into()),
            ..Default::default()
        })
    }

    /// Rates a conversation from 1 to 5 (CSAT, emits `feedback.received`); a new rating replaces the last.
    async fn rate_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation and its rating.")] input: RateConversationInput,
    ) -> async_graphql::Result<Option<FeedbackPayload>> {
        let (db, principal) = caller(ctx)?;
        let rating = feedback::RateConversation {
            rating: i64::from(input.rating),
            comment: input.comment,
        };
        let result =
            feedback::rate_conversation(db, principal, &input.conversation_id, rating).await;
        payload(ctx, result, Args::Input, |f| FeedbackPayload {
            feedback: Some(f.into()),
            ..Default::default()
        })
    }
}

/// A visitor's rating of an answer (`helpful`) or of a whole conversation (`rating`, 1-5).
pub struct Feedback(pub entities::feedback::Model);

impl From<entities::feedback::Model> for Feedback {
    fn from(model: entities::feedback::Model) -> Self {
        Self(model)
    }
}

/// A visitor's rating of an answer (`helpful`) or of a whole conversation (`rating`, 1-5).
#[Object]
impl Feedback {
    /// The rating's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The id of the conversation rated, or of the rated answer's conversation.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.clone())
    }
    /// The conversation rated, or the rated answer's conversation.
    async fn conversation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Conversation>> {
        load(
            ctx,
            ConversationKey(self.0.conversation_id.clone()),
            Conversation,
        )
        .await
    }
    /// The id of the assistant answer rated; null for a rating of the whole conversation.
    async fn message_id(&self) -> Option<ID> {
        self.0.message_id.clone().map(ID)
    }
    /// The assistant answer rated; null for a rating of the whole conversation.
    async fn message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        load_opt(ctx, self.0.message_id.as_ref(), MessageKey, Message::from).await
    }
    /// The id of the knowledge-base entry the rated answer came from.
    async fn entry_id(&self) -> Option<ID> {
        self.0.entry_id.clone().map(ID)
    }
    /// The knowledge-base entry the rated answer came from; null when there was none or it was deleted.
    async fn entry(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<KnowledgeBaseEntry>> {
        load_opt(ctx, self.0.entry_id.as_ref(), EntryKey, KnowledgeBaseEntry).await
    }
    /// Whether the answer helped; null for a rating of the whole conversation.
    async fn helpful(&self) -> Option<bool> {
        self.0.helpful
    }
    /// The conversation's rating, from 1 (very unsatisfied) to 5 (very satisfied); null for a rating of one answer.
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// What the visitor said about it, up to 2,000 characters.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    /// When the rating was first given.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the rating was last replaced.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}
