//! The team console in Debian's Chromium: `tests/peers/console-browser.mjs` (playwright-core) signs a member
//! in through the pages a person uses, follows the inbox live while a visitor talks on a website, and runs
//! axe-core on every page; these tests check what the member saw and what the server recorded.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::{TestApp, node_peer, screenshots, spawn_app};

const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "a long and private passphrase";

/// Invites `email` with `role` through the owner key: the link the invitation gives.
pub async fn invitation_link(app: &TestApp, email: &str, role: &str) -> String {
    let invited = app
        .mutate(
            "mutation($e: String!, $r: MemberRole!) { inviteMember(input: {email: $e, role: $r}) { member { id } userErrors { field message code } } }",
            json!({"e": email, "r": role}),
            "inviteMember",
        )
        .await;
    let issued = app
        .mutate(
            "mutation($id: ID!) { issueInvitation(id: $id) { token url userErrors { field message code } } }",
            json!({"id": invited["member"]["id"]}),
            "issueInvitation",
        )
        .await;
    let token = issued["token"].as_str().unwrap();
    let url = issued["url"].as_str().unwrap().to_owned();
    assert_eq!(url, app.url(&format!("/console/invitation#token={token}")));
    url
}

/// A member with a password: invited and accepted over the API (the invitation test goes through the pages).
pub async fn member_with_password(app: &TestApp, email: &str, role: &str) {
    let url = invitation_link(app, email, role).await;
    let token = url.rsplit_once("token=").unwrap().1;
    let accepted = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/accept-invitation",
            None,
            Some(json!({"token": token, "password": PASSWORD})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
}

/// Runs one scenario of the console driver and answers its observations.
pub async fn drive(app: &TestApp, mut job: Value) -> Value {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "Chromium is missing: `make test` installs it (make browser)"
    );
    job["chromium"] = json!(CHROMIUM);
    job["server"] = json!(app.address);
    job["out"] = json!(screenshots());
    if job.get("password").is_none() {
        job["password"] = json!(PASSWORD);
    }
    let output = node_peer("console-browser.mjs", &job).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser driver failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// No serious or critical axe-core violation on any page the driver checked, none at all CSP-wise, and no
/// script error.
pub fn assert_clean(observed: &Value, pages: &[&str]) {
    for page in pages {
        let violations = observed["axe"][page]
            .as_array()
            .unwrap_or_else(|| panic!("axe did not run on {page}: {observed}"));
        let grave: Vec<&Value> = violations
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(grave.is_empty(), "axe on {page}: {grave:#?}");
    }
    assert_eq!(observed["csp"], json!([]), "CSP violations: {observed}");
    assert_eq!(observed["errors"], json!([]), "page errors: {observed}");
}

#[tokio::test]
async fn an_invited_member_sets_a_password_signs_in_lands_in_the_inbox_and_signs_out() {
    let app = spawn_app().await;
    let link = invitation_link(&app, "dana@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "invitation", "invitationUrl": link, "email": "dana@acme.test"}),
    )
    .await;
    assert_clean(
        &seen,
        &[
            "invitation",
            "sign-in",
            "inbox-empty",
            "account",
            "inbox-phone-menu",
        ],
    );

    // The invitation: a short password refused in words, then set; the token leaves the address bar.
    assert!(
        seen["shortPassword"]
            .as_str()
            .unwrap()
            .contains("12 characters"),
        "{seen}"
    );
    assert!(
        seen["accepted"]
            .as_str()
            .unwrap()
            .contains("dana@acme.test"),
        "{seen}"
    );
    assert!(
        !seen["urlAfterAccepting"].as_str().unwrap().contains("ci_"),
        "{seen}"
    );
    // A wrong password: the server's reason, shown.
    assert!(
        seen["wrongPassword"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("password"),
        "{seen}"
    );
    // Signed in: the inbox, the admin's sections, the plan.
    assert_eq!(seen["landed"], "/console/inbox");
    assert_eq!(
        seen["nav"],
        json!([
            "Inbox",
            "Knowledge base",
            "Assistant and website",
            "Analytics",
            "Webhooks",
            "Integrations",
            "Notifications",
            "Visitor emails",
            "API keys",
            "Members",
            "Single sign-on",
            "Plan",
            "Audit log",
            "Your account"
        ]),
        "{seen}"
    );
    assert_eq!(seen["plan"], "Premium plan");
    // The session lives in an HttpOnly cookie; nothing is kept in the page's storage.
    let cookies = seen["cookies"].as_array().unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "concierge_session")
        .unwrap_or_else(|| panic!("{seen}"));
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert_eq!(seen["storage"], json!({"local": [], "session": []}));
    assert!(seen["sessions"].as_u64().unwrap() >= 1, "{seen}");
    // Signed out: the console asks to sign in, and remembers where the member was going.
    assert_eq!(seen["afterSignOut"], "/console/sign-in?next=%2Finbox");
    // A phone folds the navigation into a menu.
    assert_eq!(seen["phoneNavHidden"], true, "{seen}");
    assert_eq!(seen["phoneNavShown"], true, "{seen}");

    // The server recorded the sign-ins and the sign-out: only the phone's session is live.
    let members = app
        .get("/api/v1/audit-log?action=member.login&limit=10")
        .await;
    assert!(
        members.body["data"].as_array().unwrap().len() >= 2,
        "{}",
        members.text
    );
}

/// A website on another loopback origin with the widget of the seeded assistant.
async fn start_site(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Orders</title></head>\
         <body><main><h1>Your orders</h1><p>Order 1042: boots, shipped.</p></main>\
         <script src=\"{}/embed.js\" data-assistant-id=\"{}\" defer></script></body></html>",
        app.address, app.org.assistant.id
    );
    let router = Router::new()
        .route("/", get(move || async move { Html(html) }))
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    origin
}

