//! The event outbox: each event is written in the same transaction as the change that causes it, owed to the
//! webhook endpoints and integrations that want it, and announced to live subscribers once the transaction commits.

use entities::{conversation, event};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use crate::db::WriteTxn;
use crate::error::{ApiError, ApiResult};
use crate::events::bus::Notice;
use crate::events::{jobs, queue};
use crate::ids::{Kind, new_id, new_id_after};
use crate::service::now;

/// Takes the organization's event-stream lock for the rest of the transaction (once per transaction).
///
/// Event-writing transactions of one organization then commit in the order of their event ids, so a reader
/// that has seen an event has seen every earlier one: live subscribers and `after` cursors never skip an event
/// that committed late. SQLite already runs one writer at a time; PostgreSQL takes a transaction-scoped
/// advisory lock, as late as possible (at the first event) so that it is held only for the event's own
/// statements and the commit. A transaction holding it locks no row another writer may hold first (after its
/// first event it touches only rows it created or already locked), so it cannot deadlock.
pub(crate) async fn lock_stream(txn: &WriteTxn<'_>, organization_id: &str) -> ApiResult<()> {
    if txn.mark_stream_locked(organization_id) {
        txn.lock_name(STREAM_LOCK_CLASS, organization_id).await?;
    }
    Ok(())
}

/// The first key of the stream locks, so they cannot collide with other advisory locks.
const STREAM_LOCK_CLASS: i32 = 0x6576_7473; // "evts"

/// Bumps a conversation's event counter and stamps its `updated_at`, returning the row after the change
/// (`NOT_FOUND` when the organization has no such conversation).
///
/// This is a single `UPDATE … RETURNING`, so concurrent writers get distinct sequence numbers.
pub(crate) async fn bump_conversation(
    txn: &WriteTxn<'_>,
    organization_id: &str,
    conversation_id: &str,
) -> ApiResult<conversation::Model> {
    let rows = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::EventSeq,
            Expr::col(conversation::Column::EventSeq).add(1),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now()))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::OrganizationId.eq(organization_id))
        .exec_with_returning(&**txn)
        .await?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("conversation", conversation_id))
}

/// The id of the organization's newest event.
pub(crate) async fn latest_id(
    conn: &impl ConnectionTrait,
    organization_id: &str,
) -> ApiResult<Option<String>> {
    Ok(event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::OrganizationId.eq(organization_id))
        .order_by_desc(event::Column::Id)
        .limit(1)
        .into_tuple::<String>()
        .one(conn)
        .await?)
}

/// Appends one event to the outbox, owes it to the webhook endpoints that subscribe to it, and has it announced
/// to live subscribers once the transaction commits.
pub(crate) async fn record(
    txn: &WriteTxn<'_>,
    organization_id: &str,
    name: &str,
    conversation: Option<&conversation::Model>,
    data: Value,
) -> ApiResult<event::Model> {
    lock_stream(txn, organization_id).await?;
    let prev_id = latest_id(&**txn, organization_id).await?;
    let id = match &prev_id {
        Some(prev) => new_id_after(Kind::Event, prev),
        None => new_id(Kind::Event),
    };
    let event = event::ActiveModel {
        id: Set(id),
        organization_id: Set(organization_id.to_owned()),
        event: Set(name.to_owned()),
        conversation_id: Set(conversation.map(|c| c.id.clone())),
        sequence: Set(conversation.map_or(0, |c| c.event_seq)),
        data: Set(data),
        created_at: Set(now()),
    }
    .insert(&**txn)
    .await
    .map_err(ApiError::from)?;
    queue::enqueue(txn, &event).await?;
    jobs::enqueue(&**txn, &event, conversation).await?;
    txn.announce(Notice {
        event: event.clone(),
        prev_id,
    });
    Ok(event)
}
