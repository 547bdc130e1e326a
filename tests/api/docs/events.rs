//! docs/reference/events.md: every event type with a payload recorded from a real run, and the webhook envelope.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{cell, generated_block};
use crate::fake_hubspot::FakeHubSpot;
use crate::helpers::TestApp;
use crate::integrations::{Browser, app_adjusted, connected};
use crate::webhook_delivery::Receiver;

/// Ids and times differ on every run; the reference shows their shape (`conv_…`, one fixed time).
fn normalize(value: &Value) -> Value {
    match value {
        Value::String(text) => {
            if let Some((prefix, body)) = text.rsplit_once('_')
                && body.len() == 26
                && body.chars().all(|c| c.is_ascii_alphanumeric())
                && prefix.chars().all(|c| c.is_ascii_lowercase())
            {
                return json!(format!("{prefix}_…"));
            }
            if text.starts_with("http://127.0.0.1:") {
                return json!("https://hooks.example.com/concierge");
            }
            if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
                return json!("2026-12-06T09:30:00.000Z");
            }
            value.clone()
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(fields) => {
            // Sorted, so that PostgreSQL's JSONB (which orders keys its own way) and SQLite read the same.
            let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(k, v)| {
                        // Durations depend on the run's timing: an example value.
                        if k.ends_with("_seconds") && v.is_number() {
                            (k.clone(), json!(95))
                        } else {
                            (k.clone(), normalize(v))
                        }
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

async fn ok(reply: crate::helpers::Reply) -> Value {
    assert!(reply.status.is_success(), "{}", reply.text);
    reply.body
}

/// Does, through the API, one of each thing that emits an event, and answers the stream that resulted.
async fn one_of_each(app: &TestApp) -> Vec<Value> {
    let entry = ok(app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "How much does shipping cost?", "body": "Shipping within Germany costs 4.90 EUR; orders over 50 EUR ship free.", "category": "shipping", "tags": ["shipping", "costs"]}),
        )
        .await)
    .await;
    let entry_id = entry["id"].as_str().unwrap().to_owned();
    ok(app
        .put(
            &format!("/api/v1/knowledge-base/{entry_id}"),
            json!({"tags": ["shipping", "costs", "delivery"]}),
        )
        .await)
    .await;
    // The answer's confidence is recorded below: ranked by meaning too, whatever the machine's speed.
    app.vectors_settled().await;
    let conversation = app
        .create_conversation("How much does shipping cost?")
        .await;
    let id = conversation["id"].as_str().unwrap().to_owned();
    let visitor = conversation["visitor_id"].as_str().unwrap().to_owned();
    let answer = conversation["replies"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(app
        .post(
            &format!("/api/v1/messages/{answer}/feedback"),
            json!({"helpful": true}),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "Can I pay with a voucher from my employer?"}),
        )
        .await)
    .await;
    ok(app
        .put(
            &format!("/api/v1/conversations/{id}"),
            json!({"subject": "Shipping and vouchers", "status": "handed_off"}),
        )
        .await)
    .await;
    ok(app
        .put(
            &format!("/api/v1/conversations/{id}"),
            json!({"status": "resolved"}),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/conversations/{id}/feedback"),
            json!({"rating": 5, "comment": "Quick and clear"}),
        )
        .await)
    .await;
    ok(app
        .put(
            &format!("/api/v1/visitors/{visitor}"),
            json!({"phone": "+49 30 1234567"}),
        )
        .await)
    .await;
    ok(app
        .delete(&format!("/api/v1/knowledge-base/{entry_id}"))
        .await)
    .await;
    // A visitor leaves their details through the widget's contact form.
    let widget = crate::widget::Browser::start(app, json!({"name": "Ann"})).await;
    let asked = widget.open("Can someone call me back?").await;
    ok(widget
        .post(
            &format!(
                "/widget/v1/conversations/{}/contact",
                asked["id"].as_str().unwrap()
            ),
            json!({"email": "ann@example.test", "phone": "+49 30 1234567"}),
        )
        .await)
    .await;
    // An endpoint that answers 410 Gone is disabled at its first delivery.
    let (_, gone) = Receiver::start(vec![(410, None, "gone")]).await;
    let reply = app
        .post(
            "/api/v1/webhooks",
            json!({"url": gone, "events": ["conversation.created"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    app.create_conversation("Do you ship to Austria?").await;
    for _ in 0..200 {
        let stream = stream(app).await;
        if stream.iter().any(|e| e["event"] == "webhook.disabled") {
            return stream;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no webhook.disabled after a 410");
}

/// An integration connected, a sync that fails for good, its grant revoked at the vendor (found by a test), and
/// disconnected.
async fn integration_events(app: &TestApp, hubspot: &FakeHubSpot) {
    let browser = Browser::signed_in(app, "ada@acme.test", "ADMIN").await;
    let id = connected(app, &browser).await;
    // Two contacts share the visitor's email: the contact sync fails for good.
    let at = chrono::Utc::now();
    hubspot.add_contact(json!({"email": "twin@example.test"}), at);
    hubspot.add_contact(json!({"email": "twin@example.test"}), at);
    ok(app
        .post(
            "/api/v1/conversations",
            json!({"visitor": {"email": "twin@example.test"}, "initial_message": "Hello"}),
        )
        .await)
    .await;
    let mut failed = false;
    for _ in 0..100 {
        let events = app
            .get("/api/v1/events?types=integration.sync_failed")
            .await;
        if !events.body["data"].as_array().unwrap().is_empty() {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(failed, "no integration.sync_failed");
    hubspot.revoke_all();
    ok(app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await)
    .await;
    ok(app.delete(&format!("/api/v1/integrations/{id}")).await).await;
}

async fn stream(app: &TestApp) -> Vec<Value> {
    let reply = app.get("/api/v1/events?limit=100").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["data"].as_array().unwrap().clone()
}

/// The signed request a receiver gets, from a test delivery.
async fn envelope(app: &TestApp) -> (Vec<(String, String)>, Value) {
    let (receiver, url) = Receiver::start(vec![]).await;
    let created = app
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": ["message.created"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let webhook = created.body["id"].as_str().unwrap();
    let sent = app
        .post(&format!("/api/v1/webhooks/{webhook}/test"), json!({}))
        .await;
    assert!(sent.status.is_success(), "{}", sent.text);
    let got = receiver.wait_for(1).await.remove(0);
    let headers = [
        "content-type",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-ai-assistant-signature",
    ]
    .iter()
    .map(|name| {
        let value = got.headers[*name].to_str().unwrap().to_owned();
        let shown = match *name {
            "webhook-id" => normalize(&json!(value)).as_str().unwrap().to_owned(),
            "webhook-timestamp" => "1796549400".to_owned(),
            "webhook-signature" | "x-ai-assistant-signature" => {
                assert!(value.starts_with("v1,"), "{value}");
                "v1,<base64 of the HMAC-SHA256 of `id.timestamp.body`>".to_owned()
            }
            _ => value,
        };
        ((*name).to_owned(), shown)
    })
    .collect();
    (
        headers,
        normalize(&serde_json::from_str(&got.body).unwrap()),
    )
}

/// What each event type says, from the GraphQL enum's descriptions.
async fn descriptions(app: &TestApp) -> Vec<(String, String)> {
    let data = app
        .graphql_ok(
            r#"{ __type(name: "EventType") { enumValues { name description } } }"#,
            json!({}),
        )
        .await;
    data["__type"]["enumValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_events_reference_shows_a_real_payload_of_every_event_type() {
    let hubspot = FakeHubSpot::start().await;
    let app = app_adjusted(&hubspot, |s| s.egress_allow = Some("127.0.0.1/32".into())).await;
    one_of_each(&app).await;
    integration_events(&app, &hubspot).await;
    let stream = stream(&app).await;
    let (headers, body) = envelope(&app).await;
    let types = descriptions(&app).await;

    let mut page = String::from("| event | GraphQL `EventType` | what happened |\n|---|---|---|\n");
    let mut sections = String::new();
    for (graphql, description) in &types {
        let name = api::events::feed::TYPES
            .iter()
            .chain([&api::events::names::WEBHOOK_TEST])
            .find(|n| n.to_ascii_uppercase().replace('.', "_") == *graphql)
            .unwrap_or_else(|| panic!("EventType {graphql} has no event name"));
        page.push_str(&format!(
            "| [`{name}`](#{}) | `{graphql}` | {} |\n",
            name.replace('.', ""),
            cell(description)
        ));
        let example = if *name == api::events::names::WEBHOOK_TEST {
            body["data"].clone()
        } else {
            // Of the messages, an answer of the assistant's, which says the most.
            let event = stream
                .iter()
                .find(|e| {
                    e["event"] == *name
                        && (*name != api::events::names::MESSAGE_CREATED
                            || e["data"]["author"] == "assistant")
                })
                .unwrap_or_else(|| panic!("the run emitted no {name}: add it to one_of_each"));
            normalize(&event["data"])
        };
        sections.push_str(&format!(
            "\n### `{name}`\n\n{}\n\n```json\n{}\n```\n",
            cell(description),
            serde_json::to_string_pretty(&example).unwrap()
        ));
    }
    page.push_str(
        "\n## The webhook request\n\nA delivery is a `POST` with these headers (the signature scheme is \
         [Standard Webhooks](https://www.standardwebhooks.com/)):\n\n```http\n",
    );
    for (name, value) in &headers {
        page.push_str(&format!("{name}: {value}\n"));
    }
    page.push_str(&format!(
        "```\n\nand this body, the envelope around every event's `data` (here a `webhook.test`):\n\n```json\n{}\n```\n\n## Payloads\n",
        serde_json::to_string_pretty(&body).unwrap()
    ));
    page.push_str(&sections);
    generated_block("docs/reference/events.md", "events", &page);
}
