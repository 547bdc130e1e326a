//! Webhook endpoint queries and mutations: the signing secret is returned on creation and rotation only.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::events::deliveries;
use crate::events::webhooks::{self, CreateWebhook, UpdateWebhook};
use crate::graphql::enums::{EventType, WebhookDeliveryStatus, WebhookStatus, names};
use crate::graphql::payloads::{Args, payload, payload_type};
use crate::graphql::scalars::Timestamp;
use crate::graphql::types::{Conn, connection, wants_total};
use crate::graphql::{caller, egress_allow, found, sealer};
use crate::ids::Kind;
use crate::service::PageRequest;

/// A page of one endpoint's deliveries, newest first.
async fn delivery_page(
    ctx: &Context<'_>,
    webhook_id: &str,
    first: Option<i32>,
    after: Option<&str>,
) -> async_graphql::Result<Conn<WebhookDelivery>> {
    let (db, principal) = caller(ctx)?;
    let page = PageRequest::new(first.map(i64::from), after, Kind::Delivery)?;
    let rows = deliveries::list(db, principal, webhook_id, &page).await?;
    Ok(connection(
        rows,
        page.after.is_some(),
        0,
        |d| &d.delivery.id,
        WebhookDelivery,
    ))
}

/// Where and which events are delivered, signed the Standard Webhooks way.
pub struct Webhook(pub webhooks::Webhook);

/// A webhook endpoint: where and which events are delivered, signed the Standard Webhooks way.
#[Object]
impl Webhook {
    /// The endpoint's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.model.id.clone())
    }
    /// Where deliveries are posted.
    async fn url(&self) -> &str {
        &self.0.model.url
    }
    /// The types of event delivered to it.
    async fn events(&self) -> async_graphql::Result<Vec<EventType>> {
        Ok(self
            .0
            .events()
            .iter()
            .map(|name| EventType::stored(name))
            .collect::<Result<_, _>>()?)
    }
    /// What the endpoint is for.
    async fn description(&self) -> Option<&str> {
        self.0.model.description.as_deref()
    }
    /// Whether the organization wants deliveries.
    async fn active(&self) -> bool {
        self.0.model.active
    }
    /// The endpoint's deliveries, newest first, each with its attempts.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many deliveries to return: 1 to 100, 20 when omitted.")]
        first: Option<i32>,
        #[graphql(
            desc = "Returns the deliveries after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        delivery_page(ctx, &self.0.model.id, first, after.as_deref()).await
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
    /// When the endpoint was added.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.model.created_at)
    }
    /// When the endpoint last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.model.updated_at)
    }
}

/// One event owed to an endpoint, with every attempt to deliver it.
pub struct WebhookDelivery(pub deliveries::Logged);

/// One event owed to an endpoint, with every attempt to deliver it.
#[Object]
impl WebhookDelivery {
    /// The delivery's id.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.delivery.id.clone())
    }
    /// Also the `webhook-id` header, for receivers that deduplicate.
    async fn event_id(&self) -> &str {
        &self.0.delivery.event_id
    }
    /// The type of the event delivered.
    async fn event_type(&self) -> async_graphql::Result<EventType> {
        Ok(EventType::stored(&self.0.delivery.event_type)?)
    }
    /// Where the delivery stands.
    async fn status(&self) -> async_graphql::Result<WebhookDeliveryStatus> {
        Ok(WebhookDeliveryStatus::stored(&self.0.delivery.status)?)
    }
    /// How many attempts were made so far.
    async fn attempt_count(&self) -> i32 {
        self.0.delivery.attempts
    }
    /// When the next attempt is due; null unless the delivery is pending.
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        (self.0.delivery.status == crate::events::queue::PENDING)
            .then_some(Timestamp(self.0.delivery.next_attempt_at))
    }
    /// The HTTP status the endpoint answered at the last attempt; null when it gave none (or before the first attempt).
    async fn last_status_code(&self) -> Option<i32> {
        self.0.delivery.last_status_code
    }
    /// What went wrong at the last attempt, or why the delivery was cancelled; null when nothing did.
    async fn last_error(&self) -> Option<&str> {
        self.0.delivery.last_error.as_deref()
    }
    /// When the delivery was queued.
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
    /// The attempt's number, from 1.
    pub attempt: i32,
    /// The HTTP status the endpoint answered; null when no answer came (such as a timeout or a refused connection).
    pub status_code: Option<i32>,
    /// How long the attempt took, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong, in words; null when nothing did.
    pub error: Option<String>,
    /// At most the first 4 KiB of the response body.
    pub response_excerpt: Option<String>,
    /// When the attempt was made.
    pub created_at: Timestamp,
}

