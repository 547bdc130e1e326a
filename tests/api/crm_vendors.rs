//! Salesforce and Zoho CRM against their loopback fakes: each vendor's connect flow (PKCE and My Domain or
//! sandbox for Salesforce; the data centre, `accounts-server` and `api_domain` for Zoho), the addresses a vendor
//! hands back checked against its own domains, and contacts and cases synced in each vendor's wire format.

use serde_json::{Value, json};

use crate::crm_sync::{conversation, set_status, settled_runs as settled};
use crate::fake_salesforce::{self, FakeSalesforce};
use crate::fake_zoho::{self, FakeZoho};
use crate::helpers::{TestApp, spawn_app_with};
use crate::integrations::Browser;

async fn app_with(salesforce: &FakeSalesforce, zoho: &FakeZoho) -> TestApp {
    let base_urls = format!("{},{}", salesforce.base_urls(), zoho.base_urls());
    spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.integration_retry_schedule = "1,1,1".to_owned();
        settings.oauth_salesforce_client_id = Some(fake_salesforce::CLIENT_ID.to_owned());
        settings.oauth_salesforce_client_secret =
            Some(fake_salesforce::CLIENT_SECRET.to_owned().into());
        settings.oauth_zoho_client_id = Some(fake_zoho::CLIENT_ID.to_owned());
        settings.oauth_zoho_client_secret = Some(fake_zoho::CLIENT_SECRET.to_owned().into());
    })
    .await
}

/// Starts connecting `provider` in the browser and follows the vendor back: the authorization URL and the path
/// the browser landed on.
async fn connect(browser: &Browser, provider: &str, account: Value) -> (url::Url, String) {
    let response = browser
        .graphql(
            &format!(
                "mutation($a: IntegrationAccountInput) {{ connectIntegration(input: {{provider: {provider},
                    returnTo: \"/console/settings/integrations\", account: $a}}) {{ authorizeUrl userErrors {{ field message }} }} }}"
            ),
            json!({"a": account}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let payload = &body["data"]["connectIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let authorize = payload["authorizeUrl"].as_str().unwrap().to_owned();
    let (_, location) = browser.follow(&authorize).await;
    (url::Url::parse(&authorize).unwrap(), location)
}

fn outcome(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(&format!("http://x{location}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn integration(app: &TestApp, provider: &str) -> Value {
    let list = app.get("/api/v1/integrations").await;
    list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == provider)
        .unwrap()["integration"]
        .clone()
}

#[tokio::test]
async fn salesforce_connects_with_pkce_and_syncs_contacts_and_cases_through_limits_and_expiry() {
    let (salesforce, zoho) = (FakeSalesforce::start().await, FakeZoho::start().await);
    let app = app_with(&salesforce, &zoho).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;

    let (authorize, location) =
        connect(&browser, "SALESFORCE", json!({"environment": "sandbox"})).await;
    assert_eq!(authorize.path(), "/services/oauth2/authorize");
    let query: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["scope"], "api refresh_token");
    let landed = outcome(&location);
    assert_eq!(landed["outcome"], "connected", "{location}");
    assert!(
        landed["message"].contains("14990 of 15000 daily API requests left"),
        "{location}"
    );
    assert_eq!(
        salesforce.pkce_verified(),
        Some(true),
        "the verifier matched the challenge"
    );
    let connected = integration(&app, "salesforce").await;
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["account"]["login_host"], "test.salesforce.com");
    assert_eq!(connected["account"]["instance_url"], salesforce.base_url);
    let id = connected["id"].as_str().unwrap().to_owned();

    // A quote in an email cannot break out of the SOQL string.
    let (first, _) = conversation(
        &app,
        json!({"name": "Ann O'Brien", "email": "ann.o'brien@example.test"}),
        "Where is my parcel?",
    )
    .await;
    set_status(&app, &first, "handed_off").await;
    let runs = settled(&app, &id, 3).await;
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded"; 3], "{runs:#?}");
    assert!(
        salesforce.seen().iter().any(|s| s
            == "GET query SELECT Id, LastModifiedDate FROM Contact WHERE Email = 'ann.o\\'brien@example.test' LIMIT 2"),
        "{:#?}",
        salesforce.seen()
    );
    let contacts = salesforce.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].fields["LastName"], "O'Brien");
    assert_eq!(contacts[0].fields["FirstName"], "Ann");
    let cases = salesforce.cases();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].fields["ContactId"], contacts[0].id.as_str());
    assert_eq!(cases[0].fields["Origin"], "Web");
    assert_eq!(cases[0].fields["Subject"], "Where is my parcel?");
    assert_eq!(cases[0].fields["SuppliedEmail"], "ann.o'brien@example.test");

    // The session expires (401 INVALID_SESSION_ID): one refresh, and the work goes on. The org's daily limit
    // (403 REQUEST_LIMIT_EXCEEDED) is a wait, not a failure.
    salesforce.expire_sessions();
    salesforce.exceed_limit(1);
    set_status(&app, &first, "resolved").await;
    let runs = settled(&app, &id, 4).await;
    let update = &runs[3];
    assert_eq!(update["kind"], "case_update");
    assert_eq!(update["status"], "succeeded", "{update:#}");
    assert_eq!(update["attempt_count"], 2);
    let classes: Vec<Value> = update["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["error_class"].clone())
        .collect();
    assert_eq!(
        classes,
        [json!("authorization"), json!("rate_limited"), Value::Null],
        "the expired session, the limit, then the update"
    );
    let description = salesforce.cases()[0].fields["Description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        description.contains("Visitor: Where is my parcel?"),
        "{description}"
    );

    // Two contacts with one email: the run fails with the reason; an outage first is waited out.
    let at = chrono::Utc::now();
    salesforce.add_contact(json!({"Email": "twin@example.test", "LastName": "A"}), at);
    salesforce.add_contact(json!({"Email": "twin@example.test", "LastName": "B"}), at);
    salesforce.outage(1);
    conversation(&app, json!({"email": "twin@example.test"}), "Hello").await;
    let runs = settled(&app, &id, 5).await;
    assert_eq!(runs[4]["status"], "failed");
    assert_eq!(runs[4]["error_class"], "multiple_matches");
    assert_eq!(runs[4]["attempt_count"], 2, "the outage, then the query");

    // Disconnecting revokes the refresh token.
    let done = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(
        done.body["revocation"],
        "Salesforce revoked the authorization"
    );
    assert_eq!(salesforce.revoked().len(), 1);
}

