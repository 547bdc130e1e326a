//! GraphQL subscriptions over WebSocket, driven by the real npm `graphql-ws` and `subscriptions-transport-ws` clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::helpers::{ServeProcess, TestApp, free_port, new_conversation, spawn_app};
use crate::peers::run_peer;
use crate::webhook_delivery::Receiver;

const CONVERSATION_EVENTS: &str = "subscription($id: ID!, $after: ID) { conversationEvents(conversationId: $id, after: $after) { id type sequence conversationId organizationId data } }";
const ORGANIZATION_EVENTS: &str = "subscription($types: [EventType!], $after: ID) { organizationEvents(types: $types, after: $after) { id type organizationId data } }";
const MESSAGE_ADDED: &str = "subscription($id: ID!, $after: ID) { messageAdded(conversationId: $id, after: $after) { id body author conversationId } }";

fn ws_url(app_or_base: &str, path: &str) -> String {
    format!("{}{path}", app_or_base.replacen("http://", "ws://", 1))
}

/// Runs the subscribe peer in the background.
fn subscribe(config: Value) -> JoinHandle<Value> {
    tokio::spawn(async move { run_peer("subscribe.mjs", vec![config.to_string()]).await })
}

/// Subscribes with the npm `graphql-ws` client until `count` results arrived.
fn follow(
    url: String,
    token: &str,
    query: &str,
    variables: Value,
    count: usize,
) -> JoinHandle<Value> {
    subscribe(json!({
        "url": url,
        "token": token,
        "query": query,
        "variables": variables,
        "count": count,
    }))
}

/// Posts a message every `every` to each `(base URL, conversation)` at once until every peer has finished;
/// returns what the peers printed and how many messages were posted.
async fn while_writing(
    peers: Vec<JoinHandle<Value>>,
    key: &str,
    targets: &[(&str, &str)],
    every: Duration,
) -> (Vec<Value>, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<JoinHandle<usize>> = targets
        .iter()
        .map(|(base, conversation)| {
            let (flag, key) = (stop.clone(), key.to_owned());
            let url = format!("{base}/api/v1/conversations/{conversation}/messages");
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut n = 0;
                while !flag.load(Ordering::Relaxed) {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({"author": "agent", "body": format!("reply {n}")}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(sent.status(), StatusCode::CREATED);
                    n += 1;
                    tokio::time::sleep(every).await;
                }
                n
            })
        })
        .collect();
    let mut outputs = Vec::new();
    for peer in peers {
        outputs.push(peer.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    (outputs, written)
}

/// The payloads of the subscription field of each result.
fn payloads<'a>(out: &'a Value, field: &str) -> Vec<&'a Value> {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["data"][field])
        .collect()
}

/// The ids of the conversation's events, in stream order, read back through REST.
async fn stream_ids(app: &TestApp, conversation: &str) -> Vec<String> {
    stream_ids_where(&app.address, &app.key, |e| {
        e["data"]["conversation_id"] == conversation
    })
    .await
}

/// The ids of the organization's events that `keep` keeps, in stream order, read back through REST.
pub(crate) async fn stream_ids_where(
    base: &str,
    key: &str,
    keep: impl Fn(&Value) -> bool,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = client
            .get(format!("{base}/api/v1/events?limit=100{cursor}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let page: Value = page.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        ids.extend(
            data.iter()
                .filter(|e| keep(e))
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) if !data.is_empty() => cursor = format!("&cursor={next}"),
            _ => break,
        }
    }
    ids
}

/// Asserts `got` is a contiguous run of `stream`: no gap, no duplicate, stream order.
fn assert_contiguous(got: &[String], stream: &[String]) {
    let start = stream
        .iter()
        .position(|id| *id == got[0])
        .unwrap_or_else(|| panic!("{} is not in the stream", got[0]));
    assert_eq!(
        got,
        &stream[start..start + got.len()],
        "the subscriber's events are a gapless, duplicate-free run of the stream"
    );
}

