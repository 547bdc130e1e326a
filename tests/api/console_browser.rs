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
    assert_eq!(seen["nav"], json!(["Inbox", "Your account"]), "{seen}");
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
