//! Live-event fan-out: committed events reach every subscriber, in process or through Redis pub/sub across instances.
//!
//! The bus only carries notices; the `events` table stays the source of truth. Each notice names the event the
//! organization's stream held just before it (`prev_id`), so a subscriber that sees a notice out of turn (a lagging
//! channel, a Redis reconnect, two instances publishing at once) reads the gap back from the table instead of
//! losing or reordering events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::event;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc};

use crate::redis_link::RedisLink;

/// The Redis channel every instance publishes to and listens on.
pub const CHANNEL: &str = "concierge:events";

/// How many notices a slow subscriber may fall behind before it resynchronises from the table.
const LOCAL_CAPACITY: usize = 4096;

/// One committed event, and the organization's event before it.
#[derive(Clone, Debug)]
pub struct Notice {
    pub event: event::Model,
    pub prev_id: Option<String>,
}

/// What subscribers receive.
#[derive(Clone, Debug)]
pub enum Signal {
    Event(Arc<Notice>),
    /// Someone's access in this organization changed (a key revoked, a role changed, the plan changed): its
    /// subscribers authenticate again before the next event.
    Access(Arc<str>),
    /// Notices may have been lost (Redis reconnected): every subscriber rereads the table.
    Resync,
}

/// A signal as it travels through Redis.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Message {
    Event(Wire),
    Access {
        organization_id: String,
    },
    /// An instance (`origin`) committed webhook deliveries: every other instance's sender looks at the queue.
    Deliveries {
        origin: u64,
    },
}

/// What a bus hands its Redis publisher.
enum Outgoing {
    Signals(Vec<Signal>),
    Deliveries,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    id: String,
    organization_id: String,
    event: String,
    conversation_id: Option<String>,
    sequence: i64,
    data: serde_json::Value,
    created_at: DateTime<Utc>,
    prev_id: Option<String>,
}

impl From<&Notice> for Wire {
    fn from(n: &Notice) -> Self {
        let e = &n.event;
        Wire {
            id: e.id.clone(),
            organization_id: e.organization_id.clone(),
            event: e.event.clone(),
            conversation_id: e.conversation_id.clone(),
            sequence: e.sequence,
            data: e.data.clone(),
            created_at: e.created_at,
            prev_id: n.prev_id.clone(),
        }
    }
}

impl From<Wire> for Notice {
    fn from(w: Wire) -> Self {
        Notice {
            event: event::Model {
                id: w.id,
                organization_id: w.organization_id,
                event: w.event,
                conversation_id: w.conversation_id,
                sequence: w.sequence,
                data: w.data,
                created_at: w.created_at,
            },
            prev_id: w.prev_id,
        }
    }
}

/// When access last changed in each organization, as ticks of this process's clock, so that what was read
/// about a credential (the API key cache) is used only while nothing changed since the read began. It ticks as
/// a change is announced here (before the notice travels) and as another instance's arrives through Redis;
/// a Redis reconnect, after which notices may have been lost, counts as a change everywhere.
#[derive(Debug, Default)]
pub struct AccessClock {
    ticks: AtomicU64,
    /// The tick of the last change that may have touched any organization.
    everywhere: AtomicU64,
    organizations: RwLock<HashMap<Arc<str>, u64>>,
}

impl AccessClock {
    /// The current tick: a read that starts now is current unless a change comes after it.
    pub fn now(&self) -> u64 {
        self.ticks.load(Ordering::SeqCst)
    }

    fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Someone's access in the organization changed.
    pub fn changed(&self, organization_id: &str) {
        let tick = self.tick();
        if let Ok(mut organizations) = self.organizations.write() {
            organizations.insert(organization_id.into(), tick);
        } else {
            self.everywhere.store(tick, Ordering::SeqCst);
        }
    }

    /// Changes may have been missed: everything read before now is stale.
    pub fn changed_everywhere(&self) {
        let tick = self.tick();
        self.everywhere.store(tick, Ordering::SeqCst);
    }

    /// Whether nothing changed in the organization after tick `since`.
    pub fn unchanged_since(&self, organization_id: &str, since: u64) -> bool {
        self.everywhere.load(Ordering::SeqCst) <= since
            && self.organizations.read().is_ok_and(|organizations| {
                organizations
                    .get(organization_id)
                    .is_none_or(|tick| *tick <= since)
            })
    }
}

