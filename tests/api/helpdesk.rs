//! Help desks against the loopback Zendesk: connecting with an API token (a refused one changes nothing), the
//! plan gate, and the tickets that handoffs, forms and unanswered questions open, once per conversation, with
//! the transcript, requester, priority, type and tags the settings' rules give.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs};
use crate::fake_zendesk::{self, FakeZendesk};
use crate::helpers::{TestApp, spawn_app_with};
use crate::integrations::Browser;

const CONNECT: &str = "mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) {
    integration { id status provider account { name value } helpdesk { ticketCreation failedResponses } }
    authorizeUrl message userErrors { field message code } } }";

async fn app_with(zendesk: &FakeZendesk) -> TestApp {
    let base_urls = zendesk.base_urls();
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
    })
    .await
}

fn token_input(subdomain: &str, token: &str) -> Value {
    json!({"input": {"provider": "ZENDESK", "account": {"subdomain": subdomain},
        "credentials": {"email": fake_zendesk::AGENT_EMAIL, "apiKey": token}}})
}

/// Connects Zendesk with the fake's API token; the integration's id.
async fn connected(app: &TestApp) -> String {
    let payload = app
        .mutate(
            CONNECT,
            token_input("acme", fake_zendesk::API_TOKEN),
            "connectIntegration",
        )
        .await;
    payload["integration"]["id"].as_str().unwrap().to_owned()
}

async fn update(app: &TestApp, id: &str, helpdesk: Value) -> Value {
    app.mutate(
        "mutation($id: ID!, $h: HelpdeskSettingsInput!) { updateIntegration(id: $id, input: {helpdesk: $h}) {
            integration { helpdesk { ticketCreation intents failedResponses defaultType tags
                priorityKeywords { keyword priority } typeRules { intent keyword ticketType } } }
            userErrors { field message code } } }",
        json!({"id": id, "h": helpdesk}),
        "updateIntegration",
    )
    .await
}

