//! A conversation's message as a GraphQL object, with its references and the assistant's replies.

use async_graphql::{Context, ID, Object};
use entities::message;

use crate::graphql::caller;
use crate::graphql::enums::{Author, ReplySource};
use crate::graphql::loaders::{
    AttachmentsKey, ConversationKey, EntryKey, MessageKey, RequestLoader, load, load_opt,
};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conversation, KnowledgeBaseEntry};
use crate::service::attachments::{Attachments, Shown};
use crate::service::conversations::messages;

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

/// One message of a conversation, from the visitor, the assistant, a team member or the system.
#[Object]
impl Message {
    /// The message's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The id of the conversation it belongs to.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.clone())
    }
    /// The conversation it belongs to.
    async fn conversation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Conversation>> {
        load(
            ctx,
            ConversationKey(self.0.conversation_id.clone()),
            Conversation,
        )
        .await
    }
    /// Who wrote the message.
    async fn author(&self) -> async_graphql::Result<Author> {
        Ok(messages::author(&self.0)?.into())
    }
    /// The text of the message.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The id of the knowledge-base entry an assistant reply came from.
    async fn source_entry_id(&self) -> Option<ID> {
        self.0.source_entry_id.clone().map(ID)
    }
    /// The knowledge-base entry an assistant reply came from; null when there was none or it was deleted.
    async fn source_entry(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<KnowledgeBaseEntry>> {
        load_opt(
            ctx,
            self.0.source_entry_id.as_ref(),
            EntryKey,
            KnowledgeBaseEntry,
        )
        .await
    }
    /// The assistant's confidence in its reply, 0 to 1.
    async fn confidence(&self) -> Option<f64> {
        self.0.confidence
    }
    /// Visitor messages: how positive the message reads, from -1 (negative) to 1 (positive).
    async fn sentiment(&self) -> Option<f64> {
        self.0.sentiment
    }
    /// Visitor messages: the assistant's intent that matched.
    async fn intent(&self) -> Option<&str> {
        self.0.intent.as_deref()
    }
    /// Assistant replies: the id of the visitor message answered.
    async fn reply_to_id(&self) -> Option<ID> {
        self.0.reply_to_id.clone().map(ID)
    }
    /// Assistant replies: the visitor message answered.
    async fn reply_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        load_opt(ctx, self.0.reply_to_id.as_ref(), MessageKey, Message::from).await
    }
    /// Assistant replies: where the reply came from.
    async fn reply_source(&self) -> async_graphql::Result<Option<ReplySource>> {
        Ok(self
            .0
            .reply_source
            .as_deref()
            .map(ReplySource::stored)
            .transpose()?)
    }
    /// Assistant replies: why the AI provider's answer was not used (`low_confidence`, `token_limit`,
    /// `provider_timeout`, `provider_error`…).
    async fn fallback_reason(&self) -> Option<&str> {
        self.0.fallback_reason.as_deref()
    }
    /// The images the message carries (screenshots), oldest first, each with a short-lived signed URL.
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<MessageAttachment>> {
        let loader = ctx.data::<RequestLoader>()?;
        let rows = loader
            .load_one(AttachmentsKey(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        let files = ctx.data::<std::sync::Arc<Attachments>>()?;
        Ok(rows
            .into_iter()
            .map(|row| MessageAttachment(files.shown(row)))
            .collect())
    }
    /// Assistant replies from the AI provider: the ids of the knowledge-base entries cited.
    async fn citations(&self) -> Vec<ID> {
        messages::citations(&self.0).into_iter().map(ID).collect()
    }
    /// Assistant replies from the AI provider: the knowledge-base entries cited, in order (deleted ones left
    /// out).
    async fn cited_entries(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<KnowledgeBaseEntry>> {
        let ids = messages::citations(&self.0);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let loader = ctx.data::<RequestLoader>()?;
        let mut found = loader.load_many(ids.iter().cloned().map(EntryKey)).await?;
        Ok(ids
            .into_iter()
            .filter_map(|id| found.remove(&EntryKey(id)))
            .map(KnowledgeBaseEntry)
            .collect())
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
    /// When the message was posted.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}

/// An image a message carries (a screenshot).
pub struct MessageAttachment(pub Shown);

/// An image a message carries (a screenshot): PNG, JPEG or WebP, judged by its bytes.
#[Object]
impl MessageAttachment {
    /// The attachment's id (`file_…`).
    async fn id(&self) -> ID {
        ID(self.0.model.id.clone())
    }
    /// `image/png`, `image/jpeg` or `image/webp`.
    async fn content_type(&self) -> &str {
        &self.0.model.content_type
    }
    /// Its size in bytes.
    async fn byte_size(&self) -> i64 {
        self.0.model.byte_size
    }
    /// A signed URL that shows it until `urlExpiresAt` (a few minutes; each read gives a new one).
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// When `url` stops working.
    async fn url_expires_at(&self) -> Timestamp {
        Timestamp(self.0.url_expires_at)
    }
    /// When it was uploaded.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.model.created_at)
    }
}
