//! Local sign-in: invitations set passwords, sessions work on both surfaces, failures are audited and throttled.

use api::auth::Plan;
use api::service::organizations::bootstrap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery staple";

async fn public(app: &TestApp, path: &str, body: Value) -> Reply {
    app.send(
        Method::POST,
        &format!("/api/v1/auth/{path}"),
        None,
        Some(body),
    )
    .await
}

/// Invites a member with `role` through the owner key and returns (member id, invitation token).
async fn invited(app: &TestApp, email: &str, role: &str) -> (String, String) {
    let data = app
        .graphql_ok(
            "mutation($e: String!, $r: Role!) { inviteMember(input: {email: $e, role: $r}) { id passwordSet } }",
            json!({"e": email, "r": role}),
        )
        .await;
    assert_eq!(data["inviteMember"]["passwordSet"], false);
    let id = data["inviteMember"]["id"].as_str().unwrap().to_owned();
    let data = app
        .graphql_ok(
            "mutation($id: ID!) { issueInvitation(memberId: $id) { token expiresAt } }",
            json!({"id": id}),
        )
        .await;
    let token = data["issueInvitation"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("ci_"));
    (id, token)
}

/// A member with a password who has signed in: (member id, session token).
async fn signed_in(app: &TestApp, email: &str, role: &str) -> (String, String) {
    let (id, token) = invited(app, email, role).await;
    let accepted = public(
        app,
        "accept-invitation",
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let login = public(app, "login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    (id, login.body["token"].as_str().unwrap().to_owned())
}

async fn actions_for(app: &TestApp, member: &str) -> Vec<Value> {
    let log = app
        .get(&format!("/api/v1/audit-log?target_id={member}"))
        .await;
    log.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_member_accepts_an_invitation_signs_in_works_within_their_role_and_signs_out() {
    let app = spawn_app().await;
    let (id, token) = invited(&app, "ann@acme.test", "AGENT").await;
    let accepted = public(
        &app,
        "accept-invitation",
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(accepted.body["role"], "agent");
    let again = public(
        &app,
        "accept-invitation",
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an invitation works once"
    );

    let login = public(
        &app,
        "login",
        json!({"email": "Ann@Acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let session = login.body["token"].as_str().unwrap().to_owned();
    assert!(session.starts_with("cs_"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(login.body["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days} hours");

    let me = app.graphql_as(&session, "{ me { role } }", json!({})).await;
    assert_eq!(me.body["data"]["me"]["role"], "AGENT", "{}", me.text);
    let list = app
        .send(Method::GET, "/api/v1/conversations", Some(&session), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.headers.get("ratelimit-limit").is_none(),
        "sessions are not limited by the API tier"
    );
    let write = app
        .send(
            Method::POST,
            "/api/v1/knowledge-base",
            Some(&session),
            Some(json!({"title": "t", "body": "b"})),
        )
        .await;
    assert_eq!(
        write.error_code(),
        "FORBIDDEN",
        "agents read the knowledge base only"
    );

    let entries = actions_for(&app, &id).await;
    let login_entry = entries
        .iter()
        .find(|e| e["action"] == "member.login")
        .unwrap();
    assert_eq!(login_entry["actor_id"], id.as_str());
    assert_eq!(login_entry["ip"], "127.0.0.1");
    assert_eq!(login_entry["after"]["outcome"], "success");
    assert!(entries.iter().any(|e| e["action"] == "member.password_set"));
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "member.invitation_issued")
    );

    let out = app
        .send(Method::POST, "/api/v1/auth/logout", Some(&session), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let after = app.graphql_as(&session, "{ me { role } }", json!({})).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(
        actions_for(&app, &id)
            .await
            .iter()
            .any(|e| e["action"] == "member.logout")
    );
}

#[tokio::test]
async fn wrong_passwords_are_refused_audited_and_lock_the_account() {
    let app = spawn_app().await;
    let (id, _) = signed_in(&app, "bo@acme.test", "VIEWER").await;
    for attempt in 1..=5 {
        let reply = public(
            &app,
            "login",
            json!({"email": "bo@acme.test", "password": "not the password"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(reply.body["error"]["message"], "wrong email or password");
    }
    // Locked now: even the right password is refused until the lockout ends.
    let reply = public(
        &app,
        "login",
        json!({"email": "bo@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((850..=900).contains(&retry), "{retry}");

    let entries = actions_for(&app, &id).await;
    let failed: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "member.login_failed")
        .collect();
    assert_eq!(
        failed.len(),
        6,
        "five wrong passwords and one refusal while locked"
    );
    assert_eq!(failed[0]["after"]["reason"], "locked");
    assert_eq!(failed[1]["after"]["locked"], true);
    assert_eq!(failed[1]["after"]["consecutive_failures"], 5);
    let locked = app
        .graphql_ok(
            "query { members(first: 10) { edges { node { email lockedUntil } } } }",
            json!({}),
        )
        .await;
    let bo = locked["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["email"] == "bo@acme.test")
        .unwrap();
    assert!(bo["node"]["lockedUntil"].is_string());

    // An unknown address gets the same answer and leaves no trace in any organization's log.
    let before = app.count_rows("audit_log").await;
    let reply = public(
        &app,
        "login",
        json!({"email": "nobody@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"]["message"], "wrong email or password");
    assert_eq!(app.count_rows("audit_log").await, before);
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_throttled() {
    let app = spawn_app().await;
    signed_in(&app, "cy@acme.test", "VIEWER").await;
    for n in 0..20 {
        let reply = public(
            &app,
            "login",
            json!({"email": format!("guess{n}@acme.test"), "password": "x"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let reply = public(
        &app,
        "login",
        json!({"email": "cy@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn deactivating_a_member_ends_their_sessions() {
    let app = spawn_app().await;
    let (id, session) = signed_in(&app, "di@acme.test", "ANALYST").await;
    let ok = app.graphql_as(&session, "{ me { role } }", json!({})).await;
    assert_eq!(ok.status, StatusCode::OK);
    app.graphql_ok(
        "mutation($id: ID!) { deactivateMember(id: $id) { active } }",
        json!({"id": id}),
    )
    .await;
    let after = app.graphql_as(&session, "{ me { role } }", json!({})).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let login = public(
        &app,
        "login",
        json!({"email": "di@acme.test", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_basic_plan_owner_signs_in_with_the_bootstrap_invitation_and_is_limited_by_features_not_the_api_tier()
 {
    let app = spawn_app().await;
    let small = bootstrap(&app.db, "Small", Plan::Basic, "owner@small.test")
        .await
        .unwrap();
    let accepted = public(
        &app,
        "accept-invitation",
        json!({"token": small.owner_invitation, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    let login = public(
        &app,
        "login",
        json!({"email": "owner@small.test", "password": PASSWORD}),
    )
    .await;
    let session = login.body["token"].as_str().unwrap().to_owned();

    // The owner's own API key is read-only REST on basic; the owner's session is not.
    let graphql = app
        .graphql_as(&session, "{ me { role plan } }", json!({}))
        .await;
    assert_eq!(
        graphql.body["data"]["me"],
        json!({"role": "OWNER", "plan": "BASIC"}),
        "{}",
        graphql.text
    );
    let write = app
        .send(
            Method::POST,
            "/api/v1/knowledge-base",
            Some(&session),
            Some(json!({"title": "t", "body": "b"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.text);
    let hook = app
        .send(
            Method::POST,
            "/api/v1/webhooks",
            Some(&session),
            Some(json!({"url": "https://hooks.example.com/x", "events": ["message.created"]})),
        )
        .await;
    assert_eq!(
        hook.error_code(),
        "PLAN_UPGRADE_REQUIRED",
        "webhooks are not on the basic plan"
    );
    // The owner upgrades through their session.
    let upgraded = app
        .graphql_as(
            &session,
            "mutation { setOrganizationPlan(plan: STANDARD) { plan } }",
            json!({}),
        )
        .await;
    assert_eq!(
        upgraded.body["data"]["setOrganizationPlan"]["plan"], "STANDARD",
        "{}",
        upgraded.text
    );
}

#[tokio::test]
async fn bad_sign_in_input_gets_clear_errors_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, token) = invited(&app, "ed@acme.test", "VIEWER").await;
    let before = app.count_rows("audit_log").await;
    for (path, body, status) in [
        (
            "accept-invitation",
            json!({"token": token, "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "accept-invitation",
            json!({"token": token, "password": "x".repeat(300)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "accept-invitation",
            json!({"token": token, "password": "ed@acme.test"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "accept-invitation",
            json!({"token": "ci_nope", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "accept-invitation",
            json!({"token": token}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "login",
            json!({"email": "not-an-email", "password": PASSWORD}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "login",
            json!({"email": "ed@acme.test", "password": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "login",
            json!({"email": "ed@acme.test", "password": PASSWORD, "remember": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "login",
            json!({"email": "ed@acme.test", "password": PASSWORD, "organization_id": "acme"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = public(&app, path, body.clone()).await;
        assert!(
            reply.status == status || reply.status == StatusCode::BAD_REQUEST,
            "{path} {body}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(reply.error_code(), "BAD_USER_INPUT", "{path} {body}");
    }
    let logout = app
        .send(Method::POST, "/api/v1/auth/logout", Some("cs_nope"), None)
        .await;
    assert_eq!(logout.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count_rows("audit_log").await,
        before,
        "nothing was recorded"
    );
    assert_eq!(
        app.count_rows(&format!(
            "users WHERE id = '{id}' AND password_hash IS NULL"
        ))
        .await,
        1
    );
    // The invitation still works after the refused attempts.
    let accepted = public(
        &app,
        "accept-invitation",
        json!({"token": token, "password": PASSWORD}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
}