#[tokio::test]
async fn zendesk_connects_with_an_api_token_and_a_refused_token_changes_nothing() {
    let zendesk = FakeZendesk::start().await;
    let app = app_with(&zendesk).await;

    let refused = app
        .user_error(
            CONNECT,
            token_input("acme", "wrong-token"),
            "connectIntegration",
        )
        .await;
    assert_eq!(refused["field"], json!(["input", "credentials", "apiKey"]));
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("Couldn't authenticate you"),
        "{refused}"
    );
    assert_eq!(app.count_rows("integrations").await, 0, "nothing kept");
    assert_eq!(app.count_rows("integration_calls").await, 0);
    let bad_subdomain = app
        .user_error(CONNECT, token_input("acme corp", "x"), "connectIntegration")
        .await;
    assert_eq!(
        bad_subdomain["field"],
        json!(["input", "account", "subdomain"])
    );
    let mut no_email = token_input("acme", fake_zendesk::API_TOKEN);
    no_email["input"]["credentials"]["email"] = json!("agent");
    let no_email = app
        .user_error(CONNECT, no_email, "connectIntegration")
        .await;
    assert_eq!(no_email["field"], json!(["input", "credentials", "email"]));

    let payload = app
        .mutate(
            CONNECT,
            token_input("https://ACME.zendesk.com/", fake_zendesk::API_TOKEN),
            "connectIntegration",
        )
        .await;
    assert_eq!(payload["authorizeUrl"], Value::Null);
    assert_eq!(
        payload["message"],
        "Connected to Zendesk acme as Ada Agent (admin)"
    );
    let integration = &payload["integration"];
    assert_eq!(integration["status"], "CONNECTED");
    assert!(
        integration["account"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "subdomain", "value": "acme"})),
        "{integration}"
    );
    assert_eq!(
        integration["helpdesk"]["ticketCreation"],
        json!(["HANDOFF", "FORM_SUBMISSION"])
    );
    // The token is sealed: neither the API nor the stored row shows it.
    let rest = app.get("/api/v1/integrations").await;
    assert!(
        !rest.text.contains(fake_zendesk::API_TOKEN),
        "{}",
        rest.text
    );
    let test = app
        .post(
            &format!(
                "/api/v1/integrations/{}/test",
                integration["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.text);
    assert_eq!(test.body["success"], true, "{}", test.text);
    let audit = app
        .get("/api/v1/audit-log?action=integration.connected")
        .await;
    assert_eq!(audit.body["data"][0]["after"]["auth"], "api_key");

    // Help desks need the standard plan.
    app.mutate(
        "mutation { setOrganizationPlan(plan: BASIC) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let basic = app
        .graphql(CONNECT, token_input("acme", fake_zendesk::API_TOKEN))
        .await;
    assert_eq!(
        basic.graphql_code(),
        "PLAN_UPGRADE_REQUIRED",
        "{}",
        basic.text
    );
}

#[tokio::test]
async fn a_handoff_opens_one_ticket_with_the_transcript_requester_rules_and_tags() {
    let zendesk = FakeZendesk::start().await;
    let app = app_with(&zendesk).await;
    let id = connected(&app).await;
    let refused = app
        .user_error(
            "mutation($id: ID!) { updateIntegration(id: $id, input: {helpdesk: {typeRules: [{ticketType: TASK}]}}) {
                integration { id } userErrors { field message code } } }",
            json!({"id": id}),
            "updateIntegration",
        )
        .await;
    assert_eq!(
        refused["field"],
        json!(["input", "helpdesk", "typeRules", "0"])
    );
    let not_zendesks = app
        .user_error(
            "mutation($id: ID!) { updateIntegration(id: $id, input: {helpdesk: {assignment: {mode: ROUND_ROBIN,
                agents: [\"1\"], rules: []}}}) { integration { id } userErrors { field message code } } }",
            json!({"id": id}),
            "updateIntegration",
        )
        .await;
    assert_eq!(
        not_zendesks["field"],
        json!(["input", "helpdesk", "assignment"])
    );
    let settings = update(
        &app,
        &id,
        json!({"priorityKeywords": [{"keyword": "outage", "priority": "URGENT"}],
            "typeRules": [{"keyword": "broken", "ticketType": "INCIDENT"}],
            "tags": ["Web", "vip"]}),
    )
    .await;
    assert_eq!(
        settings["integration"]["helpdesk"]["tags"],
        json!(["web", "vip"])
    );

    // Zendesk is down for the first call: the ticket is opened on the next attempt.
    zendesk.outage(1);
    let (conversation_id, _) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "The checkout is broken, a total outage!",
    )
    .await;
    set_status(&app, &conversation_id, "handed_off").await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run["kind"], "ticket_create");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["attempt_count"], 2, "{run:#}");
    assert_eq!(run["records_created"], 1);

    let tickets = zendesk.tickets();
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket["subject"], "The checkout is broken, a total outage!");
    assert_eq!(ticket["requester"]["email"], "ivy@example.test");
    assert_eq!(ticket["requester"]["name"], "Ivy Lane");
    assert_eq!(ticket["priority"], "urgent", "the keyword rule");
    assert_eq!(ticket["type"], "incident", "the type rule");
    assert_eq!(ticket["external_id"], conversation_id.as_str());
    let tags: Vec<&str> = ticket["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for expected in ["concierge", "page_pricing", "web", "vip"] {
        assert!(tags.contains(&expected), "{expected} in {tags:?}");
    }
    assert!(tags.iter().any(|t| t.starts_with("assistant_")), "{tags:?}");
    let comment = &ticket["comment"];
    assert_eq!(comment["public"], false, "the transcript is for agents");
    let body = comment["body"].as_str().unwrap();
    assert!(
        body.starts_with("Page: https://shop.example/pricing"),
        "{body}"
    );
    assert!(body.contains("Visitor: The checkout is broken"), "{body}");
    assert!(body.contains("/console/inbox/"), "{body}");
    let token = comment["uploads"][0].as_str().unwrap();
    let file = zendesk.upload(token).unwrap();
    assert_eq!(file.file_name, format!("transcript-{conversation_id}.txt"));
    assert!(file.content_type.starts_with("text/plain"));
    assert!(file.content.contains("Visitor: The checkout is broken"));
}

