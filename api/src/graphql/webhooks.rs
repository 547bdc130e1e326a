//! Webhook endpoint queries and mutations: the signing secret is returned on creation and rotation only.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::events::deliveries;
use crate::events::webhooks::{self, CreateWebhook, UpdateWebhook};
use crate::graphql::enums::WebhookStatus;
use crate::graphql::types::{Conn, Timestamp, connection, wants_total};
use crate::graphql::{caller, egress_allow, sealer};
use crate::ids::Kind;
use crate::service::PageRequest;

/// Where and which events are delivered, signed the Standard Webhooks way.
pub struct Webhook(pub webhooks::Webhook);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.model.id.clone())
    }
    async fn url(&self) -> &str {
        &self.0.model.url
    }
    /// Event names, e.g. `conversation.created`.
    async fn events(&self) -> Vec<String> {
        self.0.events()
    }
    async fn description(&self) -> Option<&str> {
        self.0.model.description.as_deref()
    }
    /// Whether the organization wants deliveries.
    async fn active(&self) -> bool {
        self.0.model.active
    }
    /// Whether deliveries go out now, and if not, why.
    async fn status(&self) -> WebhookStatus {
        self.0.status.into()
    }
    /// Why delivery switched the endpoint off (410 Gone, repeated failures).
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.model.disabled_reason.as_deref()
    }
    /// Until when the secret before the last rotation still signs deliveries.
    async fn previous_secret_expires_at(&self) -> Option<Timestamp> {
        self.0.model.previous_expires_at.map(Timestamp)
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.model.created_at)
    }
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.model.updated_at)
    }
}

/// One event owed to an endpoint, with every attempt to deliver it.
pub struct WebhookDelivery(pub deliveries::Logged);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        ID(self.0.delivery.id.clone())
    }
    /// Also the `webhook-id` header, for receivers that deduplicate.
    async fn event_id(&self) -> &str {
        &self.0.delivery.event_id
    }
    async fn event_type(&self) -> &str {
        &self.0.delivery.event_type
    }
    /// `pending`, `succeeded`, `failed` (retries exhausted) or `cancelled`.
    async fn status(&self) -> &str {
        &self.0.delivery.status
    }
    async fn attempt_count(&self) -> i32 {
        self.0.delivery.attempts
    }
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        (self.0.delivery.status == crate::events::queue::PENDING)
            .then_some(Timestamp(self.0.delivery.next_attempt_at))
    }
    async fn last_status_code(&self) -> Option<i32> {
        self.0.delivery.last_status_code
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.delivery.last_error.as_deref()
    }
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.delivery.created_at)
    }
    /// Every attempt, oldest first.
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        self.0
            .attempts
            .iter()
            .map(|a| WebhookAttempt {
                attempt: a.attempt,
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                response_excerpt: a.response_excerpt.clone(),
                created_at: Timestamp(a.created_at),
            })
            .collect()
    }
}

/// One try at a delivery.
#[derive(SimpleObject)]
pub struct WebhookAttempt {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// At most the first 4 KiB of the response body.
    pub response_excerpt: Option<String>,
    pub created_at: Timestamp,
}

/// An endpoint and its signing secret (`whsec_…`), shown this once.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Defaults to true.
    pub active: Option<bool>,
}

#[derive(InputObject)]
pub struct UpdateWebhookInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` clears it.
    pub description: MaybeUndefined<String>,
    /// Turning an endpoint on again clears a delivery-disabled state.
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The organization's webhook endpoints, newest first.
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<Webhook>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Webhook)?;
        let total = if wants_total(ctx) {
            webhooks::count(db, principal).await?
        } else {
            0
        };
        let rows = webhooks::list(db, principal, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            total,
            |w| &w.model.id,
            Webhook,
        ))
    }

    async fn webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Webhook> {
        let (db, principal) = caller(ctx)?;
        Ok(Webhook(webhooks::get(db, principal, &id).await?))
    }

    /// The delivery log of one endpoint, newest first.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        let (db, principal) = caller(ctx)?;
        let page = PageRequest::new(first.map(i64::from), after.as_deref(), Kind::Delivery)?;
        let rows = deliveries::list(db, principal, &webhook_id, &page).await?;
        Ok(connection(
            rows,
            page.after.is_some(),
            0,
            |d| &d.delivery.id,
            WebhookDelivery,
        ))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<WebhookSecretPayload> {
        let (db, principal) = caller(ctx)?;
        let input = CreateWebhook {
            url: input.url,
            events: input.events,
            description: input.description,
            active: input.active,
        };
        let (webhook, secret) =
            webhooks::create(db, sealer(ctx)?, principal, egress_allow(ctx), input).await?;
        Ok(WebhookSecretPayload {
            webhook: Webhook(webhook),
            secret,
        })
    }

    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<Webhook> {
        let (db, principal) = caller(ctx)?;
        let input = UpdateWebhook {
            url: input.url,
            events: input.events,
            description: input.description.into(),
            active: input.active,
        };
        Ok(Webhook(
            webhooks::update(db, principal, egress_allow(ctx), &id, input).await?,
        ))
    }

    /// Deletes an endpoint and returns its id.
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let (db, principal) = caller(ctx)?;
        Ok(ID(webhooks::delete(db, principal, &id).await?.model.id))
    }

    /// Sends one delivery again with the same `webhook-id` and body, and a fresh timestamp and signature.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
        delivery_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let (db, principal) = caller(ctx)?;
        Ok(WebhookDelivery(
            deliveries::redeliver(db, principal, &webhook_id, &delivery_id).await?,
        ))
    }

    /// Queues every subscribed event of `[since, until)` (at most 10,000) and answers how many.
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
        since: Timestamp,
        until: Timestamp,
    ) -> async_graphql::Result<u64> {
        let (db, principal) = caller(ctx)?;
        Ok(deliveries::replay(db, principal, &webhook_id, since.0, until.0).await?)
    }

    /// Sends a signed `webhook.test` event to the endpoint.
    async fn test_webhook(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let (db, principal) = caller(ctx)?;
        Ok(WebhookDelivery(
            deliveries::send_test(db, principal, &webhook_id).await?,
        ))
    }

    /// Issues a new secret; the previous one keeps signing for 24 hours, both signatures sent meanwhile.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<WebhookSecretPayload> {
        let (db, principal) = caller(ctx)?;
        let (webhook, secret) = webhooks::rotate_secret(db, sealer(ctx)?, principal, &id).await?;
        Ok(WebhookSecretPayload {
            webhook: Webhook(webhook),
            secret,
        })
    }
}