/// The fan-out of one process: a broadcast channel, fed directly or by the Redis listener (and, while that
/// cannot hear everything, by [`table_watch`](crate::events::table_watch)).
#[derive(Clone, Debug)]
pub struct Bus {
    local: broadcast::Sender<Signal>,
    redis: Option<Shared>,
    access: Arc<AccessClock>,
    /// Rung when a transaction that queued webhook deliveries commits, here or (through Redis) elsewhere.
    deliveries: Arc<Notify>,
}

/// What a bus shared through Redis holds.
#[derive(Clone, Debug)]
struct Shared {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    link: RedisLink,
    /// Whether the listener is subscribed to [`CHANNEL`].
    listening: Arc<AtomicBool>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// An in-process bus.
    pub fn new() -> Self {
        Bus {
            local: broadcast::channel(LOCAL_CAPACITY).0,
            redis: None,
            access: Arc::default(),
            deliveries: Arc::default(),
        }
    }

    /// A bus shared by every instance through Redis: notices are published to [`CHANNEL`] and reach local
    /// subscribers through the listener, like everyone else's. When Redis cannot be reached the bus still
    /// starts: notices stay local and the listener keeps trying. Until the listener is subscribed the bus does
    /// not hear everything, so [`table_watch`](crate::events::table_watch) hands this instance its own first
    /// notices too.
    pub fn with_redis(link: RedisLink) -> Self {
        let local = broadcast::channel(LOCAL_CAPACITY).0;
        let (tx, rx) = mpsc::unbounded_channel();
        let access = Arc::new(AccessClock::default());
        let deliveries = Arc::new(Notify::new());
        // Tells this instance's own announcements apart from the others' when they come back from Redis.
        let origin = rand::random::<u64>();
        let listening = Arc::new(AtomicBool::new(false));
        let heard = Heard {
            local: local.clone(),
            access: access.clone(),
            deliveries: deliveries.clone(),
            origin,
            link: link.clone(),
            listening: listening.clone(),
        };
        tokio::spawn(listen(heard));
        tokio::spawn(publish_loop(link.clone(), rx, local.clone(), origin));
        Bus {
            local,
            redis: Some(Shared {
                outgoing: tx,
                link,
                listening,
            }),
            access,
            deliveries,
        }
    }

    /// Whether this bus hears every instance's notices: it is in process only, or Redis answers and the
    /// listener is subscribed. When not, [`table_watch`](crate::events::table_watch) reads the table.
    pub fn hears_everything(&self) -> bool {
        self.redis
            .as_ref()
            .is_none_or(|shared| shared.listening.load(Ordering::SeqCst) && shared.link.is_up())
    }

    /// Whether notices travel between instances (through Redis).
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Hands signals read elsewhere (the table) to this process's subscribers.
    pub fn hear(&self, signals: Vec<Signal>) {
        send_local(&self.local, signals);
    }

    /// When access last changed in each organization, as this process has heard.
    pub fn access(&self) -> &AccessClock {
        &self.access
    }

    /// Announces what a transaction committed (events in commit order).
    pub fn publish(&self, signals: Vec<Signal>) {
        if signals.is_empty() {
            return;
        }
        // This instance stops trusting what it read at once; the others when the notice reaches them.
        for signal in &signals {
            if let Signal::Access(organization) = signal {
                self.access.changed(organization);
            }
        }
        match &self.redis {
            // While Redis is down, notices go straight to local subscribers (the others read the table).
            Some(shared) if shared.link.is_up() => {
                if let Err(mpsc::error::SendError(Outgoing::Signals(signals))) =
                    shared.outgoing.send(Outgoing::Signals(signals))
                {
                    send_local(&self.local, signals);
                }
            }
            _ => send_local(&self.local, signals),
        }
    }

    /// Wakes the webhook sender of this instance at once, and of every other one through Redis: a committed
    /// transaction queued deliveries.
    pub fn wake_deliverer(&self) {
        self.deliveries.notify_one();
        if let Some(shared) = &self.redis {
            let _ = shared.outgoing.send(Outgoing::Deliveries);
        }
    }

    /// Completes at the next wake-up of the webhook sender (at once if one came since the last wait).
    pub async fn deliveries_queued(&self) {
        self.deliveries.notified().await;
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }

    /// How many subscribers this process holds.
    pub fn receivers(&self) -> usize {
        self.local.receiver_count()
    }
}

fn send_local(local: &broadcast::Sender<Signal>, signals: Vec<Signal>) {
    for signal in signals {
        // No receiver is not an error: nobody is subscribed.
        let _ = local.send(signal);
    }
}

