//! Mailchimp against its loopback fake: connecting through OAuth (the data centre read from the metadata
//! endpoint), the audience chosen, visitors who consent (in the widget's contact form or through the visitor
//! API) added with their merge fields and tags, everyone else never, a withdrawal unsubscribing, and the
//! vendor's refusals and limits reported or retried.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::fake_mailchimp::{self, FakeMailchimp, NEWSLETTER, PARTNERS};
use crate::helpers::{TestApp, spawn_app_with};
use crate::integrations::Browser;

/// An app that signs in to the Mailchimp fake (its OAuth app registered), with quick retries.
pub async fn app_with(mailchimp: &FakeMailchimp) -> TestApp {
    let base_urls = mailchimp.base_urls();
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
        settings.oauth_mailchimp_client_id = Some(fake_mailchimp::CLIENT_ID.to_owned());
        settings.oauth_mailchimp_client_secret =
            Some(fake_mailchimp::CLIENT_SECRET.to_owned().into());
    })
    .await
}

/// Connects through Mailchimp's OAuth pages in a signed-in browser (ada@acme.test, an admin); the integration's
/// id.
pub async fn connected(app: &TestApp) -> String {
    let browser = Browser::signed_in(app, "ada@acme.test", "ADMIN").await;
    let response = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: MAILCHIMP, returnTo: \"/console/settings/integrations\"}) {
                authorizeUrl userErrors { field message } } }",
            json!({}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let payload = &body["data"]["connectIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let authorize = url::Url::parse(payload["authorizeUrl"].as_str().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/oauth2/authorize");
    let (_, location) = browser.follow(authorize.as_str()).await;
    assert!(location.contains("outcome=connected"), "{location}");
    assert!(
        location.contains("Connected+to+Mailchimp+account+Acme+Shop"),
        "{location}"
    );
    let list = app.get("/api/v1/integrations").await;
    let integration = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "mailchimp")
        .unwrap()["integration"]
        .clone();
    assert_eq!(integration["status"], "connected", "{integration}");
    assert_eq!(integration["account"]["dc"], "us6");
    assert_eq!(integration["account"]["account_name"], "Acme Shop");
    assert_eq!(
        integration["account"]["audiences"][0],
        json!({"id": NEWSLETTER, "name": "Acme newsletter", "member_count": 0})
    );
    assert!(
        integration["token_expires_at"].is_null(),
        "Mailchimp's expires_in of 0 is a token that never expires: {integration}"
    );
    assert!(
        integration["audience"]["audience_id"] == "",
        "{integration}"
    );
    integration["id"].as_str().unwrap().to_owned()
}

