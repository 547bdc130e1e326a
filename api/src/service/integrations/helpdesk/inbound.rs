//! What help desks post back: a notice that a ticket changed, verified by the vendor's signature (Zendesk's
//! `X-Zendesk-Webhook-Signature`, Intercom's `X-Hub-Signature`) or, where it signs nothing (Freshdesk), by a
//! secret in the URL, and answered at once; the work it asks for (replies to bring into the
//! conversation, a solved ticket) is a job, so a slow or failing vendor never holds the request.

use std::time::Duration as StdDuration;

use base64::Engine;
use chrono::{DateTime, Utc};
use entities::{conversation, integration};
use reqwest::header::HeaderMap;
use ring::hmac;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
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
    /// A notice that asks for nothing (Intercom's `ping` when the webhook is set up, a topic we do not use).
    Acknowledged,
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

/// A notice as it came: the connection (and, for vendors that sign nothing, the secret) its URL names, the
/// request's headers and its body.
#[derive(Debug)]
pub struct Notice<'a> {
    pub provider: &'a str,
    pub id: &'a str,
    pub url_secret: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Notice<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Result<Value, Refusal> {
        serde_json::from_slice(self.body)
            .map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))
    }
}

/// Where a help desk that signs nothing posts its notices: the connection's URL with its secret (Freshdesk's
/// automation rules call it). Null for the others (they are registered, or sign what they send).
pub fn inbound_url(
    public_url: &str,
    sealer: &Sealer,
    model: &integration::Model,
) -> Option<String> {
    if model.provider != "freshdesk" || model.status == IntegrationStatus::Disconnected.as_str() {
        return None;
    }
    let secret = Credentials::open(sealer, model).ok()?.webhook_secret?;
    Some(format!(
        "{}/integrations/{}/events/{}/{secret}",
        public_url.trim_end_matches('/'),
        model.provider,
        model.id
    ))
}

/// Takes a notice posted to `/integrations/{provider}/events/{id}` (or `…/{id}/{secret}`).
pub async fn receive(db: &Db, sealer: &Sealer, notice: &Notice<'_>) -> Result<Taken, Refusal> {
    let id = ids::lookup(Kind::Integration, notice.id).map_err(|_| Refusal::Unknown)?;
    let model = integration::Entity::find_by_id(id.to_owned())
        .filter(integration::Column::Provider.eq(notice.provider))
        .one(db.conn())
        .await
        .map_err(|_| Refusal::Unavailable)?
        .ok_or(Refusal::Unknown)?;
    if model.status == IntegrationStatus::Disconnected.as_str() {
        return Err(Refusal::Unknown);
    }
    let credentials = Credentials::open(sealer, &model).map_err(|_| Refusal::Unknown)?;
    let secret = credentials.webhook_secret.ok_or(Refusal::Unknown)?;
    let (ticket_id, conversation_id) = match providers::provider(&model.provider).map(|p| p.key) {
        Some("zendesk") => zendesk_notice(&secret, notice)?,
        Some("freshdesk") => freshdesk_notice(&secret, notice)?,
        _ => return Err(Refusal::Unknown),
    };
    let conversation_id = match conversation_id {
        Some(id) => Some(id),
        None => links::local_of(db, &model.id, "ticket", &ticket_id)
            .await
            .map_err(|_| Refusal::Unavailable)?,
    };
    let Some(conversation_id) = conversation_id else {
        return Ok(Taken::Ignored);
    };
    queue(db, &model, &ticket_id, &conversation_id)
        .await
        .map_err(|err| {
            tracing::warn!(error = ?err, "a help-desk notice could not be kept");
            Refusal::Unavailable
        })
}

