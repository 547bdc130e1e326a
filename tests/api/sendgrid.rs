//! SendGrid as the organization's email, against its loopback fake: a key that is refused or may not send
//! changes nothing; the test message and the team's notifications go through `POST /v3/mail/send`; a 429 is
//! waited out.

use serde_json::json;

use crate::crm_sync::{conversation, settled_runs};
use crate::fake_sendgrid::{self, FakeSendGrid};
use crate::helpers::{TestApp, spawn_app_with};

const CONNECT: &str =
    "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
    integration { id status } message userErrors { field message code } } }";

async fn app_with(sendgrid: &FakeSendGrid) -> TestApp {
    let base_urls = sendgrid.base_urls();
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    })
    .await
}

fn input(key: &str, sender: &str) -> serde_json::Value {
    json!({"input": {"provider": "SENDGRID", "credentials": {"apiKey": key, "email": sender}}})
}

#[tokio::test]
async fn sendgrid_sends_the_test_message_and_the_teams_notifications() {
    let sendgrid = FakeSendGrid::start().await;
    let app = app_with(&sendgrid).await;
    let refused = app
        .user_error(
            CONNECT,
            input("SG.wrong", fake_sendgrid::SENDER),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        refused["field"],
        json!(["input", "credentials", "apiKey"]),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("authorization required"),
        "{refused}"
    );
    let read_only = app
        .user_error(
            CONNECT,
            input(fake_sendgrid::READ_ONLY_KEY, fake_sendgrid::SENDER),
            "connectIntegration",
        )
        .await;
    assert!(
        read_only["message"]
            .as_str()
            .unwrap()
            .contains("Mail Send permission"),
        "{read_only}"
    );
    let no_sender = app
        .user_error(
            CONNECT,
            input(fake_sendgrid::API_KEY, "support"),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        no_sender["field"],
        json!(["input", "credentials", "email"]),
        "{no_sender}"
    );
    assert_eq!(app.count_rows("integrations").await, 0);

    let connected = app
        .mutate(
            CONNECT,
            input(fake_sendgrid::API_KEY, fake_sendgrid::SENDER),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        connected["message"],
        "Connected to SendGrid; mail goes from support@acme.test"
    );
    let id = connected["integration"]["id"].as_str().unwrap().to_owned();
    let tested = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(tested.body["success"], true, "{}", tested.text);
    assert!(
        tested.body["message"]
            .as_str()
            .unwrap()
            .contains("202 Accepted (message id sg-message-1)"),
        "{}",
        tested.text
    );
    // Asked with an API key (no member to send to), the test message goes to the sender itself.
    let sent = sendgrid.sent();
    assert_eq!(
        sent[0]["personalizations"][0]["to"][0]["email"],
        fake_sendgrid::SENDER
    );
    assert_eq!(sent[0]["content"][0]["type"], "text/plain");
    assert_eq!(sent[0]["content"][1]["type"], "text/html");

    // A handoff notification, through a 429 that SendGrid asks to wait out.
    app.post(
        "/api/v1/notification-rules",
        json!({"name": "Handoffs", "events": ["handoff"], "recipients": "addresses",
            "addresses": ["team@acme.test"]}),
    )
    .await;
    sendgrid.limit_next(1);
    let (conversation_id, _) =
        conversation(&app, json!({"name": "Ivy"}), "I want to talk to a person").await;
    let runs = settled_runs(&app, &id, 1).await;
    let notify = runs.iter().find(|r| r["kind"] == "notify").unwrap();
    assert_eq!(notify["status"], "succeeded", "{runs:#?}");
    let sent = sendgrid.sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(
        sent[1]["personalizations"][0]["to"][0]["email"],
        "team@acme.test"
    );
    assert!(
        sent[1]["subject"]
            .as_str()
            .unwrap()
            .starts_with("A visitor asks for a person")
    );
    assert!(
        sent[1]["content"][0]["value"]
            .as_str()
            .unwrap()
            .contains(&conversation_id),
        "{:#}",
        sent[1]
    );
}