/// Publishes notices to Redis in order; when Redis fails, local subscribers still get them and remote ones
/// catch up from the table at their next notice (and other instances' webhook senders at their next poll).
async fn publish_loop(
    link: RedisLink,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    local: broadcast::Sender<Signal>,
    origin: u64,
) {
    while let Some(outgoing) = rx.recv().await {
        let mut pipe = redis::pipe();
        let messages = match &outgoing {
            Outgoing::Signals(batch) => batch
                .iter()
                .filter_map(|signal| match signal {
                    Signal::Event(notice) => Some(Message::Event(Wire::from(notice.as_ref()))),
                    Signal::Access(organization) => Some(Message::Access {
                        organization_id: organization.to_string(),
                    }),
                    Signal::Resync => None,
                })
                .collect(),
            Outgoing::Deliveries => vec![Message::Deliveries { origin }],
        };
        for message in messages {
            match serde_json::to_string(&message) {
                Ok(json) => {
                    pipe.publish(CHANNEL, json).ignore();
                }
                Err(err) => tracing::error!(%err, "could not encode an event notice"),
            }
        }
        let published = link
            .run("publishing events", |mut connection| async move {
                pipe.query_async::<()>(&mut connection).await
            })
            .await;
        if published.is_none()
            && let Outgoing::Signals(batch) = outgoing
        {
            // Local subscribers get them now; the other instances read them from the table.
            send_local(&local, batch);
        }
    }
}

/// Where a listener hands what it hears.
struct Heard {
    local: broadcast::Sender<Signal>,
    access: Arc<AccessClock>,
    deliveries: Arc<Notify>,
    /// This instance's own deliveries announcements, to skip.
    origin: u64,
    /// Told when the subscription fails, so that the outage is reported once for everything.
    link: RedisLink,
    listening: Arc<AtomicBool>,
}

/// How long connecting and subscribing for events may take.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(1);

/// Forwards Redis notices to local subscribers, reconnecting forever; after a reconnect every subscriber
/// resynchronises, since notices published meanwhile are lost.
async fn listen(heard: Heard) {
    let Heard {
        local,
        access,
        deliveries,
        origin,
        link,
        listening,
    } = heard;
    let mut backoff = Duration::from_millis(100);
    loop {
        let pubsub =
            match tokio::time::timeout(LISTEN_TIMEOUT, link.client().get_async_pubsub()).await {
                Ok(connected) => connected.map_err(|err| err.to_string()),
                Err(_) => Err("no connection for events within a second".to_owned()),
            };
        let subscribed = match pubsub {
            Ok(mut pubsub) => {
                match tokio::time::timeout(LISTEN_TIMEOUT, pubsub.subscribe(CHANNEL)).await {
                    Ok(Ok(())) => Ok(pubsub),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("no subscription to events within a second".to_owned()),
                }
            }
            Err(reason) => Err(reason),
        };
        let mut pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(reason) => {
                link.down(&reason);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        listening.store(true, Ordering::SeqCst);
        access.changed_everywhere();
        let _ = local.send(Signal::Resync);
        // Announcements of queued deliveries may have been lost as well.
        deliveries.notify_one();
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let payload: Vec<u8> = message.get_payload_bytes().to_vec();
            match serde_json::from_slice::<Message>(&payload) {
                Ok(Message::Event(wire)) => {
                    let _ = local.send(Signal::Event(Arc::new(Notice::from(wire))));
                }
                Ok(Message::Access { organization_id }) => {
                    access.changed(&organization_id);
                    let _ = local.send(Signal::Access(organization_id.into()));
                }
                Ok(Message::Deliveries { origin: from }) => {
                    if from != origin {
                        deliveries.notify_one();
                    }
                }
                Err(err) => tracing::warn!(%err, "ignoring a malformed event notice from Redis"),
            }
        }
        listening.store(false, Ordering::SeqCst);
        link.down("the event subscription was cut");
    }
}

/// The longest pause between attempts to subscribe again: events flow through Redis within a second of its
/// return.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Tells every instance listening on Redis that access in an organization changed, from a process without a
/// bus of its own (the command line changing a plan).
pub async fn announce_access(url: &str, organization_id: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut connection = redis::aio::ConnectionManager::new(client).await?;
    let message = serde_json::to_string(&Message::Access {
        organization_id: organization_id.to_owned(),
    })?;
    redis::cmd("PUBLISH")
        .arg(CHANNEL)
        .arg(message)
        .query_async::<()>(&mut connection)
        .await?;
    Ok(())
}
