//! Live subscriptions: a conversation's events, the organization's events and a conversation's new messages.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use crate::auth::credentials::Credential;
use crate::config::Settings;
use crate::error::ApiError;
use crate::events::follow::{self, Recheck, Scope, Since, Tap, Watcher};
use crate::graphql::caller;
use crate::graphql::enums::{EventType, names};
use crate::graphql::events::Event;
use crate::graphql::messages::Message;
use crate::service::conversations::messages;

#[derive(Default)]
pub struct SubscriptionRoot;

/// Opens the caller's stream for `scope`: shared by a shape's subscribers when `graphql::fanout` runs it, else
/// the caller's own, resumed where a shared one left off when the connection asks (see [`Resume`]).
async fn open(
    ctx: &Context<'_>,
    scope: Scope,
    after: Option<ID>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
    let (db, principal) = caller(ctx)?;
    let recheck = ctx
        .data::<Arc<Settings>>()
        .map(|s| Recheck(s.subscription_recheck()))
        .map_err(|_| ApiError::internal_msg("no settings in context"))?;
    let (watcher, since) = match ctx.data_opt::<Shared>() {
        Some(Shared(tap)) => (Watcher::Shared(tap.clone()), Since::Now),
        None => {
            let credential = ctx
                .data::<Credential>()
                .map_err(|_| {
                    ApiError::Unauthenticated(
                        "subscriptions are served over WebSocket at /graphql/ws".to_owned(),
                    )
                })?
                .clone();
            let since = match (ctx.data_opt::<Resume>(), after) {
                (Some(Resume(since)), _) => since.clone(),
                (None, Some(after)) => Since::After(after.0),
                (None, None) => Since::Now,
            };
            (Watcher::Team(credential), since)
        }
    };
    let stream = follow::follow(db, watcher, principal.clone(), scope, since, recheck).await?;
    Ok(stream.map(|item| item.map(Event).map_err(async_graphql::Error::from)))
}

/// Request data that makes a subscription's stream the shared one of `graphql::fanout`'s shape.
#[derive(Clone)]
pub(crate) struct Shared(pub Arc<dyn Tap>);

/// Request data that starts a subscription where a shared stream left its subscriber (instead of `after`).
#[derive(Clone, Debug)]
pub(crate) struct Resume(pub Since);

/// Live updates, served over WebSocket at `/graphql/ws`.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every event of one conversation, in order. With `after` (an event id), first replays what came since.
    async fn conversation_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to follow.")] conversation_id: ID,
        #[graphql(
            desc = "An event id: the events since it are replayed first; only new events when omitted."
        )]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        open(ctx, Scope::conversation(&conversation_id), after).await
    }

    /// The organization's events of the given types (all the caller may read when omitted), for dashboards.
    /// With `after` (an event id), first replays what came since.
    async fn organization_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only events of these types; every type the caller's role may read when omitted."
        )]
        types: Option<Vec<EventType>>,
        #[graphql(
            desc = "An event id: the events since it are replayed first; only new events when omitted."
        )]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Event>> + use<>> {
        open(
            ctx,
            Scope::organization(names(types.unwrap_or_default())),
            after,
        )
        .await
    }

    /// Each new message of one conversation. With `after` (an event id), first replays what came since.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation to follow.")] conversation_id: ID,
        #[graphql(
            desc = "An event id: the messages posted since it are replayed first; only new messages when omitted."
        )]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>> + use<>> {
        let events = open(ctx, Scope::messages(&conversation_id), after).await?;
        Ok(events.map(|item| {
            let Event(event) = item?;
            Ok(Message::from(messages::from_event(&event)?))
        }))
    }
}
