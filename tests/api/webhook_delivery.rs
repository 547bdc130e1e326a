//! Webhook delivery end to end: a loopback receiver, Standard Webhooks signatures checked by the official library,
//! retries with the same id, the attempt log, disabling on 410 or a run of failures, and the SSRF guard at send time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::{ServeProcess, TestApp, free_port, spawn_app_with};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// What the receiver answers next: status, `Retry-After` seconds, body.
type Answer = (u16, Option<u64>, &'static str);

/// A loopback HTTP endpoint that records requests and answers from a script of (status, Retry-After, body).
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// How long each answer takes.
    delay: Duration,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    // Recorded on arrival, like a receiver that has acted on it before it answers.
    receiver.received.lock().unwrap().push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    tokio::time::sleep(receiver.delay).await;
    let (status, retry_after, text) = receiver
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, None, "ok"));
    let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}

impl Receiver {
    /// Starts on 127.0.0.1:0 and returns the receiver and its URL.
    pub(crate) async fn start(script: Vec<Answer>) -> (Self, String) {
        Self::start_slow(script, Duration::ZERO).await
    }

    /// Like [`Receiver::start`], taking `delay` over each answer.
    pub(crate) async fn start_slow(script: Vec<Answer>, delay: Duration) -> (Self, String) {
        let receiver = Receiver {
            script: Arc::new(Mutex::new(script.into())),
            delay,
            ..Default::default()
        };
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    /// A receiver answering 200, subscribed to `events` on the server at `base` with `key`.
    pub(crate) async fn hooked(base: &str, key: &str, events: &[&str]) -> Self {
        let (receiver, url) = Self::start(vec![]).await;
        let hook = reqwest::Client::new()
            .post(format!("{base}/api/v1/webhooks"))
            .bearer_auth(key)
            .json(&serde_json::json!({"url": url, "events": events}))
            .send()
            .await
            .unwrap();
        assert_eq!(hook.status(), StatusCode::CREATED);
        receiver
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The `webhook-id` of every request, in arrival order.
    pub(crate) fn webhook_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect()
    }

    /// Waits for `n` requests, then a while for any extra one, and asserts `n` distinct events came, each once.
    pub(crate) async fn each_once(&self, n: usize) {
        self.wait_for(n).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ids = self.webhook_ids();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), n, "every event delivered");
        assert_eq!(ids.len(), n, "none twice");
    }

    /// Waits until at least `n` requests arrived (at most 20 s).
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the receiver got {} requests, expected {n}",
            self.received().len()
        );
    }
}

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.egress_allow = Some("127.0.0.1/32".into());
        s.webhook_retry_schedule = "1,1,1,1".into();
        s.webhook_disable_after = 3;
    })
    .await
}

/// Creates an endpoint for `events` at `url`; its id and secret.
pub(crate) async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let reply = app
        .post("/api/v1/webhooks", json!({"url": url, "events": events}))
        .await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.text);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let log = app
        .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
        .await;
    assert_eq!(log.status, reqwest::StatusCode::OK, "{}", log.text);
    log.body["data"].as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds for it (at most 20 s).
