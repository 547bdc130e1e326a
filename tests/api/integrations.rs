//! The integrations domain against a loopback HubSpot: the provider list, the OAuth connect flow through real
//! redirects and its refusals, token refresh and reauthorization, tests, runs, settings, plans and disconnecting.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::console_browser::member_with_password;
use crate::fake_hubspot::{self, Consent, FakeHubSpot};
use crate::helpers::{Reply, TestApp, spawn_app_with};

const PASSWORD: &str = "a long and private passphrase";

/// A server that reaches the fake through configuration, with the operator's HubSpot app set.
pub async fn app_with(fake: &FakeHubSpot) -> TestApp {
    app_adjusted(fake, |_| {}).await
}

/// Like [`app_with`], with more settings.
pub async fn app_adjusted(
    fake: &FakeHubSpot,
    adjust: impl FnOnce(&mut api::config::Settings),
) -> TestApp {
    let base_urls = fake.base_urls();
    spawn_app_with(move |settings| {
        adjust(settings);
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
        settings.oauth_hubspot_client_id = Some(fake_hubspot::CLIENT_ID.to_owned());
        settings.oauth_hubspot_client_secret = Some(fake_hubspot::CLIENT_SECRET.to_owned().into());
    })
    .await
}

/// A signed-in member's browser: it keeps cookies and does not follow redirects by itself.
pub struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    pub async fn signed_in(app: &TestApp, email: &str, role: &str) -> Self {
        member_with_password(app, email, role).await;
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        Self {
            client,
            base: app.address.clone(),
        }
    }

    /// A GraphQL request from the console's own origin, with the session cookie.
    pub async fn graphql(&self, query: &str, variables: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/graphql", self.base))
            .header("origin", &self.base)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
    }

    /// Starts connecting HubSpot: the authorization URL, and the response's `Set-Cookie`.
    async fn connect(&self, return_to: &str) -> (String, String) {
        let response = self
            .graphql(
                "mutation($r: String) { connectIntegration(input: {provider: HUBSPOT, returnTo: $r}) {
                    authorizeUrl integration { id status } userErrors { field message } } }",
                json!({"r": return_to}),
            )
            .await;
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body: Value = response.json().await.unwrap();
        let payload = &body["data"]["connectIntegration"];
        assert_eq!(payload["userErrors"], json!([]), "{body}");
        (payload["authorizeUrl"].as_str().unwrap().to_owned(), cookie)
    }

    /// Follows redirects from `url` until one leaves the fake and this server: answers the last `Location`
    /// (a path on this server) or the page it stopped at.
    pub async fn follow(&self, url: &str) -> (StatusCode, String) {
        let mut next = url.to_owned();
        for _ in 0..5 {
            let response = self.client.get(&next).send().await.unwrap();
            let status = response.status();
            match response.headers().get(LOCATION) {
                Some(location) => {
                    let location = location.to_str().unwrap().to_owned();
                    if location.starts_with('/') {
                        return (status, location);
                    }
                    next = location;
                }
                None => return (status, response.text().await.unwrap()),
            }
        }
        panic!("too many redirects from {url}");
    }
}

