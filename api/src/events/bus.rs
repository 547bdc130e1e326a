//! Live-event fan-out: committed events reach every subscriber, in process or through Redis pub/sub across instances.
//!
//! The bus only carries notices; the `events` table stays the source of truth. Each notice names the event the
//! organization's stream held just before it (`prev_id`), so a subscriber that sees a notice out of turn (a lagging
//! channel, a Redis reconnect, two instances publishing at once) reads the gap back from the table instead of
//! losing or reordering events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::event;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc};

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

/// The fan-out of one process: a broadcast channel, fed directly or by the Redis listener.
#[derive(Clone, Debug)]
pub struct Bus {
    local: broadcast::Sender<Signal>,
    redis: Option<mpsc::UnboundedSender<Outgoing>>,
    access: Arc<AccessClock>,
    /// Rung when a transaction that queued webhook deliveries commits, here or (through Redis) elsewhere.
    deliveries: Arc<Notify>,
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
    /// subscribers through the listener, like everyone else's.
    pub async fn with_redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let local = broadcast::channel(LOCAL_CAPACITY).0;
        // Subscribe before the first publish, so this instance hears its own first notice.
        let pubsub = client.get_async_pubsub().await?;
        let publisher = redis::aio::ConnectionManager::new(client.clone()).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let access = Arc::new(AccessClock::default());
        let deliveries = Arc::new(Notify::new());
        // Tells this instance's own announcements apart from the others' when they come back from Redis.
        let origin = rand::random::<u64>();
        let heard = Heard {
            local: local.clone(),
            access: access.clone(),
            deliveries: deliveries.clone(),
            origin,
        };
        tokio::spawn(listen(client, Some(pubsub), heard));
        tokio::spawn(publish_loop(publisher, rx, local.clone(), origin));
        Ok(Bus {
            local,
            redis: Some(tx),
            access,
            deliveries,
        })
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
            Some(redis) => {
                if let Err(mpsc::error::SendError(Outgoing::Signals(signals))) =
                    redis.send(Outgoing::Signals(signals))
                {
                    send_local(&self.local, signals);
                }
            }
            None => send_local(&self.local, signals),
        }
    }

    /// Wakes the webhook sender of this instance at once, and of every other one through Redis: a committed
    /// transaction queued deliveries.
    pub fn wake_deliverer(&self) {
        self.deliveries.notify_one();
        if let Some(redis) = &self.redis {
            let _ = redis.send(Outgoing::Deliveries);
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
    mut connection: redis::aio::ConnectionManager,
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
        if let Err(err) = pipe.query_async::<()>(&mut connection).await {
            tracing::warn!(%err, "publishing events to Redis failed; delivering them locally");
            if let Outgoing::Signals(batch) = outgoing {
                send_local(&local, batch);
            }
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
}

/// Forwards Redis notices to local subscribers, reconnecting forever; after a reconnect every subscriber
/// resynchronises, since notices published meanwhile are lost.
async fn listen(client: redis::Client, mut first: Option<redis::aio::PubSub>, heard: Heard) {
    let Heard {
        local,
        access,
        deliveries,
        origin,
    } = heard;
    let mut backoff = Duration::from_millis(100);
    loop {
        let pubsub = match first.take() {
            Some(pubsub) => Ok(pubsub),
            None => client.get_async_pubsub().await,
        };
        let mut pubsub = match pubsub {
            Ok(pubsub) => pubsub,
            Err(err) => {
                tracing::warn!(%err, "connecting to Redis for events failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(err) = pubsub.subscribe(CHANNEL).await {
            tracing::warn!(%err, "subscribing to Redis events failed; retrying");
            tokio::time::sleep(backoff).await;
            continue;
        }
        backoff = Duration::from_millis(100);
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
        tracing::warn!("the Redis event subscription ended; reconnecting");
    }
}

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
