//! Redis lost while serving and missing at start: requests never wait on it, live events and knowledge-base changes still reach every instance through the table, `/readyz` says degraded, and all resumes when it returns.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    ServeProcess, bootstrap_with_cli, concierge_command, free_port, fresh_settings,
    new_conversation, percentile,
};
use crate::own_servers::OwnRedis;

const MESSAGES: &str = "subscription { organizationEvents(types: [MESSAGE_CREATED]) { id } }";

/// The event ids a WebSocket subscriber has received, in order, as they arrive.
pub(crate) struct Subscriber {
    ids: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Follows the organization's new messages on the server at `base`.
    pub(crate) async fn start(base: &str, key: &str) -> Self {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let send = |v: Value| Message::text(v.to_string());
        socket
            .send(send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {key}")}})))
            .await
            .unwrap();
        socket
            .send(send(
                json!({"id": "1", "type": "subscribe", "payload": {"query": MESSAGES}}),
            ))
            .await
            .unwrap();
        let ids = Arc::new(Mutex::new(Vec::new()));
        let into = ids.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let frame: Value = serde_json::from_str(&text).unwrap();
                match frame["type"].as_str() {
                    Some("next") => {
                        let id = &frame["payload"]["data"]["organizationEvents"]["id"];
                        into.lock().unwrap().push(id.as_str().unwrap().to_owned());
                    }
                    Some("error" | "complete") => panic!("the subscription ended: {frame}"),
                    _ => {}
                }
            }
        });
        Self { ids, task }
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }

    /// Waits until the subscriber holds `count` events; returns how long that took.
    pub(crate) async fn until(&self, count: usize, within: Duration) -> Duration {
        let started = Instant::now();
        while self.ids().len() < count {
            assert!(
                started.elapsed() < within,
                "{} of {count} events after {within:?}",
                self.ids().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request's status, latency, and whether it carried rate-limit headers.
struct Answer {
    status: StatusCode,
    latency: Duration,
    limited: bool,
}

/// A read (the conversation list) or a write (a message) on `base`, timed.
async fn request(client: &reqwest::Client, base: &str, key: &str, write: Option<&str>) -> Answer {
    let started = Instant::now();
    let request = match write {
        Some(conversation) => client
            .post(format!(
                "{base}/api/v1/conversations/{conversation}/messages"
            ))
            .json(&json!({"author": "agent", "body": "during the outage"})),
        None => client.get(format!("{base}/api/v1/conversations?limit=5")),
    };
    let response = request.bearer_auth(key).send().await.unwrap();
    Answer {
        status: response.status(),
        latency: started.elapsed(),
        limited: response.headers().contains_key("ratelimit-limit"),
    }
}

async fn readyz(base: &str) -> Value {
    let reply = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "ready or degraded is 200");
    reply.json().await.unwrap()
}

/// Waits until `/readyz` on `base` says `status`; returns how long that took.
async fn until_ready(base: &str, status: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let body = readyz(base).await;
        if body["status"] == status {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{base} still says {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a search on `base` finds the entry `id`.
async fn finds(client: &reqwest::Client, base: &str, key: &str, words: &str, id: &str) -> bool {
    let found: Value = client
        .get(format!("{base}/api/v1/knowledge-base/search"))
        .query(&[("q", words)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    found["matches"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["entry"]["id"] == id))
}

#[tokio::test]
async fn redis_lost_while_serving_slows_nothing_loses_no_event_and_returns_by_itself() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let (mut settings, _cleanup) = fresh_settings().await;
    settings.redis_url = Some(redis.url().into());
    let key = bootstrap_with_cli(&settings, "Outage");
    let limits = [("CONCIERGE_RATE_LIMITS", "true".to_owned())];
    let a = ServeProcess::start_with(&settings, free_port(), &limits).await;
    let b = ServeProcess::start_with(&settings, free_port(), &limits).await;
    let client = reqwest::Client::new();
    let receiver =
        crate::webhook_delivery::Receiver::hooked(&a.base, &key, &["message.created"]).await;
    let conversation = new_conversation(&a.base, &key, None).await;
    // B answers searches from its index before the outage, so it must learn A's edit through the table.
    let kb = format!("{}/api/v1/knowledge-base", a.base);
    let entry = |title: &str, body: &str| {
        client
            .post(&kb)
            .bearer_auth(&key)
            .json(&json!({"title": title, "body": body}))
            .send()
    };
    assert_eq!(
        entry("Opening hours", "We open at nine.")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let _ = finds(&client, &b.base, &key, "opening hours", "").await;
    let subscriber = Subscriber::start(&b.base, &key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Before: through Redis, limited.
    for _ in 0..3 {
        let answer = request(&client, &a.base, &key, Some(&conversation)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        assert!(answer.limited, "rate limits apply while Redis answers");
    }
    subscriber.until(3, Duration::from_secs(10)).await;
    assert_eq!(readyz(&a.base).await["redis"]["status"], "ok");

    // Redis dies. Reads and writes on both instances answer at once, unlimited.
    redis.stop();
    let mut latencies = Vec::new();
    let mut written = 3;
    for n in 0..40 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let write = (n % 4 < 2).then_some(conversation.as_str());
        let answer = request(&client, base, &key, write).await;
        assert!(answer.status.is_success(), "request {n}: {}", answer.status);
        assert!(
            answer.latency < Duration::from_secs(1),
            "request {n} took {:?}",
            answer.latency
        );
        if n >= 4 {
            assert!(!answer.limited, "request {n}: limits fail open");
        }
        written += usize::from(write.is_some());
        latencies.push(answer.latency);
    }
    let (p50, p99, max) = (
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        percentile(&mut latencies, 1.0),
    );
    for base in [&a.base, &b.base] {
        until_ready(base, "degraded", Duration::from_secs(3)).await;
        let body = readyz(base).await;
        assert_eq!(body["redis"]["status"], "unreachable", "{body}");
        assert!(
            body["redis"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
        let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
    assert!(
        readyz(&a.base).await["redis"]["requests_not_rate_limited"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    // Messages written on A and B reach B's subscriber, the last ones written on A only (nothing written on B
    // after them points B at them); an entry written on A is found on B.
    subscriber.until(written, Duration::from_secs(10)).await;
    let started = Instant::now();
    for _ in 0..3 {
        let answer = request(&client, &a.base, &key, Some(&conversation)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        written += 1;
    }
    subscriber.until(written, Duration::from_secs(5)).await;
    let outage_delivery = started.elapsed();
    let created: Value = entry("Zanzibar ferries", "Ferries to Zanzibar leave hourly.")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let zanzibar = created["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while !finds(&client, &b.base, &key, "zanzibar ferries", &zanzibar).await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "B never learned of the entry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kb_catch_up = started.elapsed();

    // Redis returns: both instances say ready within seconds, limits apply again, events flow through it.
    let _redis = OwnRedis::start(port);
    let recovered_a = until_ready(&a.base, "ready", Duration::from_secs(10)).await;
    let recovered_b = until_ready(&b.base, "ready", Duration::from_secs(10)).await;
    let mut limited_again = false;
    let mut after = Vec::new();
    for n in 0..10 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        let answer = request(&client, base, &key, Some(&conversation)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        written += 1;
        limited_again |= answer.limited;
        after.push(answer.latency);
    }
    assert!(limited_again, "rate limits apply again");
    let after_p99 = percentile(&mut after, 0.99);
    subscriber.until(written, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Every message once, in stream order.
    let got = subscriber.ids();
    let stream =
        crate::subscriptions::stream_ids_where(&a.base, &key, |e| e["event"] == "message.created")
            .await;
    assert_eq!(got.len(), written, "none lost, none twice");
    assert_eq!(got, stream, "in stream order");
    // Webhooks too: each message once, whichever instance sent it.
    receiver.each_once(written).await;
    println!(
        "Redis outage: 40 requests during it p50 {p50:?}, p99 {p99:?}, max {max:?}, none failed; 10 writes after it p99 {after_p99:?}; \
         {written} webhooks, each once; \
         {written} messages followed on the other instance, none lost or repeated (the last ones, written on A alone, on B \
         within {outage_delivery:?}); a knowledge-base entry searchable there after {kb_catch_up:?}; ready again \
         after {recovered_a:?} and {recovered_b:?}"
    );
}

#[tokio::test]
async fn redis_down_at_start_starts_degraded_or_refuses_when_required() {
    let port = free_port();
    let (mut settings, _cleanup) = fresh_settings().await;
    settings.redis_url = Some(format!("redis://127.0.0.1:{port}").into());
    let key = bootstrap_with_cli(&settings, "Late");

    // Required: the server refuses to start and says what it could not reach and what to look at.
    let refused = concierge_command(&settings)
        .arg("serve")
        .env("CONCIERGE_BIND", format!("127.0.0.1:{}", free_port()))
        .env("CONCIERGE_REDIS_REQUIRED", "true")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("cannot reach Redis at 127.0.0.1:{port}"))
            && stderr.contains("REDIS_URL"),
        "{stderr}"
    );

    // Not required: it serves, degraded, and says why.
    let server = ServeProcess::start(&settings, free_port()).await;
    let body = readyz(&server.base).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["redis"]["address"], format!("127.0.0.1:{port}"));
    let conversation = new_conversation(&server.base, &key, Some("hello")).await;
    let subscriber = Subscriber::start(&server.base, &key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = reqwest::Client::new();
    assert!(
        request(&client, &server.base, &key, Some(&conversation))
            .await
            .status
            .is_success()
    );
    subscriber.until(1, Duration::from_secs(5)).await;

    // Redis comes up: the server connects by itself.
    let _redis = OwnRedis::start(port);
    let after = until_ready(&server.base, "ready", Duration::from_secs(10)).await;
    assert!(
        request(&client, &server.base, &key, Some(&conversation))
            .await
            .status
            .is_success()
    );
    subscriber.until(2, Duration::from_secs(5)).await;
    println!("Redis up {after:?} after it started: the server connected without a restart");
}

#[tokio::test]
async fn a_redis_that_stops_answering_costs_a_request_at_most_the_timeout() {
    let port = free_port();
    let redis = OwnRedis::start(port);
    let (mut settings, _cleanup) = fresh_settings().await;
    settings.redis_url = Some(redis.url().into());
    let key = bootstrap_with_cli(&settings, "Frozen");
    let env = [
        ("CONCIERGE_RATE_LIMITS", "true".to_owned()),
        ("CONCIERGE_REDIS_TIMEOUT_MS", "100".to_owned()),
    ];
    let server = ServeProcess::start_with(&settings, free_port(), &env).await;
    let client = reqwest::Client::new();
    let conversation = new_conversation(&server.base, &key, None).await;
    let subscriber = Subscriber::start(&server.base, &key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(request(&client, &server.base, &key, None).await.limited);

    // Frozen: its connections stay open and nothing comes back. The first request waits out the timeout,
    // the next ones do not wait at all.
    redis.signal("-STOP");
    let mut latencies = Vec::new();
    for n in 0..20 {
        let answer = request(
            &client,
            &server.base,
            &key,
            (n % 2 == 0).then_some(&*conversation),
        )
        .await;
        assert!(answer.status.is_success(), "request {n}: {}", answer.status);
        latencies.push(answer.latency);
    }
    let first = latencies[0];
    let rest = percentile(&mut latencies[1..].to_vec(), 1.0);
    assert!(
        first < Duration::from_millis(600),
        "the first request took {first:?}"
    );
    assert!(
        rest < Duration::from_millis(150),
        "a later request took {rest:?}"
    );
    until_ready(&server.base, "degraded", Duration::from_secs(3)).await;
    subscriber.until(10, Duration::from_secs(5)).await;

    // Thawed: back within seconds, limits apply again.
    redis.signal("-CONT");
    let after = until_ready(&server.base, "ready", Duration::from_secs(10)).await;
    assert!(request(&client, &server.base, &key, None).await.limited);
    println!(
        "Redis frozen: the first request answered in {first:?}, the 19 next in at most {rest:?}; ready {after:?} after it thawed"
    );
}
