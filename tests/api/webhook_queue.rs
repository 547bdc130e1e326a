//! The webhook queue's sender: woken at once by deliveries queued here or on another instance, and one
//! transaction for a round's bookkeeping, with an endpoint's run of failures carried through the round.

use std::time::{Duration, Instant};

use api::db::Db;
use api::events::bus::Bus;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, redis_url, spawn_app_with};
use crate::webhook_delivery::{Receiver, log_until};

/// The fallback poll of these tests: far longer than any wait below, so only a wake-up can explain a delivery.
const POLL_SECS: u64 = 120;

/// A new endpoint's id.
async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> String {
    crate::webhook_delivery::endpoint(app, url, events).await.0
}

/// Waits until the receiver holds `n` requests; None after `limit`.
async fn within(receiver: &Receiver, n: usize, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if receiver.received().len() >= n {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// A second instance's data layer on the same database, without a sender of its own: what it commits reaches
/// this server's sender only through `bus`.
async fn other_instance(app: &TestApp, bus: Bus) -> (Db, api::auth::Principal) {
    let mut db = Db::connect(&app.settings).await.unwrap();
    db.share_events(bus);
    let principal = api::service::identity::api_keys::authenticate(
        &db,
        &app.state.authz,
        &app.key,
        Default::default(),
    )
    .await
    .unwrap();
    (db, principal)
}

#[tokio::test]
async fn deliveries_queued_here_or_on_another_instance_are_sent_at_once_not_at_the_next_poll() {
    let app = spawn_app_with(|s| {
        s.egress_allow = Some("127.0.0.1/32".into());
        s.redis_url = Some(redis_url().into());
        s.webhook_poll_secs = POLL_SECS;
    })
    .await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let hook = endpoint(&app, &url, &["message.created"]).await;
    let conversation = app.create_conversation("hello").await;
    let path = format!(
        "/api/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    let mut waits = Vec::new();
    // The opening message and the assistant's answer make two events.
    let mut expected = 2;
    waits.push(within(&receiver, expected, Duration::from_secs(10)).await);
    // Events committed here, one at a time.
    for n in 0..5 {
        let sent = app
            .post(
                &path,
                json!({"author": "agent", "body": format!("reply {n}")}),
            )
            .await;
        assert_eq!(sent.status, reqwest::StatusCode::CREATED, "{}", sent.text);
        expected += 1;
        waits.push(within(&receiver, expected, Duration::from_secs(10)).await);
    }
    // A test event queued without an event of the stream.
    let test = app
        .post(&format!("/api/v1/webhooks/{hook}/test"), json!({}))
        .await;
    assert_eq!(test.status, reqwest::StatusCode::ACCEPTED, "{}", test.text);
    expected += 1;
    waits.push(within(&receiver, expected, Duration::from_secs(10)).await);
    println!("sent after commit on this instance: {waits:?}");
    assert!(
        waits.iter().all(Option::is_some),
        "every delivery arrived long before the {POLL_SECS} s poll: {waits:?}"
    );

    // Another instance that shares no bus: its delivery waits for the poll.
    let (alone, principal) = other_instance(&app, Bus::new()).await;
    api::events::deliveries::send_test(&alone, &principal, &hook)
        .await
        .unwrap();
    expected += 1;
    let unannounced = within(&receiver, expected, Duration::from_secs(3)).await;
    assert_eq!(
        unannounced, None,
        "nothing woke the sender for a delivery no one announced"
    );
    // Another instance on the same Redis: its commit wakes this server's sender.
    let (shared, principal) = other_instance(
        &app,
        Bus::with_redis(crate::helpers::redis_link(&redis_url()).await),
    )
    .await;
    api::events::deliveries::send_test(&shared, &principal, &hook)
        .await
        .unwrap();
    expected += 1;
    let announced = within(&receiver, expected, Duration::from_secs(10)).await;
    println!("sent after commit on another instance, through Redis: {announced:?}");
    assert!(
        announced.is_some(),
        "the other instance's announcement woke the sender (both queued deliveries went out)"
    );
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), expected, "every delivery arrived");
    assert_eq!(receiver.received().len(), expected, "none twice");
}

#[tokio::test]
async fn a_round_of_failures_to_one_endpoint_disables_it_once_and_cancels_the_rest() {
    let app = spawn_app_with(|s| {
        s.egress_allow = Some("127.0.0.1/32".into());
        s.webhook_retry_schedule = "1,1,1".into();
        s.webhook_disable_after = 3;
    })
    .await;
    let (watcher, watcher_url) = Receiver::start(vec![]).await;
    endpoint(&app, &watcher_url, &["webhook.disabled"]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let conversation = app.create_conversation("first").await;
    let path = format!(
        "/api/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    // Two events from the opening message and its answer, and 18 replies: 20 message events.
    for n in 0..18 {
        app.post(
            &path,
            json!({"author": "agent", "body": format!("reply {n}")}),
        )
        .await;
    }
    let until = chrono::Utc::now() + chrono::Duration::seconds(1);
    // Every answer fails; a replay queues all 20 at once, so they are claimed and settled together.
    let (failing, failing_url) =
        Receiver::start((0..100).map(|_| (500, None, "down")).collect()).await;
    let hook = endpoint(&app, &failing_url, &["message.created"]).await;
    let replay = app
        .post(
            &format!("/api/v1/webhooks/{hook}/replay"),
            json!({"since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    assert_eq!(replay.body["queued"], 20, "{}", replay.text);
    let notices = watcher.wait_for(1).await;
    let notice: Value = serde_json::from_str(&notices[0].body).unwrap();
    assert_eq!(notice["data"]["webhook_id"], hook.as_str());
    assert_eq!(
        notice["data"]["reason"], "3 delivery attempts in a row failed",
        "the run is counted attempt by attempt, in the order they ended"
    );
    let settled = |log: &[Value]| log.len() == 20 && log.iter().all(|d| d["status"] != "pending");
    let log = log_until(&app, &hook, settled).await;
    let attempted = failing.received().len();
    // Those sent before the endpoint was switched off failed; every one after it was cancelled, unsent.
    let sent_once: usize = log
        .iter()
        .map(|d| d["attempts"].as_array().unwrap().len())
        .sum();
    assert_eq!(sent_once, attempted, "every attempt logged once");
    assert!(log.iter().all(|d| d["status"] == "cancelled"), "{log:#?}");
    assert!(attempted >= 3, "at least the run of three was sent");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(watcher.received().len(), 1, "disabled once, announced once");
    let hook_now = app.get(&format!("/api/v1/webhooks/{hook}")).await;
    assert_eq!(hook_now.body["status"], "disabled");
    let stored = entities::webhook::Entity::find_by_id(hook.clone())
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        i64::from(stored.consecutive_failures),
        attempted as i64,
        "every failed attempt counted, none twice"
    );
}

#[tokio::test]
async fn an_endpoint_deleted_while_its_attempt_is_in_flight_holds_up_no_other_endpoint() {
    let app = spawn_app_with(|s| s.egress_allow = Some("127.0.0.1/32".into())).await;
    // Two endpoints on one slow receiver: their attempts end together and are recorded together.
    let delay = Duration::from_millis(1000);
    let (slow, url) = Receiver::start_slow(vec![], delay).await;
    let doomed = endpoint(&app, &format!("{url}?doomed"), &["conversation.created"]).await;
    let kept = endpoint(&app, &format!("{url}?kept"), &["conversation.created"]).await;
    app.create_conversation("one").await;
    // Both have their request and have not answered yet: delete one now.
    slow.wait_for(2).await;
    let arrived = Instant::now();
    let deleted = app.delete(&format!("/api/v1/webhooks/{doomed}")).await;
    assert_eq!(deleted.status, reqwest::StatusCode::OK, "{}", deleted.text);
    let recorded = |log: &[Value]| log.len() == 1 && log[0]["status"] == "succeeded";
    log_until(&app, &kept, recorded).await;
    let took = arrived.elapsed();
    // Recording the two together must not fail on the deleted one (retrying and then splitting the batch
    // takes a second more).
    assert!(
        took < delay + Duration::from_millis(700),
        "recorded {took:?} after the request arrived, for an answer after {delay:?}"
    );
    assert_eq!(
        app.count_rows("webhook_attempts").await,
        1,
        "the deleted endpoint's attempt went with it"
    );
    app.create_conversation("two").await;
    slow.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        slow.received().len(),
        3,
        "nothing more went to the deleted endpoint"
    );
}
