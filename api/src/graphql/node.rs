//! The `Node` interface of every object with an id, and `node`/`nodes`, which fetch any of them by id.

use async_graphql::{Context, ID, Interface, Object};

use crate::auth::Principal;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::{deliveries, feed, webhooks};
use crate::graphql::audit::AuditEntry;
use crate::graphql::conversations::Feedback;
use crate::graphql::events::Event;
use crate::graphql::integrations::Integration;
use crate::graphql::members::{Member, Session};
use crate::graphql::messages::Message;
use crate::graphql::sso::SsoConnection;
use crate::graphql::types::{
    ApiKey, Assistant, Conversation, KnowledgeBaseEntry, Organization, Visitor,
};
use crate::graphql::webhooks::{Webhook, WebhookDelivery};
use crate::graphql::{caller, found};
use crate::ids::Kind;
use crate::service::conversations::{self, feedback, messages, visitors};
use crate::service::identity::{api_keys, members, organizations, sessions, sso};
use crate::service::{assistants, audit, integrations, knowledge_base};

/// The most ids `nodes` takes at once.
pub const NODES_MAX: usize = 100;

/// An object with a globally unique id, which `node(id:)` fetches whatever its type. An id's prefix names its
/// type (`conv_` a conversation, `kb_` a knowledge-base entry), and ids never change.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's id, unique across all types."
))]
pub enum Node {
    Organization(Organization),
    Assistant(Assistant),
    Visitor(Visitor),
    Conversation(Conversation),
    Message(Message),
    KnowledgeBaseEntry(KnowledgeBaseEntry),
    Feedback(Feedback),
    ApiKey(ApiKey),
    Member(Member),
    MemberSession(Session),
    AuditEntry(AuditEntry),
    SsoConnection(SsoConnection),
    Webhook(Webhook),
    WebhookDelivery(WebhookDelivery),
    OrganizationEvent(Event),
    Integration(Integration),
}

/// The object an id refers to, for a reference field: null when it is gone.
pub(crate) async fn reference(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<Node>> {
    let (db, principal) = caller(ctx)?;
    found(ctx, load(db, principal, id).await)
}

/// The object with this id in the caller's organization: NOT_FOUND when there is none, or when the id names a
/// type that cannot be fetched by id.
async fn load(db: &Db, principal: &Principal, id: &str) -> ApiResult<Node> {
    let missing = || ApiError::NotFound(format!("no object with id {id:?}"));
    Ok(match Kind::of(id).ok_or_else(missing)? {
        Kind::Organization => {
            let own = organizations::get_own(db, principal).await?;
            if own.id != id {
                return Err(missing());
            }
            Node::Organization(Organization(own))
        }
        Kind::Assistant => Node::Assistant(Assistant(assistants::get(db, principal, id).await?)),
        Kind::Visitor => Node::Visitor(Visitor(visitors::get(db, principal, id).await?)),
        Kind::Conversation => {
            Node::Conversation(Conversation(conversations::get(db, principal, id).await?))
        }
        Kind::Message => {
            let message = messages::get_many(db, principal, &[id.to_owned()])
                .await?
                .into_values()
                .next()
                .ok_or_else(missing)?;
            Node::Message(Message::from(message))
        }
        Kind::KnowledgeBaseEntry => Node::KnowledgeBaseEntry(KnowledgeBaseEntry(
            knowledge_base::get(db, principal, id).await?,
        )),
        Kind::Feedback => Node::Feedback(feedback::get(db, principal, id).await?.into()),
        Kind::ApiKey => Node::ApiKey(ApiKey(api_keys::get(db, principal, id).await?)),
        Kind::User => Node::Member(Member(members::get(db, principal, id).await?)),
        Kind::Session => Node::MemberSession(Session::of(
            principal,
            sessions::get(db, principal, id).await?,
        )),
        Kind::AuditEntry => Node::AuditEntry(AuditEntry(audit::get(db, principal, id).await?)),
        Kind::SsoConnection => Node::SsoConnection(SsoConnection(
            sso::connections::get(db, principal, id).await?,
        )),
        Kind::Webhook => Node::Webhook(Webhook(webhooks::get(db, principal, id).await?)),
        Kind::Delivery => {
            Node::WebhookDelivery(WebhookDelivery(deliveries::get(db, principal, id).await?))
        }
        Kind::Event => Node::OrganizationEvent(Event(feed::get(db, principal, id).await?)),
        Kind::Integration => {
            Node::Integration(Integration(integrations::get(db, principal, id).await?))
        }
        Kind::Attempt
        | Kind::KnowledgeBaseQuery
        | Kind::WidgetSession
        | Kind::IntegrationRun
        | Kind::IntegrationCall
        | Kind::Attachment
        | Kind::NotificationRule
        | Kind::EmailTemplate => return Err(missing()),
    })
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object of the organization by its id; null when there is none with this id.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's id.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        reference(ctx, &id).await
    }

    /// Objects of the organization by their ids, in the order asked, each null when there is none with its id.
    #[graphql(complexity = "crate::graphql::cost::by_ids(ids.len(), child_complexity)")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objects' ids, up to 100.")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        let (db, principal) = caller(ctx)?;
        if ids.len() > NODES_MAX {
            return Err(ApiError::validation("ids", format!("at most {NODES_MAX} ids")).into());
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(found(ctx, load(db, principal, id).await)?);
        }
        Ok(nodes)
    }
}