/// The query of a path as pairs.
fn query_of(path: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(&format!("http://x{path}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

const LIST: &str = "{ integrations { key name category includedInPlan requiredPlan configured redirectUri authMethods
    integration { id status lastError account { name value } crm { contactMatching caseCreation fieldMappings { field } } } } }";

fn hubspot_entry(list: &Value) -> Value {
    list["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "HUBSPOT")
        .unwrap()
        .clone()
}

/// Connects HubSpot through the whole flow and answers the integration's id.
pub async fn connected(app: &TestApp, browser: &Browser) -> String {
    let (authorize, _) = browser.connect("/console/integrations").await;
    let (status, location) = browser.follow(&authorize).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let outcome = query_of(&location);
    assert_eq!(outcome["outcome"], "connected", "{location}");
    hubspot_entry(&app.graphql_ok(LIST, json!({})).await)["integration"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_provider_is_listed_with_its_plan_its_configuration_and_the_redirect_uri_to_register()
{
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let list = app.graphql_ok(LIST, json!({})).await;
    let providers = list["integrations"].as_array().unwrap();
    let keys: Vec<&str> = providers
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "SALESFORCE",
            "HUBSPOT",
            "ZOHO",
            "ZENDESK",
            "FRESHDESK",
            "INTERCOM",
            "SMTP",
            "SENDGRID",
            "MAILCHIMP"
        ]
    );
    for provider in providers {
        let key = provider["key"].as_str().unwrap();
        let (category, methods) = match key {
            "ZENDESK" => ("HELPDESK", json!(["OAUTH", "API_KEY"])),
            "FRESHDESK" => ("HELPDESK", json!(["API_KEY"])),
            "INTERCOM" => ("HELPDESK", json!(["OAUTH"])),
            "SMTP" => ("EMAIL", json!(["SMTP_SETTINGS"])),
            "SENDGRID" => ("EMAIL", json!(["API_KEY"])),
            "MAILCHIMP" => ("EMAIL", json!(["OAUTH"])),
            _ => ("CRM", json!(["OAUTH"])),
        };
        assert_eq!(provider["category"], category);
        assert_eq!(provider["authMethods"], methods);
        // Email is on every plan; CRMs and help desks from the standard plan.
        let plan = if category == "EMAIL" {
            "BASIC"
        } else {
            "STANDARD"
        };
        assert_eq!(provider["requiredPlan"], plan, "{key}");
        assert_eq!(provider["includedInPlan"], true);
        assert_eq!(provider["integration"], Value::Null);
        if matches!(key, "FRESHDESK" | "SMTP" | "SENDGRID") {
            // Connected with a key: nothing to register, nothing to configure.
            assert_eq!(provider["redirectUri"], Value::Null);
            assert_eq!(provider["configured"], true);
        } else {
            assert_eq!(
                provider["redirectUri"],
                app.url(&format!("/integrations/{}/callback", key.to_lowercase()))
            );
        }
    }
    // Only HubSpot's app is configured on this server.
    assert_eq!(hubspot_entry(&list)["configured"], true);
    assert_eq!(providers[0]["configured"], false);

    // REST says the same.
    let rest = app.get("/api/v1/integrations").await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(rest.body["data"][1]["key"], "hubspot");
    assert_eq!(rest.body["data"][1]["configured"], true);
    assert_eq!(rest.body["data"][0]["required_plan"], "standard");
    assert_eq!(rest.body["next_cursor"], Value::Null);

    // A provider whose app is not configured cannot be connected, and says what the operator must do.
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let refused: Value = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: SALESFORCE}) { authorizeUrl userErrors { field message code } } }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let error = &refused["data"]["connectIntegration"]["userErrors"][0];
    assert_eq!(error["field"], json!(["input", "provider"]));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("CONCIERGE_OAUTH_SALESFORCE_CLIENT_ID"),
        "{error}"
    );
    assert_eq!(app.count_rows("integrations").await, 0);
}