#[tokio::test]
async fn a_visitor_message_shows_live_in_the_inbox_and_the_agents_reply_reaches_the_widget() {
    let app = spawn_app().await;
    app.create_entry(
        "Can I return my order?",
        "You can return any order within 30 days for a full refund.",
    )
    .await;
    member_with_password(&app, "agnes@acme.test", "AGENT").await;
    let site = start_site(&app).await;
    let reply = "Hello, this is Agnes: I have started your refund.";
    let seen = drive(
        &app,
        json!({
            "scenario": "live",
            "site": site,
            "email": "agnes@acme.test",
            "question": "Can I return my order?",
            "followUp": "It was order 1042.",
            "reply": reply,
        }),
    )
    .await;
    assert_clean(
        &seen,
        &[
            "inbox-conversation",
            "inbox-handed-off",
            "inbox-conversation-phone",
        ],
    );
    // The assistant's answer shows where it came from and how sure it was.
    let sources = seen["sources"].as_array().unwrap();
    assert!(
        sources.iter().any(|s| {
            let s = s.as_str().unwrap();
            s.contains("Can I return my order?") && s.contains("confidence")
        }),
        "{seen}"
    );
    assert!(
        seen["facts"].as_str().unwrap().contains("Orders"),
        "the page the visitor was on: {seen}"
    );
    assert_eq!(seen["statusAfterTakeover"], "Handed off");
    assert_eq!(seen["rowStatus"], "Resolved");
    assert!(
        seen["emptyReply"]
            .as_str()
            .unwrap()
            .contains("Write a reply"),
        "{seen}"
    );
    // The filter is in the address (a link to it shows the same), the conversation stays open beside it.
    assert_eq!(
        seen["filteredPath"],
        format!(
            "{}?status=HANDED_OFF",
            seen["conversationPath"].as_str().unwrap()
        )
    );
    assert_eq!(seen["phoneBack"], true);

    // What the server recorded: the agent's reply, and the conversation resolved.
    let id = seen["conversationPath"]
        .as_str()
        .unwrap()
        .trim_start_matches("/console/inbox/")
        .to_owned();
    let data = app
        .graphql_ok(
            "query($id: ID!) { conversation(id: $id) { status humanInvolved messages(first: 20) { nodes { author body } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["conversation"]["status"], "RESOLVED");
    assert_eq!(data["conversation"]["humanInvolved"], true);
    let agent: Vec<&Value> = data["conversation"]["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "AGENT")
        .collect();
    assert_eq!(agent.len(), 1, "one reply, the empty one refused: {data}");
    assert_eq!(agent[0]["body"], reply);
}

/// The console's pages by the name of their screenshot.
fn pages(names: &[&str]) -> Value {
    let all = [
        ("knowledge-base", "/knowledge-base"),
        ("assistant", "/assistant"),
        ("analytics", "/analytics"),
        ("webhooks", "/settings/webhooks"),
        ("integrations", "/settings/integrations"),
        ("notifications", "/settings/notifications"),
        ("visitor-emails", "/settings/visitor-emails"),
        ("api-keys", "/settings/api-keys"),
        ("members", "/settings/members"),
        ("sso", "/settings/sso"),
        ("plan", "/settings/plan"),
        ("audit-log", "/settings/audit-log"),
        ("account", "/account"),
    ];
    Value::Object(
        all.iter()
            .filter(|(name, _)| names.contains(name))
            .map(|(name, path)| ((*name).to_owned(), json!(path)))
            .collect(),
    )
}

const EVERY_PAGE: &[&str] = &[
    "knowledge-base",
    "assistant",
    "analytics",
    "webhooks",
    "integrations",
    "notifications",
    "visitor-emails",
    "api-keys",
    "members",
    "sso",
    "plan",
    "audit-log",
    "account",
];

#[tokio::test]
async fn every_page_of_an_owner_passes_axe_on_a_laptop_and_a_phone() {
    let app = spawn_app().await;
    app.create_entry("How much does shipping cost?", "Shipping costs 4.90 EUR.")
        .await;
    app.create_conversation("Where is my parcel?").await;
    member_with_password(&app, "olga@acme.test", "OWNER").await;
    let seen = drive(
        &app,
        json!({
            "scenario": "pages",
            "email": "olga@acme.test",
            "pages": pages(EVERY_PAGE),
            "phonePages": pages(&["knowledge-base", "assistant", "analytics", "webhooks", "visitor-emails", "members", "sso"]),
        }),
    )
    .await;
    let mut checked: Vec<String> = EVERY_PAGE.iter().map(|p| (*p).to_owned()).collect();
    checked.extend(
        [
            "knowledge-base",
            "assistant",
            "analytics",
            "webhooks",
            "visitor-emails",
            "members",
            "sso",
        ]
        .iter()
        .map(|p| format!("{p}-phone")),
    );
    let checked: Vec<&str> = checked.iter().map(String::as_str).collect();
    assert_clean(&seen, &checked);
    assert_eq!(
        seen["nav"],
        json!([
            "Inbox",
            "Knowledge base",
            "Assistant and website",
            "Analytics",
            "Webhooks",
            "Integrations",
            "Notifications",
            "Visitor emails",
            "API keys",
            "Members",
            "Single sign-on",
            "Plan",
            "Audit log",
            "Your account"
        ]),
        "{seen}"
    );
    for (name, heading) in [
        ("knowledge-base", "Knowledge base"),
        ("webhooks", "Webhooks"),
        ("integrations", "Integrations"),
        ("notifications", "Notifications"),
        ("visitor-emails", "Visitor emails"),
        ("api-keys", "API keys"),
        ("members", "Members"),
        ("sso", "Single sign-on"),
        ("plan", "Plan"),
        ("audit-log", "Audit log"),
        ("account", "Your account"),
    ] {
        assert_eq!(seen["headings"][name], heading, "{seen}");
    }
    // The widget preview ran the real widget, and left no visitor token in the console's storage.
    assert_eq!(seen["previewStorage"], json!([]), "{seen}");
    // A premium owner is offered every feature: no page asks for an upgrade.
    assert!(seen.get("upgrades").is_none(), "{seen}");
    for page in [
        "knowledge-base",
        "assistant",
        "analytics",
        "webhooks",
        "visitor-emails",
        "members",
        "sso",
    ] {
        assert_eq!(
            seen[format!("{page}-phone-overflow")],
            false,
            "{page} is wider than a phone"
        );
    }
}

#[tokio::test]
async fn an_agent_is_not_offered_the_admin_pages_and_a_standard_plan_sees_sso_as_premium() {
    let app = spawn_app().await;
    member_with_password(&app, "agnes@acme.test", "AGENT").await;
    member_with_password(&app, "olga@acme.test", "OWNER").await;
    let agent = drive(
        &app,
        json!({"scenario": "pages", "email": "agnes@acme.test", "pages": pages(&["knowledge-base", "plan", "account"])}),
    )
    .await;
    assert_clean(&agent, &["knowledge-base", "plan", "account"]);
    let nav: Vec<&str> = agent["nav"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for admin_page in [
        "Assistant and website",
        "Webhooks",
        "API keys",
        "Members",
        "Single sign-on",
        "Audit log",
    ] {
        assert!(
            !nav.contains(&admin_page),
            "an agent is offered {admin_page}: {nav:?}"
        );
    }
    assert!(
        nav.contains(&"Inbox") && nav.contains(&"Knowledge base"),
        "{nav:?}"
    );

    // On the standard plan, the owner sees single sign-on as a Premium feature, and webhooks as included.
    let owner = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "olga@acme.test", "password": PASSWORD})),
        )
        .await;
    app.mutate_as(
        owner.body["token"].as_str().unwrap(),
        "mutation { setOrganizationPlan(plan: STANDARD) { organization { plan } userErrors { message } } }",
        json!({}),
        "setOrganizationPlan",
    )
    .await;
    let standard = drive(
        &app,
        json!({"scenario": "pages", "email": "olga@acme.test", "pages": pages(&["sso", "webhooks", "plan"])}),
    )
    .await;
    assert_clean(&standard, &["sso", "webhooks", "plan"]);
    assert!(
        standard["nav"]
            .as_array()
            .unwrap()
            .contains(&json!("Single sign-onPremium")),
        "{standard}"
    );
    assert!(
        standard["nav"]
            .as_array()
            .unwrap()
            .contains(&json!("Webhooks")),
        "{standard}"
    );
    assert_eq!(
        standard["upgrades"],
        json!({"sso": "PREMIUM"}),
        "{standard}"
    );
}

