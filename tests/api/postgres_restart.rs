//! PostgreSQL crashed (stopped without a clean shutdown) and started again under a load of reads and writes: requests meanwhile answer 503 with `Retry-After` within a second, the pool reconnects by itself, no acknowledged write is lost or half applied, and webhooks and subscribers get every event once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ServeProcess, bootstrap_with_cli, free_port, fresh_settings, new_conversation, percentile,
};
use crate::own_servers::OwnPostgres;
use crate::redis_outage::Subscriber;
use crate::webhook_delivery::Receiver;

/// One request of the load.
#[derive(Clone, Debug)]
struct Done {
    /// When it was sent, from the load's start.
    at: Duration,
    latency: Duration,
    status: u16,
    retry_after: bool,
    /// The message a write created, when it answered 201.
    created: Option<String>,
}

/// Reads and writes from `workers` tasks each, until `stop`.
fn load(
    base: &str,
    key: &str,
    conversations: &[String],
    stop: Arc<AtomicBool>,
    started: Instant,
    done: Arc<Mutex<Vec<Done>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (0..6)
        .map(|worker| {
            let (client, base, key) = (client.clone(), base.to_owned(), key.to_owned());
            let conversation = conversations[worker % conversations.len()].clone();
            let (stop, done) = (stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let write = worker % 2 == 0;
                    let request = if write {
                        client
                            .post(format!(
                                "{base}/api/v1/conversations/{conversation}/messages"
                            ))
                            .json(&json!({"author": "agent", "body": format!("w{worker} n{n}")}))
                    } else {
                        client.get(format!("{base}/api/v1/conversations?limit=5"))
                    };
                    let at = started.elapsed();
                    let sent = Instant::now();
                    let (status, retry_after, body) = match request.bearer_auth(&key).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let retry = response.headers().contains_key("retry-after");
                            (
                                status,
                                retry,
                                response.json::<Value>().await.unwrap_or_default(),
                            )
                        }
                        Err(_) => (0, false, Value::Null),
                    };
                    let created = (write && status == 201)
                        .then(|| body["id"].as_str().map(str::to_owned))
                        .flatten();
                    done.lock().unwrap().push(Done {
                        at,
                        latency: sent.elapsed(),
                        status,
                        retry_after,
                        created,
                    });
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// Every message of the conversation, read back through REST page by page.
async fn message_ids(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    conversation: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!(
                "{base}/api/v1/conversations/{conversation}/messages?limit=100{cursor}"
            ))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap();
        ids.extend(data.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) if !data.is_empty() => cursor = format!("&cursor={next}"),
            _ => return ids,
        }
    }
}

