//! Federation entity resolvers: `Organization`, `Member`, `Conversation`, `Message`, `KnowledgeBaseEntry`, `Visitor` and `Assistant` by `id`.

use async_graphql::{Context, ID, Object};

use crate::error::ApiError;
use crate::graphql::caller;
use crate::graphql::members::Member;
use crate::graphql::messages::Message;
use crate::graphql::types::{Assistant, Conversation, KnowledgeBaseEntry, Organization, Visitor};
use crate::service::conversations::{self, messages, visitors};
use crate::service::identity::{members, organizations};
use crate::service::{assistants, knowledge_base};

#[derive(Default)]
pub struct FederationQuery;

/// Entities of other organizations resolve to null, as if they did not exist.
#[Object]
impl FederationQuery {
    #[graphql(entity)]
    async fn find_organization_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Organization>> {
        let (db, principal) = caller(ctx)?;
        let own = organizations::get_own(db, principal).await?;
        Ok((own.id == id.0).then_some(Organization(own)))
    }

    #[graphql(entity)]
    async fn find_member_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Member>> {
        let (db, principal) = caller(ctx)?;
        match members::get(db, principal, &id).await {
            Ok(member) => Ok(Some(Member(member))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    #[graphql(entity)]
    async fn find_conversation_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Conversation>> {
        let (db, principal) = caller(ctx)?;
        Ok(conversations::get_many(db, principal, &[id.0])
            .await?
            .into_values()
            .next()
            .map(Conversation))
    }

    #[graphql(entity)]
    async fn find_message_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Message>> {
        let (db, principal) = caller(ctx)?;
        Ok(messages::get_many(db, principal, &[id.0])
            .await?
            .into_values()
            .next()
            .map(Message::from))
    }

    #[graphql(entity)]
    async fn find_knowledge_base_entry_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<KnowledgeBaseEntry>> {
        let (db, principal) = caller(ctx)?;
        Ok(knowledge_base::get_many(db, principal, &[id.0])
            .await?
            .into_values()
            .next()
            .map(KnowledgeBaseEntry))
    }

    #[graphql(entity)]
    async fn find_visitor_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Visitor>> {
        let (db, principal) = caller(ctx)?;
        Ok(visitors::get_many(db, principal, &[id.0])
            .await?
            .into_values()
            .next()
            .map(Visitor))
    }

    #[graphql(entity)]
    async fn find_assistant_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Assistant>> {
        let (db, principal) = caller(ctx)?;
        Ok(assistants::get_many(db, principal, &[id.0])
            .await?
            .into_values()
            .next()
            .map(Assistant))
    }
}