#[tokio::test]
async fn an_entry_written_in_the_console_is_tried_and_then_answers_a_visitor() {
    let app = spawn_app().await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let site = start_site(&app).await;
    let body = "Gift cards never expire and can be used online and in our shops.";
    let seen = drive(
        &app,
        json!({
            "scenario": "knowledge",
            "email": "adam@acme.test",
            "site": site,
            "title": "Do gift cards expire?",
            "body": body,
            "question": "Do gift cards expire?",
        }),
    )
    .await;
    assert_clean(&seen, &["knowledge-base-entry"]);
    assert!(
        !seen["emptyErrors"].as_array().unwrap().is_empty(),
        "an empty entry is refused in words: {seen}"
    );
    assert_eq!(seen["listed"], 1, "{seen}");
    assert_eq!(seen["answered"], "true", "{seen}");
    assert!(
        seen["verdict"]
            .as_str()
            .unwrap()
            .contains("Do gift cards expire?"),
        "{seen}"
    );
    assert_eq!(
        seen["answer"], body,
        "the visitor gets the entry written in the console: {seen}"
    );
    let stored = app.get("/api/v1/knowledge-base?search=gift").await;
    assert_eq!(stored.body["data"][0]["body"], body, "{}", stored.text);
}

/// An endpoint on loopback that takes webhook deliveries and counts them.
async fn start_receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    let router = Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, count)
}