pub(crate) async fn log_until(
    app: &TestApp,
    webhook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..200 {
        let log = deliveries(app, webhook).await;
        if done(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "delivery log never got there: {:#?}",
        deliveries(app, webhook).await
    );
}

#[tokio::test]
async fn events_arrive_signed_and_the_standard_webhooks_library_verifies_them() {
    let app = app().await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let (id, secret) = endpoint(&app, &url, &["conversation.created", "message.created"]).await;
    let conversation = app.create_conversation("Where is my parcel?").await;
    // conversation.created, the visitor's message and the assistant's answer.
    let got = receiver.wait_for(3).await;

    let bodies: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let created = bodies
        .iter()
        .find(|b| b["event"] == "conversation.created")
        .unwrap();
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created["organization_id"], app.org.organization.id.as_str());
    assert_eq!(created["data"]["conversation_id"], conversation["id"]);
    assert!(created["timestamp"].is_string());
    assert!(created["sequence"].is_number());
    for request in &got {
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(request.headers["webhook-id"], body["id"].as_str().unwrap());
        assert_eq!(
            request.headers["x-ai-assistant-signature"],
            request.headers["webhook-signature"]
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert!(
            request.headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,")
        );
    }

    // The official library agrees, and refuses a tampered body.
    let file = std::env::temp_dir().join(format!("concierge-webhooks-{}.json", ulid::Ulid::new()));
    let payload = json!({
        "secret": secret,
        "deliveries": got.iter().map(|r| json!({
            "headers": {
                "webhook-id": r.headers["webhook-id"].to_str().unwrap(),
                "webhook-timestamp": r.headers["webhook-timestamp"].to_str().unwrap(),
                "webhook-signature": r.headers["webhook-signature"].to_str().unwrap(),
            },
            "body": r.body,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&file, payload.to_string()).unwrap();
    let verdict =
        crate::peers::run_peer("verify-webhook.mjs", vec![file.display().to_string()]).await;
    let _ = std::fs::remove_file(&file);
    assert_eq!(verdict["verified"], 3, "{verdict}");
    assert_eq!(verdict["tampered_rejected"], true, "{verdict}");

    let log = log_until(&app, &id, |log| {
        log.len() == 3 && log.iter().all(|d| d["status"] == "succeeded")
    })
    .await;
    for delivery in log {
        assert_eq!(delivery["attempt_count"], 1);
        assert_eq!(delivery["attempts"][0]["status_code"], 200);
        assert_eq!(delivery["attempts"][0]["response_excerpt"], "ok");
    }
}

#[tokio::test]
async fn failures_are_retried_with_the_same_id_honouring_retry_after_and_logged() {
    let app = app().await;
    let (receiver, url) = Receiver::start(vec![(500, None, "boom"), (503, Some(2), "busy")]).await;
    let (id, _) = endpoint(&app, &url, &["conversation.created"]).await;
    app.create_conversation("hello").await;
    let got = receiver.wait_for(3).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one webhook-id across retries: {ids:?}"
    );
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same bytes every time"
    );
    let t2: i64 = got[1].headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let t3: i64 = got[2].headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(t3 - t2 >= 2, "Retry-After: 2 was honoured ({t2} -> {t3})");

    let log = log_until(&app, &id, |log| {
        log.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert_eq!(attempts[0]["response_excerpt"], "boom");
    assert_eq!(attempts[0]["error"], "the endpoint answered 500");
    let hook = app.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(
        hook.body["status"], "active",
        "a success resets the run of failures"
    );
}

#[tokio::test]
async fn a_gone_endpoint_is_disabled_at_once_and_a_failing_one_after_its_run() {
    let app = app().await;
    // A watcher endpoint hears about endpoints being switched off.
    let (watcher, watcher_url) = Receiver::start(vec![]).await;
    endpoint(&app, &watcher_url, &["webhook.disabled"]).await;
    let (_, gone_url) = Receiver::start(vec![(410, None, "gone")]).await;
    let (gone, _) = endpoint(&app, &gone_url, &["conversation.created"]).await;
    let (failing_receiver, failing_url) = Receiver::start(vec![
        (500, None, ""),
        (500, None, ""),
        (500, None, ""),
        (500, None, ""),
    ])
    .await;
    let (failing, _) = endpoint(&app, &failing_url, &["conversation.created"]).await;

    app.create_conversation("one").await;
    let notices = watcher.wait_for(2).await;
    let reasons: Vec<String> = notices
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .map(|b| {
            assert_eq!(b["event"], "webhook.disabled");
            format!(
                "{} {}",
                b["data"]["webhook_id"].as_str().unwrap(),
                b["data"]["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with(&gone) && r.contains("410")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with(&failing) && r.contains("3 delivery attempts")),
        "{reasons:?}"
    );
    assert_eq!(
        failing_receiver.received().len(),
        3,
        "disabled after the configured run of 3"
    );

    for id in [&gone, &failing] {
        let hook = app.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(hook.body["status"], "disabled");
        assert!(hook.body["disabled_reason"].is_string());
    }
    // A disabled endpoint gets nothing more; turning it on again resumes deliveries.
    app.create_conversation("two").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(failing_receiver.received().len(), 3);
    let on = app
        .put(
            &format!("/api/v1/webhooks/{failing}"),
            json!({"active": true}),
        )
        .await;
    assert_eq!(on.body["status"], "active", "{}", on.text);
    app.create_conversation("three").await;
    failing_receiver.wait_for(4).await;
}

#[tokio::test]
async fn the_ssrf_guard_refuses_a_private_destination_again_at_send_time() {
    // The server allows no internal destination; the endpoint was configured when one was allowed.
    let app = spawn_app_with(|s| s.webhook_retry_schedule = "1".into()).await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let owner = api::service::identity::api_keys::authenticate(
        &app.db,
        &app.state.authz,
        &app.key,
        Default::default(),
    )
    .await
    .unwrap();
    let input = api::events::webhooks::CreateWebhook {
        url,
        events: vec!["conversation.created".into()],
        ..Default::default()
    };
    let (hook, _) = api::events::webhooks::create(
        &app.db,
        &app.state.sealer,
        &owner,
        Some("127.0.0.1/32"),
        input,
    )
    .await
    .unwrap();
    app.create_conversation("hi").await;
    let log = log_until(&app, &hook.model.id, |log| {
        log.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    let error = log[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("SSRF") && error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(receiver.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_delivery_is_sent_again_byte_for_byte_a_range_is_replayed_and_a_test_event_is_signed() {
    let app = app().await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let (id, _) = endpoint(&app, &url, &["conversation.created"]).await;
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    app.create_conversation("first").await;
    app.create_conversation("second").await;
    let original = receiver.wait_for(2).await;
    let log = log_until(&app, &id, |log| {
        log.len() == 2 && log.iter().all(|d| d["status"] == "succeeded")
    })
    .await;

    // One delivery again: the same id and bytes.
    let target = &log[1];
    let again = app
        .post(
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
                target["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        again.status,
        reqwest::StatusCode::ACCEPTED,
        "{}",
        again.text
    );
    let got = receiver.wait_for(3).await;
    assert_eq!(
        got[2].headers["webhook-id"].to_str().unwrap(),
        target["event_id"].as_str().unwrap()
    );
    let first = original
        .iter()
        .find(|r| r.headers["webhook-id"] == got[2].headers["webhook-id"])
        .unwrap();
    assert_eq!(got[2].body, first.body, "byte for byte");

    // A time range: both events again, in order.
    let until = chrono::Utc::now() + chrono::Duration::minutes(1);
    let replay = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay"),
            json!({"since": since.to_rfc3339(), "until": until.to_rfc3339()}),
        )
        .await;
    assert_eq!(
        replay.status,
        reqwest::StatusCode::ACCEPTED,
        "{}",
        replay.text
    );
    assert_eq!(replay.body["queued"], 2);
    let got = receiver.wait_for(5).await;
    let mut replayed: Vec<&str> = got[3..]
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    let mut originals: Vec<&str> = original
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    replayed.sort_unstable();
    originals.sort_unstable();
    assert_eq!(replayed, originals);

    // A signed test event, from GraphQL.
    let test = app
        .mutate(
            "mutation($id: ID!) { testWebhook(id: $id) { delivery { eventType status } userErrors { field message code } } }",
            json!({"id": id}),
            "testWebhook",
        )
        .await;
    assert_eq!(test["delivery"]["eventType"], "WEBHOOK_TEST");
    assert_eq!(test["delivery"]["status"], "PENDING");
    let got = receiver.wait_for(6).await;
    let body: Value = serde_json::from_str(&got[5].body).unwrap();
    assert_eq!(body["event"], "webhook.test");
    assert_eq!(body["data"]["webhook_id"], id.as_str());
    assert!(
        got[5].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .starts_with("v1,")
    );

    // Bad ranges and unknown deliveries change nothing.
    let before = app.count_rows("webhook_deliveries").await;
    for body in [
        json!({"since": until.to_rfc3339(), "until": since.to_rfc3339()}),
        json!({"since": "yesterday", "until": until.to_rfc3339()}),
        json!({"since": since.to_rfc3339()}),
    ] {
        let reply = app
            .post(&format!("/api/v1/webhooks/{id}/replay"), body.clone())
            .await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.text);
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{body}");
    }
    let unknown = app
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/dlv_01JD0000000000000000000000/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, reqwest::StatusCode::NOT_FOUND);
    // The same refusals on GraphQL are user errors.
    let replay = "mutation($id: ID!, $input: ReplayWebhookInput!) { replayWebhook(id: $id, input: $input) { queued userErrors { field message code } } }";
    let backwards = app
        .user_error(
            replay,
            json!({"id": id, "input": {"since": until.to_rfc3339(), "until": since.to_rfc3339()}}),
            "replayWebhook",
        )
        .await;
    assert_eq!(backwards["code"], "BAD_USER_INPUT", "{backwards}");
    assert_eq!(backwards["field"], json!(["input", "until"]), "{backwards}");
    let unknown = app
        .user_error(
            "mutation($id: ID!, $d: ID!) { redeliverWebhook(id: $id, deliveryId: $d) { delivery { id status } userErrors { field message code } } }",
            json!({"id": id, "d": "dlv_01JD0000000000000000000000"}),
            "redeliverWebhook",
        )
        .await;
    assert_eq!(unknown["code"], "NOT_FOUND", "{unknown}");
    // A paused endpoint is not sent to: say so instead of queueing.
    app.put(&format!("/api/v1/webhooks/{id}"), json!({"active": false}))
        .await;
    let paused = app
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(
        paused.status,
        reqwest::StatusCode::CONFLICT,
        "{}",
        paused.text
    );
    let paused = app
        .user_error(
            "mutation($id: ID!) { testWebhook(id: $id) { delivery { id } userErrors { field message code } } }",
            json!({"id": id}),
            "testWebhook",
        )
        .await;
    assert_eq!(paused["code"], "CONFLICT", "{paused}");
    assert_eq!(app.count_rows("webhook_deliveries").await, before);
}

#[tokio::test]
async fn a_server_killed_mid_delivery_loses_no_event_after_restart() {
    let (settings, _cleanup) = crate::helpers::fresh_settings().await;
    let key = crate::helpers::bootstrap_with_cli(&settings, "Crash");
    let port = free_port();
    let server = ServeProcess::start(&settings, port).await;
    let client = reqwest::Client::new();
    // 1,000 events first, then one replay queues all of them at once: the kill lands mid-delivery however
    // fast or slow this machine posts.
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let cid = crate::helpers::new_conversation(&server.base, &key, None).await;
    for n in 0..1000 {
        let sent = client
            .post(format!(
                "{}/api/v1/conversations/{cid}/messages",
                server.base
            ))
            .bearer_auth(&key)
            .json(&json!({"author": "agent", "body": format!("message {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), reqwest::StatusCode::CREATED);
    }
    let until = chrono::Utc::now() + chrono::Duration::seconds(1);
    let (receiver, url) = Receiver::start_slow(vec![], Duration::from_millis(100)).await;
    let hook: Value = client
        .post(format!("{}/api/v1/webhooks", server.base))
        .bearer_auth(&key)
        .json(&json!({"url": url, "events": ["message.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let replay: Value = client
        .post(format!(
            "{}/api/v1/webhooks/{}/replay",
            server.base,
            hook["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .json(&json!({"since": since.to_rfc3339(), "until": until.to_rfc3339()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replay["queued"], 1000, "{replay}");
    receiver.wait_for(100).await;
    let before_kill = receiver.received().len();
    assert!(
        before_kill < 1000,
        "the deliveries were still under way ({before_kill} of 1000 received)"
    );
    server.kill_9();

    let server = ServeProcess::start(&settings, port).await;
    let mut distinct = std::collections::HashSet::new();
    for _ in 0..600 {
        distinct = receiver
            .received()
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        if distinct.len() >= 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = receiver.received();
    let total = all.len();
    // Deduplicating by webhook-id is safe: every copy of an id carries the same body.
    let mut bodies: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for request in &all {
        let id = request.headers["webhook-id"].to_str().unwrap().to_owned();
        let first = *bodies.entry(id.clone()).or_insert(request.body.as_str());
        assert_eq!(first, request.body, "two bodies for {id}");
    }
    println!(
        "kill -9 during delivery: {before_kill} of 1000 received before the kill; after restart {} distinct, {} duplicate deliveries",
        distinct.len(),
        total - distinct.len()
    );
    assert_eq!(distinct.len(), 1000, "every event arrived at least once");
    drop(server);
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_attempt_once() {
    let app = app().await;
    let mut settings = app.settings.clone();
    settings.egress_allow = Some("127.0.0.1/32".into());
    let _other = crate::helpers::Server::start(settings).await;
    let (receiver, url) = Receiver::start_slow(vec![], Duration::from_millis(20)).await;
    endpoint(&app, &url, &["message.created"]).await;
    let conversation = app.create_conversation("first").await;
    let path = format!(
        "/api/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    // The opening message and the assistant's answer make two; 198 replies make 200.
    for n in 0..198 {
        let sent = app
            .post(
                &path,
                json!({"author": "agent", "body": format!("reply {n}")}),
            )
            .await;
        assert_eq!(sent.status, reqwest::StatusCode::CREATED);
    }
    receiver.wait_for(200).await;
    // Give a double claim the time to show itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = receiver.received();
    let distinct: std::collections::HashSet<String> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(distinct.len(), 200);
    assert_eq!(got.len(), 200, "no delivery was claimed by both instances");
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_and_each_verifies_with_the_library() {
    let app = app().await;
    let (receiver, url) = Receiver::start(vec![]).await;
    let (id, old_secret) = endpoint(&app, &url, &["conversation.created"]).await;
    let rotated = app
        .post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await;
    assert_eq!(rotated.status, reqwest::StatusCode::OK, "{}", rotated.text);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    app.create_conversation("after the rotation").await;
    let got = receiver.wait_for(1).await;
    let signature = got[0].headers["webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    for secret in [old_secret, new_secret] {
        let file =
            std::env::temp_dir().join(format!("concierge-rotation-{}.json", ulid::Ulid::new()));
        let payload = json!({
            "secret": secret,
            "deliveries": [{
                "headers": {
                    "webhook-id": got[0].headers["webhook-id"].to_str().unwrap(),
                    "webhook-timestamp": got[0].headers["webhook-timestamp"].to_str().unwrap(),
                    "webhook-signature": signature,
                },
                "body": got[0].body,
            }],
        });
        std::fs::write(&file, payload.to_string()).unwrap();
        let verdict =
            crate::peers::run_peer("verify-webhook.mjs", vec![file.display().to_string()]).await;
        let _ = std::fs::remove_file(&file);
        assert_eq!(verdict["verified"], 1, "{verdict}");
    }
}
