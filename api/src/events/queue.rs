//! The delivery queue: each event is owed to every active endpoint of its organization that subscribes to it,
//! in the event's own transaction.

use entities::{event, webhook, webhook_delivery};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

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
pub(crate) async fn enqueue(conn: &impl ConnectionTrait, event: &event::Model) -> ApiResult<()> {
    if !EVENTS.contains(&event.event.as_str()) {
        return Ok(());
    }
    let endpoints = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(&event.organization_id))
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::DisabledReason.is_null())
        .all(conn)
        .await?;
    let payload = envelope(event);
    for endpoint in endpoints {
        if subscribed_events(&endpoint).contains(&event.event) {
            insert(conn, &endpoint, &event.id, &event.event, payload.clone()).await?;
        }
    }
    Ok(())
}

pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    endpoint: &webhook::Model,
    event_id: &str,
    event_type: &str,
    payload: String,
) -> ApiResult<webhook_delivery::Model> {
    let at = now();
    Ok(webhook_delivery::ActiveModel {
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
    .insert(conn)
    .await?)
}