#[tokio::test]
async fn a_webhook_added_in_the_console_shows_its_secret_once_and_its_test_delivery() {
    let app =
        crate::helpers::spawn_app_with(|s| s.egress_allow = Some("127.0.0.1/32".into())).await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let (receiver, received) = start_receiver().await;
    let seen = drive(
        &app,
        json!({"scenario": "webhook", "email": "adam@acme.test", "receiver": receiver}),
    )
    .await;
    assert_clean(&seen, &["webhook-created", "webhook-log"]);
    assert!(
        seen["refusedUrl"].as_str().unwrap().contains("local"),
        "{seen}"
    );
    assert!(
        seen["secret"].as_str().unwrap().starts_with("whsec_"),
        "{seen}"
    );
    assert_eq!(seen["deliveryStatus"], "SUCCEEDED", "{seen}");
    assert_eq!(
        seen["secretAfterReload"], 0,
        "the secret is shown once: {seen}"
    );
    assert!(received.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let hooks = app.get("/api/v1/webhooks").await;
    assert_eq!(
        hooks.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        hooks.text
    );
    assert_eq!(hooks.body["data"][0]["url"], receiver);
}

#[tokio::test]
async fn an_api_key_created_in_the_console_is_shown_once_and_works() {
    let app = spawn_app().await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "apiKey", "email": "adam@acme.test"}),
    )
    .await;
    assert_clean(&seen, &["api-key-created"]);
    assert!(
        seen["networkError"]
            .as_str()
            .unwrap()
            .contains("not-a-network"),
        "{seen}"
    );
    let secret = seen["secret"].as_str().unwrap();
    assert!(secret.starts_with("ck_"), "{seen}");
    assert_eq!(
        seen["secretAfterReload"], 0,
        "the secret is shown once: {seen}"
    );
    // Scoped to reading the organization: it reads an assistant's embed code and may not read conversations.
    let embed = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/assistants/{}/embed", app.org.assistant.id),
            Some(secret),
            None,
        )
        .await;
    assert_eq!(embed.status, 200, "{}", embed.text);
    let conversations = app
        .send(
            reqwest::Method::GET,
            "/api/v1/conversations",
            Some(secret),
            None,
        )
        .await;
    assert_eq!(conversations.status, 403, "{}", conversations.text);
}

#[tokio::test]
async fn graphiql_runs_a_query_with_the_session_and_loads_nothing_from_elsewhere() {
    let app = spawn_app().await;
    member_with_password(&app, "olga@acme.test", "OWNER").await;
    let seen = drive(
        &app,
        json!({"scenario": "graphiql", "email": "olga@acme.test"}),
    )
    .await;
    assert_eq!(seen["csp"], json!([]), "{seen}");
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert!(
        seen["result"].as_str().unwrap().contains("PREMIUM"),
        "{seen}"
    );
    let server = app.address.trim_start_matches("http://");
    assert_eq!(
        seen["hosts"],
        json!([server]),
        "every request to this server: {seen}"
    );
}

#[tokio::test]
async fn a_crm_is_connected_through_its_authorization_page_tested_and_configured_in_the_console() {
    let hubspot = crate::fake_hubspot::FakeHubSpot::start().await;
    let app = crate::integrations::app_with(&hubspot).await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "integrations", "email": "adam@acme.test"}),
    )
    .await;
    assert_clean(&seen, &["integrations-saved"]);
    assert_eq!(
        seen["providers"],
        json!([
            "Salesforce",
            "HubSpot",
            "Zoho CRM",
            "Zendesk",
            "Freshdesk",
            "Intercom",
            "Custom SMTP",
            "SendGrid",
            "Mailchimp"
        ]),
        "{seen}"
    );
    // Mailchimp's OAuth app is not registered on this server either.
    assert_eq!(
        seen["notConfigured"],
        json!(["SALESFORCE", "ZOHO", "MAILCHIMP"]),
        "{seen}"
    );
    assert_eq!(seen["failure"], "", "{seen}");
    assert!(
        seen["notice"]
            .as_str()
            .unwrap()
            .contains("Connected to HubSpot account 62515"),
        "{seen}"
    );
    assert_eq!(seen["path"], "/console/settings/integrations", "{seen}");
    assert_eq!(seen["status"], "Connected", "{seen}");
    assert_eq!(seen["testSucceeded"], true, "{seen}");
    assert_eq!(seen["saved"], true, "{seen}");
    let list = app.get("/api/v1/integrations").await;
    let connected = &list.body["data"][1]["integration"];
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["crm"]["field_updates"], "never");
    assert!(
        seen["visitorIdError"]
            .as_str()
            .unwrap()
            .contains("is not a field API name"),
        "{seen}"
    );
    assert_eq!(seen["visitorIdInvalid"], "true", "{seen}");
    assert_eq!(seen["visitorIdFocused"], true, "{seen}");
    assert_eq!(seen["visitorIdSaved"], true, "{seen}");
    assert_eq!(connected["crm"]["visitor_id_field"], "concierge_visitor_id");
}