async fn conversation_id(app: &TestApp) -> String {
    app.create_conversation("hello").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_graphql_ws_client_follows_a_conversation_in_order() {
    let app = spawn_app().await;
    let conversation = conversation_id(&app).await;
    let peer = follow(
        ws_url(&app.address, "/graphql/ws"),
        &app.key,
        CONVERSATION_EVENTS,
        json!({"id": conversation}),
        10,
    );
    let (outputs, _) = while_writing(
        vec![peer],
        &app.key,
        &[(&app.address, &conversation)],
        Duration::from_millis(20),
    )
    .await;
    let out = &outputs[0];
    assert_eq!(out["errors"], json!([]), "{out}");
    let events = payloads(out, "conversationEvents");
    assert_eq!(events.len(), 10);
    for event in &events {
        assert_eq!(event["type"], "MESSAGE_CREATED");
        assert_eq!(event["conversationId"], conversation.as_str());
        assert_eq!(event["organizationId"], app.org.organization.id.as_str());
        assert!(
            event["data"]["body"]
                .as_str()
                .unwrap()
                .starts_with("reply ")
        );
    }
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence numbers increase by one: {sequences:?}"
    );
    let got: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_contiguous(&got, &stream_ids(&app, &conversation).await);
}

#[tokio::test]
async fn a_killed_socket_resumes_after_its_last_event_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let conversation = conversation_id(&app).await;
    let peer = subscribe(json!({
        "url": ws_url(&app.address, "/graphql/ws"),
        "token": app.key,
        "query": CONVERSATION_EVENTS,
        "variables": {"id": conversation},
        "killAfter": 5,
        "resumeDelayMs": 800,
        "count": 30,
    }));
    let (outputs, written) = while_writing(
        vec![peer],
        &app.key,
        &[(&app.address, &conversation)],
        Duration::from_millis(20),
    )
    .await;
    let out = &outputs[0];
    assert_eq!(out["errors"], json!([]), "{out}");
    let got: Vec<String> = payloads(out, "conversationEvents")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(got.len() >= 30, "{}", got.len());
    let killed_at = got
        .iter()
        .position(|id| out["resumedAfter"] == id.as_str())
        .unwrap();
    assert!(
        killed_at >= 4,
        "resumed after the killed socket's last event"
    );
    let stream = stream_ids(&app, &conversation).await;
    assert_contiguous(&got, &stream);
    // The writer kept going while the socket was down, so the resumed part began with a replay.
    assert!(written >= 30, "{written} messages written");
    println!(
        "subscription resume: killed after {} events, {} more arrived once resumed, none lost or repeated",
        killed_at + 1,
        got.len() - killed_at - 1
    );
}

#[tokio::test]
async fn message_added_yields_messages_and_the_legacy_protocol_client_works_too() {
    let app = spawn_app().await;
    let conversation = conversation_id(&app).await;
    let modern = follow(
        ws_url(&app.address, "/graphql"),
        &app.key,
        MESSAGE_ADDED,
        json!({"id": conversation}),
        3,
    );
    let legacy = subscribe(json!({
        "client": "subscriptions-transport-ws",
        "url": ws_url(&app.address, "/graphql/ws"),
        "token": app.key,
        "query": MESSAGE_ADDED,
        "variables": {"id": conversation},
        "count": 3,
    }));
    let (outputs, _) = while_writing(
        vec![modern, legacy],
        &app.key,
        &[(&app.address, &conversation)],
        Duration::from_millis(50),
    )
    .await;
    for out in &outputs {
        assert_eq!(out["errors"], json!([]), "{out}");
        let messages = payloads(out, "messageAdded");
        assert_eq!(messages.len(), 3, "{out}");
        for message in messages {
            assert!(message["id"].as_str().unwrap().starts_with("msg_"));
            assert_eq!(message["author"], "AGENT");
            assert_eq!(message["conversationId"], conversation.as_str());
        }
    }
}

