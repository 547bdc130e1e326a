//! The emails sent to visitors, through the organization's SMTP server (aiosmtpd with STARTTLS and AUTH) or
//! SendGrid's dynamic templates: templates checked, overridden and previewed; the welcome, the transcript, the
//! survey and the follow-up sent once each; the unsubscribe link (one click, RFC 8058) and the survey's rating
//! links working without signing in.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status};
use crate::fake_sendgrid::{self, FakeSendGrid};
use crate::helpers::{TestApp, spawn_app_with};
use crate::smtp::{SmtpPeer, connect, mail_app};

const PREVIEW: &str =
    "query($kind: EmailTemplateKind!, $draft: EmailTemplateDraftInput, $conversationId: ID) {
    previewEmailTemplate(kind: $kind, draft: $draft, conversationId: $conversationId) {
        to subject text html unsubscribeUrl } }";

/// One email as the peer received it: recipients, subject, and its decoded source.
struct Received {
    to: Vec<String>,
    subject: String,
    data: String,
}

fn received(peer: &SmtpPeer) -> Vec<Received> {
    crate::notifications::mails(peer)
        .into_iter()
        .map(|(to, subject, data)| Received { to, subject, data })
        .collect()
}

/// The path of the first URL in `data` that starts with `prefix` (a link of ours).
fn link(data: &str, prefix: &str) -> String {
    let start = data
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {data}"));
    let rest = &data[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '"' || c == '<')
        .unwrap_or(rest.len());
    let url = url::Url::parse(&rest[..end]).unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

async fn template(app: &TestApp, kind: &str, body: Value) -> Value {
    let reply = app
        .put(&format!("/api/v1/email-templates/{kind}"), body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// Makes a pending job of `kind` due now (the hours it waits, passed).
async fn due_now(app: &TestApp, kind: &str) {
    use entities::integration_job;
    let jobs = integration_job::Entity::find()
        .filter(integration_job::Column::Kind.eq(kind))
        .filter(integration_job::Column::Status.eq("pending"))
        .all(app.db.conn())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "one {kind} job waits");
    let mut job: integration_job::ActiveModel = jobs[0].clone().into();
    job.next_attempt_at = sea_orm::Set(chrono::Utc::now());
    sea_orm::ActiveModelTrait::update(job, app.db.conn())
        .await
        .unwrap();
}

#[tokio::test]
async fn visitor_emails_go_once_each_with_working_unsubscribe_and_rating_links() {
    let peer = SmtpPeer::start("starttls", true, &[]).await;
    let app = mail_app().await;
    let smtp = connect(&app, &peer, "STARTTLS", true).await;

    // Every email is off until turned on; mistakes are refused, naming the part and the line, and change nothing.
    let list = app.get("/api/v1/email-templates").await;
    let kinds: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["welcome", "transcript", "follow_up", "satisfaction_survey"]
    );
    assert!(
        list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["enabled"] == false)
    );
    let broken = app
        .put(
            "/api/v1/email-templates/transcript",
            json!({"text": "Hello\n{% for m in conversation.messages %}{{ m.body }}"}),
        )
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.text
    );
    assert!(
        broken.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("text: "),
        "{}",
        broken.text
    );
    assert!(broken.text.contains("line 2"), "{}", broken.text);
    for (kind, body, field) in [
        ("welcome", json!({"delay_hours": 3}), "delay_hours"),
        ("follow_up", json!({"delay_hours": 0}), "delay_hours"),
        (
            "transcript",
            json!({"sendgrid_template_id": "template-1"}),
            "sendgrid_template_id",
        ),
        ("transcript", json!({"subject": "Two\nlines"}), "subject"),
    ] {
        let refused = app
            .put(&format!("/api/v1/email-templates/{kind}"), body)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{}",
            refused.text
        );
    }
    assert_eq!(
        app.get("/api/v1/email-templates/newsletter").await.status,
        StatusCode::NOT_FOUND
    );
    let unchanged = app.get("/api/v1/email-templates/transcript").await;
    assert_eq!(unchanged.body["custom_text"], false, "{}", unchanged.text);
    assert_eq!(app.count_rows("email_templates").await, 0);

    // A draft is previewed with the example conversation, or with a real one; nothing is sent.
    let preview = app
        .graphql_ok(
            PREVIEW,
            json!({"kind": "TRANSCRIPT", "draft": {"subject": "Your chat about {{ conversation.page_title }}"}}),
        )
        .await;
    assert_eq!(
        preview["previewEmailTemplate"]["subject"],
        "Your chat about Pricing"
    );
    assert!(
        preview["previewEmailTemplate"]["html"]
            .as_str()
            .unwrap()
            .contains("Bo from Acme")
    );

    template(&app, "welcome", json!({"enabled": true})).await;
    let transcript = template(
        &app,
        "transcript",
        json!({"enabled": true, "subject": "Your chat with {{ organization }}{% if conversation.page_title %} about {{ conversation.page_title }}{% endif %}"}),
    )
    .await;
    assert_eq!(transcript["custom_subject"], true);
    assert_eq!(transcript["custom_text"], false);
    template(&app, "satisfaction_survey", json!({"enabled": true})).await;
    let follow_up = template(
        &app,
        "follow_up",
        json!({"enabled": true, "delay_hours": 2}),
    )
    .await;
    assert_eq!(follow_up["delay_hours"], 2);

    // A visitor who starts a conversation with an email is welcomed; one without gets nothing.
    let (conv, visitor) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "How long does shipping to Austria take?",
    )
    .await;
    conversation(&app, json!({"name": "Lee"}), "Hello?").await;
    let mails = peer.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let welcome = &received(&peer)[0];
    assert_eq!(welcome.to, ["ivy@example.test"]);
    assert!(
        welcome.subject.starts_with("Welcome, Ivy"),
        "{}",
        welcome.subject
    );
    assert!(
        welcome
            .data
            .contains("How long does shipping to Austria take?"),
        "{}",
        welcome.data
    );
    assert!(
        welcome
            .data
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );

    // Ivy comes back (once her welcome's run is recorded): her second conversation owes no second welcome, not
    // even a run that skips it.
    for _ in 0..100 {
        let runs = app
            .get(&format!("/api/v1/integrations/{smtp}/runs?limit=100"))
            .await;
        if runs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "visitor_email" && r["status"] == "succeeded")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again = app
        .post(
            "/api/v1/conversations",
            json!({"visitor_id": visitor, "initial_message": "Me again: do you ship to Italy?"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    let runs = app
        .get(&format!("/api/v1/integrations/{smtp}/runs?limit=100"))
        .await;
    let welcomes = runs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "visitor_email")
        .count();
    assert_eq!(welcomes, 1, "{}", runs.text);

    let real = app
        .graphql_ok(
            PREVIEW,
            json!({"kind": "TRANSCRIPT", "conversationId": conv}),
        )
        .await;
    assert_eq!(
        real["previewEmailTemplate"]["to"],
        json!(["ivy@example.test"])
    );
    assert!(
        real["previewEmailTemplate"]["text"]
            .as_str()
            .unwrap()
            .contains("Ivy Lane ("),
        "{real}"
    );

    // Resolved: the transcript and the survey go at once, the follow-up waits its two hours.
    set_status(&app, &conv, "resolved").await;
    peer.wait_for(3).await;
    let all = received(&peer);
    let transcript = all
        .iter()
        .find(|m| m.subject.starts_with("Your chat with"))
        .expect("the transcript");
    assert!(
        transcript
            .data
            .contains("How long does shipping to Austria take?"),
        "{}",
        transcript.data
    );
    assert!(transcript.data.contains("multipart/alternative"));
    let survey = all
        .iter()
        .find(|m| m.subject.starts_with("How did we do?"))
        .expect("the survey");
    let runs = app
        .get(&format!("/api/v1/integrations/{smtp}/runs?limit=100"))
        .await;
    let waiting: Vec<&Value> = runs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "follow_up")
        .collect();
    assert_eq!(waiting.len(), 1, "{}", runs.text);
    assert_eq!(waiting[0]["status"], "pending");
    let due: chrono::DateTime<chrono::Utc> = waiting[0]["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        due > chrono::Utc::now() + chrono::Duration::minutes(110),
        "{due}"
    );

    // The survey's links record the rating without signing in (feedback.received); the page changes it.
    let rate = link(&survey.data, &app.url("/email/rate/"));
    assert!(rate.ends_with("rating=1"), "{rate}");
    let four = rate.replace("rating=1", "rating=4");
    let browser = reqwest::Client::new();
    let page = browser.get(app.url(&four)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains("has your rating: 4 of 5"), "{page}");
    let rated = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(rated.status, StatusCode::OK);
    let events = app.get("/api/v1/events?types=feedback.received").await;
    let feedback = &events.body["data"].as_array().unwrap().last().unwrap()["data"];
    assert_eq!(feedback["rating"], 4, "{}", events.text);
    let (path, _) = four.split_once('?').unwrap();
    let changed = browser
        .post(app.url(path))
        .form(&[("rating", "2"), ("comment", "The parcel was late")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let events = app.get("/api/v1/events?types=feedback.received").await;
    let last = &events.body["data"].as_array().unwrap().last().unwrap()["data"];
    assert_eq!(last["rating"], 2);
    assert_eq!(last["comment"], "The parcel was late");
    assert_eq!(last["replaced"], true);
    let forged = browser
        .get(
            app.url(
                &four
                    .replace("/email/rate/", "/email/rate/x")
                    .replace("rating=4", "rating=5"),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Two hours later, the follow-up goes (once).
    due_now(&app, "follow_up").await;
    peer.wait_for(4).await;
    let follow = received(&peer)
        .into_iter()
        .find(|m| m.subject.starts_with("Is everything sorted?"))
        .expect("the follow-up");
    assert!(
        follow
            .data
            .contains("You asked us \"How long does shipping to Austria take?\""),
        "{}",
        follow.data
    );

    // Unsubscribing is one POST to the List-Unsubscribe URL (RFC 8058); following it only shows the button.
    let unsubscribe = link(&welcome.data, &app.url("/email/unsubscribe/"));
    let page = browser
        .get(app.url(&unsubscribe))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<button type=\"submit\">Unsubscribe</button>"),
        "{page}"
    );
    let still = app.get(&format!("/api/v1/visitors/{visitor}")).await;
    assert!(
        still.body["unsubscribed_at"].is_null(),
        "a link followed unsubscribes nobody"
    );
    let done = browser
        .post(app.url(&unsubscribe))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let gone = app.get(&format!("/api/v1/visitors/{visitor}")).await;
    assert!(gone.body["unsubscribed_at"].is_string(), "{}", gone.text);
    assert_eq!(gone.body["marketing_consent"], false);
    let tampered = browser
        .post(app.url(&format!("{unsubscribe}x")))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::FORBIDDEN);

    // Reopened and resolved again: nothing more is owed to a visitor who unsubscribed.
    set_status(&app, &conv, "open").await;
    set_status(&app, &conv, "resolved").await;
    let runs = app
        .get(&format!("/api/v1/integrations/{smtp}/runs?limit=100"))
        .await;
    let visitor_runs = runs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["kind"].as_str(), Some("visitor_email" | "follow_up")))
        .count();
    assert_eq!(
        visitor_runs, 3,
        "welcome, resolution, follow-up: {}",
        runs.text
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(peer.received().len(), 4);
}