#[tokio::test]
async fn unanswered_questions_open_a_ticket_once_the_count_is_reached() {
    let zendesk = FakeZendesk::start().await;
    let app = app_with(&zendesk).await;
    let id = connected(&app).await;
    update(
        &app,
        &id,
        json!({"ticketCreation": ["HANDOFF", "FAILED_RESPONSES"], "failedResponses": 2}),
    )
    .await;
    // A 429 first is waited out in place (Retry-After: 1 s).
    zendesk.throttle(1);
    let (conversation_id, _) = conversation(
        &app,
        json!({"email": "max@example.test"}),
        "Do you ship to Mars?",
    )
    .await;
    // The empty knowledge base answers neither question; the second one reaches the count, and the
    // assistant's own limit (two) hands the conversation off in the same turn.
    for question in ["And to the Moon?", "Or to Venus?"] {
        let asked = app
            .post(
                &format!("/api/v1/conversations/{conversation_id}/messages"),
                json!({"author": "visitor", "body": question}),
            )
            .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    }
    let runs = settled_runs(&app, &id, 2).await;
    let triggers: Vec<&str> = runs
        .iter()
        .map(|r| r["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(
        triggers,
        ["knowledge_base.query_failed", "handoff.requested"],
        "{runs:#?}"
    );
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    assert_eq!(runs[0]["records_created"], 1);
    // The handoff owes a ticket too, but the conversation has one: nothing new is opened.
    assert_eq!(runs[1]["status"], "succeeded");
    assert_eq!(runs[1]["records_skipped"], 1);
    assert!(
        runs[1]["outcome"]
            .as_str()
            .unwrap()
            .contains("is already open for this conversation"),
        "{:#}",
        runs[1]
    );
    let tickets = zendesk.tickets();
    assert_eq!(tickets.len(), 1, "one ticket per conversation");
    assert_eq!(tickets[0]["subject"], "Do you ship to Mars?");
    assert_eq!(tickets[0]["requester"]["name"], "max@example.test");
    assert_eq!(tickets[0]["priority"], "normal");
    assert_eq!(tickets[0]["type"], "question");
    assert!(
        zendesk
            .seen()
            .iter()
            .filter(|s| *s == "POST /api/v2/tickets.json")
            .count()
            == 1
    );
}

#[tokio::test]
async fn agents_replies_in_zendesk_reach_the_visitor_and_a_solved_ticket_resolves_the_conversation()
{
    let zendesk = FakeZendesk::start().await;
    let app = app_with(&zendesk).await;
    let id = connected(&app).await;
    // Connecting registered a webhook to this server and a trigger on the tickets it opens.
    let webhooks = zendesk.webhooks();
    assert_eq!(webhooks.len(), 1, "{webhooks:#?}");
    let endpoint = webhooks[0]["endpoint"].as_str().unwrap().to_owned();
    assert_eq!(
        endpoint,
        app.url(&format!("/integrations/zendesk/events/{id}"))
    );
    let triggers = zendesk.triggers();
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0]["conditions"]["all"][0]["value"], "concierge");

    let (conversation_id, _) = conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "My parcel never came",
    )
    .await;
    set_status(&app, &conversation_id, "handed_off").await;
    let runs = settled_runs(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);
    let ticket_id = zendesk.tickets()[0]["id"].as_u64().unwrap();

    // An agent answers in Zendesk and the requester writes there too (by email): only the agent's reply
    // reaches the widget. The same notice again (Zendesk retries) changes nothing.
    assert_eq!(
        zendesk
            .comment(ticket_id, "Sorry! A new parcel left today.", false)
            .await,
        [StatusCode::OK]
    );
    assert_eq!(
        zendesk.comment(ticket_id, "Thanks!", true).await,
        [StatusCode::OK]
    );
    zendesk.fire(ticket_id).await;
    let runs = settled_runs(&app, &id, 4).await;
    let syncs: Vec<String> = runs[1..]
        .iter()
        .map(|r| format!("{} {} {}", r["kind"], r["status"], r["records_created"]))
        .collect();
    assert_eq!(
        syncs,
        [
            "\"ticket_sync\" \"succeeded\" 1",
            "\"ticket_sync\" \"succeeded\" 0",
            "\"ticket_sync\" \"succeeded\" 0"
        ],
        "{runs:#?}"
    );
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
    assert_eq!(from_agents, ["Sorry! A new parcel left today."]);

    // Forged, unsigned and stale notices are refused; a notice about a ticket that is not this connection's
    // (here one naming another conversation) is taken and ignored.
    let client = reqwest::Client::new();
    let secret = webhooks[0]["secret"].as_str().unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body =
        json!({"ticket_id": ticket_id.to_string(), "external_id": conversation_id}).to_string();
    let send = |signature: Option<String>, timestamp: String, body: String| {
        let mut request = client
            .post(&endpoint)
            .header("content-type", "application/json")
            .header("x-zendesk-webhook-signature-timestamp", timestamp)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-zendesk-webhook-signature", signature);
        }
        request.send()
    };
    let forged = send(
        Some(fake_zendesk::sign("not-the-secret", &now, body.as_bytes())),
        now.clone(),
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unsigned = send(None, now.clone(), body.clone()).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let old = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let stale = send(
        Some(fake_zendesk::sign(secret, &old, body.as_bytes())),
        old,
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let (other, _) = conversation(&app, json!({"email": "zoe@example.test"}), "Hi").await;
    let elsewhere = json!({"ticket_id": ticket_id.to_string(), "external_id": other}).to_string();
    let ignored = send(
        Some(fake_zendesk::sign(secret, &now, elsewhere.as_bytes())),
        now.clone(),
        elsewhere,
    )
    .await
    .unwrap();
    assert_eq!(ignored.status(), StatusCode::OK);
    assert_eq!(
        ignored.text().await.unwrap(),
        "not a ticket of this connection: ignored"
    );
    let elsewhere_id = client
        .post(app.url("/integrations/zendesk/events/int_01J0000000000000000000000"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere_id.status(), StatusCode::NOT_FOUND);

    // Solved in Zendesk: the conversation is resolved here.
    assert_eq!(zendesk.solve(ticket_id).await, [StatusCode::OK]);
    let runs = settled_runs(&app, &id, 5).await;
    assert_eq!(runs[4]["records_updated"], 1, "{:#}", runs[4]);
    let resolved = app
        .get(&format!("/api/v1/conversations/{conversation_id}"))
        .await;
    assert_eq!(resolved.body["status"], "resolved", "{}", resolved.text);
    let events = app.get("/api/v1/events?types=conversation.resolved").await;
    assert_eq!(events.body["data"][0]["data"]["resolved_by"], "Zendesk");

    // Disconnecting removes the webhook and the trigger from Zendesk.
    let done = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(zendesk.webhooks().is_empty());
    assert!(zendesk.triggers().is_empty());
}

#[tokio::test]
async fn zendesk_connects_through_oauth_and_stores_each_rotated_pair() {
    let zendesk = FakeZendesk::start().await;
    let base_urls = zendesk.base_urls();
    let app = spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.oauth_zendesk_client_id = Some(fake_zendesk::CLIENT_ID.to_owned());
        settings.oauth_zendesk_client_secret = Some(fake_zendesk::CLIENT_SECRET.to_owned().into());
    })
    .await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let response = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: ZENDESK, returnTo: \"/console/settings/integrations\",
                account: {subdomain: \"acme\"}}) { authorizeUrl userErrors { field message } } }",
            json!({}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let payload = &body["data"]["connectIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let authorize = url::Url::parse(payload["authorizeUrl"].as_str().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/oauth/authorizations/new");
    let query: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(query["scope"], "read write");
    assert_eq!(
        query["redirect_uri"],
        app.url("/integrations/zendesk/callback")
    );
    let (_, location) = browser.follow(authorize.as_str()).await;
    assert!(location.contains("outcome=connected"), "{location}");
    assert!(
        location.contains("Connected+to+Zendesk+acme+as+Ada+Agent"),
        "{location}"
    );
    let list = app.get("/api/v1/integrations").await;
    let connected = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "zendesk")
        .unwrap()["integration"]
        .clone();
    assert_eq!(connected["status"], "connected");
    assert!(connected["token_expires_at"].is_string(), "{connected}");
    assert_eq!(
        zendesk.webhooks().len(),
        1,
        "replies come back through OAuth too"
    );
    let id = connected["id"].as_str().unwrap().to_owned();

    // Each expired access token is refreshed once; Zendesk rotates the pair, so the second refresh only works
    // with the refresh token the first one handed back.
    for round in 1..=2 {
        zendesk.expire_access_tokens();
        let test = app
            .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(test.body["success"], true, "round {round}: {}", test.text);
        assert_eq!(zendesk.refreshes(), round);
    }

    // Disconnecting revokes the token and removes the webhook and the trigger.
    let done = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(
        done.body["revocation"], "Zendesk revoked the authorization",
        "{}",
        done.text
    );
    assert!(zendesk.webhooks().is_empty());
    assert!(zendesk.triggers().is_empty());
}

#[tokio::test]
async fn kill_9_during_ticket_creation_leaves_one_ticket_per_conversation() {
    let zendesk = FakeZendesk::start().await;
    let app = app_with(&zendesk).await;
    let id = connected(&app).await;
    // Zendesk makes each ticket at once but answers late, so the kill lands between the two.
    zendesk.answer_tickets_after(std::time::Duration::from_millis(300));
    let port = crate::helpers::free_port();
    let env = vec![
        ("CONCIERGE_PROVIDER_BASE_URLS", zendesk.base_urls()),
        ("CONCIERGE_INTEGRATION_RETRY_SCHEDULE", "1,1,1".to_owned()),
        ("CONCIERGE_INTEGRATION_TIMEOUT_SECS", "2".to_owned()),
        ("CONCIERGE_INTEGRATION_LEASE_SECS", "3".to_owned()),
    ];
    let process = crate::helpers::ServeProcess::start_with(&app.settings, port, &env).await;
    const CONVERSATIONS: usize = 12;
    for n in 0..CONVERSATIONS {
        let (conversation_id, _) = conversation(
            &app,
            json!({"email": format!("k{n}@example.test")}),
            "Please call me",
        )
        .await;
        set_status(&app, &conversation_id, "handed_off").await;
    }
    for _ in 0..200 {
        if zendesk.tickets().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let before = zendesk.tickets().len();
    assert!(
        before < CONVERSATIONS,
        "the tickets were still being opened ({before})"
    );
    process.kill_9();
    let runs = settled_runs(&app, &id, CONVERSATIONS).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    let tickets = zendesk.tickets();
    let mut conversations: Vec<&str> = tickets
        .iter()
        .map(|t| t["external_id"].as_str().unwrap())
        .collect();
    conversations.sort_unstable();
    conversations.dedup();
    assert_eq!(tickets.len(), CONVERSATIONS, "one ticket per conversation");
    assert_eq!(conversations.len(), CONVERSATIONS);
    println!(
        "kill -9 during ticket creation: {before} of {CONVERSATIONS} tickets before the kill, {} after",
        tickets.len()
    );
}