#[tokio::test]
async fn each_subscriber_gets_only_its_organizations_events_that_its_role_may_read() {
    let app = spawn_app().await;
    let other = app.other_organization("Globex").await;
    let analyst = app.key_with_role("analyst").await;
    let owner = follow(
        ws_url(&app.address, "/graphql/ws"),
        &app.key,
        ORGANIZATION_EVENTS,
        json!({}),
        2,
    );
    let limited = follow(
        ws_url(&app.address, "/graphql/ws"),
        &analyst,
        ORGANIZATION_EVENTS,
        json!({}),
        1,
    );
    let forbidden = follow(
        ws_url(&app.address, "/graphql/ws"),
        &analyst,
        ORGANIZATION_EVENTS,
        json!({"types": ["KNOWLEDGE_BASE_ENTRY_CREATED"]}),
        1,
    );
    // Give the subscriptions time to be live before anything happens.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Another organization's activity, then a knowledge-base entry the analyst may not read, then a conversation.
    new_conversation(&app.address, &other.secret, Some("not yours")).await;
    let entry = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "Refunds", "body": "30 days"}),
        )
        .await;
    assert_eq!(entry.status, StatusCode::CREATED, "{}", entry.text);
    let conversation = conversation_id(&app).await;

    let owner = owner.await.unwrap();
    assert_eq!(owner["errors"], json!([]), "{owner}");
    let seen: Vec<&str> = payloads(&owner, "organizationEvents")
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen[..2],
        ["KNOWLEDGE_BASE_ENTRY_CREATED", "CONVERSATION_CREATED"]
    );
    for event in payloads(&owner, "organizationEvents") {
        assert_eq!(event["organizationId"], app.org.organization.id.as_str());
    }

    let limited = limited.await.unwrap();
    assert_eq!(limited["errors"], json!([]), "{limited}");
    let first = payloads(&limited, "organizationEvents")[0];
    assert_eq!(
        first["type"], "CONVERSATION_CREATED",
        "the analyst skips the entry"
    );
    assert_eq!(first["data"]["conversation_id"], conversation.as_str());

    let forbidden = forbidden.await.unwrap();
    let errors = forbidden["errors"].to_string();
    assert!(errors.contains("knowledge"), "{forbidden}");
    assert_eq!(
        forbidden["results"][0]["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn credentials_are_checked_in_connection_init_and_bad_ones_close_the_socket() {
    let app = spawn_app().await;
    let url = ws_url(&app.address, "/graphql/ws");
    let attempt = |token: Value, messages: Value| {
        subscribe(json!({
            "client": "raw",
            "url": url,
            "messages": messages,
            "connectionParams": token,
            "timeoutMs": 15000,
        }))
    };
    let subscribe_message =
        json!({"id": "1", "type": "subscribe", "payload": {"query": ORGANIZATION_EVENTS}});
    let init = |params: Value| json!({"type": "connection_init", "payload": params});

    let missing = attempt(json!({}), json!([init(json!({}))])).await.unwrap();
    assert_eq!(missing["closes"][0]["code"], 4401, "{missing}");
    assert!(
        missing["closes"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing credentials")
    );

    let unknown = attempt(
        json!({}),
        json!([init(
            json!({"Authorization": "Bearer ck_live_nottherightkeyatall0000000000"})
        )]),
    )
    .await
    .unwrap();
    assert_eq!(unknown["closes"][0]["code"], 4401, "{unknown}");

    let early = attempt(json!({}), json!([subscribe_message]))
        .await
        .unwrap();
    assert_eq!(
        early["closes"][0]["code"], 4401,
        "subscribe before ack: {early}"
    );

    let garbage = attempt(json!({}), json!(["{not json"])).await.unwrap();
    assert_eq!(garbage["closes"][0]["code"], 4400, "{garbage}");

    // A standard-plan organization's key may use GraphQL but not subscriptions (premium's full API access).
    app.mutate(
        "mutation { setOrganizationPlan(plan: STANDARD) { organization { plan } userErrors { field message code } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let standard = attempt(
        json!({}),
        json!([init(
            json!({"Authorization": format!("Bearer {}", app.key)})
        )]),
    )
    .await
    .unwrap();
    assert_eq!(standard["closes"][0]["code"], 4403, "{standard}");
    assert!(
        standard["closes"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("premium")
    );

    // The legacy protocol refuses with connection_error, then the same close code.
    let legacy = subscribe(json!({
        "client": "raw",
        "protocol": "graphql-ws",
        "url": url,
        "messages": [init(json!({"token": "cs_nosuchsession"}))],
    }))
    .await
    .unwrap();
    assert_eq!(legacy["frames"][0]["type"], "connection_error", "{legacy}");
    assert_eq!(legacy["closes"][0]["code"], 4401, "{legacy}");

    // Without a GraphQL WebSocket subprotocol the upgrade is refused with a readable error.
    let plain = app.client.get(app.url("/graphql/ws")).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_revoked_key_loses_its_open_subscription() {
    let app = spawn_app().await;
    let (key_id, partner) = app.new_key("agent").await;
    let conversation = conversation_id(&app).await;
    let peer = follow(
        ws_url(&app.address, "/graphql/ws"),
        &partner,
        CONVERSATION_EVENTS,
        json!({"id": conversation}),
        3,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    app.post(&path, json!({"author": "agent", "body": "before"}))
        .await;
    let revoked = app.delete(&format!("/api/v1/api-keys/{key_id}")).await;
    assert!(revoked.status.is_success(), "{}", revoked.text);
    app.post(&path, json!({"author": "agent", "body": "after"}))
        .await;
    let out = peer.await.unwrap();
    let events = payloads(&out, "conversationEvents");
    assert_eq!(events[0]["data"]["body"], "before", "{out}");
    assert!(
        out["errors"].to_string().contains("revoked"),
        "the stream ends with the reason: {out}"
    );
    assert!(
        !out["results"].to_string().contains("\"after\""),
        "nothing after the revocation arrived: {out}"
    );
}

#[tokio::test]
async fn bad_subscription_arguments_get_clear_errors() {
    let app = spawn_app().await;
    conversation_id(&app).await;
    // Another organization's conversation is as unknown as one that does not exist.
    let other = app.other_organization("Globex").await;
    let theirs = new_conversation(&app.address, &other.secret, Some("hi")).await;
    let before = app.count_rows("events").await;
    let url = ws_url(&app.address, "/graphql/ws");
    let cases = [
        // Not an `EventType`: GraphQL refuses the variable, naming the value.
        (
            ORGANIZATION_EVENTS,
            json!({"types": ["CONVERSATION_EXPLODED"]}),
            "CONVERSATION_EXPLODED",
        ),
        (ORGANIZATION_EVENTS, json!({"after": "yesterday"}), "after"),
        (
            ORGANIZATION_EVENTS,
            json!({"after": "evt_01JZZZZZZZZZZZZZZZZZZZZZZZ"}),
            "no event",
        ),
        (
            CONVERSATION_EVENTS,
            json!({"id": "conv_nope"}),
            "no conversation",
        ),
        (
            CONVERSATION_EVENTS,
            json!({"id": theirs}),
            "no conversation",
        ),
        (MESSAGE_ADDED, json!({"id": theirs}), "no conversation"),
    ];
    for (query, variables, expected) in cases {
        let out = subscribe(json!({
            "url": url,
            "token": app.key,
            "query": query,
            "variables": variables,
            "count": 1,
        }))
        .await
        .unwrap();
        assert!(
            out["errors"].to_string().contains(expected),
            "{variables}: {out}"
        );
    }
    assert_eq!(
        app.count_rows("events").await,
        before,
        "refusals change nothing"
    );
}

#[tokio::test]
async fn two_processes_on_one_database_and_redis_share_live_events_and_send_each_webhook_once() {
    let (mut settings, _cleanup) = crate::helpers::fresh_settings().await;
    settings.redis_url = Some(crate::helpers::redis_url().into());
    let key = crate::helpers::bootstrap_with_cli(&settings, "Two");
    // Instances A and B: two `concierge serve` processes on the same database and the same Redis.
    let a = ServeProcess::start(&settings, free_port()).await;
    let b = ServeProcess::start(&settings, free_port()).await;
    let client = reqwest::Client::new();
    let (receiver, hook_url) = Receiver::start_slow(vec![], Duration::from_millis(5)).await;
    let hook = client
        .post(format!("{}/api/v1/webhooks", a.base))
        .bearer_auth(&key)
        .json(&json!({"url": hook_url, "events": ["message.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);
    let first = new_conversation(&a.base, &key, None).await;
    let second = new_conversation(&b.base, &key, None).await;
    // On B: one conversation's events, and every message of the organization.
    let one_on_b = follow(
        ws_url(&b.base, "/graphql/ws"),
        &key,
        CONVERSATION_EVENTS,
        json!({"id": first}),
        5,
    );
    let all_on_b = follow(
        ws_url(&b.base, "/graphql/ws"),
        &key,
        ORGANIZATION_EVENTS,
        json!({"types": ["MESSAGE_CREATED"]}),
        40,
    );
    // Both instances write at once, so their notices reach Redis interleaved.
    let (outputs, written) = while_writing(
        vec![one_on_b, all_on_b],
        &key,
        &[(&a.base, &first), (&b.base, &second)],
        Duration::from_millis(10),
    )
    .await;
    let (one, all) = (&outputs[0], &outputs[1]);

    assert_eq!(one["errors"], json!([]), "{one}");
    let got: Vec<String> = payloads(one, "conversationEvents")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(got.len() >= 5);
    let stream = stream_ids_where(&a.base, &key, |e| {
        e["data"]["conversation_id"] == first.as_str()
    })
    .await;
    assert_contiguous(&got, &stream);

    assert_eq!(all["errors"], json!([]), "{all}");
    let events = payloads(all, "organizationEvents");
    let got: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(got.len() >= 40);
    let from_a = events
        .iter()
        .filter(|e| e["data"]["conversation_id"] == first.as_str())
        .count();
    assert!(
        from_a > 0 && from_a < got.len(),
        "writes on both instances were followed on B ({from_a} of {} from A)",
        got.len()
    );
    let messages = stream_ids_where(&a.base, &key, |e| e["event"] == "message.created").await;
    assert_eq!(messages.len(), written);
    assert_contiguous(&got, &messages);

    // Both instances deliver webhooks from the one outbox: every message once, none twice.
    receiver.wait_for(written).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let ids: std::collections::HashSet<String> = received
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), written, "every event delivered");
    assert_eq!(
        received.len(),
        written,
        "no attempt was made by both instances"
    );
    println!(
        "two instances: {} events followed live on B, {written} messages written on A and B, {} webhook deliveries, no duplicate",
        got.len(),
        received.len()
    );
}

#[tokio::test]
async fn events_whose_notice_was_lost_are_read_back_from_the_table_in_order() {
    use api::service::conversations::messages;
    use api::service::identity::api_keys;
    let app = spawn_app().await;
    let conversation = conversation_id(&app).await;
    let peer = follow(
        ws_url(&app.address, "/graphql/ws"),
        &app.key,
        MESSAGE_ADDED,
        json!({"id": conversation}),
        4,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Another handle on the same database has its own bus, like an instance whose Redis notices were lost:
    // these three commits reach the server's subscribers only through the table.
    let elsewhere = api::db::Db::connect(&app.settings).await.unwrap();
    let owner = api_keys::authenticate(&elsewhere, &app.state.authz, &app.key, Default::default())
        .await
        .unwrap();
    for n in 0..3 {
        let input = api::service::conversations::posting::CreateMessage {
            author: messages::Author::Agent,
            body: format!("unannounced {n}"),
            source_entry_id: None,
            confidence: None,
            attachment_ids: Vec::new(),
        };
        api::service::conversations::posting::post_message(
            &elsewhere,
            &app.state.engine,
            &owner,
            &conversation,
            input,
            None,
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The next announced event names its predecessor, which the subscriber has not seen: it reads the gap.
    let announced = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"author": "agent", "body": "announced"}),
        )
        .await;
    assert_eq!(announced.status, StatusCode::CREATED);
    let out = peer.await.unwrap();
    assert_eq!(out["errors"], json!([]), "{out}");
    let bodies: Vec<&str> = payloads(&out, "messageAdded")
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "unannounced 0",
            "unannounced 1",
            "unannounced 2",
            "announced"
        ]
    );
}
