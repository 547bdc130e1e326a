//! Freshdesk against its loopback fake: connecting with an API key (a refused key changes nothing), tickets as
//! multipart forms with the transcript attached, found again by their conversation's tag after a lost answer,
//! and the brief's assignment rules: round robin, load balanced (open tickets read from Freshdesk), by topic and
//! by skills; agents' replies back through the URL an automation rule calls.

use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::fake_freshdesk::{self, FakeFreshdesk};
use crate::helpers::{TestApp, spawn_app_with};

const CONNECT: &str =
    "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
    integration { id status } message userErrors { field message code } } }";

async fn app_with(freshdesk: &FakeFreshdesk) -> TestApp {
    let base_urls = freshdesk.base_urls();
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    })
    .await
}

fn key_input(key: &str) -> Value {
    json!({"input": {"provider": "FRESHDESK", "account": {"subdomain": "acme.freshdesk.com"},
        "credentials": {"apiKey": key}}})
}

async fn assign(app: &TestApp, id: &str, assignment: Value) {
    app.mutate(
        "mutation($id: ID!, $a: HelpdeskAssignmentInput!) { updateIntegration(id: $id, input: {helpdesk: {assignment: $a}}) {
            integration { id } userErrors { field message code } } }",
        json!({"id": id, "a": assignment}),
        "updateIntegration",
    )
    .await;
}

/// A handed-off conversation with `message`; its id.
async fn handed_off(app: &TestApp, email: &str, message: &str) -> String {
    let (id, _) = conversation(app, json!({"name": "Vic Tor", "email": email}), message).await;
    set_status(app, &id, "handed_off").await;
    id
}

