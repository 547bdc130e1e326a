//! The pace of vendor calls per connection: one budget for every instance through Redis, and each instance
//! pacing its own calls (without waiting on Redis) while Redis is down, back to the shared budget when it returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::service::integrations::pacing::Pacer;
use api::service::integrations::providers::{self, PROVIDERS};

async fn manager(url: &str) -> redis::aio::ConnectionManager {
    let client = redis::Client::open(url).unwrap();
    redis::aio::ConnectionManager::new(client).await.unwrap()
}

use crate::helpers::redis_link as link;
use crate::own_servers::OwnRedis;

fn connection_id() -> String {
    format!("int_pace_{}", api::ids::new_id(api::ids::Kind::Integration))
}

#[tokio::test]
async fn two_instances_share_one_connections_budget_through_redis() {
    let hubspot = providers::provider("hubspot").unwrap();
    let rate = hubspot.requests_per_second;
    let url = crate::helpers::redis_url();
    // Two instances: each its own pacer and its own connection to Redis.
    let pacers = [
        Arc::new(Pacer::new(PROVIDERS, Some(link(&url).await))),
        Arc::new(Pacer::new(PROVIDERS, Some(link(&url).await))),
    ];
    let id = connection_id();
    let calls = rate * 3;
    let started = Instant::now();
    let tasks: Vec<_> = pacers
        .into_iter()
        .map(|pacer| {
            let id = id.clone();
            tokio::spawn(async move {
                for _ in 0..calls / 2 + 1 {
                    pacer.until_ready(hubspot, &id).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let calls = (calls / 2 + 1) * 2;
    let elapsed = started.elapsed();
    // A full burst at once, then one call per 1/rate s: (3 rate - rate) / rate = 2 s for both together. Each
    // pacing alone would have let them through in about half a second.
    let floor = Duration::from_secs_f64(f64::from(calls - rate) / f64::from(rate) * 0.95);
    assert!(
        elapsed >= floor,
        "{calls} calls took {elapsed:?}, less than {floor:?}"
    );
    assert!(elapsed < floor * 4, "{calls} calls took {elapsed:?}");
}

#[tokio::test]
async fn while_redis_is_down_each_instance_paces_alone_and_the_shared_budget_returns_with_it() {
    let hubspot = providers::provider("hubspot").unwrap();
    let rate = hubspot.requests_per_second;
    let port = crate::helpers::free_port();
    let mut redis = OwnRedis::start(port);
    let pacer = Pacer::new(PROVIDERS, Some(link(&redis.url()).await));
    let id = connection_id();
    pacer.until_ready(hubspot, &id).await;
    let key = format!("concierge:pace:{id}");
    let mut direct = manager(&redis.url()).await;
    let stored: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(stored.is_some(), "the slot was taken in Redis");

    // Redis goes away: calls neither hang nor go unpaced.
    redis.stop();
    let started = Instant::now();
    for _ in 0..rate * 2 {
        pacer.until_ready(hubspot, &id).await;
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs_f64(0.9 * f64::from(rate - 1) / f64::from(rate)),
        "still paced: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "no call waited long on Redis: {elapsed:?}"
    );

    // Redis returns: within a few seconds the slots are taken there again.
    let redis = OwnRedis::start(port);
    let mut direct = manager(&redis.url()).await;
    let mut shared_again = false;
    for _ in 0..50 {
        pacer.until_ready(hubspot, &id).await;
        let stored: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut direct)
            .await
            .unwrap();
        if stored.is_some() {
            shared_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shared_again, "the pacer went back to Redis");
}
