//! The instance's link to Redis: one connection for rate limits, event notices and vendor pacing, bounded by a short timeout, with outages noticed once, reported and recovered from in the background.
//!
//! Redis only helps (shared limits, fan-out across instances, a shared vendor pace): nothing waits on it for longer
//! than [`Settings::redis_timeout_ms`](crate::config::Settings::redis_timeout_ms). The first failure marks the
//! link down; from then on callers do without it at once (no waiting, no retry storm) while one probe pings it
//! every [`PROBE_EVERY`] until it answers again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How often a link that is down looks whether Redis answers again.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long establishing a connection may take (a TCP connect and the handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A shared handle on the instance's Redis.
#[derive(Clone)]
pub struct RedisLink(Arc<Inner>);

struct Inner {
    client: redis::Client,
    /// `host:port`, never the password, for messages.
    address: String,
    timeout: Duration,
    connection: RwLock<Option<ConnectionManager>>,
    outage: Mutex<Option<Outage>>,
    probing: AtomicBool,
}

/// Why and since when Redis cannot be used.
#[derive(Clone, Debug)]
pub struct Outage {
    pub since: DateTime<Utc>,
    pub reason: String,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("address", &self.0.address)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// A link to the Redis at `url` (`REDIS_URL`), not yet connected; refuses a URL that cannot be one.
    pub fn open(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|err| anyhow::anyhow!("REDIS_URL is not a Redis URL: {err}"))?;
        let address = client.get_connection_info().addr.to_string();
        Ok(RedisLink(Arc::new(Inner {
            client,
            address,
            timeout: timeout.max(Duration::from_millis(1)),
            connection: RwLock::new(None),
            outage: Mutex::new(None),
            probing: AtomicBool::new(false),
        })))
    }

    /// Connects once; on failure the link is down (and probing) and the error says why.
    pub async fn establish(&self) -> Result<(), String> {
        match self.try_connect().await {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.down(&reason);
                Err(reason)
            }
        }
    }

    async fn try_connect(&self) -> Result<(), String> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(self.0.timeout)
            .set_number_of_retries(1)
            .set_factor(50)
            .set_max_delay(1_000);
        let manager = ConnectionManager::new_with_config(self.0.client.clone(), config);
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, manager).await {
            Ok(Ok(manager)) => {
                if let Ok(mut connection) = self.0.connection.write() {
                    *connection = Some(manager);
                }
                Ok(())
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs() * 2
            )),
        }
    }

    /// The client, for what needs a connection of its own (a pub/sub subscription).
    pub fn client(&self) -> &redis::Client {
        &self.0.client
    }

    /// Where Redis is (`host:port`).
    pub fn address(&self) -> &str {
        &self.0.address
    }

    /// Whether Redis answered last time it was asked.
    pub fn is_up(&self) -> bool {
        self.0.outage.lock().is_ok_and(|outage| outage.is_none())
    }

    /// The current outage, if Redis is down.
    pub fn outage(&self) -> Option<Outage> {
        self.0.outage.lock().ok().and_then(|outage| outage.clone())
    }

    /// Runs `operation` on the shared connection within the timeout; `None` when Redis is down or failed now
    /// (which marks it down). Errors Redis itself answered (a script's) are logged and leave the link up.
    pub async fn run<T, F, Fut>(&self, what: &str, operation: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.is_up() {
            return None;
        }
        let connection = self.0.connection.read().ok()?.clone()?;
        match tokio::time::timeout(self.0.timeout, operation(connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) if answered(&err) => {
                tracing::warn!(%err, what, "Redis refused an operation");
                None
            }
            Ok(Err(err)) => {
                self.down(&err.to_string());
                None
            }
            Err(_) => {
                self.down(&format!(
                    "no answer within {} ms",
                    self.0.timeout.as_millis()
                ));
                None
            }
        }
    }

    /// Runs a Lua script invocation through [`RedisLink::run`].
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        what: &str,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        self.run(what, |mut connection| async move {
            invocation.invoke_async(&mut connection).await
        })
        .await
    }

    /// Marks Redis down (logged once per outage) and starts probing for its return.
    pub fn down(&self, reason: &str) {
        let Ok(mut outage) = self.0.outage.lock() else {
            return;
        };
        if outage.is_none() {
            *outage = Some(Outage {
                since: Utc::now(),
                reason: reason.to_owned(),
            });
            tracing::warn!(
                address = %self.0.address,
                reason,
                "Redis cannot be reached: rate limits let requests through, live events are read from the \
                 database, vendor calls are paced by each instance alone, until it answers again"
            );
        }
        drop(outage);
        if !self.0.probing.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().probe());
        }
    }

    /// Pings every [`PROBE_EVERY`] until Redis answers, then marks it up.
    async fn probe(self) {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let connected = self.0.connection.read().is_ok_and(|c| c.is_some());
            if !connected && self.try_connect().await.is_err() {
                continue;
            }
            let Some(mut connection) = self.0.connection.read().ok().and_then(|c| c.clone()) else {
                continue;
            };
            let ping = redis::cmd("PING");
            let ping = ping.query_async::<()>(&mut connection);
            if matches!(
                tokio::time::timeout(self.0.timeout.max(CONNECT_TIMEOUT), ping).await,
                Ok(Ok(()))
            ) {
                break;
            }
        }
        // Under the lock, so that a failure reported from now on starts a probe of its own.
        let ended = self.0.outage.lock().ok().and_then(|mut outage| {
            self.0.probing.store(false, Ordering::SeqCst);
            outage.take()
        });
        if let Some(outage) = ended {
            let seconds = (Utc::now() - outage.since).num_milliseconds() as f64 / 1000.0;
            tracing::info!(
                address = %self.0.address,
                seconds,
                "Redis answers again: limits, live events and vendor pacing are shared again"
            );
        }
    }
}

/// Whether Redis itself answered with an error (the link works).
fn answered(err: &redis::RedisError) -> bool {
    !(err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
        || err.kind() == redis::ErrorKind::ClientError)
}