#[tokio::test]
async fn a_help_desk_is_connected_with_an_api_token_and_configured_in_the_console() {
    let zendesk = crate::fake_zendesk::FakeZendesk::start().await;
    let base_urls = zendesk.base_urls();
    let app = crate::helpers::spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
    })
    .await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "helpdesk", "email": "adam@acme.test"}),
    )
    .await;
    assert_clean(&seen, &["helpdesk-saved"]);
    assert!(
        seen["tokenError"]
            .as_str()
            .unwrap()
            .contains("Couldn't authenticate you"),
        "{seen}"
    );
    assert_eq!(seen["tokenFocused"], true, "{seen}");
    assert_eq!(
        seen["notice"], "Connected to Zendesk acme as Ada Agent (admin)",
        "{seen}"
    );
    assert!(
        seen["intentsError"]
            .as_str()
            .unwrap()
            .contains("name at least one intent"),
        "{seen}"
    );
    assert_eq!(seen["saved"], true, "{seen}");
    assert_eq!(seen["phoneOverflow"], false, "{seen}");
    let list = app.get("/api/v1/integrations").await;
    let zendesk_entry = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "zendesk")
        .unwrap();
    let helpdesk = &zendesk_entry["integration"]["helpdesk"];
    assert_eq!(
        helpdesk["intents"],
        json!(["refund", "cancel"]),
        "{helpdesk}"
    );
    assert_eq!(helpdesk["default_type"], "problem");
    assert_eq!(helpdesk["tags"], json!(["web", "vip"]));
    assert_eq!(
        helpdesk["priority_keywords"],
        json!([{"keyword": "outage", "priority": "urgent"}])
    );
}

#[tokio::test]
async fn freshdesk_is_connected_with_its_key_and_its_assignment_set_in_the_console() {
    let freshdesk = crate::fake_freshdesk::FakeFreshdesk::start().await;
    let base_urls = freshdesk.base_urls();
    let app = crate::helpers::spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
    })
    .await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "freshdesk", "email": "adam@acme.test"}),
    )
    .await;
    assert_clean(&seen, &["freshdesk-saved"]);
    assert_eq!(seen["emailAsked"], false, "{seen}");
    assert!(
        seen["keyError"]
            .as_str()
            .unwrap()
            .contains("You have to be logged in"),
        "{seen}"
    );
    assert_eq!(seen["keyFocused"], true, "{seen}");
    assert_eq!(
        seen["notice"], "Connected to Freshdesk acme as Ada Agent",
        "{seen}"
    );
    assert!(
        seen["agentsError"]
            .as_str()
            .unwrap()
            .contains("name the agents the tickets go to"),
        "{seen}"
    );
    assert_eq!(seen["saved"], true, "{seen}");
    assert_eq!(seen["topicSaved"], true, "{seen}");
    assert_eq!(seen["phoneOverflow"], false, "{seen}");
    let list = app.get("/api/v1/integrations").await;
    let entry = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "freshdesk")
        .unwrap();
    let assignment = &entry["integration"]["helpdesk"]["assignment"];
    assert_eq!(assignment["mode"], "by_topic", "{assignment}");
    assert_eq!(assignment["rules"][0]["keyword"], "refund");
    assert_eq!(assignment["rules"][0]["group_id"], "7001");
    assert_eq!(assignment["agents"], json!(["101", "102"]));
}

#[tokio::test]
async fn an_agent_sees_the_visitors_screenshot_and_replies_with_one_in_the_inbox() {
    let app = crate::helpers::spawn_app().await;
    member_with_password(&app, "agnes@acme.test", "AGENT").await;
    let (id, _) = crate::crm_sync::conversation(
        &app,
        json!({"name": "Ivy Lane", "email": "ivy@example.test"}),
        "The cart is empty after I sign in",
    )
    .await;
    // A 120×80 PNG the visitor sent with their message.
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "iVBORw0KGgoAAAANSUhEUgAAAHgAAABQCAIAAABd+SbeAAAAg0lEQVR42u3QQQ0AAAgEoEtiMBMbyxbOBxsJSPVwIApEi0a0aNEWRItGtGjRFkSLRrRo0YgWjWjRohEtGtGiRSNaNKJFi0a0aESLFo1o0YgWLRrRohEtWjSiRSNatGhEi0a0aNGIFo1o0aIRLRrRokUjWjSiRYtGtGhEixaNaNGI/mMBfhPis9N0aUgAAAAASUVORK5CYII=",
    )
    .unwrap();
    let shot = app
        .send_raw(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{id}/attachments"),
            Some("image/png"),
            png,
        )
        .await;
    assert_eq!(shot.status, reqwest::StatusCode::CREATED, "{}", shot.text);
    let posted = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"author": "visitor", "body": "This is what I see", "attachment_ids": [shot.body["id"]]}),
        )
        .await;
    assert_eq!(
        posted.status,
        reqwest::StatusCode::CREATED,
        "{}",
        posted.text
    );
    crate::crm_sync::set_status(&app, &id, "handed_off").await;
    let seen = drive(
        &app,
        json!({"scenario": "attachments", "email": "agnes@acme.test", "conversationId": id,
            "reply": "We see it, fixing now"}),
    )
    .await;
    assert_clean(&seen, &["inbox-attachments"]);
    assert!(seen["visitorImageWidth"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(
        seen["visitorImageAlt"], "Screenshot 1 from the visitor",
        "{seen}"
    );
    assert_eq!(
        seen["visitorImageLink"]["rel"], "noopener noreferrer",
        "{seen}"
    );
    assert_eq!(seen["replyImages"], 1, "{seen}");
    assert_eq!(seen["replyImageWidth"], 160, "{seen}");
    assert_eq!(seen["pendingAfterSend"], 0, "{seen}");
    // The agent's reply is kept with its screenshot.
    let messages = app
        .get(&format!("/api/v1/conversations/{id}/messages?limit=100"))
        .await;
    let reply = messages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["author"] == "agent")
        .cloned()
        .unwrap();
    assert_eq!(reply["body"], "We see it, fixing now", "{reply}");
    assert_eq!(
        reply["attachments"][0]["content_type"], "image/png",
        "{reply}"
    );
}

