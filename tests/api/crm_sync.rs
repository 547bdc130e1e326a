//! CRM jobs against the loopback HubSpot: owed with the events that cause them, run by the worker, idempotent
//! through links, serialized per visitor, retried through outages, held while an authorization is refused.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_hubspot::FakeHubSpot;
use crate::helpers::{ServeProcess, TestApp};
use crate::integrations::{Browser, app_adjusted, connected};

/// A server with HubSpot connected, retrying after a second.
async fn hubspot_connected() -> (FakeHubSpot, TestApp, String) {
    let fake = FakeHubSpot::start().await;
    let app = app_adjusted(&fake, |s| s.integration_retry_schedule = "1,1,1".to_owned()).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let id = connected(&app, &browser).await;
    (fake, app, id)
}

/// Starts a conversation with a visitor who left these details.
pub async fn conversation(app: &TestApp, visitor: Value, message: &str) -> (String, String) {
    let reply = app
        .post(
            "/api/v1/conversations",
            json!({"visitor": visitor, "initial_message": message, "source_url": "https://shop.example/pricing"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["visitor_id"].as_str().unwrap().to_owned(),
    )
}

pub async fn set_status(app: &TestApp, conversation: &str, status: &str) {
    let reply = app
        .put(
            &format!("/api/v1/conversations/{conversation}"),
            json!({"status": status}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// The integration's runs (oldest first) once `count` of them exist and none is pending.
pub async fn settled_runs(app: &TestApp, integration: &str, count: usize) -> Vec<Value> {
    let mut last = Value::Null;
    for _ in 0..150 {
        let reply = app
            .get(&format!(
                "/api/v1/integrations/{integration}/runs?limit=100"
            ))
            .await;
        let runs: Vec<Value> = reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] != "test")
            .rev()
            .cloned()
            .collect();
        if runs.len() >= count && runs.iter().all(|r| r["status"] != "pending") {
            return runs;
        }
        last = reply.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the runs did not settle: {last}");
}

fn summary(runs: &[Value]) -> Vec<String> {
    runs.iter()
        .map(|r| {
            format!(
                "{} {} {}/{}/{}/{}",
                r["kind"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["records_created"],
                r["records_updated"],
                r["records_skipped"],
                r["records_failed"]
            )
        })
        .collect()
}

#[tokio::test]
async fn a_handoff_syncs_the_contact_and_opens_one_ticket_which_the_resolution_completes() {
    let (fake, app, integration) = hubspot_connected().await;
    let (conversation, _) = conversation(
        &app,
        json!({"name": "Ann Lee", "email": "ann@example.test", "phone": "+49 30 1234567"}),
        "Do you ship to Austria?",
    )
    .await;
    // The conversation owes a contact sync; the handoff another, and a ticket (the default case rule).
    set_status(&app, &conversation, "handed_off").await;
    let runs = settled_runs(&app, &integration, 3).await;
    assert_eq!(
        summary(&runs),
        [
            "contact_sync succeeded 1/0/0/0",
            "contact_sync succeeded 0/0/1/0",
            "case_create succeeded 1/0/1/0",
        ],
        "{runs:#?}"
    );
    assert_eq!(runs[2]["trigger"], "handoff.requested");
    assert_eq!(runs[2]["conversation_id"], conversation);
    let contacts = fake.contacts();
    assert_eq!(
        contacts.len(),
        1,
        "one contact, whatever the number of jobs"
    );
    let contact = &contacts[0];
    assert_eq!(contact.properties["firstname"], "Ann");
    assert_eq!(contact.properties["lastname"], "Lee");
    assert_eq!(contact.properties["email"], "ann@example.test");
    assert_eq!(contact.properties["phone"], "+49 30 1234567");
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket.associations, std::slice::from_ref(&contact.id));
    assert_eq!(ticket.properties["subject"], "Do you ship to Austria?");
    assert_eq!(ticket.properties["hs_pipeline"], "0");
    let content = ticket.properties["content"].as_str().unwrap();
    assert!(
        content.contains("Visitor: Do you ship to Austria?"),
        "{content}"
    );
    assert!(
        runs[2]["outcome"].as_str().unwrap().contains(&format!(
            "opened HubSpot ticket {} for contact {}",
            ticket.id, contact.id
        )),
        "{}",
        runs[2]["outcome"]
    );
    // Every call of a run is listed with it.
    let calls: Vec<&str> = runs[0]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        [
            "/crm/v3/objects/contacts/search",
            "/crm/v3/objects/contacts/batch/upsert"
        ]
    );

    // The agent answers, and the conversation is resolved: the ticket gets the whole transcript.
    let reply = app
        .post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"author": "agent", "body": "Yes, in 3 days."}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    set_status(&app, &conversation, "resolved").await;
    let runs = settled_runs(&app, &integration, 4).await;
    assert_eq!(summary(&runs)[3], "case_update succeeded 0/1/0/0");
    let content = fake.tickets()[0].properties["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.contains("Agent: Yes, in 3 days."), "{content}");
    assert_eq!(fake.tickets().len(), 1);
}

#[tokio::test]
async fn matching_and_update_policies_decide_which_contact_is_touched() {
    let (fake, app, integration) = hubspot_connected().await;
    let old = chrono::Utc::now() - chrono::Duration::days(30);
    let existing = fake.add_contact(
        json!({"email": "bo@example.test", "firstname": "Robert", "lastname": "Old"}),
        old,
    );
    // If newer (the default): the visitor's details are newer than the CRM's record, so they win.
    conversation(
        &app,
        json!({"name": "Bo Brandt", "email": "bo@example.test"}),
        "Hello",
    )
    .await;
    let runs = settled_runs(&app, &integration, 1).await;
    assert_eq!(summary(&runs), ["contact_sync succeeded 0/1/0/0"]);
    assert_eq!(fake.contacts().len(), 1);
    assert_eq!(fake.contacts()[0].id, existing);
    assert_eq!(fake.contacts()[0].properties["lastname"], "Brandt");

    // Never: a matched contact stays as it is.
    let update = "mutation($id: ID!, $crm: CrmSettingsInput!) { updateIntegration(id: $id, input: {crm: $crm}) {
        integration { id } userErrors { message } } }";
    app.mutate(
        update,
        json!({"id": integration, "crm": {"fieldUpdates": "NEVER", "contactMatching": "EMAIL_THEN_PHONE"}}),
        "updateIntegration",
    )
    .await;
    let kept = fake.add_contact(json!({"phone": "+1 555 0100", "lastname": "Kept"}), old);
    conversation(
        &app,
        json!({"name": "Cy Chen", "email": "cy@example.test", "phone": "+1 555 0100"}),
        "Hi",
    )
    .await;
    let runs = settled_runs(&app, &integration, 2).await;
    assert_eq!(summary(&runs)[1], "contact_sync succeeded 0/0/1/0");
    assert!(
        runs[1]["outcome"]
            .as_str()
            .unwrap()
            .contains("kept as it is (field updates: never)")
    );
    let contact = fake.contacts().into_iter().find(|c| c.id == kept).unwrap();
    assert_eq!(
        contact.properties["lastname"], "Kept",
        "matched by phone after the email found nobody"
    );

    // No contact to create: a visitor without email or phone is skipped, and says why.
    conversation(&app, json!({"name": "Anonymous"}), "Hey").await;
    let runs = settled_runs(&app, &integration, 3).await;
    assert_eq!(summary(&runs)[2], "contact_sync succeeded 0/0/1/0");
    assert!(
        runs[2]["outcome"]
            .as_str()
            .unwrap()
            .contains("left no email or phone number")
    );

    // Not creating missing contacts.
    app.mutate(
        update,
        json!({"id": integration, "crm": {"createContactIfMissing": false}}),
        "updateIntegration",
    )
    .await;
    conversation(&app, json!({"email": "new@example.test"}), "Hey").await;
    let runs = settled_runs(&app, &integration, 4).await;
    assert!(
        runs[3]["outcome"]
            .as_str()
            .unwrap()
            .contains("settings say not to create one")
    );
    assert_eq!(fake.contacts().len(), 2);
}

#[tokio::test]
async fn two_contacts_with_one_email_fail_the_run_with_the_reason_and_an_event() {
    let (fake, app, integration) = hubspot_connected().await;
    let at = chrono::Utc::now();
    fake.add_contact(json!({"email": "twin@example.test", "lastname": "One"}), at);
    fake.add_contact(json!({"email": "twin@example.test", "lastname": "Two"}), at);
    conversation(&app, json!({"email": "twin@example.test"}), "Hello").await;
    let runs = settled_runs(&app, &integration, 1).await;
    assert_eq!(summary(&runs), ["contact_sync failed 0/0/0/1"]);
    assert_eq!(runs[0]["error_class"], "multiple_matches");
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("several HubSpot contacts have the email twin@example.test"),
        "{}",
        runs[0]["outcome"]
    );
    let failed = app
        .get("/api/v1/events?types=integration.sync_failed")
        .await;
    assert_eq!(
        failed.body["data"][0]["data"]["error_class"],
        "multiple_matches"
    );
    assert_eq!(failed.body["data"][0]["data"]["run_id"], runs[0]["id"]);
    assert_eq!(fake.contacts().len(), 2, "nothing created");
}

