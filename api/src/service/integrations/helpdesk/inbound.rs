//! What help desks post back: a notice that a ticket changed, verified by the vendor's signature (Zendesk's
//! `X-Zendesk-Webhook-Signature`) and answered at once; the work it asks for (replies to bring into the
//! conversation, a solved ticket) is a job, so a slow or failing vendor never holds the request.

use std::time::Duration as StdDuration;

use base64::Engine;
use chrono::{DateTime, Utc};
use entities::{conversation, integration};
use ring::hmac;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::db::Db;
use crate::error::ApiResult;
use crate::ids::{self, Kind};
use crate::secrets::Sealer;
use crate::service::integrations::credentials::Credentials;
use crate::service::integrations::links;
use crate::service::integrations::runs::{self, JobKind};
use crate::service::integrations::{IntegrationStatus, providers};
use crate::service::now;

/// How far a notice's timestamp may be from our clock (replays older than this are refused).
const TOLERANCE: StdDuration = StdDuration::from_secs(300);

/// Why a notice was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such connection (or not one that takes notices): 404.
    Unknown,
    /// The signature or its timestamp does not hold: 401.
    Signature(&'static str),
    /// The body is not what the vendor sends: 400.
    Malformed(String),
    /// The notice could not be kept (the database): 503, so that the vendor sends it again.
    Unavailable,
}

/// What came of a notice that was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// A job was owed to bring the ticket's change here.
    Queued,
    /// The ticket is not one of this connection's: nothing to do.
    Ignored,
}

/// Whether `signature` is Zendesk's for this request: base64(HMAC-SHA256(secret, timestamp + body)), compared
/// in constant time.
pub fn zendesk_signature_holds(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    hmac::verify(&key, &message, &tag).is_ok()
}

/// Takes a notice posted to `/integrations/{provider}/events/{id}`.
pub async fn receive(
    db: &Db,
    sealer: &Sealer,
    provider: &str,
    id: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
) -> Result<Taken, Refusal> {
    let id = ids::lookup(Kind::Integration, id).map_err(|_| Refusal::Unknown)?;
    let model = integration::Entity::find_by_id(id.to_owned())
        .filter(integration::Column::Provider.eq(provider))
        .one(db.conn())
        .await
        .map_err(|_| Refusal::Unavailable)?
        .ok_or(Refusal::Unknown)?;
    if providers::provider(&model.provider).map(|p| p.key) != Some("zendesk")
        || model.status == IntegrationStatus::Disconnected.as_str()
    {
        return Err(Refusal::Unknown);
    }
    let credentials = Credentials::open(sealer, &model).map_err(|_| Refusal::Unknown)?;
    let secret = credentials.webhook_secret.ok_or(Refusal::Unknown)?;
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(Refusal::Signature("the request is not signed"));
    };
    if !zendesk_signature_holds(&secret, timestamp, body, signature) {
        return Err(Refusal::Signature("the signature does not match"));
    }
    let at = DateTime::parse_from_rfc3339(timestamp.trim())
        .map_err(|_| Refusal::Signature("the signature's timestamp is not a time"))?
        .with_timezone(&Utc);
    if (Utc::now() - at).abs() > chrono::Duration::from_std(TOLERANCE).unwrap_or_default() {
        return Err(Refusal::Signature(
            "the signature's timestamp is too far from now",
        ));
    }
    let notice: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))?;
    let text = |name: &str| {
        notice.get(name).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
    };
    let (Some(ticket_id), Some(conversation_id)) = (text("ticket_id"), text("external_id")) else {
        return Err(Refusal::Malformed(
            "the body names no ticket_id and external_id".to_owned(),
        ));
    };
    queue(db, &model, &ticket_id, &conversation_id)
        .await
        .map_err(|err| {
            tracing::warn!(error = ?err, "a help-desk notice could not be kept");
            Refusal::Unavailable
        })
}

/// Owes a `ticket_sync` job when the ticket is this connection's own for that conversation (of its own
/// organization): nothing a vendor posts reaches another organization's data.
async fn queue(
    db: &Db,
    model: &integration::Model,
    ticket_id: &str,
    conversation_id: &str,
) -> ApiResult<Taken> {
    let Some(link) = links::get(db, &model.id, "ticket", conversation_id).await? else {
        return Ok(Taken::Ignored);
    };
    if link.remote_id != ticket_id || link.organization_id != model.organization_id {
        return Ok(Taken::Ignored);
    }
    let Some(conversation) = conversation::Entity::find_by_id(conversation_id.to_owned())
        .filter(conversation::Column::OrganizationId.eq(&model.organization_id))
        .one(db.conn())
        .await?
    else {
        return Ok(Taken::Ignored);
    };
    let at = now();
    let txn = db.begin_write().await?;
    runs::pending_job(
        model,
        JobKind::TicketSync.as_str(),
        &format!("{}.ticket_updated", model.provider),
        &conversation.visitor_id,
        Some(&conversation.id),
        at,
    )
    .insert(&*txn)
    .await?;
    txn.commit().await?;
    Ok(Taken::Queued)
}