#[tokio::test]
async fn addresses_a_vendor_hands_back_must_be_its_own() {
    let (salesforce, zoho) = (FakeSalesforce::start().await, FakeZoho::start().await);
    let app = app_with(&salesforce, &zoho).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    for bad in [
        "https://169.254.169.254",
        "https://salesforce.com.evil.test",
        "http://acme.my.salesforce.com",
    ] {
        salesforce.hand_back_instance_url(bad);
        let (_, location) = connect(
            &browser,
            "SALESFORCE",
            json!({"myDomain": "acme.my.salesforce.com"}),
        )
        .await;
        let landed = outcome(&location);
        assert_eq!(landed["outcome"], "error", "{bad}: {location}");
        assert!(
            landed["message"].contains("not one of its own https addresses"),
            "{location}"
        );
    }
    assert_eq!(integration(&app, "salesforce").await["status"], "pending");
    zoho.hand_back_api_domain("https://www.zohoapis.eu.evil.test");
    let (_, location) = connect(&browser, "ZOHO", json!({"dataCentre": "eu"})).await;
    assert!(
        outcome(&location)["message"].contains("not one of its own"),
        "{location}"
    );
    assert_eq!(integration(&app, "zoho").await["status"], "pending");
    // A data centre that does not exist is a mistake in the input.
    let refused: Value = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: ZOHO, account: {dataCentre: \"mars\"}}) { userErrors { field message } } }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refused["data"]["connectIntegration"]["userErrors"][0]["field"],
        json!(["input", "account", "dataCentre"])
    );
}

#[tokio::test]
async fn zoho_connects_in_its_data_centre_and_upserts_contacts_with_duplicate_check_fields() {
    let (salesforce, zoho) = (FakeSalesforce::start().await, FakeZoho::start().await);
    let app = app_with(&salesforce, &zoho).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let (authorize, location) = connect(&browser, "ZOHO", json!({"dataCentre": "eu"})).await;
    assert_eq!(authorize.path(), "/oauth/v2/auth");
    let query: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(query["access_type"], "offline");
    assert!(!query.contains_key("code_challenge"));
    let landed = outcome(&location);
    assert_eq!(landed["outcome"], "connected", "{location}");
    assert_eq!(
        landed["message"],
        "Connected to Zoho CRM organization Acme GmbH"
    );
    let connected = integration(&app, "zoho").await;
    assert_eq!(connected["account"]["data_centre"], "eu");
    assert_eq!(connected["account"]["api_domain"], zoho.base_url);
    assert_eq!(connected["account"]["organization"], "Acme GmbH");
    let id = connected["id"].as_str().unwrap().to_owned();

    let (conversation_id, _) = conversation(
        &app,
        json!({"name": "Jo", "email": "jo@example.test", "phone": "+49 89 555"}),
        "Do you deliver on Sundays?",
    )
    .await;
    set_status(&app, &conversation_id, "handed_off").await;
    let runs = settled(&app, &id, 3).await;
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded"; 3], "{runs:#?}");
    assert_eq!(zoho.duplicate_checks(), [json!(["Email"])]);
    let calls: Vec<String> = zoho
        .seen()
        .into_iter()
        .filter(|c| c.contains("Contacts"))
        .take(2)
        .collect();
    assert_eq!(
        calls,
        [
            "GET /crm/v2/Contacts/search",
            "POST /crm/v2/Contacts/upsert"
        ],
        "searched first (204: none), then an upsert that cannot duplicate"
    );
    let contacts = zoho.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].fields["Last_Name"], "Jo");
    assert_eq!(contacts[0].fields["Phone"], "+49 89 555");
    let cases = zoho.cases();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].fields["Related_To"]["id"], contacts[0].id.as_str());
    assert_eq!(cases[0].fields["Case_Origin"], "Web");
    assert!(
        cases[0].fields["Description"]
            .as_str()
            .unwrap()
            .contains("Visitor: Do you deliver on Sundays?")
    );

    // A contact made in Zoho meanwhile with the visitor's email is updated, not duplicated.
    let existing = zoho.add_contact(
        json!({"Email": "kim@example.test", "Last_Name": "Old"}),
        chrono::Utc::now() - chrono::Duration::days(3),
    );
    conversation(
        &app,
        json!({"name": "Kim Park", "email": "kim@example.test"}),
        "Hi",
    )
    .await;
    let runs = settled(&app, &id, 4).await;
    assert_eq!(runs[3]["records_updated"], 1, "{:#}", runs[3]);
    let kim = zoho
        .contacts()
        .into_iter()
        .find(|c| c.id == existing)
        .unwrap();
    assert_eq!(kim.fields["Last_Name"], "Park");
    assert_eq!(zoho.contacts().len(), 2);

    let done = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(
        done.body["revocation"],
        "Zoho CRM revoked the authorization"
    );
    assert_eq!(zoho.revoked().len(), 1);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_at_once_and_used_for_the_next_refresh() {
    let (salesforce, zoho) = (FakeSalesforce::start().await, FakeZoho::start().await);
    let app = app_with(&salesforce, &zoho).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    connect(&browser, "SALESFORCE", json!({})).await;
    let id = integration(&app, "salesforce").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The org rotates refresh tokens: each refresh answers a new one and the old one stops working.
    salesforce.rotate_refresh_tokens();
    for round in 0..3 {
        salesforce.expire_sessions();
        let tested = app
            .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(
            tested.body["success"], true,
            "round {round}: {}",
            tested.text
        );
    }
    assert_eq!(salesforce.refreshes(), 3);
    assert_eq!(integration(&app, "salesforce").await["status"], "connected");
}

