//! Intercom against its loopback fake: connecting through OAuth (a region chosen), a handoff transferred as a
//! conversation from the visitor's contact with the whole history and a note of context, found again after a
//! lost answer, and admins' replies and closing back through the app's signed webhooks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::fake_intercom::{self, FakeIntercom};
use crate::helpers::{TestApp, spawn_app_with};
use crate::integrations::Browser;

const SHIPPING: &str = "Parcels to Austria arrive in 3 to 5 working days with tracking.";

async fn app_with(intercom: &FakeIntercom) -> TestApp {
    let base_urls = intercom.base_urls();
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
        settings.oauth_intercom_client_id = Some(fake_intercom::CLIENT_ID.to_owned());
        settings.oauth_intercom_client_secret =
            Some(fake_intercom::CLIENT_SECRET.to_owned().into());
    })
    .await
}

/// Connects through Intercom's OAuth pages in a signed-in browser; the integration's id.
pub async fn connected(app: &TestApp) -> String {
    let browser = Browser::signed_in(app, "ada@acme.test", "ADMIN").await;
    let response = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: INTERCOM, returnTo: \"/console/settings/integrations\",
                account: {dataCentre: \"eu\"}}) { authorizeUrl userErrors { field message } } }",
            json!({}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let payload = &body["data"]["connectIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let authorize = url::Url::parse(payload["authorizeUrl"].as_str().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/oauth");
    let (_, location) = browser.follow(authorize.as_str()).await;
    assert!(location.contains("outcome=connected"), "{location}");
    assert!(
        location.contains("Connected+to+Intercom+Acme+as+Ada+Admin"),
        "{location}"
    );
    let list = app.get("/api/v1/integrations").await;
    let provider = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "intercom")
        .unwrap()
        .clone();
    assert_eq!(
        provider["events_url"],
        app.url("/integrations/intercom/events").as_str()
    );
    let integration = &provider["integration"];
    assert_eq!(integration["status"], "connected", "{provider}");
    assert_eq!(integration["account"]["app_id"], fake_intercom::APP_ID);
    assert_eq!(integration["account"]["region"], "eu");
    assert_eq!(integration["account"]["api_host"], "api.eu.intercom.io");
    assert!(
        integration["token_expires_at"].is_null(),
        "Intercom's tokens never expire"
    );
    integration["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_handoff_transfers_the_conversation_to_intercom_with_its_history_and_context() {
    let intercom = FakeIntercom::start().await;
    let app = app_with(&intercom).await;
    let entry = app
        .post(
            "/api/v1/knowledge-base",
            json!({"title": "How long does shipping to Austria take?", "body": SHIPPING, "tags": ["shipping"]}),
        )
        .await;
    let entry_id = entry.body["id"].as_str().unwrap().to_owned();
    let id = connected(&app).await;
    // Ivy is known in Intercom by her email already; Lee is new and has no email.
    let ivy = intercom.add_contact("ivy@example.test", "Ivy Lane");
    let (first, _) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "How long does shipping to Austria take?",
    )
    .await;
    set_status(&app, &first, "handed_off").await;
    let (second, lee) = conversation(
        &app,
        json!({"name": "Lee Park", "phone": "+43 660 1234567"}),
        "Can I speak to a person?",
    )
    .await;
    set_status(&app, &second, "handed_off").await;
    let runs = settled_runs(&app, &id, 2).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("transferred to Intercom conversation"),
        "{:#}",
        runs[0]
    );
    assert!(
        intercom.versions().iter().all(|v| v == "2.11"),
        "{:?}",
        intercom.versions()
    );

    // Ivy's contact was found by email, Lee's made as a lead with our visitor id and phone.
    let contacts = intercom.contacts();
    assert_eq!(contacts.len(), 2, "{contacts:#?}");
    assert_eq!(contacts[1]["role"], "lead");
    assert_eq!(contacts[1]["external_id"], lee.as_str());
    assert_eq!(contacts[1]["name"], "Lee Park");
    assert_eq!(contacts[1]["phone"], "+43 660 1234567");
    let conversations = intercom.conversations();
    assert_eq!(conversations.len(), 2);
    let transferred = &conversations[0];
    assert_eq!(transferred["contacts"]["contacts"][0]["id"], ivy.as_str());
    let source = transferred["source"]["body"].as_str().unwrap();
    assert!(
        source.contains("Visitor: How long does shipping to Austria take?"),
        "the whole history: {source}"
    );
    assert!(source.contains(SHIPPING), "{source}");
    assert!(source.contains(&first), "{source}");
    let parts = transferred["conversation_parts"]["conversation_parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["part_type"], "note");
    let note = parts[0]["body"].as_str().unwrap();
    for expected in [
        "Context from Concierge",
        "<b>Page:</b> https://shop.example/pricing",
        "The assistant suggested (confidence",
        SHIPPING,
        &format!("How long does shipping to Austria take? ({entry_id})"),
        &format!("/console/inbox/{first}"),
    ] {
        assert!(note.contains(expected), "{expected:?} in {note}");
    }

    // Bo replies in Intercom and writes a private note; the contact replies by email: only Bo's reply reaches
    // the widget, once, however often Intercom notifies.
    let remote = transferred["id"].as_str().unwrap().to_owned();
    intercom.set_webhook_url(&app.url("/integrations/intercom/events"));
    assert_eq!(
        intercom
            .admin_part(
                &remote,
                "comment",
                "<p>Hi Ivy,</p><p>It left today &amp; arrives Friday.</p>"
            )
            .await,
        Some(200)
    );
    assert_eq!(
        intercom.admin_part(&remote, "note", "<p>VIP</p>").await,
        Some(200)
    );
    assert_eq!(
        intercom.user_reply(&remote, "<p>Thanks</p>").await,
        Some(200)
    );
    intercom.notify("conversation.admin.replied", &remote).await;
    let runs = settled_runs(&app, &id, 4).await;
    let created: Vec<Value> = runs[2..]
        .iter()
        .map(|r| r["records_created"].clone())
        .collect();
    assert_eq!(created, [json!(1), json!(0)], "{runs:#?}");
    let messages = app
        .get(&format!("/api/v1/conversations/{first}/messages?limit=100"))
        .await;
    let from_agents: Vec<&str> = messages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "agent")
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(from_agents, ["Hi Ivy,\nIt left today & arrives Friday."]);

    // Forged and unsigned notices are refused; another workspace's is ignored; a ping is acknowledged.
    let client = reqwest::Client::new();
    let endpoint = app.url("/integrations/intercom/events");
    let notice = |app_id: &str, topic: &str| {
        json!({"type": "notification_event", "app_id": app_id, "topic": topic,
            "data": {"type": "notification_event_data", "item": {"type": "conversation", "id": remote}}})
        .to_string()
    };
    let send = |body: String, signature: Option<String>| {
        let mut request = client
            .post(&endpoint)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        request.send()
    };
    let body = notice(fake_intercom::APP_ID, "conversation.admin.replied");
    let forged = send(
        body.clone(),
        Some(fake_intercom::sign("not-the-secret", body.as_bytes())),
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unsigned = send(body.clone(), None).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let other = notice("otherapp", "conversation.admin.replied");
    let elsewhere = send(
        other.clone(),
        Some(fake_intercom::sign(
            fake_intercom::CLIENT_SECRET,
            other.as_bytes(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert_eq!(
        elsewhere.text().await.unwrap(),
        "not a ticket of this connection: ignored"
    );
    let ping =
        json!({"type": "notification_event", "app_id": fake_intercom::APP_ID, "topic": "ping",
        "data": {"item": {"type": "ping", "message": "hello"}}})
        .to_string();
    let pinged = send(
        ping.clone(),
        Some(fake_intercom::sign(
            fake_intercom::CLIENT_SECRET,
            ping.as_bytes(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(pinged.status(), StatusCode::OK);
    assert_eq!(runs.len(), settled_runs(&app, &id, 4).await.len());

    // Closed in Intercom with a last message: it reaches the visitor and the conversation is resolved.
    assert_eq!(
        intercom
            .admin_part(&remote, "close", "<p>Closing this, write any time.</p>")
            .await,
        Some(200)
    );
    let runs = settled_runs(&app, &id, 5).await;
    assert_eq!(runs[4]["records_created"], 1, "{:#}", runs[4]);
    assert_eq!(runs[4]["records_updated"], 1, "{:#}", runs[4]);
    let resolved = app.get(&format!("/api/v1/conversations/{first}")).await;
    assert_eq!(resolved.body["status"], "resolved", "{}", resolved.text);
    let events = app.get("/api/v1/events?types=conversation.resolved").await;
    assert_eq!(events.body["data"][0]["data"]["resolved_by"], "Intercom");
}

#[tokio::test]
async fn a_lost_answer_or_a_rate_limit_never_transfers_twice() {
    let intercom = FakeIntercom::start().await;
    let app = app_with(&intercom).await;
    let id = connected(&app).await;
    // Intercom keeps the note and the answer is lost; the retry finds the conversation by its marker and the
    // note by its heading, and sends neither again. A 429 on the way is waited out.
    intercom.lose_next_note_answer();
    let (first, _) = conversation(
        &app,
        json!({"name": "Kim", "email": "kim@example.test"}),
        "Where is my refund?",
    )
    .await;
    set_status(&app, &first, "handed_off").await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    assert_eq!(runs[0]["attempt_count"], 2, "{:#}", runs[0]);
    intercom.limit_next(1);
    let (second, _) = conversation(
        &app,
        json!({"name": "Kim", "email": "kim@example.test"}),
        "And my other order?",
    )
    .await;
    set_status(&app, &second, "handed_off").await;
    let runs = settled_runs(&app, &id, 2).await;
    assert_eq!(runs[1]["status"], "succeeded", "{:#}", runs[1]);
    let conversations = intercom.conversations();
    assert_eq!(conversations.len(), 2, "one per conversation");
    let posts = intercom
        .seen()
        .iter()
        .filter(|s| *s == "POST /conversations")
        .count();
    assert_eq!(posts, 2, "the retry searched and did not post again");
    for c in &conversations {
        let notes = c["conversation_parts"]["conversation_parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["part_type"] == "note")
            .count();
        assert_eq!(notes, 1, "{c:#}");
    }
    assert_eq!(
        intercom.contacts().len(),
        1,
        "Kim's contact is made once and found by email after"
    );
}