#[tokio::test]
async fn an_outage_is_retried_and_a_revoked_grant_holds_the_work_until_reconnection() {
    let (fake, app, integration) = hubspot_connected().await;
    // HubSpot is down for the first two calls: the job waits and tries again.
    fake.outage(2);
    conversation(&app, json!({"email": "dee@example.test"}), "Hello").await;
    let runs = settled_runs(&app, &integration, 1).await;
    assert_eq!(summary(&runs), ["contact_sync succeeded 1/0/0/0"]);
    assert_eq!(runs[0]["attempt_count"], 3);
    let statuses: Vec<Value> = runs[0]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status_code"].clone())
        .collect();
    assert_eq!(statuses, [json!(503), json!(503), json!(200), json!(200)]);

    // The customer removes the app: the work owed is kept, and sent once HubSpot is connected again.
    fake.revoke_all();
    conversation(&app, json!({"email": "eve@example.test"}), "Hello").await;
    let mut held = Value::Null;
    for _ in 0..100 {
        let runs = app
            .get(&format!("/api/v1/integrations/{integration}/runs"))
            .await;
        held = runs.body["data"][0].clone();
        if held["error_class"] == "authorization" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held["status"], "pending", "{held}");
    assert!(
        held["outcome"]
            .as_str()
            .unwrap()
            .starts_with("waiting for the integration to be connected again")
    );
    let integration_row = app
        .get(&format!("/api/v1/integrations/{integration}"))
        .await;
    assert_eq!(integration_row.body["status"], "reauthorization_required");
    assert_eq!(fake.contacts().len(), 1);

    let browser = Browser::signed_in(&app, "bob@acme.test", "OWNER").await;
    connected(&app, &browser).await;
    let runs = settled_runs(&app, &integration, 2).await;
    assert_eq!(summary(&runs)[1], "contact_sync succeeded 1/0/0/0");
    assert_eq!(fake.contacts().len(), 2);
}