#[tokio::test]
async fn connecting_hubspot_goes_through_its_authorization_page_and_lands_back_connected() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;

    let (authorize, cookie) = browser.connect("/console/integrations?tab=crm").await;
    let pending = hubspot_entry(&app.graphql_ok(LIST, json!({})).await);
    assert_eq!(pending["integration"]["status"], "PENDING");
    // The authorization request: the vendor's page (on the configured origin), the operator's client, our
    // callback, the scopes, and a state that the cookie binds to this browser.
    let url = url::Url::parse(&authorize).unwrap();
    assert_eq!(url.origin().ascii_serialization(), fake.base_url);
    assert_eq!(url.path(), "/oauth/authorize");
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], fake_hubspot::CLIENT_ID);
    assert_eq!(
        query["redirect_uri"],
        app.url("/integrations/hubspot/callback")
    );
    assert!(query["scope"].contains("crm.objects.contacts.write"));
    assert!(query["state"].len() >= 43);
    assert!(
        cookie.starts_with(&format!("concierge_integration_state={}", query["state"])),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/integrations"),
        "{cookie}"
    );

    let (status, location) = browser.follow(&authorize).await;
    assert_eq!(fake.last_authorize()["state"], query["state"]);
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("/console/integrations?tab=crm&"),
        "{location}"
    );
    let outcome = query_of(&location);
    assert_eq!(outcome["integration"], "hubspot");
    assert_eq!(outcome["outcome"], "connected");
    assert!(
        outcome["message"].starts_with(&format!(
            "Connected to HubSpot account {}",
            fake_hubspot::PORTAL_ID
        )),
        "{location}"
    );

    let entry = hubspot_entry(&app.graphql_ok(LIST, json!({})).await);
    let integration = &entry["integration"];
    assert_eq!(integration["status"], "CONNECTED");
    assert_eq!(integration["lastError"], Value::Null);
    assert!(
        integration["account"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "portal_id", "value": fake_hubspot::PORTAL_ID.to_string()}))
    );
    assert_eq!(integration["crm"]["contactMatching"], "EMAIL");
    assert_eq!(integration["crm"]["caseCreation"], json!(["HANDOFF"]));
    let id = integration["id"].as_str().unwrap();

    // The tokens are sealed at rest: nothing of them is readable in the row.
    let stored: Value = app
        .graphql_ok(
            "query($id: ID!) { node(id: $id) { ... on Integration { connectedBy { email } connectedAt tokenExpiresAt } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stored["node"]["connectedBy"]["email"], "ada@acme.test");
    assert!(stored["node"]["tokenExpiresAt"].is_string());
    let sealed = raw_credentials(&app, id).await;
    assert!(
        !sealed.contains("hs-access") && !sealed.contains("hs-refresh"),
        "{sealed}"
    );

    // The change is in the audit log and in the event stream.
    let audit = app
        .graphql_ok(
            "{ auditLog(first: 5) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(
        audit["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["action"] == "INTEGRATION_CONNECTED"),
        "{audit}"
    );
    let events = app.get("/api/v1/events?types=integration.connected").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    assert_eq!(events.body["data"][0]["data"]["integration_id"], id);

    // A connection test is a real call, with the vendor's answer in words, kept as a run with its calls.
    let tested = app
        .mutate(
            "mutation($id: ID!) { testIntegration(id: $id) { success message run { kind status outcome
                calls { method path statusCode errorClass } } userErrors { message } } }",
            json!({"id": id}),
            "testIntegration",
        )
        .await;
    assert_eq!(tested["success"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("62515"));
    assert_eq!(tested["run"]["kind"], "TEST");
    assert_eq!(tested["run"]["status"], "SUCCEEDED");
    assert_eq!(
        tested["run"]["calls"],
        json!([{"method": "GET", "path": "/account-info/v3/details", "statusCode": 200, "errorClass": null}])
    );
    let runs = app.get(&format!("/api/v1/integrations/{id}/runs")).await;
    assert_eq!(runs.body["data"][0]["kind"], "test");
    assert_eq!(runs.body["data"][0]["calls"][0]["status_code"], 200);

    // Disconnecting revokes the refresh token at HubSpot and forgets the credentials here.
    let disconnected = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(disconnected.status, StatusCode::OK, "{}", disconnected.text);
    assert_eq!(disconnected.body["integration"]["status"], "disconnected");
    assert_eq!(
        disconnected.body["revocation"],
        "HubSpot revoked the authorization"
    );
    assert_eq!(fake.revoked().len(), 1);
    assert!(
        fake.seen()
            .contains(&"DELETE /oauth/v1/refresh-tokens/{token}".to_owned())
    );
    assert_eq!(raw_credentials(&app, id).await, "");
    let again = app.delete(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let untestable = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(untestable.status, StatusCode::CONFLICT);
    let events = app
        .get("/api/v1/events?types=integration.disconnected")
        .await;
    assert_eq!(events.body["data"][0]["data"]["provider"], "hubspot");
}

/// The stored credentials column (empty when there are none).
async fn raw_credentials(app: &TestApp, id: &str) -> String {
    use sea_orm::EntityTrait;
    entities::integration::Entity::find_by_id(id.to_owned())
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap()
        .credentials
        .unwrap_or_default()
}

#[tokio::test]
async fn the_callback_refuses_other_browsers_other_members_used_states_and_a_denial() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let ada = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let bob = Browser::signed_in(&app, "bob@acme.test", "OWNER").await;

    // Started in Ada's browser, finished in Bob's: Bob's browser has no state cookie.
    let (authorize, _) = ada.connect("/console/integrations").await;
    let consent = ada.client.get(&authorize).send().await.unwrap();
    let callback = consent.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, location) = bob.follow(&callback).await;
    assert_eq!(query_of(&location)["outcome"], "error");
    assert!(
        query_of(&location)["message"].contains("not started in this browser"),
        "{location}"
    );
    // The state is used up: Ada cannot finish it either.
    let (status, page) = ada.follow(&callback).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("unknown or already used HubSpot authorization"),
        "{page}"
    );

    // Bob signs in inside Ada's browser (her state cookie is there): the member must be the one who started.
    let (authorize, _) = ada.connect("/console/integrations").await;
    let consent = ada.client.get(&authorize).send().await.unwrap();
    let callback = consent.headers()[LOCATION].to_str().unwrap().to_owned();
    let login = ada
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "bob@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let (_, location) = ada.follow(&callback).await;
    assert!(
        query_of(&location)["message"].contains("sign in as the member who started"),
        "{location}"
    );

    // The person declines at HubSpot.
    fake.set_consent(Consent::Deny);
    let (authorize, _) = bob.connect("/console/integrations").await;
    let (_, location) = bob.follow(&authorize).await;
    let outcome = query_of(&location);
    assert_eq!(outcome["outcome"], "error");
    assert_eq!(
        outcome["message"],
        "HubSpot did not authorize: The user declined to connect the app"
    );

    // No code was exchanged and nothing is connected.
    assert!(!fake.seen().contains(&"POST /oauth/v1/token".to_owned()));
    let entry = hubspot_entry(&app.graphql_ok(LIST, json!({})).await);
    assert_eq!(entry["integration"]["status"], "PENDING");

    // A callback without a state, or for a provider that does not exist.
    let (status, _) = bob
        .follow(&app.url("/integrations/hubspot/callback?code=x"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = bob
        .follow(&app.url("/integrations/nope/callback?state=x&code=y"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_a_revoked_grant_asks_for_reauthorization() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let id = connected(&app, &browser).await;
    let test = "mutation($id: ID!) { testIntegration(id: $id) { success message
        run { calls { method path statusCode errorClass } } integration { status lastError } userErrors { message } } }";

    // HubSpot answers 401 for the expired token: one refresh, then the call again.
    fake.expire_access_tokens();
    let tested = app.mutate(test, json!({"id": id}), "testIntegration").await;
    assert_eq!(tested["success"], true, "{tested}");
    let calls: Vec<(String, Value)> = tested["run"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["statusCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("/account-info/v3/details".to_owned(), json!(401)),
            ("/account-info/v3/details".to_owned(), json!(200)),
        ],
        "the refresh itself is logged on the connection, not the run"
    );
    let tokens = fake
        .seen()
        .iter()
        .filter(|s| *s == "POST /oauth/v1/token")
        .count();
    assert_eq!(tokens, 2, "the code exchange and one refresh");

    // The customer removes the app in HubSpot: the refresh is refused for good.
    fake.revoke_all();
    let tested = app.mutate(test, json!({"id": id}), "testIntegration").await;
    assert_eq!(tested["success"], false);
    assert!(
        tested["message"]
            .as_str()
            .unwrap()
            .contains("HubSpot refused the authorization"),
        "{tested}"
    );
    assert_eq!(tested["integration"]["status"], "REAUTHORIZATION_REQUIRED");
    assert!(
        tested["integration"]["lastError"]
            .as_str()
            .unwrap()
            .contains("missing or invalid refresh token")
    );
    let failed = app
        .get("/api/v1/events?types=integration.auth_failed")
        .await;
    assert_eq!(
        failed.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        failed.text
    );
    assert_eq!(failed.body["data"][0]["data"]["integration_id"], id);

    // Reconnecting brings it back.
    let (authorize, _) = browser.connect("/console/integrations").await;
    let (_, location) = browser.follow(&authorize).await;
    assert_eq!(query_of(&location)["outcome"], "connected");
    let tested = app.mutate(test, json!({"id": id}), "testIntegration").await;
    assert_eq!(tested["success"], true);
    assert_eq!(tested["integration"]["status"], "CONNECTED");
}

#[tokio::test]
async fn a_rate_limited_call_says_so_with_the_wait_hubspot_asked_for() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let id = connected(&app, &browser).await;
    fake.throttle(1);
    let tested = app
        .mutate(
            "mutation($id: ID!) { testIntegration(id: $id) { success message run { status errorClass
                calls { statusCode errorClass excerpt } } userErrors { message } } }",
            json!({"id": id}),
            "testIntegration",
        )
        .await;
    assert_eq!(tested["success"], false);
    assert_eq!(
        tested["message"],
        "HubSpot is limiting requests (429); it asked to wait 10 s"
    );
    assert_eq!(tested["run"]["status"], "FAILED");
    assert_eq!(tested["run"]["errorClass"], "RATE_LIMITED");
    let call = &tested["run"]["calls"][0];
    assert_eq!(call["statusCode"], 429);
    assert_eq!(call["errorClass"], "RATE_LIMITED");
    assert!(call["excerpt"].as_str().unwrap().contains("secondly limit"));
}