/// A Zendesk notice: signed (`X-Zendesk-Webhook-Signature` over the timestamp and body, the timestamp close to
/// now), naming the ticket and its `external_id` (our conversation).
fn zendesk_notice(secret: &str, notice: &Notice<'_>) -> Result<(String, Option<String>), Refusal> {
    let (Some(signature), Some(timestamp)) = (
        notice.header("x-zendesk-webhook-signature"),
        notice.header("x-zendesk-webhook-signature-timestamp"),
    ) else {
        return Err(Refusal::Signature("the request is not signed"));
    };
    if !zendesk_signature_holds(secret, timestamp, notice.body, signature) {
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
    let body = notice.json()?;
    let (Some(ticket_id), Some(conversation_id)) =
        (text(&body, "ticket_id"), text(&body, "external_id"))
    else {
        return Err(Refusal::Malformed(
            "the body names no ticket_id and external_id".to_owned(),
        ));
    };
    Ok((ticket_id, Some(conversation_id)))
}

/// A Freshdesk notice: its URL holds the connection's secret (compared in constant time); the body names the
/// ticket, at its top (`{"ticket_id": …}`, an advanced webhook body) or under `freshdesk_webhook` (the simple
/// one). The conversation is the one this connection's ticket belongs to.
fn freshdesk_notice(
    secret: &str,
    notice: &Notice<'_>,
) -> Result<(String, Option<String>), Refusal> {
    use subtle::ConstantTimeEq;
    let given = notice.url_secret.unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
        return Err(Refusal::Signature(
            "the URL does not hold this connection's secret",
        ));
    }
    let body = notice.json()?;
    let ticket_id = text(&body, "ticket_id")
        .or_else(|| {
            body.get("freshdesk_webhook")
                .and_then(|w| text(w, "ticket_id"))
        })
        .ok_or_else(|| Refusal::Malformed("the body names no ticket_id".to_owned()))?;
    Ok((ticket_id, None))
}

/// A field of a notice as text (vendors send ids as numbers or strings).
fn text(value: &Value, name: &str) -> Option<String> {
    value
        .get(name)
        .and_then(super::id_text)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Whether `signature` (`sha1=<hex>`) is Intercom's `X-Hub-Signature` of `body`: HMAC-SHA1 with the app's
/// client secret, compared in constant time.
pub fn intercom_signature_holds(client_secret: &str, body: &[u8], signature: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = signature.trim().strip_prefix("sha1=") else {
        return false;
    };
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        client_secret.as_bytes(),
    );
    let expected = hex::encode(hmac::sign(&key, body));
    bool::from(
        given
            .to_ascii_lowercase()
            .as_bytes()
            .ct_eq(expected.as_bytes()),
    )
}

/// Takes a notice posted to `/integrations/{provider}/events`, where a vendor's app (not one connection) posts
/// for every workspace that installed it: Intercom, signed with the app's client secret. The notice's `app_id`
/// names the workspace, its item the conversation; a job is owed to each connection of that workspace whose
/// conversation it is.
pub async fn receive_app(
    db: &Db,
    settings: &crate::config::Settings,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Taken, Refusal> {
    if provider != "intercom" {
        return Err(Refusal::Unknown);
    }
    let Some((_, secret)) = settings.oauth_app(provider) else {
        return Err(Refusal::Unknown);
    };
    let signature = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Signature("the request is not signed"))?;
    if !intercom_signature_holds(secret.expose_secret(), body, signature) {
        return Err(Refusal::Signature("the signature does not match"));
    }
    let notice: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))?;
    let topic = notice
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(
        topic,
        "conversation.admin.replied" | "conversation.admin.closed"
    ) {
        return Ok(Taken::Acknowledged);
    }
    let (Some(app_id), Some(conversation)) = (
        text(&notice, "app_id"),
        notice
            .pointer("/data/item")
            .and_then(|item| text(item, "id")),
    ) else {
        return Err(Refusal::Malformed(
            "the notice names no app_id and conversation".to_owned(),
        ));
    };
    let connections = integration::Entity::find()
        .filter(integration::Column::Provider.eq(provider))
        .filter(integration::Column::Status.ne(IntegrationStatus::Disconnected.as_str()))
        .all(db.conn())
        .await
        .map_err(|_| Refusal::Unavailable)?;
    let mut taken = Taken::Ignored;
    for model in connections
        .iter()
        .filter(|m| m.account.get("app_id").and_then(Value::as_str) == Some(app_id.as_str()))
    {
        let local = links::local_of(db, &model.id, "ticket", &conversation)
            .await
            .map_err(|_| Refusal::Unavailable)?;
        if let Some(conversation_id) = local
            && queue(db, model, &conversation, &conversation_id)
                .await
                .map_err(|err| {
                    tracing::warn!(error = ?err, "an Intercom notice could not be kept");
                    Refusal::Unavailable
                })?
                == Taken::Queued
        {
            taken = Taken::Queued;
        }
    }
    Ok(taken)
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