payload_type! {
    /// The result of `createWebhook` and `rotateWebhookSecret`: the endpoint and its signing secret, shown this
    /// once.
    WebhookSecretPayload {
        /// The endpoint.
        webhook: Option<Webhook>,
        /// The signing secret (`whsec_…`) with which the endpoint verifies deliveries; it cannot be read again.
        secret: Option<String>,
    }
}

payload_type! {
    /// The result of `updateWebhook`.
    WebhookPayload {
        /// The endpoint as changed.
        webhook: Option<Webhook>,
    }
}

payload_type! {
    /// The result of `deleteWebhook`.
    DeleteWebhookPayload {
        /// The id of the endpoint deleted.
        deleted_webhook_id: Option<ID>,
    }
}

payload_type! {
    /// The result of `redeliverWebhook` and `testWebhook`.
    WebhookDeliveryPayload {
        /// The delivery queued.
        delivery: Option<WebhookDelivery>,
    }
}

payload_type! {
    /// The result of `replayWebhook`.
    ReplayWebhookPayload {
        /// How many events were queued for delivery.
        queued: Option<u64>,
    }
}

/// The time window of events to send again.
#[derive(InputObject)]
pub struct ReplayWebhookInput {
    /// The first moment whose events are sent (inclusive).
    pub since: Timestamp,
    /// The moment before which events are sent (exclusive); later than `since`, and the window may hold at most
    /// 10,000 events.
    pub until: Timestamp,
}

/// A new webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// Where deliveries are posted: an http or https URL on the public internet (or allowed by the server's egress
    /// allow-list).
    pub url: String,
    /// The types of event to deliver.
    pub events: Vec<EventType>,
    /// What the endpoint is for.
    pub description: Option<String>,
    /// Whether deliveries are sent; true when omitted.
    pub active: Option<bool>,
}