#[tokio::test]
async fn freshdesk_connects_with_its_key_and_assigns_tickets_by_the_rules() {
    let freshdesk = FakeFreshdesk::start().await;
    let app = app_with(&freshdesk).await;
    let refused = app
        .user_error(CONNECT, key_input("wrong-key"), "connectIntegration")
        .await;
    assert_eq!(refused["field"], json!(["input", "credentials", "apiKey"]));
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("You have to be logged in"),
        "{refused}"
    );
    assert_eq!(app.count_rows("integrations").await, 0);
    let connected = app
        .mutate(
            CONNECT,
            key_input(fake_freshdesk::API_KEY),
            "connectIntegration",
        )
        .await;
    assert_eq!(
        connected["message"],
        "Connected to Freshdesk acme as Ada Agent"
    );
    let id = connected["integration"]["id"].as_str().unwrap().to_owned();

    // Validation names the field.
    let bad = app
        .user_error(
            "mutation($id: ID!) { updateIntegration(id: $id, input: {helpdesk: {assignment: {mode: ROUND_ROBIN, agents: [], rules: []}}}) {
                integration { id } userErrors { field message code } } }",
            json!({"id": id}),
            "updateIntegration",
        )
        .await;
    assert_eq!(
        bad["field"],
        json!(["input", "helpdesk", "assignment", "agents"])
    );

    // Round robin over two agents: 101, 102, 101.
    assign(
        &app,
        &id,
        json!({"mode": "ROUND_ROBIN", "agents": ["101", "102"], "rules": []}),
    )
    .await;
    let first = handed_off(&app, "r1@example.test", "My order is late").await;
    for n in 2..=3 {
        handed_off(&app, &format!("r{n}@example.test"), "Where is it?").await;
    }
    let runs = settled_runs(&app, &id, 3).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    let responders: Vec<Value> = freshdesk
        .tickets()
        .iter()
        .map(|t| t["responder_id"].clone())
        .collect();
    assert_eq!(responders, [json!(101), json!(102), json!(101)]);
    assert!(
        runs[1]["outcome"]
            .as_str()
            .unwrap()
            .contains("assigned round robin to agent 102"),
        "{:#}",
        runs[1]
    );
    let ticket = &freshdesk.tickets()[0];
    assert_eq!(ticket["subject"], "My order is late");
    assert_eq!(ticket["email"], "r1@example.test");
    assert_eq!(ticket["source"], 7, "chat");
    assert_eq!(ticket["status"], 2, "open");
    assert_eq!(ticket["type"], "Question");
    let tags = ticket["tags"].as_array().unwrap();
    assert!(tags.contains(&json!("concierge")), "{tags:?}");
    assert!(
        tags.contains(&json!(format!("concierge-{}", first.to_lowercase()))),
        "{tags:?}"
    );
    let form = &freshdesk.forms()[0];
    let file = form.iter().find(|p| p.name == "attachments[]").unwrap();
    assert_eq!(
        file.file_name.as_deref(),
        Some(format!("transcript-{first}.txt").as_str())
    );
    assert!(
        file.value.contains("Visitor: My order is late"),
        "{}",
        file.value
    );
    let description = form.iter().find(|p| p.name == "description").unwrap();
    assert!(
        description.value.contains("<br>"),
        "HTML: {}",
        description.value
    );

    // Load balanced: the agent with the fewest open tickets in Freshdesk (101 has five there and two from round
    // robin, 102 one, 103 none).
    freshdesk.set_open_tickets(101, 5);
    assign(
        &app,
        &id,
        json!({"mode": "LOAD_BALANCED", "agents": ["101", "102", "103"], "rules": []}),
    )
    .await;
    handed_off(&app, "l1@example.test", "Hello").await;
    let runs = settled_runs(&app, &id, 4).await;
    assert_eq!(freshdesk.tickets()[3]["responder_id"], 103, "{:#}", runs[3]);
    assert!(
        runs[3]["outcome"]
            .as_str()
            .unwrap()
            .contains("assigned to agent 103 with the fewest open tickets (0)"),
        "{:#}",
        runs[3]
    );

    // By topic: a refund goes to the billing group's agent; by skills: the least loaded of the skilled agents.
    assign(
        &app,
        &id,
        json!({"mode": "BY_TOPIC", "agents": [], "rules": [
            {"keyword": "refund", "groupId": "7001", "agentIds": ["102"]}]}),
    )
    .await;
    handed_off(&app, "t1@example.test", "I want a refund").await;
    let runs = settled_runs(&app, &id, 5).await;
    assert_eq!(freshdesk.tickets()[4]["group_id"], 7001, "{:#}", runs[4]);
    assert_eq!(freshdesk.tickets()[4]["responder_id"], 102);
    assign(
        &app,
        &id,
        json!({"mode": "SKILLS", "agents": [], "rules": [
            {"keyword": "invoice", "agentIds": ["101", "102"]}]}),
    )
    .await;
    handed_off(&app, "s1@example.test", "My invoice is wrong").await;
    let runs = settled_runs(&app, &id, 6).await;
    // 101 has seven open tickets; 102 has two (one by round robin, one by topic).
    assert_eq!(freshdesk.tickets()[5]["responder_id"], 102, "{:#}", runs[5]);
}

#[tokio::test]
async fn a_lost_answer_does_not_open_a_second_ticket() {
    let freshdesk = FakeFreshdesk::start().await;
    let app = app_with(&freshdesk).await;
    let connected = app
        .mutate(
            CONNECT,
            key_input(fake_freshdesk::API_KEY),
            "connectIntegration",
        )
        .await;
    let id = connected["integration"]["id"].as_str().unwrap().to_owned();
    // Freshdesk makes the ticket and the answer is lost (502): the retry finds it by its tag.
    freshdesk.lose_answers(1);
    handed_off(&app, "x@example.test", "Help").await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    assert_eq!(runs[0]["attempt_count"], 2);
    assert_eq!(freshdesk.tickets().len(), 1);
    let posts = freshdesk
        .seen()
        .iter()
        .filter(|s| *s == "POST /api/v2/tickets")
        .count();
    assert_eq!(
        posts, 1,
        "the retry searched by the tag and did not post again"
    );
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("was already open"),
        "{:#}",
        runs[0]
    );
}

