//! The event outbox: each event is written in the same transaction as the change that causes it.

use entities::{conversation, event};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::ids::{Kind, new_id};
use crate::service::now;

/// The event names of the brief, and the ones added in the same `resource.verb` form.
pub mod names {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const MESSAGE_CREATED: &str = "message.created";
    pub const KNOWLEDGE_BASE_ENTRY_CREATED: &str = "knowledge_base.entry_created";
    pub const KNOWLEDGE_BASE_ENTRY_UPDATED: &str = "knowledge_base.entry_updated";
    pub const KNOWLEDGE_BASE_ENTRY_DELETED: &str = "knowledge_base.entry_deleted";
    pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
    /// Sent by the test endpoint only; never in the stream.
    pub const WEBHOOK_TEST: &str = "webhook.test";
}

/// Bumps a conversation's event counter and stamps its `updated_at`, returning the row after the change.
///
/// This is a single `UPDATE … RETURNING`, so concurrent writers get distinct sequence numbers.
pub(crate) async fn bump_conversation(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    conversation_id: &str,
) -> ApiResult<Option<conversation::Model>> {
    let rows = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::EventSeq,
            Expr::col(conversation::Column::EventSeq).add(1),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now()))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::OrganizationId.eq(organization_id))
        .exec_with_returning(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Appends one event to the outbox, and owes it to the webhook endpoints that subscribe to it.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    organization_id: &str,
    name: &str,
    conversation: Option<&conversation::Model>,
    data: Value,
) -> ApiResult<event::Model> {
    let event = event::ActiveModel {
        id: Set(new_id(Kind::Event)),
        organization_id: Set(organization_id.to_owned()),
        event: Set(name.to_owned()),
        conversation_id: Set(conversation.map(|c| c.id.clone())),
        sequence: Set(conversation.map_or(0, |c| c.event_seq)),
        data: Set(data),
        created_at: Set(now()),
    }
    .insert(conn)
    .await
    .map_err(ApiError::from)?;
    crate::service::deliveries::enqueue(conn, &event).await?;
    Ok(event)
}