#[tokio::test]
async fn custom_mappings_and_the_workflow_trigger_reach_hubspot_on_premium() {
    let (fake, app, integration) = hubspot_connected().await;
    app.mutate(
        "mutation($id: ID!) { updateIntegration(id: $id, input: {crm: {workflowTrigger: true,
            caseCreation: [EVERY_CONVERSATION],
            fieldMappings: [{source: PAGE_URL, object: CONTACT, field: \"website\"}]}}) {
            integration { id } userErrors { message } } }",
        json!({"id": integration}),
        "updateIntegration",
    )
    .await;
    conversation(
        &app,
        json!({"name": "Fay", "email": "fay@example.test"}),
        "Pricing?",
    )
    .await;
    let runs = settled_runs(&app, &integration, 2).await;
    assert_eq!(
        summary(&runs),
        [
            "contact_sync succeeded 1/0/0/0",
            "case_create succeeded 1/0/1/0"
        ]
    );
    assert_eq!(fake.properties(), ["ai_assistant_interaction"]);
    let contact = &fake.contacts()[0];
    assert_eq!(
        contact.properties["website"],
        "https://shop.example/pricing"
    );
    assert!(
        contact.properties["ai_assistant_interaction"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(contact.properties["lastname"], "Fay");
    assert_eq!(fake.tickets().len(), 1, "every conversation opens a ticket");
}

#[tokio::test]
async fn a_unique_visitor_id_property_keys_hubspots_upsert() {
    let (fake, app, integration) = hubspot_connected().await;
    fake.add_unique_property("concierge_visitor_id");
    app.mutate(
        "mutation($id: ID!) { updateIntegration(id: $id, input: {crm: {visitorIdField: \"concierge_visitor_id\"}}) {
            integration { id } userErrors { message } } }",
        json!({"id": integration}),
        "updateIntegration",
    )
    .await;
    // A contact made meanwhile (here while HubSpot was down) carries the visitor's id under another email: the
    // upsert keyed by the id finds it, so no second contact is made.
    fake.outage(1);
    let (_, visitor) = conversation(
        &app,
        json!({"name": "Gus", "email": "gus@example.test"}),
        "Hello",
    )
    .await;
    fake.add_contact(
        json!({"email": "old@example.test", "concierge_visitor_id": visitor}),
        chrono::Utc::now(),
    );
    let runs = settled_runs(&app, &integration, 1).await;
    assert_eq!(summary(&runs), ["contact_sync succeeded 0/1/0/0"]);
    let contacts = fake.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].properties["concierge_visitor_id"],
        visitor.as_str()
    );
    assert_eq!(contacts[0].properties["email"], "gus@example.test");
    assert!(
        fake.seen()
            .contains(&"POST /crm/v3/objects/contacts/batch/upsert".to_owned())
    );
}