#[tokio::test]
async fn plans_roles_and_keys_decide_who_connects_and_what_settings_are_allowed() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let id = connected(&app, &browser).await;

    // An API key cannot start an OAuth grant: it is authorized by a member in a browser.
    let by_key = app
        .graphql(
            "mutation { connectIntegration(input: {provider: HUBSPOT}) { authorizeUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(by_key.graphql_code(), "FORBIDDEN", "{}", by_key.text);
    // Agents may not connect.
    let agent = Browser::signed_in(&app, "al@acme.test", "AGENT").await;
    let refused: Value = agent
        .graphql(
            "mutation { connectIntegration(input: {provider: HUBSPOT}) { authorizeUrl } }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Settings: validated field by field, custom mappings on premium.
    let update = "mutation($id: ID!, $crm: CrmSettingsInput!) { updateIntegration(id: $id, input: {crm: $crm}) {
        integration { crm { contactMatching fieldUpdates caseCreation workflowTrigger visitorIdField
            fieldMappings { source object field } } }
        userErrors { field message code } } }";
    let bad = app
        .user_error(
            update,
            json!({"id": id, "crm": {"fieldMappings": [
                {"source": "PAGE_URL", "object": "CONTACT", "field": "Website__c"},
                {"source": "TRANSCRIPT", "object": "CASE", "field": "no spaces allowed"}]}}),
            "updateIntegration",
        )
        .await;
    assert_eq!(
        bad["field"],
        json!(["input", "crm", "fieldMappings", "1", "field"])
    );
    assert_eq!(bad["code"], "BAD_USER_INPUT");
    let bad_key = app
        .user_error(
            update,
            json!({"id": id, "crm": {"visitorIdField": "Visitor Id"}}),
            "updateIntegration",
        )
        .await;
    assert_eq!(bad_key["field"], json!(["input", "crm", "visitorIdField"]));
    let changed = app
        .mutate(
            update,
            json!({"id": id, "crm": {"contactMatching": "EMAIL_THEN_PHONE", "fieldUpdates": "NEVER",
                "caseCreation": ["HANDOFF", "FORM_SUBMISSION"], "workflowTrigger": true,
                "fieldMappings": [{"source": "PAGE_URL", "object": "CONTACT", "field": "website"}],
                "visitorIdField": " concierge_visitor_id "}}),
            "updateIntegration",
        )
        .await;
    let crm = &changed["integration"]["crm"];
    assert_eq!(crm["visitorIdField"], "concierge_visitor_id");
    assert_eq!(crm["contactMatching"], "EMAIL_THEN_PHONE");
    assert_eq!(crm["fieldUpdates"], "NEVER");
    assert_eq!(crm["caseCreation"], json!(["HANDOFF", "FORM_SUBMISSION"]));
    assert_eq!(crm["workflowTrigger"], true);
    assert_eq!(crm["fieldMappings"][0]["field"], "website");

    // On standard, what is already set stays, but nothing more advanced may be added; basic settings may change.
    app.mutate(
        "mutation { setOrganizationPlan(plan: STANDARD) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let reply: Reply = app
        .graphql(
            update,
            json!({"id": id, "crm": {"fieldMappings": [
                {"source": "PAGE_URL", "object": "CONTACT", "field": "website"},
                {"source": "SENTIMENT", "object": "CONTACT", "field": "mood"}]}}),
        )
        .await;
    assert_eq!(
        reply.graphql_code(),
        "PLAN_UPGRADE_REQUIRED",
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("custom field mappings"),
        "{}",
        reply.text
    );
    let other_key: Reply = app
        .graphql(
            update,
            json!({"id": id, "crm": {"visitorIdField": "Concierge_Id__c"}}),
        )
        .await;
    assert_eq!(
        other_key.graphql_code(),
        "PLAN_UPGRADE_REQUIRED",
        "{}",
        other_key.text
    );
    assert!(
        other_key.text.contains("a visitor id field"),
        "{}",
        other_key.text
    );
    let rest = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"crm": {"field_updates": "always"}}),
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(rest.body["crm"]["field_updates"], "always");
    assert_eq!(rest.body["crm"]["field_mappings"][0]["field"], "website");
    assert_eq!(rest.body["crm"]["visitor_id_field"], "concierge_visitor_id");
    // Going back to the default needs no plan: an empty string clears the field.
    let cleared = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"crm": {"visitor_id_field": ""}}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(cleared.body["crm"]["visitor_id_field"], Value::Null);
    let rest_bad = app
        .put(
            &format!("/api/v1/integrations/{id}"),
            json!({"crm": {"contact_matching": "fax"}}),
        )
        .await;
    assert_eq!(
        rest_bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        rest_bad.text
    );

    // On basic, CRMs are not included: connecting and configuring answer PLAN_UPGRADE_REQUIRED, reading stays.
    app.mutate(
        "mutation { setOrganizationPlan(plan: BASIC) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let list = app.get("/api/v1/integrations").await;
    assert_eq!(
        list.body["data"][1]["included_in_plan"], false,
        "{}",
        list.text
    );
    assert_eq!(list.body["data"][1]["integration"]["status"], "connected");
    let refused: Value = browser
        .graphql(
            "mutation { connectIntegration(input: {provider: HUBSPOT}) { authorizeUrl } }",
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "PLAN_UPGRADE_REQUIRED"
    );
    let test = app
        .post(&format!("/api/v1/integrations/{id}/test"), json!({}))
        .await;
    assert_eq!(test.status, StatusCode::FORBIDDEN);
    assert_eq!(test.error_code(), "PLAN_UPGRADE_REQUIRED");
    let authorizations = app.count_rows("integration_authorizations").await;
    assert_eq!(authorizations, 0, "a refused connect leaves nothing behind");
    let audit = app
        .get("/api/v1/audit-log?action=integration.updated")
        .await;
    assert_eq!(
        audit.body["data"].as_array().unwrap().len(),
        3,
        "the premium settings, the field updates, the cleared visitor id field: {}",
        audit.text
    );
}