#[tokio::test]
async fn an_admin_connects_the_smtp_server_and_sends_a_test_message_in_the_console() {
    let peer = crate::smtp::SmtpPeer::start("starttls", true, &[]).await;
    let app = crate::smtp::mail_app().await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "smtp", "email": "adam@acme.test", "wrongPassword": "not-the-password",
            "smtp": {"host": "127.0.0.1", "port": peer.port, "security": "STARTTLS",
                "username": crate::smtp::USER, "password": crate::smtp::PASSWORD,
                "fromAddress": "support@acme.test", "fromName": "Acme Support", "caCertificate": peer.ca}}),
    )
    .await;
    assert_clean(&seen, &["smtp-connected"]);
    assert!(
        seen["passwordError"].as_str().unwrap().contains("535"),
        "{seen}"
    );
    assert_eq!(seen["passwordFocused"], true, "{seen}");
    assert_eq!(
        seen["notice"],
        format!(
            "Connected to 127.0.0.1:{} with STARTTLS as {}",
            peer.port,
            crate::smtp::USER
        ),
        "{seen}"
    );
    assert_eq!(seen["sender"], "Acme Support <support@acme.test>", "{seen}");
    assert!(
        seen["tested"]
            .as_str()
            .unwrap()
            .contains("Sent a test message to adam@acme.test"),
        "{seen}"
    );
    let received = peer.wait_for(1).await;
    assert_eq!(received[0]["rcpt_tos"], json!(["adam@acme.test"]));
}

#[tokio::test]
async fn an_admin_sets_notification_rules_in_the_console() {
    let app = crate::helpers::spawn_app().await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "notifications", "email": "adam@acme.test"}),
    )
    .await;
    assert_clean(&seen, &["notifications"]);
    assert!(
        seen["noEmailNotice"]
            .as_str()
            .unwrap()
            .contains("Rules send nothing until"),
        "{seen}"
    );
    assert!(
        seen["addressesError"]
            .as_str()
            .unwrap()
            .contains("at least one address"),
        "{seen}"
    );
    assert_eq!(seen["addressesFocused"], true, "{seen}");
    assert_eq!(
        seen["rules"],
        json!([{"name": "Admins", "enabled": false}, {"name": "Pricing", "enabled": true}]),
        "{seen}"
    );
    // The server holds what the page shows.
    let rules = app.get("/api/v1/notification-rules").await;
    let pricing = rules.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Pricing")
        .cloned()
        .unwrap();
    assert_eq!(
        pricing["addresses"],
        json!(["billing@acme.test"]),
        "{pricing}"
    );
    assert_eq!(pricing["page_path"], "/pricing", "{pricing}");
    assert_eq!(pricing["events"], json!(["query_failed"]), "{pricing}");
}