#[tokio::test]
async fn a_visitor_id_field_makes_salesforce_upsert_contacts_and_several_matches_are_named() {
    let (salesforce, zoho) = (FakeSalesforce::start().await, FakeZoho::start().await);
    let app = app_with(&salesforce, &zoho).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let (_, location) = connect(&browser, "SALESFORCE", json!({})).await;
    assert_eq!(outcome(&location)["outcome"], "connected", "{location}");
    let id = integration(&app, "salesforce").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    const FIELD: &str = "Concierge_Visitor_Id__c";
    let changed = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"crm": {"visitor_id_field": FIELD}}),
        )
        .await;
    assert_eq!(
        changed.body["crm"]["visitor_id_field"], FIELD,
        "{}",
        changed.text
    );

    // The org has no such External ID field yet: the run fails and says what to create.
    conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "Hi",
    )
    .await;
    let runs = settled(&app, &id, 1).await;
    assert_eq!(runs[0]["status"], "failed", "{:#}", runs[0]);
    assert_eq!(runs[0]["error_class"], "configuration");
    assert!(
        runs[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("Salesforce has no External ID field Concierge_Visitor_Id__c on Contact"),
        "{:#}",
        runs[0]
    );
    assert!(salesforce.contacts().is_empty());

    // With the field in place, a contact nobody has is created by an upsert keyed by the visitor's id.
    salesforce.add_external_id_field(FIELD);
    let (_, visitor) = conversation(
        &app,
        json!({"name": "Max Ode", "email": "max@example.test"}),
        "Hi",
    )
    .await;
    let runs = settled(&app, &id, 2).await;
    assert_eq!(runs[1]["status"], "succeeded", "{:#}", runs[1]);
    assert_eq!(runs[1]["records_created"], 1);
    let contacts = salesforce.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].fields[FIELD], visitor.as_str());
    assert_eq!(contacts[0].fields["LastName"], "Ode");
    let seen = salesforce.seen();
    assert!(
        seen.contains(&format!("PATCH Contact/{FIELD}/{{value}}")),
        "{seen:#?}"
    );
    assert!(!seen.iter().any(|s| s == "POST Contact"), "{seen:#?}");

    // Two contacts already carry a visitor's id (and no email matches): Salesforce answers 300 Multiple
    // Choices, nothing is written, and the run names both records. The outage holds the first attempt while
    // the duplicates are made.
    salesforce.outage(1);
    let (_, twin) = conversation(
        &app,
        json!({"name": "Tia", "email": "tia@example.test"}),
        "Hi",
    )
    .await;
    let at = chrono::Utc::now();
    let one = salesforce.add_contact(json!({"LastName": "One", FIELD: twin}), at);
    let two = salesforce.add_contact(json!({"LastName": "Two", FIELD: twin}), at);
    let runs = settled(&app, &id, 3).await;
    let run = &runs[2];
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error_class"], "multiple_matches");
    let reason = run["outcome"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "several Salesforce contacts ({one}, {two}) have the visitor id {twin}"
        )),
        "{reason}"
    );
    let statuses: Vec<Value> = run["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status_code"].clone())
        .collect();
    assert_eq!(statuses.last(), Some(&json!(300)), "{run:#}");
    assert_eq!(salesforce.contacts().len(), 3, "nothing created");
}