#[tokio::test]
async fn rest_connects_with_the_same_flow() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let response = browser
        .client
        .post(app.url("/api/v1/integrations"))
        .header("origin", &app.address)
        .json(&json!({"provider": "hubspot", "return_to": "/console/integrations"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get(SET_COOKIE).is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["integration"]["status"], "pending");
    let (_, location) = browser
        .follow(body["authorize_url"].as_str().unwrap())
        .await;
    assert_eq!(query_of(&location)["outcome"], "connected");
    let unknown = browser
        .client
        .post(app.url("/api/v1/integrations"))
        .header("origin", &app.address)
        .json(&json!({"provider": "pipedrive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_return = browser
        .client
        .post(app.url("/api/v1/integrations"))
        .header("origin", &app.address)
        .json(&json!({"provider": "hubspot", "return_to": "https://evil.test/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_return.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = bad_return.text().await.unwrap();
    assert!(text.contains("return_to"), "{text}");
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_across_two_instances() {
    let fake = FakeHubSpot::start().await;
    let app = app_with(&fake).await;
    let browser = Browser::signed_in(&app, "ada@acme.test", "ADMIN").await;
    let id = connected(&app, &browser).await;
    // A second instance on the same database.
    let port = crate::helpers::free_port();
    let other =
        crate::helpers::ServeProcess::start_with(&app.settings, port, &fake.serve_env()).await;
    // The token is about to expire: both instances want to refresh it, at the same moment.
    {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let row = entities::integration::Entity::find_by_id(id.clone())
            .one(app.db.conn())
            .await
            .unwrap()
            .unwrap();
        let mut row: entities::integration::ActiveModel = row.into();
        row.token_expires_at = Set(Some(chrono::Utc::now() + chrono::Duration::seconds(30)));
        row.update(app.db.conn()).await.unwrap();
    }
    let before = fake
        .seen()
        .iter()
        .filter(|s| *s == "POST /oauth/v1/token")
        .count();
    let test = |base: String| {
        let key = app.key.clone();
        let id = id.clone();
        async move {
            let reply: Value = reqwest::Client::new()
                .post(format!("{base}/api/v1/integrations/{id}/test"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            reply
        }
    };
    let (here, there) = tokio::join!(test(app.address.clone()), test(other.base.clone()));
    assert_eq!(here["success"], true, "{here}");
    assert_eq!(there["success"], true, "{there}");
    let refreshes = fake
        .seen()
        .iter()
        .filter(|s| *s == "POST /oauth/v1/token")
        .count()
        - before;
    assert_eq!(refreshes, 1, "one refresh for both instances");
    drop(other);
}