#[tokio::test]
async fn sendgrid_sends_a_visitor_email_through_its_dynamic_template() {
    let sendgrid = FakeSendGrid::start().await;
    let base_urls = sendgrid.base_urls();
    let app = spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    })
    .await;
    app.mutate(
        "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { integration { id } userErrors { field message } } }",
        json!({"input": {"provider": "SENDGRID", "credentials": {"apiKey": fake_sendgrid::API_KEY, "email": fake_sendgrid::SENDER}}}),
        "connectIntegration",
    )
    .await;
    let id = "d-0123456789abcdef0123456789ABCDEF";
    let saved = template(
        &app,
        "transcript",
        json!({"enabled": true, "sendgrid_template_id": id}),
    )
    .await;
    assert_eq!(saved["sendgrid_template_id"], id.to_lowercase());
    let (conv, _) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "Do you ship to Austria?",
    )
    .await;
    set_status(&app, &conv, "resolved").await;
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = sendgrid.sent();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = &sent[0];
    assert_eq!(body["template_id"], id.to_lowercase());
    assert!(
        body.get("content").is_none(),
        "SendGrid renders the template: {body}"
    );
    let data = &body["personalizations"][0]["dynamic_template_data"];
    assert_eq!(data["visitor"]["first_name"], "Ivy");
    assert_eq!(
        data["conversation"]["messages"][0]["body"],
        "Do you ship to Austria?"
    );
    assert!(
        data["unsubscribe_url"]
            .as_str()
            .unwrap()
            .contains("/email/unsubscribe/")
    );
    assert!(
        body["headers"]["List-Unsubscribe"]
            .as_str()
            .unwrap()
            .contains("/email/unsubscribe/"),
        "{body}"
    );
    assert_eq!(
        body["personalizations"][0]["to"][0]["email"],
        "ivy@example.test"
    );
}