fn summary(done: &[&Done]) -> String {
    let mut latencies: Vec<Duration> = done.iter().map(|d| d.latency).collect();
    let mut at = |p: f64| percentile(&mut latencies, p);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for d in done {
        *statuses.entry(d.status).or_default() += 1;
    }
    let mut statuses: Vec<_> = statuses.into_iter().collect();
    statuses.sort();
    format!(
        "{} requests {statuses:?}, latency p50 {:?} p99 {:?} max {:?}",
        done.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

#[tokio::test]
async fn postgres_restarted_under_load_answers_503_meanwhile_and_loses_no_acknowledged_write() {
    let postgres = OwnPostgres::start(free_port());
    let (mut settings, _cleanup) = fresh_settings().await;
    settings.database_url = Some(postgres.url().into());
    let key = bootstrap_with_cli(&settings, "Restart");
    // Subscriptions check their credential every second, so that one check falls in the outage.
    let server = ServeProcess::start_with(
        &settings,
        free_port(),
        &[("CONCIERGE_SUBSCRIPTION_RECHECK_SECS", "1".to_owned())],
    )
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let receiver = Receiver::hooked(&base, &key, &["message.created"]).await;
    let conversations = vec![
        new_conversation(&base, &key, None).await,
        new_conversation(&base, &key, None).await,
        new_conversation(&base, &key, None).await,
    ];
    let subscriber = Subscriber::start(&base, &key).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let started = Instant::now();
    let workers = load(
        &base,
        &key,
        &conversations,
        stop.clone(),
        started,
        Arc::clone(&done),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let down_at = started.elapsed();
    postgres.down("immediate");
    let stopped_at = started.elapsed();
    // Longer than an API key is kept in memory (5 s), so that the subscriptions' checks reach the database.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let up_at = started.elapsed();
    postgres.up();
    let running_at = started.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let done: Vec<Done> = done.lock().unwrap().clone();

    // Meanwhile: 503 with Retry-After, within a second; never another error, never a hang.
    let during: Vec<&Done> = done
        .iter()
        .filter(|d| d.at > stopped_at && d.at + d.latency < up_at)
        .collect();
    assert!(during.len() >= 12, "the load went on: {}", summary(&during));
    for d in &during {
        assert!(d.status == 503 && d.retry_after, "during the outage: {d:?}");
        assert!(
            d.latency < Duration::from_secs(1),
            "during the outage: {d:?}"
        );
    }
    for d in &done {
        assert!(
            d.status < 300 || (d.status == 503 && d.retry_after),
            "every answer is a success or a 503 with Retry-After: {d:?}"
        );
        assert!(
            d.latency < Duration::from_millis(1500),
            "no request hung: {d:?}"
        );
    }
    // After: the pool reconnected by itself; the last seconds are all successes.
    let recovered = done
        .iter()
        .filter(|d| d.at > running_at && d.status < 300)
        .map(|d| d.at - running_at)
        .min()
        .expect("requests succeed again");
    let tail: Vec<&Done> = done
        .iter()
        .filter(|d| d.at > running_at + Duration::from_secs(3))
        .collect();
    assert!(!tail.is_empty());
    assert!(tail.iter().all(|d| d.status < 300), "{}", summary(&tail));

    // Every acknowledged write is there, with its event: none lost, none half applied.
    let acknowledged: HashSet<String> = done.iter().filter_map(|d| d.created.clone()).collect();
    let mut stored = Vec::new();
    for conversation in &conversations {
        stored.extend(message_ids(&client, &base, &key, conversation).await);
    }
    let stored_set: HashSet<String> = stored.iter().cloned().collect();
    assert!(
        acknowledged.is_subset(&stored_set),
        "lost: {:?}",
        acknowledged.difference(&stored_set).collect::<Vec<_>>()
    );
    let events =
        crate::subscriptions::stream_ids_where(&base, &key, |e| e["event"] == "message.created")
            .await;
    assert_eq!(events.len(), stored.len(), "one event per stored message");

    // Webhooks resumed: each event delivered once.
    receiver.each_once(events.len()).await;
    // The subscriber got every event once, in order.
    subscriber
        .until(events.len(), Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        subscriber.ids(),
        events,
        "the subscriber: none lost, none twice, in order"
    );

    let before: Vec<&Done> = done.iter().filter(|d| d.at < down_at).collect();
    let after: Vec<&Done> = done.iter().filter(|d| d.at > running_at).collect();
    println!(
        "PostgreSQL stopped for {:?}: before {}; during {}; after {} (first success {recovered:?} after it was up); \
         {} writes acknowledged, all stored, {} events, each delivered once by webhook and to the subscriber",
        running_at - stopped_at,
        summary(&before),
        summary(&during),
        summary(&after),
        acknowledged.len(),
        events.len()
    );
}

#[tokio::test]
async fn integration_jobs_resume_after_postgres_crashes_and_make_each_contact_once() {
    use crate::crm_sync::{conversation, settled_runs};
    use crate::integrations::{Browser, app_adjusted, connected};
    let postgres = OwnPostgres::start(free_port());
    let fake = crate::fake_hubspot::FakeHubSpot::start().await;
    // Each HubSpot answer takes a while, so that the crash lands while jobs are under way.
    fake.delay(Duration::from_millis(40));
    let url = postgres.url();
    let app = app_adjusted(&fake, move |s| {
        s.database_url = Some(url.into());
        s.integration_retry_schedule = "1,1,1".to_owned();
        s.integration_timeout_secs = 2;
        s.integration_lease_secs = 3;
    })
    .await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let integration = connected(&app, &browser).await;
    const BEFORE: usize = 12;
    for n in 0..BEFORE {
        conversation(
            &app,
            json!({"email": format!("b{n}@example.test")}),
            "Hello",
        )
        .await;
    }
    postgres.down("immediate");
    // Meanwhile a new conversation is refused, to be retried, and applies nothing.
    let refused = app
        .client
        .post(app.url("/api/v1/conversations"))
        .bearer_auth(&app.key)
        .json(&json!({"visitor": {"email": "lost@example.test"}, "initial_message": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let during = fake.contacts().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    postgres.up();
    const AFTER: usize = 4;
    for n in 0..AFTER {
        conversation(
            &app,
            json!({"email": format!("a{n}@example.test")}),
            "Hello",
        )
        .await;
    }
    let runs = settled_runs(&app, &integration, BEFORE + AFTER).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    let contacts = fake.contacts();
    let emails: HashSet<String> = contacts
        .iter()
        .map(|c| c.properties["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        contacts.len(),
        BEFORE + AFTER,
        "every visitor's contact, once"
    );
    assert_eq!(emails.len(), BEFORE + AFTER);
    assert!(
        !emails.contains("lost@example.test"),
        "the refused write applied nothing"
    );
    println!(
        "PostgreSQL crashed during a CRM sync: {during} of {BEFORE} contacts made before it, {} runs all succeeded after, {} contacts, each once",
        runs.len(),
        contacts.len()
    );
}
