//! Conversation and message queries and mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::enums::{Author, Status};
use crate::graphql::loaders::prefetch_for_conversations;
use crate::graphql::types::{Conn, Conversation, Message, Timestamp, connection, wants_total};
use crate::graphql::{caller, engine};
use crate::ids::Kind;
use crate::service::PageRequest;
use crate::service::conversations::feedback;
use crate::service::conversations::posting::{self, CreateConversation, CreateMessage};
use crate::service::conversations::visitors::NewVisitor;
use crate::service::conversations::{self, ConversationFilter, UpdateConversation};

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The organization's conversations, newest first.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Status>,
        assistant_id: Option<ID>,
        visitor_id: Option<ID>,
    ) -> async_graphql::Result<Conn<Conversation>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Conversation)?;
        let filter = ConversationFilter {
            status: status.map(Into::into),
            assistant_id: assistant_id.map(|id| id.0),
            visitor_id: visitor_id.map(|id| id.0),
        };
        let total = if wants_total(ctx) {
            conversations::count(db, principal, &filter).await?
        } else {
            0
        };
        let rows = conversations::list(db, principal, &filter, &page).await?;
        prefetch_for_conversations(ctx, &rows.items).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |c| &c.id,
            Conversation,
        ))
    }

    /// One conversation by id.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Conversation> {
        let (db, principal) = caller(ctx)?;
        Ok(Conversation(conversations::get(db, principal, &id).await?))
    }
}

/// A new visitor's contact details.
#[derive(InputObject, Default)]
pub struct VisitorInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(InputObject, Default)]
pub struct CreateConversationInput {
    /// Optional where the organization has exactly one assistant.
    pub assistant_id: Option<ID>,
    /// An existing visitor, or…
    pub visitor_id: Option<ID>,
    /// …a new one.
    pub visitor: Option<VisitorInput>,
    pub initial_message: Option<String>,
    pub subject: Option<String>,
    pub source_url: Option<String>,
    pub page_context: Option<String>,
    pub page_title: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

#[derive(InputObject, Default)]
pub struct UpdateConversationInput {
    pub status: Option<Status>,
    /// `null` clears it.
    pub subject: MaybeUndefined<String>,
    /// -1 to 1; `null` clears it.
    pub sentiment: MaybeUndefined<f64>,
}

#[derive(InputObject)]
pub struct SendMessageInput {
    pub conversation_id: ID,
    pub author: Author,
    pub body: String,
    pub source_entry_id: Option<ID>,
    /// 0 to 1.
    pub confidence: Option<f64>,
}

/// A new conversation and the message that opened it.
#[derive(SimpleObject)]
pub struct CreateConversationPayload {
    pub conversation: Conversation,
    pub initial_message: Option<Message>,
    /// The assistant's answer to the initial message.
    pub replies: Vec<Message>,
}

#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Starts a conversation.
    async fn create_conversation(
        &self,
        ctx: &Context<'_>,
        input: CreateConversationInput,
    ) -> async_graphql::Result<CreateConversationPayload> {
        let (db, principal) = caller(ctx)?;
        let created = posting::start_conversation(
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
        .await?;
        Ok(CreateConversationPayload {
            conversation: Conversation(created.conversation),
            initial_message: created
                .initial_message
                .map(|message| Message::answered(message, created.replies.clone())),
            replies: created.replies.into_iter().map(Message::from).collect(),
        })
    }

    /// Changes a conversation's status, subject or sentiment.
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateConversationInput,
    ) -> async_graphql::Result<Conversation> {
        let (db, principal) = caller(ctx)?;
        let updated = conversations::update(
            db,
            principal,
            &id,
            UpdateConversation {
                status: input.status.map(Into::into),
                subject: input.subject.into(),
                sentiment: input.sentiment.into(),
            },
        )
        .await?;
        Ok(Conversation(updated))
    }

    /// Adds a message to a conversation. A visitor message is answered by the assistant before this returns:
    /// select `replies` on the result.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> async_graphql::Result<Message> {
        let (db, principal) = caller(ctx)?;
        let posted = posting::post_message(
            db,
            engine(ctx)?,
            principal,
            &input.conversation_id,
            CreateMessage {
                author: input.author.into(),
                body: input.body,
                source_entry_id: input.source_entry_id.map(|id| id.0),
                confidence: input.confidence,
            },
            None,
        )
        .await?;
        Ok(Message::answered(posted.message, posted.replies))
    }

    /// Rates an assistant answer helpful or not (emits `feedback.received`); a new rating replaces the last.
    async fn rate_answer(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        helpful: bool,
        comment: Option<String>,
    ) -> async_graphql::Result<Feedback> {
        let (db, principal) = caller(ctx)?;
        let input = feedback::RateAnswer { helpful, comment };
        Ok(feedback::rate_answer(db, principal, &message_id, input)
            .await?
            .into())
    }

    /// Rates a conversation from 1 to 5 (CSAT, emits `feedback.received`); a new rating replaces the last.
    async fn rate_conversation(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        rating: i32,
        comment: Option<String>,
    ) -> async_graphql::Result<Feedback> {
        let (db, principal) = caller(ctx)?;
        let input = feedback::RateConversation {
            rating: i64::from(rating),
            comment,
        };
        Ok(
            feedback::rate_conversation(db, principal, &conversation_id, input)
                .await?
                .into(),
        )
    }
}

/// A visitor's rating of an answer (`helpful`) or of a whole conversation (`rating`, 1-5).
#[derive(SimpleObject)]
pub struct Feedback {
    pub id: ID,
    pub conversation_id: ID,
    pub message_id: Option<ID>,
    /// The knowledge-base entry the rated answer came from.
    pub entry_id: Option<ID>,
    pub helpful: Option<bool>,
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<entities::feedback::Model> for Feedback {
    fn from(m: entities::feedback::Model) -> Self {
        Self {
            id: ID(m.id),
            conversation_id: ID(m.conversation_id),
            message_id: m.message_id.map(ID),
            entry_id: m.entry_id.map(ID),
            helpful: m.helpful,
            rating: m.rating,
            comment: m.comment,
            created_at: Timestamp(m.created_at),
            updated_at: Timestamp(m.updated_at),
        }
    }
}