#[tokio::test]
async fn an_admin_edits_previews_and_turns_on_a_visitor_email_in_the_console() {
    let app = spawn_app().await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let subject = "Your chat with {{ organization }} about {{ conversation.page_title }}";
    let fixed = "Hello {% if visitor.first_name %}{{ visitor.first_name }}{% else %}there{% endif %},\n\n\
                 {% for m in conversation.messages %}{{ m.name }}: {{ m.body }}\n{% endfor %}";
    let seen = drive(
        &app,
        json!({"scenario": "templates", "email": "adam@acme.test", "subject": subject,
            "brokenText": "{% if visitor.name %}no end", "fixedText": fixed}),
    )
    .await;
    assert_clean(
        &seen,
        &[
            "templates",
            "templates-preview",
            "templates-error",
            "templates-saved",
            "templates-phone",
        ],
    );
    assert!(
        seen["nav"]
            .as_array()
            .unwrap()
            .contains(&json!("Visitor emails")),
        "{seen}"
    );
    // No email integration sends them yet: the page says so, with the way to connect one.
    assert!(
        seen["noMailerNotice"]
            .as_str()
            .unwrap()
            .contains("not sent until an email integration is connected"),
        "{seen}"
    );
    assert_eq!(
        seen["noMailerLink"], "/console/settings/integrations#integrations-EMAIL",
        "{seen}"
    );
    // The four emails, in order, each with when it is sent, all off.
    let emails: Vec<(&str, bool)> = seen["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["enabled"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        emails,
        [
            ("WELCOME", false),
            ("TRANSCRIPT", false),
            ("FOLLOW_UP", false),
            ("SATISFACTION_SURVEY", false)
        ],
        "{seen}"
    );
    assert!(
        seen["emails"][2]["when"]
            .as_str()
            .unwrap()
            .starts_with("24 hours after a conversation is resolved"),
        "{seen}"
    );

    // The changed subject, previewed with the example conversation: the subject, the HTML in a frame that runs
    // nothing (its inline styles given back through the CSSOM, which the CSP allows), the plain text with the footer.
    assert_eq!(seen["editorFocused"], true, "{seen}");
    assert_eq!(
        seen["previewSubject"], "Your chat with Acme about Pricing",
        "{seen}"
    );
    assert_eq!(seen["previewFocused"], true, "{seen}");
    let text = seen["previewText"].as_str().unwrap();
    assert!(
        text.contains("Bo from Acme (14:10):\nDone: it was prorated correctly."),
        "{text}"
    );
    assert!(text.contains("Unsubscribe: https://"), "{text}");
    let html = seen["previewHtml"].as_str().unwrap();
    assert!(
        html.contains("Bo from Acme") && html.contains("Unsubscribe"),
        "{html}"
    );
    let sandbox = seen["frameSandbox"].as_str().unwrap();
    assert!(!sandbox.contains("allow-scripts"), "{sandbox}");
    assert!(
        seen["frameTitle"]
            .as_str()
            .unwrap()
            .contains("transcript email"),
        "{seen}"
    );
    assert_eq!(seen["previewStyle"]["maxWidth"], "560px", "{seen}");
    assert_eq!(seen["previewStyle"]["scripts"], 0, "{seen}");

    // A broken plain-text part: the mistake with its line beside the field, which took the focus; no preview.
    let error = seen["textError"].as_str().unwrap();
    assert!(
        error.to_lowercase().contains("syntax error") && error.contains("line 1"),
        "{seen}"
    );
    assert_eq!(seen["textInvalid"], "true", "{seen}");
    assert_eq!(seen["textFocused"], true, "{seen}");
    assert_eq!(seen["previewAfterError"], 0, "{seen}");

    // Fixed, previewed, turned on and saved.
    assert_eq!(seen["textErrorAfterFix"], 0, "{seen}");
    assert!(
        seen["fixedPreviewText"]
            .as_str()
            .unwrap()
            .starts_with("Hello Ivy,\n\nIvy Lane: Can I change my plan"),
        "{seen}"
    );
    assert!(
        seen["toggled"]
            .as_str()
            .unwrap()
            .starts_with("The transcript email is on"),
        "{seen}"
    );
    assert_eq!(seen["saved"], "The transcript email was saved.", "{seen}");
    assert_eq!(seen["saveProblems"], json!([]), "{seen}");
    // The welcome email, turned on, then reset after a confirmation: the default, and off.
    assert_eq!(seen["resetConfirmFocused"], true, "{seen}");
    assert_eq!(
        seen["reset"], "The welcome email is back to the default, and off.",
        "{seen}"
    );
    assert_eq!(seen["phoneOverflow"], false, "{seen}");
    for name in [
        "console-templates.png",
        "console-templates-preview.png",
        "console-templates-error.png",
        "console-templates-saved.png",
        "console-templates-phone.png",
    ] {
        assert!(screenshots().join(name).exists(), "{name}");
    }

    // The server holds what the page saved.
    let transcript = app.get("/api/v1/email-templates/transcript").await;
    assert_eq!(transcript.status, 200, "{}", transcript.text);
    let saved = &transcript.body;
    assert_eq!(saved["enabled"], true, "{saved}");
    assert_eq!(saved["custom_subject"], true, "{saved}");
    assert_eq!(saved["subject"], subject, "{saved}");
    assert_eq!(saved["custom_text"], true, "{saved}");
    assert_eq!(saved["text"], fixed, "{saved}");
    assert_eq!(saved["custom_html"], false, "{saved}");
    assert_eq!(saved["sendgrid_template_id"], Value::Null, "{saved}");
    let welcome = app.get("/api/v1/email-templates/welcome").await;
    assert_eq!(welcome.body["enabled"], false, "{}", welcome.text);
    assert_eq!(welcome.body["custom_subject"], false, "{}", welcome.text);
}

#[tokio::test]
async fn an_admin_connects_sendgrid_with_its_key_and_sender_in_the_console() {
    let sendgrid = crate::fake_sendgrid::FakeSendGrid::start().await;
    let base_urls = sendgrid.base_urls();
    let app = crate::helpers::spawn_app_with(move |settings| {
        settings.provider_base_urls = Some(base_urls);
        settings.egress_allow = Some("127.0.0.1/32".to_owned());
    })
    .await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "sendgrid", "email": "adam@acme.test",
            "apiKey": crate::fake_sendgrid::API_KEY, "wrongKey": "SG.wrong",
            "sender": crate::fake_sendgrid::SENDER}),
    )
    .await;
    assert_clean(&seen, &["sendgrid-connected"]);
    assert!(
        seen["keyError"]
            .as_str()
            .unwrap()
            .contains("authorization required"),
        "{seen}"
    );
    assert_eq!(seen["keyFocused"], true, "{seen}");
    assert_eq!(
        seen["notice"], "Connected to SendGrid; mail goes from support@acme.test",
        "{seen}"
    );
    let tested = seen["tested"].as_str().unwrap();
    assert!(
        tested.contains("Sent a test message to adam@acme.test"),
        "{seen}"
    );
    assert!(tested.contains("202 Accepted"), "{seen}");
    assert_eq!(
        sendgrid.sent()[0]["personalizations"][0]["to"][0]["email"],
        "adam@acme.test"
    );
}