/// Changes to a webhook endpoint: absent fields keep their value, `null` clears.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    /// Where deliveries are posted: an http or https URL on the public internet (or allowed by the server's egress
    /// allow-list).
    pub url: Option<String>,
    /// The types of event to deliver; they replace the current ones.
    pub events: Option<Vec<EventType>>,
    /// What the endpoint is for; `null` clears it.
    pub description: MaybeUndefined<String>,
    /// Whether deliveries are sent; turning an endpoint on again clears a delivery-disabled state.
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The organization's webhook endpoints, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many endpoints to return: 1 to 100, 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(
            desc = "Returns the endpoints after this cursor: the `endCursor` of the previous page."
        )]
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

    /// One endpoint by id; null when the organization has none with this id.
    async fn webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's id.")] id: ID,
    ) -> async_graphql::Result<Option<Webhook>> {
        let (db, principal) = caller(ctx)?;
        Ok(found(ctx, webhooks::get(db, principal, &id).await)?.map(Webhook))
    }

    /// The delivery log of one endpoint, newest first.
    #[graphql(complexity = "crate::graphql::cost::list(first, None, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint whose deliveries to list.")] webhook_id: ID,
        #[graphql(desc = "How many deliveries to return: 1 to 100, 20 when omitted.")]
        first: Option<i32>,
        #[graphql(
            desc = "Returns the deliveries after this cursor: the `endCursor` of the previous page."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        delivery_page(ctx, &webhook_id, first, after.as_deref()).await
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Adds a webhook endpoint; its signing secret is shown this once.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new endpoint.")] input: CreateWebhookInput,
    ) -> async_graphql::Result<Option<WebhookSecretPayload>> {
        let (db, principal) = caller(ctx)?;
        let input = CreateWebhook {
            url: input.url,
            events: names(input.events),
            description: input.description,
            active: input.active,
        };
        let result = webhooks::create(db, sealer(ctx)?, principal, egress_allow(ctx), input).await;
        payload(ctx, result, Args::Input, |(webhook, secret)| {
            WebhookSecretPayload {
                webhook: Some(Webhook(webhook)),
                secret: Some(secret),
                ..Default::default()
            }
        })
    }

    /// Changes a webhook endpoint.
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to change.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateWebhookInput,
    ) -> async_graphql::Result<Option<WebhookPayload>> {
        let (db, principal) = caller(ctx)?;
        let input = UpdateWebhook {
            url: input.url,
            events: input.events.map(names),
            description: input.description.into(),
            active: input.active,
        };
        let result = webhooks::update(db, principal, egress_allow(ctx), &id, input).await;
        payload(ctx, result, Args::Input, |webhook| WebhookPayload {
            webhook: Some(Webhook(webhook)),
            ..Default::default()
        })
    }

    /// Deletes an endpoint; deliveries not yet sent are dropped.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to delete.")] id: ID,
    ) -> async_graphql::Result<Option<DeleteWebhookPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = webhooks::delete(db, principal, &id).await;
        payload(ctx, result, Args::Top, |webhook| DeleteWebhookPayload {
            deleted_webhook_id: Some(ID(webhook.model.id)),
            ..Default::default()
        })
    }

    /// Sends one delivery again with the same `webhook-id` and body, and a fresh timestamp and signature.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint the delivery went to.")] id: ID,
        #[graphql(desc = "The delivery to send again.")] delivery_id: ID,
    ) -> async_graphql::Result<Option<WebhookDeliveryPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = deliveries::redeliver(db, principal, &id, &delivery_id).await;
        payload(ctx, result, Args::Top, |delivery| WebhookDeliveryPayload {
            delivery: Some(WebhookDelivery(delivery)),
            ..Default::default()
        })
    }

    /// Queues every subscribed event of `[since, until)` (at most 10,000) for the endpoint again.
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to replay to.")] id: ID,
        #[graphql(desc = "The time window of events to send again.")] input: ReplayWebhookInput,
    ) -> async_graphql::Result<Option<ReplayWebhookPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = deliveries::replay(db, principal, &id, input.since.0, input.until.0).await;
        payload(ctx, result, Args::Input, |queued| ReplayWebhookPayload {
            queued: Some(queued),
            ..Default::default()
        })
    }

    /// Sends a signed `webhook.test` event to the endpoint.
    async fn test_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to test.")] id: ID,
    ) -> async_graphql::Result<Option<WebhookDeliveryPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = deliveries::send_test(db, principal, &id).await;
        payload(ctx, result, Args::Top, |delivery| WebhookDeliveryPayload {
            delivery: Some(WebhookDelivery(delivery)),
            ..Default::default()
        })
    }

    /// Issues a new signing secret; the previous one keeps signing for 24 hours, both signatures sent meanwhile.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint whose secret to rotate.")] id: ID,
    ) -> async_graphql::Result<Option<WebhookSecretPayload>> {
        let (db, principal) = caller(ctx)?;
        let result = webhooks::rotate_secret(db, sealer(ctx)?, principal, &id).await;
        payload(ctx, result, Args::Top, |(webhook, secret)| {
            WebhookSecretPayload {
                webhook: Some(Webhook(webhook)),
                secret: Some(secret),
                ..Default::default()
            }
        })
    }
}
