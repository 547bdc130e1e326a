//! The delivery queue: each event is owed to every active endpoint of its organization that subscribes to it,
//! in the event's own transaction.

use entities::{event, webhook, webhook_delivery};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use crate::db::WriteTxn;
use crate::error::ApiResult;
use crate::events::webhooks::{EVENTS, subscribed_events};
use crate::ids::{Kind, new_id};
use crate::service::now;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// The JSON body of an event, as every endpoint receives it.
pub fn envelope(event: &event::Model) -> String {
    json!({
        "id": event.id,
        "event": event.event,
        "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "organization_id": event.organization_id,
        "sequence": event.sequence,
        "data": event.data,
    })
    .to_string()
}

/// Owes `event` to every active endpoint of its organization that subscribes to it, in the caller's transaction.
pub(crate) async fn enqueue(txn: &WriteTxn<'_>, event: &event::Model) -> ApiResult<()> {
    if !EVENTS.contains(&event.event.as_str()) {
        return Ok(());
    }
    let endpoints = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(&event.organization_id))
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::DisabledReason.is_null())
        .all(&**txn)
        .await?;
    let payload = envelope(event);
    for endpoint in endpoints {
        if subscribed_events(&endpoint).contains(&event.event) {
            insert(txn, &endpoint, &event.id, &event.event, payload.clone()).await?;
        }
    }
    Ok(())
}

/// A pending delivery of one event to `endpoint`, due at once.
fn pending(
    endpoint: &webhook::Model,
    event_id: &str,
    event_type: &str,
    payload: String,
) -> webhook_delivery::ActiveModel {
    let at = now();
    webhook_delivery::ActiveModel {
        id: Set(new_id(Kind::Delivery)),
        organization_id: Set(endpoint.organization_id.clone()),
        webhook_id: Set(endpoint.id.clone()),
        event_id: Set(event_id.to_owned()),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        lease_until: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// Owes one event to `endpoint`; the deliverer is woken once the transaction commits.
pub(crate) async fn insert(
    txn: &WriteTxn<'_>,
    endpoint: &webhook::Model,
    event_id: &str,
    event_type: &str,
    payload: String,
) -> ApiResult<webhook_delivery::Model> {
    let delivery = pending(endpoint, event_id, event_type, payload)
        .insert(&**txn)
        .await?;
    txn.wake_deliverer();
    Ok(delivery)
}

/// Deliveries written per statement: 14 values a row, well under SQLite's 32,766 placeholders.
const INSERT_CHUNK: usize = 500;

/// Owes each of `events` to `endpoint`, a few hundred rows per statement.
pub(crate) async fn insert_all(
    txn: &WriteTxn<'_>,
    endpoint: &webhook::Model,
    events: &[event::Model],
) -> ApiResult<()> {
    for chunk in events.chunks(INSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|event| pending(endpoint, &event.id, &event.event, envelope(event)));
        webhook_delivery::Entity::insert_many(rows)
            .exec_without_returning(&**txn)
            .await?;
    }
    if !events.is_empty() {
        txn.wake_deliverer();
    }
    Ok(())
}