#[tokio::test]
async fn agents_replies_in_freshdesk_come_back_through_the_automation_url_and_resolve_the_conversation()
 {
    let freshdesk = FakeFreshdesk::start().await;
    let app = app_with(&freshdesk).await;
    let connected = app
        .mutate(
            CONNECT,
            key_input(fake_freshdesk::API_KEY),
            "connectIntegration",
        )
        .await;
    let id = connected["integration"]["id"].as_str().unwrap().to_owned();
    // Freshdesk signs nothing: the integration shows a URL with a secret for the admin's automation rule.
    let shown = app
        .graphql_ok(
            "query($id: ID!) { integration(id: $id) { inboundUrl } }",
            json!({"id": id}),
        )
        .await;
    let url = shown["integration"]["inboundUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = app.url(&format!("/integrations/freshdesk/events/{id}/"));
    assert!(url.starts_with(&prefix), "{url}");
    let secret = &url[prefix.len()..];
    assert!(secret.len() >= 40, "{secret}");
    let rest = app.get(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(rest.body["inbound_url"], url.as_str());
    freshdesk.set_automation(&url);

    let conversation_id = handed_off(&app, "ivy@example.test", "My parcel never came").await;
    settled_runs(&app, &id, 1).await;
    let ticket = freshdesk.tickets()[0]["id"].as_u64().unwrap();

    // A hundred private notes first (the reply is on the second page), the requester's own mail, then an
    // agent's public reply, which fires the rule: only the reply reaches the widget.
    for n in 0..100 {
        assert_eq!(
            freshdesk
                .converse(ticket, &format!("note {n}"), true, false)
                .await,
            None
        );
    }
    freshdesk.converse(ticket, "Any news?", false, true).await;
    assert_eq!(
        freshdesk
            .converse(ticket, "A new parcel left today.", false, false)
            .await,
        Some(200)
    );
    let runs = settled_runs(&app, &id, 2).await;
    assert_eq!(runs[1]["kind"], "ticket_sync");
    assert_eq!(runs[1]["records_created"], 1, "{:#}", runs[1]);
    let messages = app
        .get(&format!(
            "/api/v1/conversations/{conversation_id}/messages?limit=100"
        ))
        .await;
    let from_agents: Vec<&str> = messages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "agent")
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(from_agents, ["A new parcel left today."]);

    // A wrong secret is refused; a ticket that is not this connection's is ignored; a body without a ticket is
    // malformed.
    let client = reqwest::Client::new();
    let post = |url: String, body: Value| client.post(url).json(&body).send();
    let forged = post(
        format!("{prefix}not-the-secret"),
        json!({"freshdesk_webhook": {"ticket_id": ticket}}),
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = post(
        app.url(&format!("/integrations/freshdesk/events/{id}")),
        json!({"freshdesk_webhook": {"ticket_id": ticket}}),
    )
    .await
    .unwrap();
    assert_eq!(unsigned.status(), 401);
    let foreign = post(url.clone(), json!({"ticket_id": 999_999}))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert_eq!(
        foreign.text().await.unwrap(),
        "not a ticket of this connection: ignored"
    );
    let malformed = post(url.clone(), json!({"hello": 1})).await.unwrap();
    assert_eq!(malformed.status(), 400);

    // Resolved in Freshdesk: the conversation is resolved here.
    assert_eq!(freshdesk.resolve(ticket).await, Some(200));
    let runs = settled_runs(&app, &id, 3).await;
    assert_eq!(runs[2]["records_updated"], 1, "{:#}", runs[2]);
    let resolved = app
        .get(&format!("/api/v1/conversations/{conversation_id}"))
        .await;
    assert_eq!(resolved.body["status"], "resolved", "{}", resolved.text);

    // Reconnecting changes the secret: the old URL is refused.
    app.mutate(
        CONNECT,
        key_input(fake_freshdesk::API_KEY),
        "connectIntegration",
    )
    .await;
    let stale = post(url, json!({"ticket_id": ticket})).await.unwrap();
    assert_eq!(stale.status(), 401);
}
