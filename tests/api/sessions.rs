//! Local sign-in: invitations set passwords, sessions work on both surfaces, failures are audited and throttled.

use api::auth::Plan;
use api::service::identity::bootstrap::bootstrap;
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
        .mutate(
            "mutation($e: String!, $r: MemberRole!) { inviteMember(input: {email: $e, role: $r}) { member { id passwordSet } userErrors { field message code } } }",
            json!({"e": email, "r": role}),
            "inviteMember",
        )
        .await;
    assert_eq!(data["member"]["passwordSet"], false);
    let id = data["member"]["id"].as_str().unwrap().to_owned();
    let data = app
        .mutate(
            "mutation($id: ID!) { issueInvitation(id: $id) { member { id } token expiresAt userErrors { field message code } } }",
            json!({"id": id}),
            "issueInvitation",
        )
        .await;
    assert_eq!(data["member"]["id"], id.as_str());
    assert!(data["expiresAt"].is_string(), "{data}");
    let token = data["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ci_"));
    (id, token)
}

/// A member with a password who has signed in: (member id, session token).
pub(crate) async fn signed_in(app: &TestApp, email: &str, role: &str) -> (String, String) {
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
    let deactivated = app
        .mutate(
            "mutation($id: ID!) { deactivateMember(id: $id) { member { active } userErrors { field message code } } }",
            json!({"id": id}),
            "deactivateMember",
        )
        .await;
    assert_eq!(deactivated["member"]["active"], false);
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
        .mutate_as(
            &session,
            "mutation { setOrganizationPlan(plan: STANDARD) { organization { plan } userErrors { field message code } } }",
            json!({}),
            "setOrganizationPlan",
        )
        .await;
    assert_eq!(upgraded["organization"]["plan"], "STANDARD");
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

/// Signs in and returns the whole reply (cookie, CSRF token, session).
async fn login_reply(app: &TestApp, email: &str) -> Reply {
    let login = public(app, "login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    login
}

/// The `concierge_session=…` pair of a `Set-Cookie` header.
fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().trim().to_owned()
}

/// A request carrying the session cookie (no Authorization header) and the given extra headers.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("cookie", cookie);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_browser_session_is_an_http_only_cookie_and_its_writes_need_the_same_origin_or_the_csrf_token()
 {
    let app = spawn_app().await;
    let (member, _) = signed_in(&app, "cookie@acme.test", "AGENT").await;
    let login = login_reply(&app, "cookie@acme.test").await;
    let set = login.headers["set-cookie"].to_str().unwrap().to_owned();
    let token = login.body["token"].as_str().unwrap();
    assert!(
        set.starts_with(&format!("concierge_session={token}")),
        "{set}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    // The public URL is plain http here, so the cookie is not Secure.
    assert!(!set.contains("Secure"), "{set}");
    let csrf = login.body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    assert!(!csrf.contains(&token[3..]));
    let cookie = cookie_of(&login);

    // Reads with the cookie alone work, on REST and GraphQL, and `me` says how the member signed in.
    let listed = with_cookie(
        &app,
        Method::GET,
        "/api/v1/conversations",
        &cookie,
        &[],
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let me = with_cookie(
        &app,
        Method::GET,
        "/graphql?query=%7B%20me%20%7B%20signInMethod%20sessionId%20actorType%20role%20member%20%7B%20email%20%7D%20organization%20%7B%20id%20%7D%20%7D%20%7D",
        &cookie,
        &[("accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let me = &me.body["data"]["me"];
    assert_eq!(me["signInMethod"], "PASSWORD");
    assert_eq!(me["actorType"], "USER");
    assert_eq!(me["sessionId"], login.body["session_id"]);
    assert_eq!(me["role"], "AGENT");
    assert_eq!(me["member"]["email"], "cookie@acme.test");
    assert_eq!(me["organization"]["id"], app.org.organization.id.as_str());
    let key_me = app
        .graphql_ok("{ me { signInMethod sessionId member { id } } }", json!({}))
        .await;
    assert_eq!(key_me["me"]["signInMethod"], "API_KEY");
    assert_eq!(key_me["me"]["sessionId"], Value::Null);
    assert_eq!(key_me["me"]["member"], Value::Null);

    // A write from another site is refused, and nothing is written.
    let body = json!({"visitor": {"name": "Ann"}, "initial_message": "hi"});
    let before = app.count_rows("conversations").await;
    for headers in [
        vec![],
        vec![("origin", "https://evil.test")],
        vec![("origin", "https://evil.test"), ("x-csrf-token", "0000")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let refused = with_cookie(
            &app,
            Method::POST,
            "/api/v1/conversations",
            &cookie,
            &headers,
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{headers:?}: {}",
            refused.text
        );
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert!(refused.text.contains("cross-site"), "{}", refused.text);
    }
    let mutation = json!({"query": "mutation { createConversation(input: {initialMessage: \"hi\"}) { conversation { id } userErrors { code } } }"});
    let graphql = with_cookie(
        &app,
        Method::POST,
        "/graphql",
        &cookie,
        &[("origin", "https://evil.test")],
        Some(mutation.clone()),
    )
    .await;
    assert!(graphql.text.contains("cross-site"), "{}", graphql.text);
    assert_eq!(app.count_rows("conversations").await, before);

    // From the server's own origin, with the CSRF token, or with a bearer token, it goes through.
    let own_origin = app.address.clone();
    for headers in [
        vec![("origin", own_origin.as_str())],
        vec![("sec-fetch-site", "same-origin")],
        vec![
            ("origin", "https://evil.test"),
            ("x-csrf-token", csrf.as_str()),
        ],
    ] {
        let created = with_cookie(
            &app,
            Method::POST,
            "/api/v1/conversations",
            &cookie,
            &headers,
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{headers:?}: {}",
            created.text
        );
    }
    let bearer = app
        .send(
            Method::POST,
            "/api/v1/conversations",
            Some(token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::CREATED, "{}", bearer.text);
    assert_eq!(app.count_rows("conversations").await, before + 4);

    // Signing out through the cookie ends the session and removes the cookie.
    let out = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        &[("origin", own_origin.as_str())],
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let removal = out.headers["set-cookie"].to_str().unwrap();
    assert!(removal.starts_with("concierge_session=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    let after = with_cookie(
        &app,
        Method::GET,
        "/api/v1/conversations",
        &cookie,
        &[],
        None,
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let actions = actions_for(&app, &member).await;
    assert!(
        actions.iter().any(|a| a["action"] == "member.logout"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn sessions_behind_an_https_public_url_get_secure_cookies() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.public_url = Some("https://concierge.example.com".to_owned());
    })
    .await;
    signed_in(&app, "secure@acme.test", "VIEWER").await;
    let login = login_reply(&app, "secure@acme.test").await;
    let set = login.headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("Secure"), "{set}");
    // The public URL's origin counts as the server's own.
    let cookie = cookie_of(&login);
    let out = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        &[("origin", "https://concierge.example.com")],
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
}

/// Pretends the session of `token` was last used `minutes` ago.
async fn last_used(app: &TestApp, token: &str, minutes: i64) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::session::Entity::update_many()
        .col_expr(
            entities::session::Column::LastSeenAt,
            sea_orm::sea_query::Expr::value(
                chrono::Utc::now() - chrono::Duration::minutes(minutes),
            ),
        )
        .filter(entities::session::Column::TokenHash.eq(api::auth::tokens::hash(token)))
        .exec(app.db.conn())
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_end_after_their_idle_time_and_are_listed_and_revoked_by_their_member_and_admins()
{
    let app = crate::helpers::spawn_app_with(|settings| settings.session_idle_minutes = 30).await;
    let (agent, agent_token) = signed_in(&app, "agent@acme.test", "AGENT").await;
    let second = login_reply(&app, "agent@acme.test").await;
    let second_token = second.body["token"].as_str().unwrap().to_owned();
    let second_id = second.body["session_id"].as_str().unwrap().to_owned();
    let (_, admin_token) = signed_in(&app, "admin@acme.test", "ADMIN").await;
    let (owner_member, owner_token) = signed_in(&app, "owner2@acme.test", "OWNER").await;

    // The member lists their own live sessions, the current one marked.
    let own = app
        .send(Method::GET, "/api/v1/sessions", Some(&second_token), None)
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let rows = own.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", own.text);
    assert!(
        rows.iter()
            .all(|r| r["member_id"] == agent.as_str() && r["method"] == "password")
    );
    assert_eq!(
        rows.iter().filter(|r| r["current"] == true).count(),
        1,
        "{}",
        own.text
    );
    assert!(!own.text.contains(&second_token));
    // Another member's sessions: admins yes, agents no.
    let by_admin = app
        .graphql_as(
            &admin_token,
            "query($m: ID) { sessions(memberId: $m) { id method current } }",
            json!({"m": agent}),
        )
        .await;
    let listed = by_admin.body["data"]["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{}", by_admin.text);
    assert!(
        listed.iter().all(|s| s["method"] == "PASSWORD"),
        "{}",
        by_admin.text
    );
    let by_agent = app
        .send(
            Method::GET,
            &format!("/api/v1/sessions?member_id={owner_member}"),
            Some(&agent_token),
            None,
        )
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN, "{}", by_agent.text);
    let key_own = app.get("/api/v1/sessions").await;
    assert_eq!(
        key_own.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        key_own.text
    );

    // The member ends one of their sessions; it stops working, the other goes on.
    let revoked = app
        .send(
            Method::DELETE,
            &format!("/api/v1/sessions/{second_id}"),
            Some(&agent_token),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert!(revoked.body["revoked_at"].is_string());
    let dead = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(&second_token),
            None,
        )
        .await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    // An admin ends an agent's session, but not an owner's; an agent ends nobody else's.
    let sessions_of_owner = app
        .graphql_as(&owner_token, "{ sessions { id current } }", json!({}))
        .await;
    let owner_session = sessions_of_owner.body["data"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) { session { id revokedAt current } userErrors { field message code } } }";
    let refused = app
        .graphql_as(&admin_token, revoke, json!({"id": owner_session}))
        .await;
    assert_eq!(refused.graphql_code(), "FORBIDDEN", "{}", refused.text);
    assert!(
        refused.body["data"]["revokeSession"].is_null(),
        "{}",
        refused.text
    );
    let by_agent = app
        .send(
            Method::DELETE,
            &format!("/api/v1/sessions/{owner_session}"),
            Some(&agent_token),
            None,
        )
        .await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN);
    let agent_sessions = app
        .send(
            Method::GET,
            &format!("/api/v1/sessions?member_id={agent}"),
            Some(&admin_token),
            None,
        )
        .await;
    let remaining = agent_sessions.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = app
        .mutate_as(
            &admin_token,
            revoke,
            json!({"id": remaining}),
            "revokeSession",
        )
        .await;
    assert_eq!(ended["session"]["id"], remaining.as_str());
    assert!(ended["session"]["revokedAt"].is_string(), "{ended}");
    let gone = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(&agent_token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    let audited = actions_for(&app, &agent).await;
    assert_eq!(
        audited
            .iter()
            .filter(|a| a["action"] == "session.revoked")
            .count(),
        2,
        "{audited:?}"
    );
    // Other organizations' sessions are not found.
    let other = app.other_organization("Globex").await;
    let foreign = app
        .send(
            Method::DELETE,
            &format!("/api/v1/sessions/{owner_session}"),
            Some(&other.secret),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);
    let foreign = app
        .user_error_as(
            &other.secret,
            revoke,
            json!({"id": owner_session}),
            "revokeSession",
        )
        .await;
    assert_eq!(foreign["code"], "NOT_FOUND", "{foreign}");

    // Idle expiry: 30 minutes without a request end a session even before its absolute expiry.
    let admin_alive = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(admin_alive.status, StatusCode::OK);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    last_used(&app, &admin_token, 31).await;
    let idle = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(idle.status, StatusCode::UNAUTHORIZED);
    assert!(idle.text.contains("without use"), "{}", idle.text);
    // A request within the idle window keeps the session alive (its last use moves on).
    last_used(&app, &owner_token, 20).await;
    let used = app
        .send(
            Method::GET,
            "/api/v1/conversations",
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!(used.status, StatusCode::OK);
    let row = entities::session::Entity::find()
        .filter(entities::session::Column::TokenHash.eq(api::auth::tokens::hash(&owner_token)))
        .one(app.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert!(chrono::Utc::now() - row.last_seen_at.unwrap() < chrono::Duration::minutes(1));
}

/// Opens `/graphql/ws` with the given handshake headers, sends an empty `connection_init`, and answers the
/// first frame's type or the close code.
async fn websocket_init(app: &TestApp, headers: &[(&str, &str)]) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut request = app
        .url("/graphql/ws")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    for (name, value) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({"type": "connection_init", "payload": {}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                return frame["type"].as_str().unwrap_or_default().to_owned();
            }
            Message::Close(Some(frame)) => return format!("close {}", u16::from(frame.code)),
            _ => {}
        }
    }
    "ended".to_owned()
}

#[tokio::test]
async fn a_browser_subscribes_with_its_session_cookie_from_this_server_only() {
    let app = spawn_app().await;
    signed_in(&app, "live@acme.test", "AGENT").await;
    let login = login_reply(&app, "live@acme.test").await;
    let cookie = cookie_of(&login);
    let own = app.address.clone();
    // From a page of this server, the cookie authenticates the socket.
    assert_eq!(
        websocket_init(&app, &[("cookie", &cookie), ("origin", &own)]).await,
        "connection_ack"
    );
    // From another site (cross-site WebSocket hijacking) or with no Origin, the cookie is not used.
    assert_eq!(
        websocket_init(
            &app,
            &[("cookie", &cookie), ("origin", "https://evil.test")]
        )
        .await,
        "close 4401"
    );
    assert_eq!(
        websocket_init(&app, &[("cookie", &cookie)]).await,
        "close 4401"
    );
    // Signed out, the cookie opens nothing.
    let out = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        &[("origin", own.as_str())],
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        websocket_init(&app, &[("cookie", &cookie), ("origin", &own)]).await,
        "close 4401"
    );
}