#[tokio::test]
async fn an_admin_connects_mailchimp_and_chooses_the_audience_in_the_console() {
    use crate::fake_mailchimp::{FakeMailchimp, NEWSLETTER};
    let mailchimp = FakeMailchimp::start().await;
    let app = crate::mailchimp::app_with(&mailchimp).await;
    member_with_password(&app, "adam@acme.test", "ADMIN").await;
    let seen = drive(
        &app,
        json!({"scenario": "mailchimp", "email": "adam@acme.test",
            "audienceName": "Acme newsletter", "consentLabel": "Send me Acme's newsletter"}),
    )
    .await;
    assert_clean(&seen, &["mailchimp-error", "mailchimp-saved"]);
    assert_eq!(seen["category"], "Email", "{seen}");
    assert_eq!(seen["failure"], "", "{seen}");
    assert!(
        seen["notice"]
            .as_str()
            .unwrap()
            .contains("Connected to Mailchimp account Acme Shop"),
        "{seen}"
    );
    assert_eq!(seen["path"], "/console/settings/integrations", "{seen}");
    assert_eq!(seen["status"], "Connected", "{seen}");
    // Its account, without a sender (it sends none of the organization's mail) or its list of audiences.
    let facts: Vec<(String, String)> = seen["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["label"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        facts[..3],
        [
            ("Account".to_owned(), "Acme Shop".to_owned()),
            ("Login".to_owned(), "ada@acme.test".to_owned()),
            ("Data centre".to_owned(), "us6".to_owned()),
        ],
        "{seen}"
    );
    assert!(
        facts
            .iter()
            .all(|(label, _)| label != "Sender" && label != "Audiences"),
        "{seen}"
    );
    // Its test calls Mailchimp (and reads the audiences again); no test message.
    assert!(
        seen["testLabel"]
            .as_str()
            .unwrap()
            .starts_with("Test connection"),
        "{seen}"
    );
    assert_eq!(seen["testSucceeded"], true, "{seen}");
    assert!(
        seen["consentRule"]
            .as_str()
            .unwrap()
            .contains("Only visitors who tick the consent checkbox"),
        "{seen}"
    );
    assert_eq!(
        seen["audiences"],
        json!([
            "None: nobody is added",
            "Acme newsletter (0 members)",
            "Partners (0 members)"
        ]),
        "{seen}"
    );
    // The merge tag refused by the server, beside the field, which took the focus.
    assert_eq!(seen["newRowFocused"], true, "{seen}");
    assert!(
        seen["mergeError"]
            .as_str()
            .unwrap()
            .contains("is not a merge tag"),
        "{seen}"
    );
    assert_eq!(seen["mergeInvalid"], "true", "{seen}");
    assert_eq!(seen["mergeFocused"], true, "{seen}");
    assert_eq!(seen["savedAfterError"], false, "{seen}");
    assert_eq!(seen["saved"], "The settings were saved.", "{seen}");
    assert_eq!(seen["saveProblems"], json!([]), "{seen}");
    assert_eq!(seen["chosen"], "Acme newsletter (0 members)", "{seen}");
    assert_eq!(seen["phoneOverflow"], false, "{seen}");
    for name in [
        "console-mailchimp.png",
        "console-mailchimp-phone.png",
        "console-mailchimp-settings.png",
    ] {
        assert!(screenshots().join(name).exists(), "{name}");
    }

    // The server holds what the page saved.
    let list = app.get("/api/v1/integrations").await;
    let entry = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "mailchimp")
        .cloned()
        .unwrap();
    let audience = &entry["integration"]["audience"];
    assert_eq!(audience["audience_id"], NEWSLETTER, "{audience}");
    assert_eq!(audience["opt_in"], "single", "{audience}");
    assert_eq!(audience["tags"], json!(["website"]), "{audience}");
    assert_eq!(
        audience["consent_label"], "Send me Acme's newsletter",
        "{audience}"
    );
    assert_eq!(
        audience["tag_sources"],
        json!(["intent", "page", "assistant"]),
        "{audience}"
    );
    assert_eq!(
        audience["merge_fields"],
        json!([
            {"tag": "FNAME", "source": "visitor_first_name"},
            {"tag": "LNAME", "source": "visitor_last_name"},
            {"tag": "COMPANY", "source": "page_title", "default": "Independent"}
        ]),
        "{audience}"
    );
    // The widget now offers the consent checkbox with these words.
    let widget = crate::widget::Browser::start(&app, json!({"name": "Ivy"})).await;
    let session = widget.get("/widget/v1/session").await;
    assert_eq!(
        session.body["marketing_consent_label"], "Send me Acme's newsletter",
        "{}",
        session.text
    );
}