#[tokio::test]
async fn kill_9_during_a_sync_and_a_second_instance_lose_nothing_and_duplicate_nothing() {
    let (fake, app, integration) = hubspot_connected().await;
    // Each HubSpot answer takes a while, so the kill lands mid-sync.
    fake.delay(Duration::from_millis(40));
    let port = crate::helpers::free_port();
    let settings = app.settings.clone();
    let mut env = fake.serve_env();
    env.extend([
        ("CONCIERGE_INTEGRATION_RETRY_SCHEDULE", "1,1,1".to_owned()),
        ("CONCIERGE_INTEGRATION_TIMEOUT_SECS", "2".to_owned()),
        ("CONCIERGE_INTEGRATION_LEASE_SECS", "3".to_owned()),
    ]);
    let process = ServeProcess::start_with(&settings, port, &env).await;
    // Two instances on one database: this test's server and the process.
    const VISITORS: usize = 30;
    for n in 0..VISITORS {
        conversation(
            &app,
            json!({"email": format!("v{n}@example.test")}),
            "Hello",
        )
        .await;
    }
    for _ in 0..200 {
        if fake.contacts().len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = fake.contacts().len();
    assert!(
        before < VISITORS,
        "the sync was still under way ({before} of {VISITORS})"
    );
    process.kill_9();
    let runs = settled_runs(&app, &integration, VISITORS).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    let contacts = fake.contacts();
    assert_eq!(contacts.len(), VISITORS, "every visitor's contact, once");
    let created = fake
        .seen()
        .iter()
        .filter(|s| *s == "POST /crm/v3/objects/contacts/batch/upsert")
        .count();
    // A job cut off by the kill after HubSpot made the contact, before the link was written, upserts it again by
    // its email: never a second contact, at most one more call per job in flight.
    assert!(
        created <= VISITORS + 4,
        "{created} creation calls for {VISITORS} visitors"
    );
    println!(
        "kill -9 during a CRM sync: {before} of {VISITORS} contacts before the kill, {created} creation calls, {} contacts after",
        contacts.len()
    );
}

#[tokio::test]
async fn the_widgets_contact_form_syncs_the_contact_and_opens_a_case_when_that_rule_is_on() {
    let (fake, app, integration) = hubspot_connected().await;
    app.mutate(
        "mutation($id: ID!) { updateIntegration(id: $id, input: {crm: {caseCreation: [FORM_SUBMISSION]}}) {
            integration { id } userErrors { message } } }",
        json!({"id": integration}),
        "updateIntegration",
    )
    .await;
    let visitor = crate::widget::Browser::start(&app, json!({})).await;
    let opened = visitor.open("Can someone call me back?").await;
    let conversation = opened["id"].as_str().unwrap().to_owned();
    // No details yet: the conversation's contact sync has nothing to match by.
    let runs = settled_runs(&app, &integration, 1).await;
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("left no email")
    );
    let sent = visitor
        .post(
            &format!("/widget/v1/conversations/{conversation}/contact"),
            json!({"name": "Gil Moss", "email": "gil@example.test", "phone": "+1 555 0199"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let runs = settled_runs(&app, &integration, 4).await;
    let triggers: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["trigger"].as_str().unwrap(),
                r["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        triggers,
        [
            "conversation.created contact_sync",
            "visitor.updated contact_sync",
            "visitor.form_submitted contact_sync",
            "visitor.form_submitted case_create",
        ]
    );
    assert_eq!(fake.contacts().len(), 1);
    let tickets = fake.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        tickets[0].associations,
        std::slice::from_ref(&fake.contacts()[0].id)
    );
    assert_eq!(
        tickets[0].properties["subject"],
        "Can someone call me back?"
    );
}