async fn consent(app: &TestApp, visitor: &str, given: bool) {
    let reply = app
        .put(
            &format!("/api/v1/visitors/{visitor}"),
            json!({"marketing_consent": given}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["marketing_consent"], given);
    assert!(reply.body["marketing_consent_at"].is_string());
}

fn tags(member: &Value) -> Vec<String> {
    member["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn consenting_visitors_join_the_audience_with_merge_fields_and_tags_and_no_one_else_does() {
    let mailchimp = FakeMailchimp::start().await;
    let app = app_with(&mailchimp).await;
    let id = connected(&app).await;
    let auth = mailchimp.authorizations();
    assert!(
        auth.iter()
            .any(|a| a.starts_with("GET /oauth2/metadata: OAuth mc-token-")),
        "{auth:?}"
    );
    assert!(
        auth.iter()
            .any(|a| a.starts_with("GET /3.0/lists: Bearer mc-token-")),
        "{auth:?}"
    );

    // Without an audience chosen, the widget shows no consent checkbox.
    let widget = crate::widget::Browser::start(&app, json!({"name": "Ivy"})).await;
    let current = widget.get("/widget/v1/session").await;
    assert!(
        current.body["marketing_consent_label"].is_null(),
        "{}",
        current.text
    );

    // An audience the account does not have is refused, and changes nothing.
    let refused = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"audience_id": "0000000000"}}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("no audience 0000000000"),
        "{}",
        refused.text
    );
    let chosen = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"audience_id": NEWSLETTER, "tags": ["website"],
                "consent_label": "Send me Acme's newsletter"}}),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text);
    assert_eq!(chosen.body["audience"]["opt_in"], "double");
    let current = widget.get("/widget/v1/session").await;
    assert_eq!(
        current.body["marketing_consent_label"], "Send me Acme's newsletter",
        "{}",
        current.text
    );

    // Ivy ticks the box in the widget's contact form: she joins, pending her confirmation (double opt-in).
    let opened = widget.open("Do you ship boots to Austria?").await;
    let ivy_conversation = opened["id"].as_str().unwrap().to_owned();
    let form = widget
        .post(
            &format!("/widget/v1/conversations/{ivy_conversation}/contact"),
            json!({"name": "Ivy", "email": "Ivy.Lane@Example.test", "marketing_consent": true}),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert_eq!(form.body["visitor"]["marketing_consent"], true);
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["kind"], "audience_sync");
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    assert_eq!(runs[0]["records_created"], 1);
    let members = mailchimp.members(NEWSLETTER);
    let ivy = &members["ivy.lane@example.test"];
    assert_eq!(
        ivy["id"],
        fake_mailchimp::subscriber_hash("ivy.lane@example.test").as_str()
    );
    assert_eq!(ivy["status"], "pending", "{ivy}");
    assert_eq!(
        ivy["merge_fields"],
        json!({"FNAME": "Ivy"}),
        "a one-word name is a first name"
    );
    let ivy_tags = tags(ivy);
    assert!(ivy_tags.contains(&"website".to_owned()), "{ivy_tags:?}");
    assert!(
        ivy_tags.contains(&"page:/products/boots".to_owned()),
        "{ivy_tags:?}"
    );
    assert!(
        ivy_tags.iter().any(|t| t.starts_with("assistant:")),
        "{ivy_tags:?}"
    );

    // Lee gives an email but no consent: resolving his conversation owes Mailchimp nothing.
    let (lee_conversation, _) = conversation(
        &app,
        json!({"name": "Lee Park", "email": "lee@example.test"}),
        "Where is my order?",
    )
    .await;
    set_status(&app, &lee_conversation, "resolved").await;
    // Ivy's conversation resolved: her tags are brought up to date (one more run).
    let ivy_id = widget.visitor_id.clone();
    app.put(
        &format!("/api/v1/conversations/{ivy_conversation}"),
        json!({"status": "resolved"}),
    )
    .await;
    let runs = settled_runs(&app, &id, 2).await;
    assert_eq!(runs.len(), 2, "only Ivy's runs: {runs:#?}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    assert_eq!(runs[1]["records_updated"], 1, "{:#}", runs[1]);
    assert!(
        !mailchimp
            .members(NEWSLETTER)
            .contains_key("lee@example.test"),
        "never added without consent"
    );

    // Ivy withdraws her consent through the visitor API: she is unsubscribed.
    consent(&app, &ivy_id, false).await;
    let runs = settled_runs(&app, &id, 3).await;
    assert_eq!(runs[2]["status"], "succeeded", "{:#}", runs[2]);
    assert!(
        runs[2]["outcome"].as_str().unwrap().contains("withdrew"),
        "{:#}",
        runs[2]
    );
    assert_eq!(
        mailchimp.members(NEWSLETTER)["ivy.lane@example.test"]["status"],
        "unsubscribed"
    );

    // An address someone permanently deleted in Mailchimp cannot be added again: said, not retried.
    mailchimp.forget("gone@example.test");
    let (_, gone) = conversation(
        &app,
        json!({"name": "Gone Away", "email": "gone@example.test"}),
        "Hello",
    )
    .await;
    consent(&app, &gone, true).await;
    let runs = settled_runs(&app, &id, 4).await;
    assert_eq!(runs[3]["status"], "succeeded", "{:#}", runs[3]);
    assert_eq!(runs[3]["records_skipped"], 1);
    assert!(
        runs[3]["outcome"]
            .as_str()
            .unwrap()
            .contains("Forgotten Email Not Subscribed"),
        "{:#}",
        runs[3]
    );
    assert_eq!(runs[3]["attempt_count"], 1);
    assert!(
        !mailchimp
            .seen()
            .contains(&"POST /3.0/lists/{list}/members".to_owned()),
        "members are upserted by their hash, never posted (which would answer Member Exists)"
    );
}

#[tokio::test]
async fn required_merge_fields_single_opt_in_and_the_vendors_limits() {
    let mailchimp = FakeMailchimp::start().await;
    let app = app_with(&mailchimp).await;
    let id = connected(&app).await;
    let chosen = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"audience_id": PARTNERS, "opt_in": "single", "tag_sources": []}}),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.text);
    let bad = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"merge_fields": [{"tag": "EMAIL", "source": "visitor_email"}]}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(
        bad.text.contains("audience.merge_fields[0].source"),
        "{}",
        bad.text
    );

    // The Partners audience requires COMPANY, which nothing fills: the vendor's refusal is reported, in its words,
    // and not retried.
    let (max_conversation, max) = conversation(
        &app,
        json!({"name": "Max Mustermann", "email": "max@example.test"}),
        "Do you sell wholesale?",
    )
    .await;
    consent(&app, &max, true).await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "failed", "{:#}", runs[0]);
    assert_eq!(runs[0]["error_class"], "validation");
    assert_eq!(runs[0]["attempt_count"], 1);
    let outcome = runs[0]["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("Invalid Resource") && outcome.contains("COMPANY: Please enter a value"),
        "{outcome}"
    );
    assert!(mailchimp.members(PARTNERS).is_empty());

    // With a default for COMPANY, and Mailchimp limiting then failing once, the next run gets through.
    let mapped = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"audience": {"merge_fields": [
                {"tag": "fname", "source": "visitor_first_name"},
                {"tag": "LNAME", "source": "visitor_last_name"},
                {"tag": "COMPANY", "source": "page_title", "default": "Independent"}]}}),
        )
        .await;
    assert_eq!(mapped.status, StatusCode::OK, "{}", mapped.text);
    assert_eq!(mapped.body["audience"]["merge_fields"][0]["tag"], "FNAME");
    mailchimp.limit_next(1);
    mailchimp.fail_next(1);
    set_status(&app, &max_conversation, "resolved").await;
    let runs = settled_runs(&app, &id, 2).await;
    assert_eq!(runs[1]["status"], "succeeded", "{:#}", runs[1]);
    assert!(
        runs[1]["attempt_count"].as_i64().unwrap() >= 3,
        "a 503 and a 429 were retried: {:#}",
        runs[1]
    );
    let classes: Vec<&str> = runs[1]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["error_class"].as_str())
        .collect();
    assert_eq!(classes, ["vendor_error", "rate_limited"], "{:#}", runs[1]);
    let member = &mailchimp.members(PARTNERS)["max@example.test"];
    assert_eq!(member["status"], "subscribed", "single opt-in: {member}");
    assert_eq!(
        member["merge_fields"],
        json!({"FNAME": "Max", "LNAME": "Mustermann", "COMPANY": "Independent"})
    );
    assert_eq!(
        tags(member),
        Vec::<String>::new(),
        "no tag sources, no tags"
    );

    // A member who unsubscribed through Mailchimp stays so when our side syncs again.
    mailchimp.unsubscribe(PARTNERS, "max@example.test");
    app.put(
        &format!("/api/v1/visitors/{max}"),
        json!({"name": "Max M. Mustermann"}),
    )
    .await;
    let runs = settled_runs(&app, &id, 3).await;
    assert_eq!(runs[2]["status"], "succeeded", "{:#}", runs[2]);
    assert!(
        runs[2]["outcome"].as_str().unwrap().contains("stays so"),
        "{:#}",
        runs[2]
    );
    assert_eq!(
        mailchimp.members(PARTNERS)["max@example.test"]["status"],
        "unsubscribed"
    );
}
